"""Validation at the door: one place that turns user input into clean audio batches.

Every transformer, sampler and classifier in sklkws takes a batch of mono clips,
``X`` of shape ``(n_clips, n_samples)``. :func:`check_audio` checks that batch and
names the problem when it is wrong (stereo, NaN, empty clips, too short, wrong
dtype, unscaled PCM) instead of letting a shape error surface three calls later.

How samples are read (integer PCM of any width scaled by its full range, float audio
far outside [-1, 1] refused) lives in the numpy-only :mod:`sklkws.device._audio`, so the
device side reads them the same way.

Parameters are checked by scikit-learn's ``_parameter_constraints`` (estimators) and
``validate_params`` (public functions); :class:`NumberOrPair` is the one constraint
scikit-learn lacks, for parameters such as ``snr_db=(5.0, 30.0)`` that take a number
or a ``(low, high)`` range.
"""

import numbers

import numpy as np
from sklearn.utils.validation import validate_data

from ._compat import Interval
from .device._audio import MAX_ABS_AMPLITUDE, WARN_ABS_AMPLITUDE, check_amplitude, pcm_to_float

#: Scale of 16-bit PCM: int16 batches are read as ``x / 32768`` in [-1, 1).
INT16_SCALE = 1.0 / 32768.0

#: Widest "clip" read as a channel axis: a 2-D array with at most this many columns and
#: many rows is a multi-channel recording, shape (n_samples, n_channels), not a batch.
MAX_CHANNELS = 8

#: Rate assumed for estimators without a ``sample_rate`` parameter.
DEFAULT_SAMPLE_RATE = 16000


def _reject_bad_layout(X, sample_rate=None):
    """Raise a ValueError naming an audio-specific layout problem, if any.

    ``sample_rate`` (default :data:`DEFAULT_SAMPLE_RATE`) tells a multi-channel clip
    read as a batch, shape (n_samples, n_channels) with at least a tenth of a second of
    rows and at most :data:`MAX_CHANNELS` columns, from a batch of clips.
    """
    if isinstance(X, (list, tuple)) and len(X) and all(hasattr(x, "__len__") for x in X):
        lengths = {len(x) for x in X}
        if len(lengths) > 1:
            raise ValueError(
                f"Clips have different lengths ({min(lengths)} to {max(lengths)} samples); "
                "pad or crop them to one length first, e.g. with "
                "sklkws.preprocessing.pad_clips."
            )
    shape = getattr(X, "shape", None)
    if shape is None and isinstance(X, (list, tuple)):
        try:  # a nested list of equal-length rows: its shape tells stereo as well
            shape = np.shape(X)
        except ValueError:
            shape = None
    if shape is None:
        return
    if len(shape) == 3:
        raise ValueError(
            f"Expected mono audio of shape (n_clips, n_samples), got shape {shape}: "
            "this looks like multi-channel (stereo) audio. Mix it down first, "
            "e.g. X.mean(axis=-1)."
        )
    rate = DEFAULT_SAMPLE_RATE if sample_rate is None else sample_rate
    if (
        len(shape) == 2
        and 1 <= shape[1] <= MAX_CHANNELS
        and isinstance(rate, numbers.Real)
        and rate >= 1000
        and shape[0] >= rate / 10
    ):
        raise ValueError(
            f"Expected mono audio of shape (n_clips, n_samples), got shape {tuple(shape)}: "
            f"{shape[0]} clips of {shape[1]} sample(s) at {rate:g} Hz, which looks like one "
            "multi-channel recording of shape (n_samples, n_channels). Mix it down first, "
            "e.g. x.mean(axis=-1)[np.newaxis, :] for one clip."
        )
    if len(shape) == 2 and shape[0] > 0 and shape[1] == 0:
        raise ValueError(
            f"Empty clips (0 samples per clip): found array with 0 feature(s) (shape={tuple(shape)}) "
            "while a minimum of 1 is required."
        )


