"""Audio sample conventions shared by the training side and the device side.

numpy and the standard library only (this module runs on the Raspberry Pi), so that
:func:`sklkws._validation.check_audio`, :class:`~sklkws.device.CompactClassifier` and
:class:`~sklkws.device.KeywordSpotter` read the same samples the same way:

- integer PCM of any width is scaled by its full range into [-1, 1): int16 by
  ``1 / 32768``, int32 by ``1 / 2**31``, int8 by ``1 / 128``; unsigned PCM (8-bit WAV is
  ``uint8``) is centred on its midpoint first. Using int32 samples unscaled gives log-mels
  of 170-190 dB and predictions unrelated to those of the same clip as float.
- float audio is expected in [-1, 1]. A peak above :data:`WARN_ABS_AMPLITUDE` gets an
  :class:`AudioRangeWarning` (it is most likely 16-bit PCM cast to float without
  scaling, and the model will see a level it was never trained on); a peak above
  :data:`MAX_ABS_AMPLITUDE` is refused with a ValueError: no PCM format cast to float
  reaches it short of 24/32-bit integers, whose unscaled squares overflow float32 power
  spectra into inf and NaN.
"""

import warnings

import numpy as np

#: Peak above which float audio is warned about. Gain augmentation and mixes stay well
#: below it (+36 dB over full scale); 16-bit PCM cast to float (peaks of hundreds to
#: 32767) is above it.
WARN_ABS_AMPLITUDE = 64.0

#: Peak above which float audio is refused: above any 16-bit PCM value, below the
#: unscaled values of 24/32-bit PCM (up to 2**31) and far below float32 overflow.
MAX_ABS_AMPLITUDE = 1e5


class AudioRangeWarning(UserWarning):
    """Float audio peaks far outside [-1, 1]: probably integer PCM cast to float unscaled."""


def pcm_scale(dtype):
    """Return ``(offset, scale)`` reading integer PCM of ``dtype`` as ``(x - offset) * scale``.

    Parameters
    ----------
    dtype : numpy dtype
        A signed or unsigned integer dtype.

    Returns
    -------
    offset : float
        0 for signed PCM, the midpoint ``2**(bits - 1)`` for unsigned PCM.
    scale : float
        ``1 / 2**(bits - 1)``: full scale maps to [-1, 1).

    Examples
    --------
    >>> import numpy as np
    >>> pcm_scale(np.int16)
    (0.0, 3.0517578125e-05)
    >>> pcm_scale(np.uint8)
    (128.0, 0.0078125)
    """
    dtype = np.dtype(dtype)
    if dtype.kind not in "iu":
        raise ValueError(f"pcm_scale needs an integer dtype, got {dtype}.")
    half = float(2 ** (8 * dtype.itemsize - 1))
    return (half if dtype.kind == "u" else 0.0), 1.0 / half


def pcm_to_float(x):
    """Return ``x`` as float audio, scaling integer PCM of any width into [-1, 1).

    Float input is returned unchanged (float16 becomes float32); booleans and other
    non-integer numbers become float32 as they are.

    Parameters
    ----------
    x : array-like of any shape
        Samples.

    Returns
    -------
    x : ndarray of the same shape
        float32 for integer PCM of up to 32 bits, float64 for 64-bit integers (float32
        cannot hold their resolution), the input's float dtype otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> pcm_to_float(np.array([-2**31, 2**30], dtype=np.int32))
    array([-1. ,  0.5], dtype=float32)
    >>> pcm_to_float(np.array([0, 128, 255], dtype=np.uint8))
    array([-1.       ,  0.       ,  0.9921875], dtype=float32)
    """
    x = np.asarray(x)
    kind = x.dtype.kind
    if kind in "iu":
        offset, scale = pcm_scale(x.dtype)
        out_dtype = np.float64 if x.dtype.itemsize > 4 else np.float32
        out = x.astype(out_dtype)
        if offset:
            out -= out_dtype(offset)
        out *= out_dtype(scale)
        return out
    if kind == "f":
        return x.astype(np.float32) if x.dtype.itemsize < 4 else x
    if kind == "b":
        return x.astype(np.float32)
    return x


def peak_amplitude(x):
    """Largest absolute sample of float ``x`` (NaN if any sample is NaN), without a temporary.

    Examples
    --------
    >>> import numpy as np
    >>> peak_amplitude(np.array([0.1, -0.7, 0.3]))
    0.7
    """
    x = np.asarray(x)
    if x.size == 0:
        return 0.0
    # max and -min instead of abs(x).max(): no copy of a long stream in memory.
    return float(max(np.max(x), -np.min(x)))


