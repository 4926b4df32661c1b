"""Keras classifiers with the full scikit-learn contract, and the one architecture registry.

Importing this module imports Keras/TensorFlow; ``import sklkws`` and the
preprocessing and feature modules do not.

- :class:`KerasClassifierBase`: training (optimizers, schedules, early stopping,
  mixup, per-epoch augmentation, checkpoints, warm start), prediction and pickling.
- :class:`KerasResNetClassifier`, :class:`KerasCNNClassifier`: what ``arch="auto"`` means.
- :data:`ARCHITECTURES`, :func:`register_architecture`, :func:`build_model`: plain
  functions ``build(input_shape, n_outputs, **hyper) -> keras.Model``;
  :func:`float32_model`: the float32 copy of a mixed-precision network.
- :func:`count_macs`: multiply-accumulates of one forward pass.
"""

from ._architectures import (ARCHITECTURES, PRECISIONS, build_model, float32_model, get_architecture,
                             register_architecture)
from ._base import KerasClassifierBase
from ._classifiers import KerasCNNClassifier, KerasResNetClassifier
from ._macs import count_macs

__all__ = [
    "ARCHITECTURES",
    "KerasCNNClassifier",
    "KerasClassifierBase",
    "KerasResNetClassifier",
    "PRECISIONS",
    "build_model",
    "count_macs",
    "float32_model",
    "get_architecture",
    "register_architecture",
]
