"""Additive noise at an exact per-clip signal-to-noise ratio."""

import numbers

import numpy as np
import scipy.fft
from numpy.lib.stride_tricks import sliding_window_view

from .._compat import Hidden, Interval, StrOptions
from .._validation import NumberOrPair
from ._base import COMMON_CONSTRAINTS, BaseAugmenter

_COLOURS = {"white": 0.0, "pink": 1.0, "brown": 2.0}
#: Generated noise bank: about one bank sample per this many output samples.
_BANK_RATIO = 64
_BANK_MIN_CLIPS = 4  # a bank holds at least this many clip lengths
_BANK_MAX = 1 << 22  # 4.4 min at 16 kHz; _background_noise_ holds 6.7 min
#: Coloured noise is shaped as 1/f^alpha above this frequency and flat below it,
#: so its power sits in the audible band rather than in an infrasonic drift.
_COLOUR_FMIN_HZ = 20.0


def _next_pow2(n):
    return 1 << int(np.ceil(np.log2(max(n, 2))))


def coloured_noise(n_samples, colour, rng, *, sample_rate=16000):
    """Gaussian noise with a 1/f^alpha power spectrum, shaped with one FFT.

    Parameters
    ----------
    n_samples : int
        Length of the noise.
    colour : {"white", "pink", "brown"}
        alpha = 0, 1 or 2. Pink and brown are flat below 20 Hz and have no DC.
    rng : numpy.random.Generator
    sample_rate : int, default=16000

    Returns
    -------
    noise : ndarray of shape (n_samples,), dtype float32
        Unit-variance noise.
    """
    noise = rng.standard_normal(n_samples, dtype=np.float32)
    alpha = _COLOURS[colour]
    if alpha:
        spec = scipy.fft.rfft(noise)
        freqs = np.fft.rfftfreq(n_samples, d=1.0 / sample_rate)
        weight = (np.maximum(freqs, _COLOUR_FMIN_HZ) / _COLOUR_FMIN_HZ) ** (-alpha / 2.0)
        weight[0] = 0.0
        noise = scipy.fft.irfft(spec * weight.astype(np.float32), n=n_samples).astype(np.float32)
    noise /= max(float(np.std(noise)), np.finfo(np.float32).tiny)
    return noise


class _Bank:
    """Noise material: one 1-D array with the valid segment starts of each recording."""

    def __init__(self, recordings, clip_len):
        recs = [np.resize(np.asarray(r, dtype=np.float32), max(len(r), clip_len)) for r in recordings]
        self.data = np.concatenate(recs)
        lens = np.array([len(r) for r in recs])
        self.starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
        self.n_starts = lens - clip_len + 1  # segment starts inside each recording
        self.windows = sliding_window_view(self.data, clip_len)

    def offsets(self, rng, m):
        """Random segment starts: a recording uniformly, then a position in it."""
        rec = rng.integers(len(self.starts), size=m)
        return self.starts[rec] + (rng.random(m) * self.n_starts[rec]).astype(np.int64)


