"""Waveform preprocessing: fixed length, silence trimming, pre-emphasis, loudness.

Every transformer here takes raw audio ``X`` of shape ``(n_clips, n_samples)``
(float, or int16 read as 16-bit PCM), works on the whole batch at once, and is
stateless: ``fit`` only validates and records the clip length.
"""

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from . import _maths
from .._compat import Interval, StrOptions
from .._validation import check_audio

__all__ = ["Normalizer", "PadOrCrop", "Preemphasis", "TrimSilence", "pad_clips"]


def pad_clips(clips, length=None, dtype=np.float32):
    """Stack clips of different lengths into one zero-padded 2-D array.

    Parameters
    ----------
    clips : sequence of 1-D array-like
        Mono clips, any lengths.
    length : int, default=None
        Output length; the longest clip's length when None. Longer clips are cut.
    dtype : dtype, default=np.float32

    Returns
    -------
    X : ndarray of shape (n_clips, length)
    lengths : ndarray of shape (n_clips,)
        Each clip's length before padding (capped at ``length``).

    Examples
    --------
    >>> X, lengths = pad_clips([[1, 2, 3], [4]])
    >>> X.tolist(), lengths.tolist()
    ([[1.0, 2.0, 3.0], [4.0, 0.0, 0.0]], [3, 1])
    """
    clips = [np.asarray(c) for c in clips]
    for i, c in enumerate(clips):
        if c.ndim != 1:
            raise ValueError(f"Clip {i} has shape {c.shape}; expected a 1-D mono clip.")
    lengths = np.array([len(c) for c in clips], dtype=np.int64)
    length = int(lengths.max(initial=0)) if length is None else int(length)
    X = np.zeros((len(clips), length), dtype=dtype)
    for i, c in enumerate(clips):  # ragged input has no vectorised copy; this is one memcpy per clip
        X[i, : min(len(c), length)] = c[:length]
    return X, np.minimum(lengths, length)


