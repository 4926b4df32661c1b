"""Hard negatives: windows of long keyword-free speech, labelled ``_unknown_``, mixed into training.

A clip classifier trained only on one-second commands, silence and a few other
words has never seen running speech; in a stream it then fires on syllables that
sound like a command. Windows cut from keyword-free speech at random offsets (word
fragments, word boundaries, pauses) teach it that running speech is ``_unknown_``.
"""

import numbers

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state

from .._compat import Interval, RealNotInt, _fit_context, validate_params

__all__ = ["HardNegatives", "hard_negative_windows"]


def _speech_list(speech, n_samples):
    if isinstance(speech, np.ndarray) and speech.ndim == 1:
        speech = [speech]
    arrays = [np.asarray(s, dtype=np.float32) for s in speech]
    if any(a.ndim != 1 for a in arrays):
        raise ValueError("speech must be 1-D mono recordings (a list of arrays); mix stereo down first.")
    arrays = [a for a in arrays if len(a) >= n_samples]
    if not arrays:
        raise ValueError(f"speech holds no recording of at least {n_samples} samples to cut windows from.")
    if not all(np.isfinite(a).all() for a in arrays):
        raise ValueError("speech contains NaN or infinity.")
    return arrays


@validate_params(
    {
        "speech": [np.ndarray, list, tuple],
        "n_windows": [Interval(numbers.Integral, 0, None, closed="left")],
        "n_samples": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def hard_negative_windows(speech, n_windows, *, n_samples=16000, random_state=None):
    """Cut ``n_windows`` windows at random offsets from keyword-free recordings.

    Recordings are drawn in proportion to the windows they hold, so every second of
    speech is equally likely.

    Parameters
    ----------
    speech : ndarray of shape (n,) or list of them
        Keyword-free speech at the model's rate (e.g. :func:`sklkws.streaming.load_negative_audio`).
    n_windows : int
    n_samples : int, default=16000
        Window length (the model's clip length).
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    windows : ndarray of shape (n_windows, n_samples), float32

    Examples
    --------
    >>> import numpy as np
    >>> speech = [np.random.default_rng(0).standard_normal(40000).astype(np.float32)]
    >>> hard_negative_windows(speech, 5, random_state=0).shape
    (5, 16000)
    """
    arrays = _speech_list(speech, n_samples)
    rng = check_random_state(random_state)
    flat = np.concatenate(arrays)
    lengths = np.array([len(a) for a in arrays])
    bases = np.r_[0, np.cumsum(lengths)[:-1]]
    room = lengths - n_samples + 1  # valid start offsets per recording
    which = rng.choice(len(arrays), size=int(n_windows), p=room / room.sum())
    starts = bases[which] + (rng.random_sample(int(n_windows)) * room[which]).astype(int)
    return flat[starts[:, None] + np.arange(n_samples)]


class HardNegatives(BaseEstimator):
    """Add windows of keyword-free speech, labelled ``label``, to the training set.

    Follows imbalanced-learn's ``fit_resample`` contract, so it sits in an
    :class:`imblearn.pipeline.Pipeline` and acts only while fitting; or call
    :meth:`fit_resample` on the training clips yourself.

    Parameters
    ----------
    speech : ndarray of shape (n,) or list of them
        Long keyword-free speech at the clips' rate.
    n_windows : int or float, default=0.3
        Windows to add: an int is a count, a float a fraction of the training clips.
    label : str, default="_unknown_"
    random_state : int, RandomState instance or None, default=None

    Examples
    --------
    >>> import numpy as np
    >>> speech = np.random.default_rng(0).standard_normal(48000).astype(np.float32)
    >>> X, y = np.zeros((10, 16000), dtype=np.float32), np.array(["yes"] * 10)
    >>> X2, y2 = HardNegatives(speech, n_windows=4, random_state=0).fit_resample(X, y)
    >>> X2.shape, y2[-4:].tolist()
    ((14, 16000), ['_unknown_', '_unknown_', '_unknown_', '_unknown_'])
    """

    _parameter_constraints: dict = {
        "speech": [np.ndarray, list, tuple],
        # An int is a count, a float a fraction of the training clips.
        "n_windows": [Interval(numbers.Integral, 0, None, closed="left"),
                      Interval(RealNotInt, 0, None, closed="left")],
        "label": [str],
        "random_state": ["random_state"],
    }

    def __init__(self, speech, *, n_windows=0.3, label="_unknown_", random_state=None):
        self.speech = speech
        self.n_windows = n_windows
        self.label = label
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the parameters; nothing is learnt.

        Parameters
        ----------
        X : ndarray of shape (n_clips, n_samples)
        y : array-like of shape (n_clips,), default=None

        Returns
        -------
        self : HardNegatives
        """
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_resample(self, X, y):
        """The clips with the hard-negative windows appended.

        Parameters
        ----------
        X : ndarray of shape (n_clips, n_samples)
        y : array-like of shape (n_clips,)

        Returns
        -------
        X_resampled : ndarray of shape (n_clips + n_windows, n_samples)
        y_resampled : ndarray of shape (n_clips + n_windows,)
        """
        X = np.asarray(X)
        y = np.asarray(y)
        if X.ndim != 2 or len(X) != len(y):
            raise ValueError(f"X must be clips (n_clips, n_samples) with one label each; got {X.shape}, {len(y)}.")
        n = self.n_windows
        if not isinstance(n, numbers.Integral):
            n = int(round(n * len(X)))
        windows = hard_negative_windows(self.speech, n, n_samples=X.shape[1], random_state=self.random_state)
        labels = np.full(len(windows), self.label, dtype=object)
        y_out = np.concatenate([y.astype(object), labels])  # object: a longer label must not be truncated
        return np.concatenate([X, windows.astype(X.dtype, copy=False)]), y_out if y.dtype == object else \
            y_out.astype(str)