def check_amplitude(x, *, max_abs=MAX_ABS_AMPLITUDE, warn_abs=WARN_ABS_AMPLITUDE, what="audio"):
    """Check that float ``x`` is finite and in about [-1, 1]; warn or raise naming the problem.

    Parameters
    ----------
    x : ndarray of float, any shape
        Samples, already read as float (see :func:`pcm_to_float`).
    max_abs : float, default=MAX_ABS_AMPLITUDE
        Largest absolute sample accepted.
    warn_abs : float, default=WARN_ABS_AMPLITUDE
        Peak above which an :class:`AudioRangeWarning` is given.
    what : str, default="audio"
        How the messages name ``x``.

    Returns
    -------
    x : ndarray
        ``x`` itself, unchanged.

    Raises
    ------
    ValueError
        If ``x`` contains NaN or infinity, or its peak exceeds ``max_abs``.

    Warns
    -----
    AudioRangeWarning
        If its peak exceeds ``warn_abs`` (and not ``max_abs``).

    Examples
    --------
    >>> import numpy as np
    >>> check_amplitude(np.array([0.5, -0.25])).shape
    (2,)
    >>> check_amplitude(np.array([2.0**31, -3000.0]))
    Traceback (most recent call last):
    ...
    ValueError: Float audio must lie in [-1, 1], but its peak is 2.15e+09 ...
    """
    peak = peak_amplitude(x)
    if not np.isfinite(peak):
        raise ValueError(f"Input {what} contains NaN or infinity; replace or drop those samples first.")
    if peak > warn_abs:
        advice = (
            "this looks like integer PCM cast to float without scaling. Pass the integer "
            "array itself (integer PCM of any width is scaled by its full range) or divide "
            "by its full scale first, e.g. x / 32768 for 16-bit PCM."
        )
        if peak > max_abs:
            raise ValueError(
                f"Float {what} must lie in [-1, 1], but its peak is {peak:.3g} (above {max_abs:g}): {advice}"
            )
        warnings.warn(
            f"Float {what} should lie in [-1, 1], but its peak is {peak:.3g} (above {warn_abs:g}): {advice}",
            AudioRangeWarning,
            stacklevel=3,
        )
    return x


def to_float_audio(x, *, max_abs=MAX_ABS_AMPLITUDE, warn_abs=WARN_ABS_AMPLITUDE, what="audio"):
    """Read samples as finite float audio in about [-1, 1]: integer PCM scaled, the rest checked.

    Parameters
    ----------
    x : array-like of any shape
        Integer PCM of any width, or float audio in [-1, 1].
    max_abs : float, default=MAX_ABS_AMPLITUDE
        Largest absolute float sample accepted.
    warn_abs : float, default=WARN_ABS_AMPLITUDE
        Peak above which an :class:`AudioRangeWarning` is given.
    what : str, default="audio"
        How messages name ``x``.

    Returns
    -------
    x : ndarray of the same shape
        Float samples (see :func:`pcm_to_float` for the dtype).

    Raises
    ------
    ValueError
        If the samples are not numbers, contain NaN or infinity, or are float audio
        whose peak exceeds ``max_abs``.

    Warns
    -----
    AudioRangeWarning
        If float samples peak above ``warn_abs``.

    Examples
    --------
    >>> import numpy as np
    >>> to_float_audio(np.array([16384, -32768], dtype=np.int16))
    array([ 0.5, -1. ], dtype=float32)
    """
    x = pcm_to_float(x)
    if x.dtype.kind != "f":
        raise ValueError(f"Input {what} must be numeric samples, got an array of dtype {x.dtype}.")
    return check_amplitude(x, max_abs=max_abs, warn_abs=warn_abs, what=what)


def gather_zero_fill(X, offsets, length, low=0, high=None):
    """Windows of each clip with zero fill: ``out[i, j] = X[i, j + offsets[i]]`` where in range, else 0.

    A source index counts as in range when ``low[i] <= j + offsets[i] < high[i]``
    (``high`` defaults to the clip length): cropping, zero padding, shifting and
    trimming are all this one gather.

    Parameters
    ----------
    X : ndarray of shape (n_clips, n_samples)
    offsets : ndarray of int, shape (n_clips,)
    length : int
        Output samples per clip.
    low, high : int or ndarray of shape (n_clips,)
        Source range kept; outside it the output is zero.

    Returns
    -------
    out : ndarray of shape (n_clips, length), X's dtype

    Notes
    -----
    ``X`` may have one row for many offsets (numpy broadcasting): windows of one
    stream, as the streaming spotter cuts its frames.
    """
    n_samples = X.shape[1]
    high = n_samples if high is None else high
    index = np.arange(length)[None, :] + np.asarray(offsets)[:, None]
    inside = (index >= np.asarray(low)[..., None]) & (index < np.asarray(high)[..., None])
    gathered = np.take_along_axis(X, np.clip(index, 0, n_samples - 1), axis=1)
    return np.where(inside, gathered, X.dtype.type(0))
