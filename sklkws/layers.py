"""Keras layers of the front end; they live in :mod:`sklkws.frontend` (this path stays importable).

Importing this module imports Keras (TensorFlow backend).
"""

from .frontend._layers import (
    MelFeaturesLayer,
    NormalizerLayer,
    PadOrCropLayer,
    PreemphasisLayer,
    from_transformer,
    frontend_model,
)

__all__ = [
    "MelFeaturesLayer",
    "NormalizerLayer",
    "PadOrCropLayer",
    "PreemphasisLayer",
    "from_transformer",
    "frontend_model",
]
