"""Waveform steps of the front end; they live in :mod:`sklkws.frontend` (this path stays importable)."""

from .frontend._preprocessing import Normalizer, PadOrCrop, Preemphasis, TrimSilence, pad_clips

__all__ = ["Normalizer", "PadOrCrop", "Preemphasis", "TrimSilence", "pad_clips"]