class AddNoise(BaseAugmenter):
    """Add white, pink, brown or recorded background noise at a random SNR.

    The SNR is exact per clip: the noise segment is scaled so that
    ``10 log10(mean(x**2) / mean(noise**2))`` equals the drawn ``snr_db``.
    Digitally silent clips (zero RMS) have no level to be relative to and are
    left unchanged, as are clips that land on a silent stretch of a recording;
    no NaN is ever produced.

    Generated noise (white Gaussian, pink, brown) is cut, like recordings are,
    as random segments from a bank drawn afresh on every call: about one bank
    sample per 64 output samples (at least 4 clips long, at most 2**22 samples,
    4.4 min at 16 kHz, against 6.7 min in Speech Commands' ``_background_noise_``), so
    clips of one call may share stretches of noise at different offsets. Pink
    and brown banks are shaped with one FFT (power ~ 1/f and 1/f^2 above 20 Hz,
    flat below, no DC).

    Parameters
    ----------
    noise : {"white", "pink", "brown"}, dict of str to array-like, or list of array-like, \
            default="white"
        A generated colour, or recorded backgrounds: 1-D arrays at the clips'
        sample rate, e.g. ``sklkws.datasets.load_background_noise(path)``. Each
        clip gets a segment from a recording drawn uniformly (recordings shorter
        than a clip are repeated). Treated as read-only.
    snr_db : float or (float, float), default=(5.0, 30.0)
        Signal-to-noise ratio in dB, drawn uniformly per clip from the range;
        within [-60, 120].
    p : float, default=1.0
        Probability that a clip is augmented.
    n_copies : int, default=1
        Augmented copies added by :meth:`fit_resample` (originals are kept).
    sample_rate : int, default=16000
        Sample rate of the clips (shapes pink and brown noise).
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
    AugmentChain : several samplers with their own probabilities.

    Examples
    --------
    >>> import numpy as np
    >>> from sklkws.augment import AddNoise
    >>> t = np.arange(16000) / 16000
    >>> X = np.sin(2 * np.pi * 440 * t)[None].repeat(2, 0).astype(np.float32)
    >>> Xn = AddNoise(noise="pink", snr_db=10.0).augment(X, random_state=0)
    >>> noise = Xn - X
    >>> np.round(10 * np.log10((X ** 2).mean(1) / (noise ** 2).mean(1)), 3)
    array([10., 10.], dtype=float32)
    >>> X_res, y_res = AddNoise(n_copies=2, random_state=0).fit_resample(X, np.array([0, 1]))
    >>> X_res.shape, y_res
    ((6, 16000), array([0, 1, 0, 1, 0, 1]))
    """

    _parameter_constraints: dict = {
        **COMMON_CONSTRAINTS,
        # "dropped" passes here so that _recordings names what happened to the recordings.
        "noise": [StrOptions(set(_COLOURS)), Hidden(StrOptions({"dropped"})), dict, list, tuple],
        # Bounded so that the added noise (10 ** (-snr / 20) times the clip's RMS) stays a
        # finite, audible float32 signal: below -60 dB the clip is gone under the noise anyway.
        "snr_db": [NumberOrPair(numbers.Real, -60.0, 120.0, closed="both")],
        "sample_rate": [Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(self, noise="white", *, snr_db=(5.0, 30.0), p=1.0, n_copies=1,
                 sample_rate=16000, random_state=None):
        self.noise = noise
        self.snr_db = snr_db
        self.p = p
        self.n_copies = n_copies
        self.sample_rate = sample_rate
        self.random_state = random_state

    def _recordings(self):
        noise = self.noise
        if isinstance(noise, str) and noise == "dropped":
            raise ValueError("This AddNoise's recordings were dropped for deployment "
                             "(sklkws.export.drop_training_state); set noise= to the recordings again to fit.")
        if isinstance(noise, str):
            if noise not in _COLOURS:
                raise ValueError(f"noise must be one of {sorted(_COLOURS)} or recordings, got {noise!r}.")
            return None
        recs = list(noise.values()) if isinstance(noise, dict) else noise
        if not isinstance(recs, (list, tuple)) or not recs:
            raise ValueError(
                "noise must be 'white', 'pink', 'brown', or a non-empty dict or list of "
                f"1-D recordings, got {type(noise).__name__}."
            )
        recs = [np.asarray(r) for r in recs]
        for i, r in enumerate(recs):
            if r.ndim != 1 or r.size == 0 or not np.issubdtype(r.dtype, np.number):
                raise ValueError(f"noise recording {i} must be a non-empty 1-D array, got shape {r.shape}.")
            if not np.all(np.isfinite(r)):
                raise ValueError(f"noise recording {i} holds NaN or infinite samples.")
        return recs

    def _check_params(self):
        self._recordings()
        return {"snr_db": NumberOrPair.as_pair(self.snr_db)}

    def _prepare(self, X, rng):
        n, clip_len = X.shape
        noise = self.noise
        if isinstance(noise, str):
            self._recordings()  # a colour, or the "dropped" error
            size = min(max(n * clip_len // _BANK_RATIO, _BANK_MIN_CLIPS * clip_len), _BANK_MAX)
            size = _next_pow2(max(size, _BANK_MIN_CLIPS * clip_len))
            return _Bank([coloured_noise(size, noise, rng, sample_rate=self.sample_rate)], clip_len)
        # Recordings are fixed: the concatenated bank is reused across calls, and the
        # recordings are checked (a pass over every sample for NaN) only when it is built,
        # not on every training batch.
        recs = list(noise.values()) if isinstance(noise, dict) else noise
        key = (id(noise), tuple(map(np.size, recs)) if isinstance(recs, (list, tuple)) else None, clip_len)
        cache = getattr(self, "_bank_cache", None)
        if cache is None or cache[0] != key:
            cache = (key, _Bank(self._recordings(), clip_len))
            self._bank_cache = cache
        return cache[1]

    def _transform(self, X, rng, out, bank):
        m = len(X)
        lo, hi = self._derived()["snr_db"]
        snr = rng.uniform(lo, hi, size=m)
        # Fancy indexing copies just the chosen rows of the window view (np.take
        # would first copy the whole view).
        segment = bank.windows[bank.offsets(rng, m)]
        # float32 sums (a float64 einsum casts and is several times slower); the
        # SNR error this leaves is far below 0.001 dB.
        noise_pow = np.einsum("ij,ij->i", segment, segment).astype(np.float64)
        clip_pow = np.einsum("ij,ij->i", X, X).astype(np.float64)
        ok = noise_pow > 0
        gain = np.zeros(m)
        gain[ok] = np.sqrt(clip_pow[ok] / noise_pow[ok] * 10.0 ** (-snr[ok] / 10.0))
        segment *= gain.astype(np.float32)[:, None]
        return np.add(segment, X, out=segment if out is None else out)

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_bank_cache", None)
        return state