class _StatelessAudioTransformer(TransformerMixin, BaseEstimator):
    """Shared fit/validation for the stateless waveform transformers below."""

    _min_samples = 1

    def fit(self, X, y=None):
        """Validate ``X`` and record its clip length; nothing is learned.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_samples)
        y : ignored

        Returns
        -------
        self : object
        """
        self._validate_params()
        check_audio(self, X, reset=True, min_samples=self._min_samples)
        return self

    def transform(self, X):
        """Apply the transformation to every clip of ``X`` at once.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_samples)

        Returns
        -------
        X_out : ndarray of shape (n_clips, n_samples_out)
        """
        X = check_audio(self, X, reset=False, min_samples=self._min_samples)
        return self._transform(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


class Preemphasis(OneToOneFeatureMixin, _StatelessAudioTransformer):
    """Pre-emphasis filter ``y[t] = x[t] - coef * x[t-1]``.

    Boosts high frequencies before spectral features, as in the speech seed.
    Equal to ``librosa.effects.preemphasis(x, coef=coef, zi=0)`` clip by clip.

    Parameters
    ----------
    coef : float, default=0.97
        Filter coefficient in [0, 1).

    Examples
    --------
    >>> import numpy as np
    >>> Preemphasis(coef=0.5).fit_transform(np.array([[1.0, 1.0, 1.0]]))
    array([[1. , 0.5, 0.5]])
    """

    _parameter_constraints = {"coef": [Interval(numbers.Real, 0, 1, closed="left")]}

    def __init__(self, coef=0.97):
        self.coef = coef

    def _transform(self, X):
        return _maths.preemphasis(X, self.coef)


class Normalizer(OneToOneFeatureMixin, _StatelessAudioTransformer):
    """Per-clip loudness normalisation.

    Parameters
    ----------
    method : {"peak", "minmax", "rms"}, default="peak"
        ``"peak"``: scale to peak 1, range [-1, 1]. ``"minmax"``: map to [0, 1].
        ``"rms"``: scale to an RMS level of ``target_dbfs``. Silent clips stay 0.
    target_dbfs : float, default=-20.0
        RMS target in dB full scale, for ``method="rms"``.

    Examples
    --------
    >>> import numpy as np
    >>> Normalizer().fit_transform(np.array([[0.1, -0.2, 0.05]]))
    array([[ 0.5 , -1.  ,  0.25]])
    """

    _parameter_constraints = {
        "method": [StrOptions({"peak", "minmax", "rms"})],
        "target_dbfs": [Interval(numbers.Real, None, 0, closed="right")],
    }

    def __init__(self, method="peak", target_dbfs=-20.0):
        self.method = method
        self.target_dbfs = target_dbfs

    def _transform(self, X):
        return _maths.normalize(X, self.method, self.target_dbfs)


class TrimSilence(OneToOneFeatureMixin, _StatelessAudioTransformer):
    """Remove leading and trailing silence, keeping the array shape.

    Silence is decided as in ``librosa.effects.trim``: frames whose RMS is more
    than ``top_db`` below the clip's loudest frame. The voiced part is moved to the
    start (``align="left"``) or the middle (``align="center"``) and the rest is
    zero, so clip lengths stay equal; the voiced length is what
    :class:`~sklkws.features.GlobalStatFeatures` reports as clip length.

    Parameters
    ----------
    top_db : float, default=60
        Threshold below the peak frame, in dB.
    frame_length : int, default=2048
    hop_length : int, default=512
    align : {"left", "center"}, default="left"

    Attributes
    ----------
    n_features_in_ : int
        Clip length seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.zeros((1, 16000)); X[0, 8000:9000] = 0.5
    >>> Xt = TrimSilence().fit_transform(X)
    >>> Xt.shape, np.flatnonzero(Xt[0])[[0, -1]]  # kept from frame 14 (sample 7168) on
    ((1, 16000), array([ 832, 1831]))
    """

    _parameter_constraints = {
        "top_db": [Interval(numbers.Real, 0, None, closed="neither")],
        "frame_length": [Interval(numbers.Integral, 1, None, closed="left")],
        "hop_length": [Interval(numbers.Integral, 1, None, closed="left")],
        "align": [StrOptions({"left", "center"})],
    }

    def __init__(self, top_db=60, frame_length=2048, hop_length=512, align="left"):
        self.top_db = top_db
        self.frame_length = frame_length
        self.hop_length = hop_length
        self.align = align

    def voiced_bounds(self, X):
        """Start and end sample of the non-silent part of each clip.

        Parameters
        ----------
        X : ndarray of shape (n_clips, n_samples)

        Returns
        -------
        start, end : ndarray of shape (n_clips,)
            ``X[i, start[i]:end[i]]`` is what ``librosa.effects.trim`` keeps;
            an all-silent clip gives ``start == end == 0``.
        """
        import librosa

        X = check_audio(self, X, reset=False)
        rms = librosa.feature.rms(y=X, frame_length=self.frame_length, hop_length=self.hop_length)[:, 0, :]
        db = librosa.amplitude_to_db(rms, ref=1.0, top_db=None)
        loud = db > db.max(axis=1, keepdims=True) - self.top_db
        loud &= rms > 0  # an all-zero clip has no voiced frame
        any_loud = loud.any(axis=1)
        first = np.argmax(loud, axis=1)
        last = loud.shape[1] - 1 - np.argmax(loud[:, ::-1], axis=1)
        start = np.where(any_loud, first * self.hop_length, 0)
        end = np.where(any_loud, np.minimum(X.shape[1], (last + 1) * self.hop_length), 0)
        return start, end

    def _transform(self, X):
        start, end = self.voiced_bounds(X)
        length = end - start
        offset = start if self.align == "left" else start - (X.shape[1] - length) // 2
        return _maths.gather_zero_fill(X, offset, X.shape[1], low=start, high=end)


class PadOrCrop(ClassNamePrefixFeaturesOutMixin, _StatelessAudioTransformer):
    """Bring every clip to ``length`` samples by zero padding or cropping.

    Parameters
    ----------
    length : int, default=16000
        Output length in samples (1 s at 16 kHz).
    crop : {"center", "left", "random"}, default="center"
        Which part of a longer clip to keep.
    pad : {"right", "center", "random"}, default="right"
        Where a shorter clip sits in the zero-padded output.
    random_state : int, RandomState instance or None, default=None
        Draws the random crops / pads. An int gives the same offsets on every call
        (reproducible); for fresh random crops every epoch use the samplers of
        :mod:`sklkws.augment`.

    Attributes
    ----------
    n_features_in_ : int
        Clip length seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> PadOrCrop(length=4).fit_transform(np.array([[1.0, 2.0]]))
    array([[1., 2., 0., 0.]])
    >>> PadOrCrop(length=2).fit_transform(np.array([[1.0, 2.0, 3.0, 4.0]]))
    array([[2., 3.]])
    """

    _parameter_constraints = {
        "length": [Interval(numbers.Integral, 1, None, closed="left")],
        "crop": [StrOptions({"center", "left", "random"})],
        "pad": [StrOptions({"right", "center", "random"})],
        "random_state": ["random_state"],
    }

    def __init__(self, length=16000, crop="center", pad="right", random_state=None):
        self.length = length
        self.crop = crop
        self.pad = pad
        self.random_state = random_state

    @property
    def _n_features_out(self):
        return self.length

    def _offsets(self, n_clips, slack, mode):
        """Per-clip start offsets in [0, slack] for the chosen placement mode."""
        if mode == "left":
            return np.zeros(n_clips, dtype=np.int64)
        if mode == "center":
            return np.full(n_clips, slack // 2, dtype=np.int64)
        return check_random_state(self.random_state).randint(0, slack + 1, size=n_clips)

    def _transform(self, X):
        n_clips, n_samples = X.shape
        if n_samples >= self.length:
            start = self._offsets(n_clips, n_samples - self.length, self.crop)
            index = start[:, None] + np.arange(self.length)[None, :]
            return np.take_along_axis(X, index, axis=1)
        slack = self.length - n_samples
        lead = self._offsets(n_clips, slack, "left" if self.pad == "right" else self.pad)
        return _maths.gather_zero_fill(X, -lead, self.length)

    def get_feature_names_out(self, input_features=None):
        """Output names ``padorcrop0 ... padorcrop{length-1}``."""
        check_is_fitted(self, "n_features_in_")
        return super().get_feature_names_out(input_features)
