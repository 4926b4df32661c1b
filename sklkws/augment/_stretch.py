"""Time stretch keeping pitch: a phase vocoder run on the whole batch's STFT."""

import functools
import numbers

import numpy as np
import scipy.fft

from ..frontend._maths import frame, hann_window, n_frames as count_frames
from .._compat import Interval
from .._validation import NumberOrPair
from ._base import COMMON_CONSTRAINTS, BaseAugmenter


def stretch_batch(X, rate, *, n_fft=512, hop_length=128):
    """Time-stretch each clip by its own rate, keeping pitch and length.

    The algorithm is librosa's ``phase_vocoder`` (output frame ``k`` takes the
    magnitude interpolated at input frame ``k * rate`` and advances the phase by
    the input phase difference there), with the STFT, the frame gathers and
    the inverse STFT done for all clips at once. With the same ``n_fft`` and
    ``hop_length`` it matches ``librosa.effects.time_stretch`` followed by
    cropping or zero-padding back to the clip length.

    Parameters
    ----------
    X : ndarray of shape (n_clips, n_samples), float32
    rate : ndarray of shape (n_clips,)
        Speed factors: > 1 shortens (the end is zero-padded), < 1 lengthens
        (the end is cut).
    n_fft, hop_length : int
        STFT size and hop (Hann window, centred frames).

    Returns
    -------
    Y : ndarray of shape (n_clips, n_samples), float32
    """
    m, L = X.shape
    pad = n_fft // 2
    n_frames = count_frames(L, n_fft, hop_length)
    # The front end's centred, windowed frames, plus one all-zero frame (index
    # n_frames) that frames read past the end map to.
    frames = np.zeros((m, n_frames + 1, n_fft), dtype=np.float32)
    np.multiply(frame(X, n_fft, hop_length), hann_window(n_fft), out=frames[:, :n_frames])
    spec = scipy.fft.rfft(frames, axis=-1)
    n_bins = spec.shape[-1]
    mag = np.abs(spec).reshape(-1, n_bins)
    phase = np.angle(spec).reshape(-1, n_bins)
    del spec, frames

    # Output frames: those touching the first L samples; as in librosa, clip i
    # has ceil(n_frames / rate_i) of them (frames past that read the zero frame).
    n_out = -(-(L + pad) // hop_length)
    t = np.arange(n_out) * rate[:, None].astype(np.float64)  # (m, n_out)
    i0 = np.floor(t).astype(np.int64)
    alpha = (t - i0).astype(np.float32)[..., None]
    rows = np.arange(m)[:, None] * (n_frames + 1)
    r0 = (rows + np.minimum(i0, n_frames)).ravel()
    r1 = (rows + np.minimum(i0 + 1, n_frames)).ravel()
    shape = (m, n_out, n_bins)
    m0 = np.take(mag, r0, axis=0).reshape(shape)
    m1 = np.take(mag, r1, axis=0).reshape(shape)
    dphase = np.take(phase, r1, axis=0).reshape(shape)
    dphase -= np.take(phase, r0, axis=0).reshape(shape)
    m1 -= m0
    m1 *= alpha
    m0 += m1  # interpolated magnitude
    # Accumulated phase: a loop over frames (not clips); numpy's cumsum along a
    # middle axis is several times slower than these row-wise adds.
    acc = np.empty(shape, dtype=np.float32)
    acc[:, 0] = phase.reshape(m, n_frames + 1, n_bins)[:, 0]
    for k in range(1, n_out):
        np.add(acc[:, k - 1], dphase[:, k - 1], out=acc[:, k])
    out_spec = np.empty(shape, dtype=np.complex64)
    np.multiply(np.cos(acc), m0, out=out_spec.real)
    np.multiply(np.sin(acc, out=acc), m0, out=out_spec.imag)
    del acc, dphase, m0, m1

    # Inverse STFT: windowed overlap-add, normalised by the summed squared window
    # of the clip's own frame count.
    y_frames = scipy.fft.irfft(out_spec, n=n_fft, axis=-1)
    y_frames *= hann_window(n_fft)
    ratio = n_fft // hop_length
    blocks = y_frames.reshape(m, n_out, ratio, hop_length)
    y = np.zeros((m, n_out + ratio - 1, hop_length), dtype=np.float32)
    for j in range(ratio):
        y[:, j:j + n_out] += blocks[:, :, j]
    y *= _inverse_window_sum(n_fft, hop_length, n_out, n_out)
    counts = np.minimum(np.ceil(n_frames / rate - 1e-9).astype(np.int64), n_out)
    if (counts < n_out).any():
        # Clips with fewer frames differ only from block min(counts) on.
        first = int(counts.min())
        values, which = np.unique(counts, return_inverse=True)
        fix = np.stack([_tail_fix(n_fft, hop_length, int(c), n_out, first) for c in values])
        y[:, first:] *= fix[which]
    y = y.reshape(m, -1)[:, pad:pad + L]
    # Past the stretched length round(L / rate) the window sum fades to zero:
    # that tail is silence (librosa trims it, we pad back with zeros).
    length = np.rint(L / rate).astype(np.int64)
    if (length < L).any():
        y[np.arange(L) >= length[:, None]] = 0.0
    return y


@functools.lru_cache(maxsize=64)
def _tail_fix(n_fft, hop_length, n_frames, n_out, first):
    """Factor turning the n_out-frame normalisation into the n_frames one, from block ``first``."""
    full = _window_sum(n_fft, hop_length, n_out, n_out)[first:]
    own = _inverse_window_sum(n_fft, hop_length, n_frames, n_out)[first:]
    return (own * full).astype(np.float32)


@functools.lru_cache(maxsize=64)
def _window_sum(n_fft, hop_length, n_frames, n_out):
    ratio = n_fft // hop_length
    w2 = (hann_window(n_fft) ** 2).reshape(ratio, hop_length)
    total = np.zeros((n_out + ratio - 1, hop_length), dtype=np.float32)
    for j in range(ratio):
        total[j:j + n_frames] += w2[j]
    total.flags.writeable = False
    return total


@functools.lru_cache(maxsize=64)
def _inverse_window_sum(n_fft, hop_length, n_frames, n_out):
    """1 / (sum of squared windows of the first n_frames frames), as (n_out + ratio - 1, hop)."""
    total = _window_sum(n_fft, hop_length, n_frames, n_out)
    tiny = np.finfo(np.float32).tiny
    inverse = np.where(total > tiny, 1.0 / np.maximum(total, tiny), 0.0).astype(np.float32)
    inverse.flags.writeable = False
    return inverse


class TimeStretch(BaseAugmenter):
    """Speed each clip up or slow it down by a random rate, keeping pitch and length.

    Method: a phase vocoder (librosa's ``phase_vocoder`` algorithm, vectorised over
    the batch) on a Hann STFT; the result is cut or zero-padded back to the input
    length, as audiomentations' ``TimeStretch(leave_length_unchanged=True)`` does.
    With ``hop_length=n_fft // 4`` the output matches
    ``librosa.effects.time_stretch(x, rate, n_fft=n_fft, hop_length=n_fft // 4)``.

    Quality limits: no phase locking, so transients are smeared over about one
    window (``n_fft`` samples, 32 ms by default) and stretched voices get the
    slightly reverberant, "phasey" colour of phase vocoders, growing with
    ``|log(rate)|``: fine for augmentation in the default 0.8-1.25 range, not for
    listening. The default hop is ``n_fft // 2`` (50 % overlap), half the work of
    the textbook 75 %: on Speech Commands words stretched by 0.8 or 1.25, its
    log-mel output differs from the 75 % version by 3.5 dB on average (loud
    cells), less than signalsmith-stretch (audiomentations' default method)
    differs from it (3.8 dB) and about as much as it differs from
    signalsmith-stretch (3.5 dB). Clips shorter than ``n_fft`` are handled
    (centred, zero-padded frames) but gain little.

    Parameters
    ----------
    rate : float or (float, float), default=(0.8, 1.25)
        Speed factor drawn per clip, log-uniformly so that rates r and 1/r are
        equally likely; > 1 is faster (shorter content), < 1 slower.
    n_fft : int, default=512
        STFT window length in samples (32 ms at 16 kHz).
    hop_length : int or None, default=None
        STFT hop; ``None`` means ``n_fft // 2`` (50 % overlap, see above). Must
        divide ``n_fft``.
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

    Examples
    --------
    >>> import numpy as np
    >>> from sklkws.augment import TimeStretch
    >>> t = np.arange(16000) / 16000
    >>> X = (np.sin(2 * np.pi * 300 * t) * (np.abs(t - 0.4) < 0.2))[None].astype(np.float32)
    >>> Y = TimeStretch(rate=0.8).augment(X, random_state=0)
    >>> Y.shape, Y.dtype
    ((1, 16000), dtype('float32'))
    >>> voiced = lambda x: (np.abs(x) > 0.5).nonzero()[1]
    >>> round(float(np.ptp(voiced(Y)) / np.ptp(voiced(X))), 1)  # about 1 / 0.8
    1.2
    """

    _parameter_constraints: dict = {
        **COMMON_CONSTRAINTS,
        "rate": [NumberOrPair(numbers.Real, 0.1, 10.0, closed="both")],
        "n_fft": [Interval(numbers.Integral, 1, None, closed="left")],
        "hop_length": [Interval(numbers.Integral, 1, None, closed="left"), None],
    }

    def __init__(self, rate=(0.8, 1.25), *, n_fft=512, hop_length=None, p=1.0, n_copies=1,
                 random_state=None):
        self.rate = rate
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.p = p
        self.n_copies = n_copies
        self.random_state = random_state

    def _hop(self):
        return self.n_fft // 2 if self.hop_length is None else self.hop_length

    def _check_params(self):
        n_fft, hop = self.n_fft, self._hop()
        if hop < 1:  # n_fft // 2 when hop_length is None
            raise ValueError(f"n_fft must be at least 2 when hop_length is None, got {n_fft}.")
        if n_fft % hop:
            raise ValueError(f"hop_length ({hop}) must divide n_fft ({n_fft}).")
        low, high = NumberOrPair.as_pair(self.rate)
        return {"log_rate": (np.log(low), np.log(high))}

    def _chunk_clips(self, clip_size):
        # The STFT holds about 2x the audio as complex values, several times over.
        return max(1, (1 << 18) // clip_size)

    def _transform(self, X, rng, out, state):
        lo, hi = self._derived()["log_rate"]
        rate = np.exp(rng.uniform(lo, hi, size=len(X)))
        Y = stretch_batch(X, rate, n_fft=self.n_fft, hop_length=self._hop())
        if out is None:
            return Y
        out[...] = Y
        return out
