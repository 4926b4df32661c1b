"""The audio front end: waveform steps, spectral features, their Keras layers and the shared maths.

- :mod:`sklkws.frontend._maths`: every formula and constant once (window, framing,
  DFT / mel / DCT matrices, pre-emphasis, normalisation, ``power_to_db``, the
  zero-fill window gather), written over an array namespace: numpy for the
  transformers, :mod:`keras.ops` for the layers.
- Transformers (numpy): :class:`Preemphasis`, :class:`Normalizer`, :class:`PadOrCrop`,
  :class:`TrimSilence`, :func:`pad_clips`, :class:`MelFeatures`,
  :class:`GlobalStatFeatures`, :class:`SpeechEmbedding` (a pretrained speech embedding
  through onnxruntime, for custom words from few or synthetic clips).
- Keras layers (imported on first use, since they import Keras):
  :class:`PreemphasisLayer`, :class:`NormalizerLayer`, :class:`PadOrCropLayer`,
  :class:`MelFeaturesLayer`, :func:`from_transformer`, :func:`frontend_model`.

The historical module paths :mod:`sklkws.preprocessing`, :mod:`sklkws.features` and
:mod:`sklkws.layers` import the same public names from here.
"""

import importlib

from ._embedding import SpeechEmbedding, speech_embedding_path
from ._features import GLOBAL_STATS, GlobalStatFeatures, MelFeatures
from ._preprocessing import Normalizer, PadOrCrop, Preemphasis, TrimSilence, pad_clips

_LAYER_NAMES = (
    "MelFeaturesLayer",
    "NormalizerLayer",
    "PadOrCropLayer",
    "PreemphasisLayer",
    "from_transformer",
    "frontend_model",
)

__all__ = [
    "GLOBAL_STATS",
    "GlobalStatFeatures",
    "MelFeatures",
    "Normalizer",
    "PadOrCrop",
    "Preemphasis",
    "SpeechEmbedding",
    "TrimSilence",
    "pad_clips",
    "speech_embedding_path",
    *_LAYER_NAMES,
]


def __getattr__(name):
    # The layers import Keras (TensorFlow); importing the transformers must stay light.
    if name in _LAYER_NAMES:
        return getattr(importlib.import_module("._layers", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
