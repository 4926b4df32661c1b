"""Speed perturbation: resampling that changes tempo and pitch together."""

import numbers
from fractions import Fraction

import numpy as np
from scipy.signal import resample_poly

from .._compat import Interval
from .._validation import NumberOrPair
from ._base import COMMON_CONSTRAINTS, BaseAugmenter


def speed_grid(rate, n_rates):
    """The ``n_rates`` speed factors of ``rate = (low, high)``, log-spaced, as exact fractions.

    Each factor is a fraction ``down / up`` with a small denominator, so the
    polyphase resampler's filter stays short.
    """
    lo, hi = rate
    grid = np.exp(np.linspace(np.log(lo), np.log(hi), n_rates)) if n_rates > 1 else [np.sqrt(lo * hi)]
    return [Fraction(float(r)).limit_denominator(50) for r in grid]


def change_speed(X, rate):
    """Play every clip of ``X`` at ``rate`` times its speed, keeping the clip length.

    Parameters
    ----------
    X : ndarray of shape (n_clips, n_samples)
    rate : Fraction or float
        Speed factor: 1.1 is 10 % faster (shorter and higher), 0.9 slower and lower.

    Returns
    -------
    Y : ndarray of shape (n_clips, n_samples), float32
        The resampled clips (scipy's anti-aliased polyphase filter), centre-cropped
        or zero-padded on both sides back to ``n_samples``.
    """
    rate = Fraction(rate).limit_denominator(50)
    n = X.shape[1]
    Y = resample_poly(X, rate.denominator, rate.numerator, axis=1).astype(np.float32, copy=False)
    m = Y.shape[1]
    if m >= n:
        start = (m - n) // 2
        return np.ascontiguousarray(Y[:, start:start + n])
    out = np.zeros((len(X), n), dtype=np.float32)
    start = (n - m) // 2
    out[:, start:start + m] = Y
    return out


class SpeedPerturb(BaseAugmenter):
    """Resample each clip to play faster or slower, changing tempo and pitch together.

    Kaldi's speed perturbation (Ko et al., 2015, "Audio augmentation for speech
    recognition"): a clip played at rate 1.1 is 10 % shorter and its pitch and
    formants are 10 % higher, roughly another speaker with a shorter vocal tract. That
    is speaker variety, which a few hundred speakers lack, where :class:`TimeStretch`
    changes tempo only. Each clip draws one of ``n_rates`` log-spaced rates in
    ``rate``; the clips sharing a rate are resampled together with scipy's
    anti-aliased polyphase filter (``resample_poly``), then centre-cropped or
    zero-padded back to the input length.

    Parameters
    ----------
    rate : float or (float, float), default=(0.9, 1.1)
        Range of speed factors; > 1 is faster and higher.
    n_rates : int, default=9
        Number of distinct rates (log-spaced, each an exact small fraction). More
        rates give a finer draw but more resampler calls per batch.
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
        Clip length seen in fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when X was a DataFrame with string column names.

    See Also
    --------
    TimeStretch : tempo change that keeps the pitch.

    Examples
    --------
    >>> import numpy as np
    >>> from sklkws.augment import SpeedPerturb
    >>> t = np.arange(16000) / 16000
    >>> X = np.sin(2 * np.pi * 500 * t)[None].astype(np.float32)
    >>> Y = SpeedPerturb(rate=1.2).augment(X, random_state=0)
    >>> Y.shape
    (1, 16000)
    >>> spectrum = np.abs(np.fft.rfft(Y[0, 2000:14000]))  # inside the resampled clip
    >>> float(np.argmax(spectrum) * 16000 / 12000)  # 500 Hz played 1.2x faster
    600.0
    """

    _parameter_constraints: dict = {
        **COMMON_CONSTRAINTS,
        "rate": [NumberOrPair(numbers.Real, 0.5, 2.0, closed="both")],
        "n_rates": [Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(self, rate=(0.9, 1.1), *, n_rates=9, p=1.0, n_copies=1, random_state=None):
        self.rate = rate
        self.n_rates = n_rates
        self.p = p
        self.n_copies = n_copies
        self.random_state = random_state

    def _check_params(self):
        # The grid of exact fractions, built once per parameter values, not per batch.
        return {"grid": speed_grid(NumberOrPair.as_pair(self.rate), self.n_rates)}

    def _transform(self, X, rng, out, state):
        grid = self._derived()["grid"]
        which = rng.integers(len(grid), size=len(X))
        out = np.empty_like(X, dtype=np.float32) if out is None else out
        for k in np.unique(which):  # one vectorised resampling per distinct rate
            rows = which == k
            out[rows] = X[rows] if grid[k] == 1 else change_speed(X[rows], grid[k])
        return out
