"""Augmentation samplers: fit-time copies in pipelines and fresh draws every epoch.

Every sampler follows imbalanced-learn's ``fit_resample`` contract (so it sits in
:class:`imblearn.pipeline.Pipeline` and acts only while fitting) and also has a
batch method ``augment(X, random_state)`` that the Keras classifiers call on every
batch. All work is vectorised over the batch.

- :class:`AddNoise`: white, pink, brown or recorded background noise at an exact SNR.
- :class:`TimeShift`: random shift in ms, zero fill or roll.
- :class:`Gain`: random gain in dB.
- :class:`TimeStretch`: speed change keeping pitch (batch phase vocoder).
- :class:`SpeedPerturb`: speed change with pitch (resampling), for speaker variety.
- :class:`SpecAugment`: frequency and time masks on features.
- :class:`AugmentChain`: several of them with their own probabilities.
- :class:`HardNegatives`, :func:`hard_negative_windows`: windows of keyword-free running
  speech labelled ``_unknown_``, for spotters that listen to streams.
- :func:`augmented_indices`: keep ``groups`` / ``sample_weight`` aligned in pipelines.
"""

from ._base import BaseAugmenter, augmented_indices
from ._chain import AugmentChain
from ._hard_negatives import HardNegatives, hard_negative_windows
from ._noise import AddNoise, coloured_noise
from ._spec import SpecAugment
from ._speed import SpeedPerturb
from ._stretch import TimeStretch, stretch_batch
from ._wave import Gain, TimeShift

__all__ = [
    "AddNoise",
    "AugmentChain",
    "BaseAugmenter",
    "Gain",
    "HardNegatives",
    "SpecAugment",
    "SpeedPerturb",
    "TimeShift",
    "TimeStretch",
    "augmented_indices",
    "coloured_noise",
    "hard_negative_windows",
    "stretch_batch",
]
