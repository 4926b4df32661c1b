"""Spectral and statistical features of whole batches of clips.

:class:`MelFeatures` gives power spectrograms, log-mel spectrograms and MFCCs
(the speech seed's features) with librosa's numbers, for a whole batch at once.
:class:`GlobalStatFeatures` gives the audio-tagging seed's per-frame statistics.
"""

import numbers

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from . import _maths
from .._compat import Interval, StrOptions, available_if
from .._validation import batch_slices, check_audio

__all__ = ["GlobalStatFeatures", "MelFeatures"]


class MelFeatures(TransformerMixin, BaseEstimator):
    """Power spectrogram, log-mel spectrogram or MFCCs of a batch of clips.

    The clips are transformed ``batch_size`` at a time (memory stays bounded on
    100k-clip datasets), each batch in chunks small enough to stay in a core's
    cache, on all cores: one real FFT over all frames of a chunk, the mel
    projection as matrix products over the filters' non-zero bins. Output
    equals ``librosa.feature.melspectrogram`` / ``power_to_db`` /
    ``librosa.feature.mfcc`` applied clip by clip with the same parameters, to
    float32 precision (relative error below 1e-4 on the power/mel values, below
    1e-3 dB on log-mel; ``benchmarks/features.py`` prints the largest difference).

    Parameters
    ----------
    kind : {"logmel", "mfcc", "power"}, default="logmel"
        ``"power"``: ``|STFT|**2``, ``n_fft // 2 + 1`` bins. ``"logmel"``: mel power
        in dB. ``"mfcc"``: DCT-II of the log-mel, ``n_mfcc`` coefficients.
    sample_rate : int, default=16000
    n_fft : int, default=512
        FFT size, also the window length (Hann).
    hop_length : int, default=160
        Frame step in samples (10 ms at 16 kHz).
    n_mels : int, default=40
    fmin : float, default=20.0
    fmax : float, default=None
        Upper mel edge; ``sample_rate / 2`` when None.
    n_mfcc : int, default=13
    top_db : float or None, default=80.0
        Floor of the dB scale below each clip's peak (librosa's ``power_to_db``).
    center : bool, default=True
        Pad ``n_fft // 2`` zeros at both ends so frames are centred.
    flatten : bool, default=False
        Return 2-D ``(n_clips, n_bins * n_frames)`` for classic estimators
        (with feature names) instead of ``(n_clips, n_bins, n_frames)``.
    batch_size : int, default=256
        Clips transformed at a time.

    Attributes
    ----------
    n_features_in_ : int
        Clip length in samples.
    n_bins_ : int
        Output bins (frequency, mel or cepstral).
    n_frames_ : int
        Output frames per clip.

    See Also
    --------
    GlobalStatFeatures : per-frame waveform statistics.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(3, 16000)).astype(np.float32)
    >>> MelFeatures(n_mels=40).fit_transform(X).shape
    (3, 40, 101)
    >>> MelFeatures(kind="mfcc", flatten=True).fit_transform(X).shape
    (3, 1313)
    """

    _parameter_constraints = {
        "kind": [StrOptions({"logmel", "mfcc", "power"})],
        "sample_rate": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_fft": [Interval(numbers.Integral, 2, None, closed="left")],
        "hop_length": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_mels": [Interval(numbers.Integral, 1, None, closed="left")],
        "fmin": [Interval(numbers.Real, 0, None, closed="left")],
        "fmax": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "n_mfcc": [Interval(numbers.Integral, 1, None, closed="left")],
        "top_db": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "center": ["boolean"],
        "flatten": ["boolean"],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        kind="logmel",
        *,
        sample_rate=16000,
        n_fft=512,
        hop_length=160,
        n_mels=40,
        fmin=20.0,
        fmax=None,
        n_mfcc=13,
        top_db=80.0,
        center=True,
        flatten=False,
        batch_size=256,
    ):
        self.kind = kind
        self.sample_rate = sample_rate
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.n_mels = n_mels
        self.fmin = fmin
        self.fmax = fmax
        self.n_mfcc = n_mfcc
        self.top_db = top_db
        self.center = center
        self.flatten = flatten
        self.batch_size = batch_size

    def _check_consistent(self):
        nyquist = self.sample_rate / 2
        fmax = nyquist if self.fmax is None else self.fmax
        if fmax > nyquist:
            raise ValueError(f"fmax={fmax} is above the Nyquist frequency {nyquist} of sample_rate={self.sample_rate}.")
        if self.fmin >= fmax:
            raise ValueError(f"fmin={self.fmin} must be below fmax={fmax}.")
        if self.kind == "mfcc" and self.n_mfcc > self.n_mels:
            raise ValueError(f"n_mfcc={self.n_mfcc} cannot exceed n_mels={self.n_mels}.")

    def fit(self, X, y=None):
        """Validate parameters and ``X``; record the output shape.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_samples)
        y : ignored

        Returns
        -------
        self : object
        """
        self._validate_params()
        self._check_consistent()
        min_samples = 1 if self.center else self.n_fft
        X = check_audio(self, X, reset=True, min_samples=min_samples)
        self.n_bins_ = _maths.n_bins(self.kind, self.n_fft, self.n_mels, self.n_mfcc)
        self.n_frames_ = _maths.n_frames(X.shape[1], self.n_fft, self.hop_length, self.center)
        return self

    def transform(self, X):
        """Compute the features of every clip.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_samples)

        Returns
        -------
        features : ndarray of shape (n_clips, n_bins, n_frames), or (n_clips, n_bins * n_frames) if ``flatten``
            float32 for float32 / int16 input, float64 for float64 input.
        """
        check_is_fitted(self)
        X = check_audio(self, X, reset=False)
        out = np.empty((X.shape[0], self.n_bins_, self.n_frames_), dtype=X.dtype)
        with _maths.single_threaded_blas():  # small products (see the function)
            for batch in batch_slices(X.shape[0], self.batch_size):
                out[batch] = self._features(X[batch])
        return out.reshape(len(out), -1) if self.flatten else out

    def _features(self, X):
        if self.kind == "power":
            S = _maths.power_spectrogram(X, self.n_fft, self.hop_length, self.center)
        else:
            S = _maths.mel_spectrogram(
                X, self.sample_rate, self.n_fft, self.hop_length, self.n_mels, self.fmin, self.fmax, self.center
            )
            S = _maths.power_to_db(S, self.top_db)
        if self.kind == "mfcc":
            S = _maths.project(S, _maths.dct_matrix(self.n_mels, self.n_mfcc))
        return S.transpose(0, 2, 1)

    @available_if(lambda self: self.flatten)
    def get_feature_names_out(self, input_features=None):
        """Names ``"<kind><bin>_t<frame>"`` of the flattened output (``flatten=True`` only).

        Returns
        -------
        feature_names_out : ndarray of str
        """
        check_is_fitted(self)
        return np.asarray(
            [f"{self.kind}{b}_t{t}" for b in range(self.n_bins_) for t in range(self.n_frames_)], dtype=object
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


#: The audio-tagging seed's statistics per frame, in output order.
GLOBAL_STATS = ("p0", "p1", "p25", "p30", "p50", "p60", "p75", "p99", "p100", "range", "mean", "std")
_PERCENTILES = (0, 1, 25, 30, 50, 60, 75, 99, 100)


def _stat_windows(n_samples, n_frames):
    """The seed's windows: frame ``s`` spans ``[s*stride - stride/2, s*stride + 1.5*stride)``."""
    stride = n_samples / n_frames
    centres = np.arange(n_frames) * stride
    left = np.maximum(0, (centres - stride / 2).astype(np.int64))
    right = np.minimum(n_samples, (centres + 1.5 * stride).astype(np.int64))
    return left, np.maximum(right, left + 1)


class GlobalStatFeatures(TransformerMixin, BaseEstimator):
    """Per-frame waveform statistics of the audio-tagging seed (128 x 12).

    Each clip is split into ``n_frames`` overlapping windows (twice the stride
    wide, as in the seed); each window gives 12 numbers: percentiles
    0, 1, 25, 30, 50, 60, 75, 99, 100, the range, the mean and the standard
    deviation (all by :func:`numpy.percentile` and friends, for all clips at once).

    Parameters
    ----------
    n_frames : int, default=128
    include_length : bool, default=False
        Append the clip length in seconds: the position of the last non-zero
        sample, so zero padding (e.g. after :class:`~sklkws.preprocessing.TrimSilence`)
        does not count.
    sample_rate : int, default=16000
        Used for the length feature.
    flatten : bool, default=True
        2-D output ``(n_clips, n_frames * 12 [+ 1])`` with feature names; when False,
        ``(n_clips, n_frames, 12)`` (no length feature allowed).

    Attributes
    ----------
    n_features_in_ : int
        Clip length in samples.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(2, 16000))
    >>> GlobalStatFeatures().fit_transform(X).shape
    (2, 1536)
    >>> GlobalStatFeatures(n_frames=4).fit(X).get_feature_names_out()[:3].tolist()
    ['t0_p0', 't0_p1', 't0_p25']
    """

    _parameter_constraints = {
        "n_frames": [Interval(numbers.Integral, 1, None, closed="left")],
        "include_length": ["boolean"],
        "sample_rate": [Interval(numbers.Integral, 1, None, closed="left")],
        "flatten": ["boolean"],
    }

    def __init__(self, n_frames=128, *, include_length=False, sample_rate=16000, flatten=True):
        self.n_frames = n_frames
        self.include_length = include_length
        self.sample_rate = sample_rate
        self.flatten = flatten

    def fit(self, X, y=None):
        """Validate parameters and ``X``.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_samples)
        y : ignored

        Returns
        -------
        self : object
        """
        self._validate_params()
        if self.include_length and not self.flatten:
            raise ValueError("include_length=True needs flatten=True (the length is one extra column).")
        check_audio(self, X, reset=True)
        return self

    def transform(self, X):
        """Compute the statistics.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_samples)

        Returns
        -------
        features : ndarray of shape (n_clips, n_frames * 12 [+ 1]) or (n_clips, n_frames, 12)
        """
        check_is_fitted(self)
        X = check_audio(self, X, reset=False)
        stats = np.empty((X.shape[0], self.n_frames, len(GLOBAL_STATS)), dtype=X.dtype)
        for batch in batch_slices(X.shape[0], 256):  # windows overlap 2x: bound the memory
            stats[batch] = self._window_stats(X[batch])
        if not self.flatten:
            return stats
        out = stats.reshape(len(X), -1)
        if self.include_length:
            nonzero = X != 0
            last = np.where(nonzero.any(axis=1), X.shape[1] - np.argmax(nonzero[:, ::-1], axis=1), 0)
            out = np.hstack([out, (last / self.sample_rate).astype(X.dtype)[:, None]])
        return out

    def _window_stats(self, X):
        left, right = _stat_windows(X.shape[1], self.n_frames)
        stats = np.empty((X.shape[0], self.n_frames, len(GLOBAL_STATS)), dtype=X.dtype)
        widths = right - left
        # Windows of equal width are gathered together: a few widths, one vectorised call each.
        for width in np.unique(widths):
            frames = np.flatnonzero(widths == width)
            windows = X[:, left[frames][:, None] + np.arange(width)[None, :]]
            stats[:, frames, :9] = np.moveaxis(np.percentile(windows, _PERCENTILES, axis=-1), 0, -1)
            stats[:, frames, 10] = windows.mean(axis=-1)
            stats[:, frames, 11] = windows.std(axis=-1)
        stats[..., 9] = stats[..., 8] - stats[..., 0]
        return stats

    @available_if(lambda self: self.flatten)
    def get_feature_names_out(self, input_features=None):
        """Names ``"t<frame>_<stat>"`` (and ``"clip_length"``).

        Returns
        -------
        feature_names_out : ndarray of str
        """
        check_is_fitted(self)
        names = [f"t{t}_{s}" for t in range(self.n_frames) for s in GLOBAL_STATS]
        if self.include_length:
            names.append("clip_length")
        return np.asarray(names, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