def as_float_audio(X):
    """Return ``X`` as a float array, reading integer PCM of any width by its full range.

    int16 becomes ``x / 32768``, int32 ``x / 2**31``, uint8 ``(x - 128) / 128`` (see
    :func:`sklkws.device._audio.pcm_to_float`). Containers that are not numpy arrays
    (DataFrames) are returned as they are when they hold no integers.
    """
    X = np.asarray(X) if not hasattr(X, "dtype") else X
    kind = getattr(getattr(X, "dtype", None), "kind", None)
    if kind in ("i", "u"):
        return pcm_to_float(np.asarray(X))
    if kind is None and hasattr(X, "dtypes"):  # a DataFrame: integer columns are PCM too
        arr = np.asarray(X)
        if arr.dtype.kind in "iu":
            return pcm_to_float(arr)
    return X


def check_audio(estimator, X, *, reset=True, min_samples=1, dtype=(np.float32, np.float64),
                max_abs=MAX_ABS_AMPLITUDE, warn_abs=WARN_ABS_AMPLITUDE):
    """Validate a batch of mono clips and return it as a float array.

    Parameters
    ----------
    estimator : BaseEstimator
        The estimator validating; ``n_features_in_`` (the clip length) is set on it
        when ``reset`` is true and checked against it otherwise.
    X : array-like of shape (n_clips, n_samples)
        Mono audio. float32/float64 are kept and must lie in about [-1, 1]; integer
        PCM of any width (int16, int32, uint8, ...) is scaled by its full range to
        [-1, 1); anything else becomes float32.
    reset : bool, default=True
        True in ``fit``, False in ``transform`` / ``predict``.
    min_samples : int, default=1
        Shortest clip the estimator can work on.
    dtype : tuple of dtypes
        Float dtypes kept as they are; the first is used for other input.
    max_abs : float, default=MAX_ABS_AMPLITUDE
        Largest absolute float sample accepted; larger peaks are unscaled 24/32-bit
        PCM (or garbage) and would overflow power spectra.
    warn_abs : float, default=WARN_ABS_AMPLITUDE
        Peak above which an :class:`~sklkws.device._audio.AudioRangeWarning` says the
        audio looks like 16-bit PCM cast to float without scaling.

    Returns
    -------
    X : ndarray of shape (n_clips, n_samples)
        Finite float audio.

    Warns
    -----
    AudioRangeWarning
        If float samples peak above ``warn_abs``.

    Raises
    ------
    ValueError
        Naming the problem: stereo input (3-D, or 2-D with a handful of columns
        and a recording's worth of rows at the estimator's ``sample_rate``), NaN or
        infinity, float samples above ``max_abs``, empty or too short clips,
        ragged clip lengths, or a clip length different from the one seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.base import BaseEstimator
    >>> check_audio(BaseEstimator(), np.zeros((2, 16000), dtype=np.int16)).dtype
    dtype('float32')
    """
    _reject_bad_layout(X, getattr(estimator, "sample_rate", None))
    X = as_float_audio(X)
    X = validate_data(
        estimator,
        X,
        reset=reset,
        dtype=list(dtype),
        ensure_all_finite=True,
        ensure_min_samples=1,
        ensure_min_features=1,
    )
    if X.shape[1] < min_samples:
        raise ValueError(
            f"Clips too short for {type(estimator).__name__}: {X.shape[1]} sample(s) "
            f"per clip ({X.shape[1]} feature(s)), at least {min_samples} needed."
        )
    check_amplitude(X, max_abs=max_abs, warn_abs=warn_abs, what="X")
    return X


