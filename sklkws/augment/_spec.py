"""SpecAugment-style frequency and time masking on features (Park et al., 2019)."""

import numbers

import numpy as np

from .._compat import Interval, StrOptions
from .._validation import NumberOrPair
from ._base import COMMON_CONSTRAINTS, FeatureAugmenter


def _band_masks(rng, m, size, n_masks, width):
    """(m, size) bool: the union of ``n_masks`` random bands per clip."""
    lo, hi = width
    hi = min(hi, size)
    lo = min(lo, hi)
    w = rng.integers(lo, hi + 1, size=(m, n_masks))
    start = (rng.random((m, n_masks)) * (size - w + 1)).astype(np.int64)
    pos = np.arange(size)
    inside = (pos >= start[..., None]) & (pos < (start + w)[..., None])  # (m, n_masks, size)
    return inside.any(axis=1)


class SpecAugment(FeatureAugmenter):
    """Mask random frequency bands and time spans of each clip's features.

    Works on the output of :class:`sklkws.features.MelFeatures`, shape
    ``(n_clips, n_bins, n_frames)``; a 2-D input is read as
    ``(n_clips, n_frames)``, a single band, so only time masks apply. No time
    warping.

    Parameters
    ----------
    n_freq_masks : int, default=2
        Frequency masks per clip (they may overlap).
    freq_width : int or (int, int), default=(0, 8)
        Width of each frequency mask in bins, drawn uniformly (inclusive), cut
        to the number of bins.
    n_time_masks : int, default=2
        Time masks per clip.
    time_width : int or (int, int), default=(0, 20)
        Width of each time mask in frames (20 frames are 200 ms at a 10 ms hop).
    fill : float or "mean", default=0.0
        Value written in masked cells; ``"mean"`` uses each clip's mean feature
        value (better for log-mel in dB, whose zero is loud).
    p : float, default=1.0
        Probability that a clip is augmented.
    n_copies : int, default=1
        Augmented copies added by :meth:`fit_resample` (originals are kept).
    random_state : int, RandomState instance or None, default=None
        Seeds :meth:`fit_resample`; :meth:`augment` takes its own.

    Attributes
    ----------
    sample_indices_ : ndarray of shape (n_clips * (1 + n_copies),)
        Input row of each row returned by :meth:`fit_resample`.
    sampling_strategy_ : dict
        Samples added per class (per indicator column for multi-label targets).
    n_features_in_ : int
        Number of bins (``X.shape[1]``) seen in fit.

    Examples
    --------
    >>> import numpy as np
    >>> from sklkws.augment import SpecAugment
    >>> F = np.ones((1, 6, 10), dtype=np.float32)
    >>> M = SpecAugment(n_freq_masks=1, freq_width=2, n_time_masks=1, time_width=3).augment(F, 0)
    >>> int((M[0].sum(axis=1) == 0).sum()), int((M[0].sum(axis=0) == 0).sum())
    (2, 3)
    """

    _parameter_constraints: dict = {
        **COMMON_CONSTRAINTS,
        "n_freq_masks": [Interval(numbers.Integral, 0, None, closed="left")],
        "freq_width": [NumberOrPair(numbers.Integral, 0, None, closed="left")],
        "n_time_masks": [Interval(numbers.Integral, 0, None, closed="left")],
        "time_width": [NumberOrPair(numbers.Integral, 0, None, closed="left")],
        "fill": [Interval(numbers.Real, None, None, closed="neither"), StrOptions({"mean"})],
    }

    def __init__(self, *, n_freq_masks=2, freq_width=(0, 8), n_time_masks=2, time_width=(0, 20),
                 fill=0.0, p=1.0, n_copies=1, random_state=None):
        self.n_freq_masks = n_freq_masks
        self.freq_width = freq_width
        self.n_time_masks = n_time_masks
        self.time_width = time_width
        self.fill = fill
        self.p = p
        self.n_copies = n_copies
        self.random_state = random_state

    def _check_params(self):
        return {name: NumberOrPair.as_pair(getattr(self, name)) for name in ("freq_width", "time_width")}

    def _transform(self, X, rng, out, state):
        m = len(X)
        F = X if X.ndim == 3 else X[:, None, :]
        n_bins, n_frames = F.shape[1:]
        masked = np.zeros((m, n_bins, n_frames), dtype=bool)
        if n_bins > 1 and self.n_freq_masks:
            width = self._derived()["freq_width"]
            masked |= _band_masks(rng, m, n_bins, self.n_freq_masks, width)[:, :, None]
        if self.n_time_masks:
            width = self._derived()["time_width"]
            masked |= _band_masks(rng, m, n_frames, self.n_time_masks, width)[:, None, :]
        if isinstance(self.fill, str):
            fill = F.mean(axis=(1, 2), dtype=np.float64).astype(np.float32)[:, None, None]
        else:
            fill = np.float32(self.fill)
        result = np.where(masked, fill, F).reshape(X.shape)
        if out is None:
            return result
        out[...] = result
        return out
