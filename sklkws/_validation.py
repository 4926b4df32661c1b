"""Validation at the door: one place that turns user input into clean audio batches.

Every transformer, sampler and classifier in sklkws takes a batch of mono clips,
``X`` of shape ``(n_clips, n_samples)``. :func:`check_audio` checks that batch and
names the problem when it is wrong (stereo, NaN, empty clips, too short, wrong
dtype) instead of letting a shape error surface three calls later.
"""

import numbers

import numpy as np
from sklearn.utils.validation import validate_data

#: Scale of 16-bit PCM: int16 batches are read as ``x / 32768`` in [-1, 1).
INT16_SCALE = 1.0 / 32768.0


def _reject_bad_layout(X):
    """Raise a ValueError naming an audio-specific layout problem, if any."""
    if isinstance(X, (list, tuple)) and len(X) and all(hasattr(x, "__len__") for x in X):
        lengths = {len(x) for x in X}
        if len(lengths) > 1:
            raise ValueError(
                f"Clips have different lengths ({min(lengths)} to {max(lengths)} samples); "
                "pad or crop them to one length first, e.g. with "
                "sklkws.preprocessing.pad_clips."
            )
    shape = getattr(X, "shape", None)
    if shape is None:
        return
    if len(shape) == 3:
        raise ValueError(
            f"Expected mono audio of shape (n_clips, n_samples), got shape {shape}: "
            "this looks like multi-channel (stereo) audio. Mix it down first, "
            "e.g. X.mean(axis=-1)."
        )
    if len(shape) == 2 and shape[0] > 0 and shape[1] == 0:
        raise ValueError(
            f"Empty clips (0 samples per clip): found array with 0 feature(s) (shape={tuple(shape)}) "
            "while a minimum of 1 is required."
        )


def as_float_audio(X):
    """Return ``X`` as a float array, reading int16 as 16-bit PCM (``x / 32768``).

    Other integer types are cast without scaling, the scikit-learn way.
    """
    X = np.asarray(X) if not hasattr(X, "dtype") else X
    if getattr(X, "dtype", None) == np.int16:
        return np.asarray(X, dtype=np.float32) * np.float32(INT16_SCALE)
    return X


def check_audio(estimator, X, *, reset=True, min_samples=1, dtype=(np.float32, np.float64)):
    """Validate a batch of mono clips and return it as a float array.

    Parameters
    ----------
    estimator : BaseEstimator
        The estimator validating; ``n_features_in_`` (the clip length) is set on it
        when ``reset`` is true and checked against it otherwise.
    X : array-like of shape (n_clips, n_samples)
        Mono audio. float32/float64 are kept; int16 is read as 16-bit PCM and
        scaled to [-1, 1); anything else becomes float32.
    reset : bool, default=True
        True in ``fit``, False in ``transform`` / ``predict``.
    min_samples : int, default=1
        Shortest clip the estimator can work on.
    dtype : tuple of dtypes
        Float dtypes kept as they are; the first is used for other input.

    Returns
    -------
    X : ndarray of shape (n_clips, n_samples)
        Finite float audio.

    Raises
    ------
    ValueError
        Naming the problem: stereo input, NaN or infinity, empty or too short
        clips, ragged clip lengths, or a clip length different from the one seen
        in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.base import BaseEstimator
    >>> check_audio(BaseEstimator(), np.zeros((2, 16000), dtype=np.int16)).dtype
    dtype('float32')
    """
    _reject_bad_layout(X)
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
    return X


def check_positive(value, name, *, integer=False, allow_none=False):
    """Raise a ValueError unless ``value`` is a positive number (int if asked)."""
    if value is None and allow_none:
        return
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind) or value <= 0:
        raise ValueError(f"{name} must be a positive {'integer' if integer else 'number'}, got {value!r}.")


def batch_slices(n, batch_size):
    """Yield slices covering ``range(n)`` in chunks of ``batch_size``.

    Transforms run batch by batch so that a 105k-clip dataset never needs its
    whole STFT (tens of GB) in memory at once.
    """
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))