def check_labels(y, estimator=None):
    """Raise a ValueError naming the rows of ``y`` that hold no label (None or NaN).

    An object array with None among strings otherwise fails deep inside ``np.unique``
    with a bare TypeError about comparing NoneType and str.

    Parameters
    ----------
    y : array-like
        Targets.
    estimator : object, default=None
        Named in the message.

    Returns
    -------
    y : ndarray
        ``y`` as an array.

    Examples
    --------
    >>> check_labels(["yes", None, "no"])
    Traceback (most recent call last):
    ...
    ValueError: y holds no label (None or NaN) in 1 row(s), first at row(s) [1]; ...
    """
    y = np.asarray(y)
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        rows = np.unique(np.nonzero(~np.isfinite(y))[0])
        who = f" for {type(estimator).__name__}" if estimator is not None else ""
        raise ValueError(
            f"y holds NaN or infinity in {len(rows)} row(s), first at row(s) {rows[:5].tolist()}; "
            f"drop those clips or give them a label{who}."
        )
    if y.dtype != object or y.size == 0:
        return y
    flat = y.ravel()
    # Element-wise on the object array: None compares equal to None, NaN unequal to itself.
    missing = np.asarray(flat == None) | np.asarray(flat != flat)  # noqa: E711
    who = f" for {type(estimator).__name__}" if estimator is not None else ""
    if missing.any():
        rows = np.unique(np.nonzero(missing.reshape(y.shape))[0])
        raise ValueError(
            f"y holds no label (None or NaN) in {len(rows)} row(s), first at row(s) "
            f"{rows[:5].tolist()}; drop those clips or give them a label{who}."
        )
    try:
        np.unique(flat)
    except TypeError:
        kinds = sorted({type(v).__name__ for v in flat})
        raise ValueError(
            f"y mixes labels of types {kinds} that cannot be sorted together{who}; "
            "use one type, e.g. np.asarray(y).astype(str)."
        ) from None
    return y


class NumberOrPair(Interval):
    """Constraint: a number in an interval, or a ``(low, high)`` pair of them.

    For ``_parameter_constraints`` and ``validate_params``. A number ``v`` means the
    range ``(v, v)``; a pair (tuple, list or 2-element array) needs ``low <= high``
    and both ends in the interval. Booleans are refused. It is an
    :class:`~sklearn.utils._param_validation.Interval` (whose number case it keeps),
    because scikit-learn accepts only its own constraint classes in constraint lists;
    its checks thus draw valid and invalid numbers for it as for an Interval.

    Parameters
    ----------
    type : {numbers.Integral, numbers.Real}
        Type of the number and of both ends of a pair.
    left, right : float, int or None
        Bounds of the interval; None is unbounded.
    closed : {"both", "left", "right", "neither"}, default="both"
        Which bounds belong to the interval. "neither" with None bounds means any
        finite number.

    Examples
    --------
    >>> import numbers
    >>> snr = NumberOrPair(numbers.Real, -60, 120)
    >>> snr.is_satisfied_by(10.0), snr.is_satisfied_by((5, 30)), snr.is_satisfied_by((30, 5))
    (True, True, False)
    >>> print(snr)
    a float in the range [-60.0, 120.0] or a (low, high) pair of them with low <= high
    >>> NumberOrPair.as_pair(3.0)
    (3.0, 3.0)
    """

    def __init__(self, type, left, right, *, closed="both"):
        super().__init__(type, left, right, closed=closed)

    def _number_ok(self, val):
        return not isinstance(val, (bool, np.bool_)) and super().is_satisfied_by(val)

    def is_satisfied_by(self, val):
        if self._number_ok(val):
            return True
        if not isinstance(val, (tuple, list, np.ndarray)) or len(val) != 2 or np.ndim(val) != 1:
            return False
        low, high = val
        return bool(self._number_ok(low) and self._number_ok(high) and low <= high)

    def __str__(self):
        return f"{super().__str__()} or a (low, high) pair of them with low <= high"

    @staticmethod
    def as_pair(value):
        """The ``(low, high)`` range of a value that satisfied the constraint."""
        if isinstance(value, numbers.Real):
            return value, value
        low, high = value
        return low, high


def batch_slices(n, batch_size):
    """Yield slices covering ``range(n)`` in chunks of ``batch_size``.

    Transforms run batch by batch so that a 105k-clip dataset never needs its
    whole STFT (tens of GB) in memory at once.
    """
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))


def check_int(value, name, minimum, *, unit=""):
    """``value`` as an int when it is an integer (not a bool) of at least ``minimum``, else a ValueError.

    For the arguments of the dataset generators, which take counts and rates as plain
    arguments (estimators declare ``_parameter_constraints`` instead).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}{unit}, got {value!r}.")
    return int(value)

