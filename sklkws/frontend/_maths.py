"""The audio front end's maths, in one place.

Both the numpy transformers (:mod:`sklkws.frontend._preprocessing`, :mod:`sklkws.frontend._features`)
and the Keras layers the exporter puts on the device build on the constants made
here (window, DFT, mel and DCT matrices) and follow the same formulas, so a
fitted pipeline and its on-device model compute the same numbers.

Conventions match librosa's defaults: periodic Hann window, ``center=True`` with
zero padding of ``n_fft // 2`` on each side, Slaney-normalised mel filters from
:func:`librosa.filters.mel`, ``power_to_db`` with ``ref=1``, ``amin=1e-10`` and a
per-clip ``top_db`` floor, and an orthonormal DCT-II for MFCCs.

All batch functions take ``X`` of shape ``(n_clips, n_samples)`` and return
``(n_clips, n_bins, n_frames)``, like ``librosa`` does for a stacked input.

The element-wise formulas (:func:`preemphasis`, :func:`normalize`,
:func:`power_to_db`) take an array namespace ``xp``, as scikit-learn's array-API
support does: :mod:`numpy` (the default) for the transformers, :mod:`keras.ops`
for the Keras layers of :mod:`sklkws.frontend._layers`. Each formula is written once and
both sides run the same lines.
"""

from functools import lru_cache

import numpy as np
import scipy.fft
import scipy.signal

# The zero-fill gather lives on the device side (numpy only), which the streaming spotter uses too.
from ..device._audio import gather_zero_fill  # noqa: F401

AMIN = 1e-10


@lru_cache(maxsize=32)
def hann_window(n_fft):
    """Periodic Hann window of length ``n_fft`` (float32), as ``librosa.stft`` uses."""
    return scipy.signal.get_window("hann", n_fft, fftbins=True).astype(np.float32)


@lru_cache(maxsize=32)
def mel_matrix(sample_rate, n_fft, n_mels, fmin, fmax):
    """Mel filter bank of shape ``(n_mels, n_fft // 2 + 1)`` from :func:`librosa.filters.mel`."""
    import librosa  # deferred: importing sklkws stays light

    return librosa.filters.mel(
        sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, dtype=np.float32
    )


@lru_cache(maxsize=32)
def dct_matrix(n_mels, n_mfcc):
    """Orthonormal DCT-II matrix of shape ``(n_mfcc, n_mels)``: ``mfcc = D @ logmel``.

    Equal to ``librosa.feature.mfcc``'s ``scipy.fft.dct(S, type=2, norm="ortho")``
    kept to the first ``n_mfcc`` coefficients.
    """
    eye = np.eye(n_mels, dtype=np.float64)
    return scipy.fft.dct(eye, type=2, norm="ortho", axis=0)[:n_mfcc].astype(np.float32)


@lru_cache(maxsize=32)
def dft_matrices(n_fft):
    """Windowed real-DFT matrices ``(cos, sin)``, each ``(n_fft, n_fft // 2 + 1)``.

    ``frames @ cos`` and ``frames @ sin`` are the real and (negated) imaginary
    parts of ``rfft(frames * window)``: the form a device graph computes the STFT in
    (a convolution), from the same window the numpy path uses.
    """
    n = np.arange(n_fft)[:, None]
    k = np.arange(n_fft // 2 + 1)[None, :]
    angle = 2.0 * np.pi * n * k / n_fft
    window = hann_window(n_fft).astype(np.float64)[:, None]
    return (window * np.cos(angle)).astype(np.float32), (window * np.sin(angle)).astype(np.float32)


def n_frames(n_samples, n_fft, hop_length, center=True):
    """Number of STFT frames for clips of ``n_samples`` samples."""
    padded = n_samples + 2 * (n_fft // 2) if center else n_samples
    if padded < n_fft:
        raise ValueError(
            f"Clips of {n_samples} samples are shorter than n_fft={n_fft}; "
            "use center=True or a smaller n_fft."
        )
    return 1 + (padded - n_fft) // hop_length


def frame(X, n_fft, hop_length, center=True):
    """Overlapping frames of a batch, shape ``(n_clips, n_frames, n_fft)`` (a view when possible)."""
    if center:
        pad = n_fft // 2
        X = np.pad(X, ((0, 0), (pad, pad)), mode="constant")
    return np.lib.stride_tricks.sliding_window_view(X, n_fft, axis=-1)[:, ::hop_length]


def n_bins(kind, n_fft, n_mels, n_mfcc):
    """Output bins of a feature ``kind``: ``n_fft // 2 + 1`` (power), ``n_mels`` (logmel), ``n_mfcc`` (mfcc)."""
    return {"power": n_fft // 2 + 1, "logmel": n_mels, "mfcc": n_mfcc}[kind]


def _squared_spectrum(X, n_fft, hop_length, center):
    """Interleaved ``re**2, im**2`` of the STFT, shape ``(n_clips, n_frames, 2 * (n_fft // 2 + 1))``.

    One real FFT over all frames of the batch (scipy.fft, all cores), written over
    its own input; the squares are taken in place on the complex result seen as
    float pairs, so no separate real/imaginary temporaries are made. Float32 stays
    float32 (complex64 spectrum).
    """
    frames = np.multiply(frame(X, n_fft, hop_length, center), hann_window(n_fft).astype(X.dtype, copy=False))
    spectrum = scipy.fft.rfft(frames, axis=-1, workers=-1, overwrite_x=True)
    pairs = spectrum.view(X.dtype)
    np.square(pairs, out=pairs)
    return pairs


def power_spectrogram(X, n_fft, hop_length, center=True, power=2.0):
    """``|STFT|**power`` of a batch, frames first: shape ``(n_clips, n_frames, n_fft // 2 + 1)``.

    Computed for the whole batch with one real FFT call (scipy.fft, all cores).
    Frames-first keeps the mel and DCT projections single large matrix products;
    callers transpose the (small) final features. Float32 input stays float32.
    """
    pairs = _squared_spectrum(X, n_fft, hop_length, center)
    magnitude_sq = pairs.reshape(*pairs.shape[:-1], -1, 2).sum(axis=-1)
    return magnitude_sq if power == 2.0 else magnitude_sq ** (power / 2.0)


@lru_cache(maxsize=32)
def _paired_matrix(sample_rate, n_fft, n_mels, fmin, fmax):
    """The mel matrix with each column repeated, ``(n_mels, 2 * n_freq)``: applied to interleaved squares."""
    paired = np.repeat(mel_matrix(sample_rate, n_fft, n_mels, fmin, fmax), 2, axis=1)
    paired.flags.writeable = False
    return paired


def mel_spectrogram(X, sample_rate, n_fft, hop_length, n_mels, fmin, fmax, center=True):
    """Mel power of a batch, frames first: ``(n_clips, n_frames, n_mels)``.

    ``mel @ (re**2 + im**2)`` computed as one matrix product of the interleaved
    squares with the column-doubled mel matrix: the sum of the squares happens
    inside the product, at no extra pass over the spectrum.
    """
    pairs = _squared_spectrum(X, n_fft, hop_length, center)
    return project(pairs, _paired_matrix(sample_rate, n_fft, n_mels, fmin, fmax))


def project(S, matrix):
    """Apply ``matrix`` (out_bins, in_bins) to frames-first ``S`` (n, n_frames, in_bins) as one GEMM."""
    n, t, b = S.shape
    return (S.reshape(n * t, b) @ matrix.T.astype(S.dtype, copy=False)).reshape(n, t, -1)


def power_to_db(S, top_db=80.0, xp=np):
    """``10 * log10(max(S, amin))`` with a per-clip floor ``top_db`` below each clip's peak.

    Matches ``librosa.power_to_db(S, ref=1.0)`` applied clip by clip. ``S`` has
    the clip on axis 0; ``xp`` is the array namespace (numpy or ``keras.ops``).
    """
    log_S = 10.0 * xp.log10(xp.maximum(S, AMIN))
    if top_db is not None:
        peak = xp.max(log_S, axis=tuple(range(1, len(log_S.shape))), keepdims=True)
        log_S = xp.maximum(log_S, peak - top_db)
    return log_S


def preemphasis(X, coef=0.97, xp=np):
    """First-order high-pass ``y[t] = x[t] - coef * x[t-1]`` with ``x[-1] = 0``.

    Equal to ``librosa.effects.preemphasis(x, coef=coef, zi=0)``; ``xp`` is the
    array namespace (numpy or ``keras.ops``).
    """
    return xp.concatenate([X[:, :1], X[:, 1:] - coef * X[:, :-1]], axis=1)


#: Smallest level treated as non-silent when normalising (avoids 0 / 0 on silent clips).
EPS = 1e-8

NORMALIZE_METHODS = ("peak", "minmax", "rms")


def check_normalize_method(method):
    """Raise a ValueError naming the choices when ``method`` is not a normalisation method."""
    if method not in NORMALIZE_METHODS:
        raise ValueError(f"Unknown normalisation method {method!r}; use 'peak', 'minmax' or 'rms'.")


def peak_level(peak, xp=np):
    """The divisor of peak normalisation for a clip whose largest ``|x|`` is ``peak``.

    Shared by :func:`normalize` and the streaming export, which applies the same
    gain to mel power computed before normalisation (power scales by its square).
    """
    return xp.maximum(peak, EPS)


def normalize(X, method="peak", target_dbfs=-20.0, xp=np):
    """Loudness normalisation of each clip.

    ``"peak"`` scales to a peak of 1 (range [-1, 1]); ``"minmax"`` maps each clip
    to [0, 1]; ``"rms"`` scales to an RMS of ``target_dbfs`` dB full scale.
    Silent clips stay zero (``"minmax"`` maps them to 0). ``xp`` is the array
    namespace (numpy or ``keras.ops``); Python scalars keep float32 float32.
    """
    check_normalize_method(method)
    if method == "peak":
        return X / peak_level(xp.max(xp.abs(X), axis=1, keepdims=True), xp=xp)
    if method == "minmax":
        low = xp.min(X, axis=1, keepdims=True)
        span = xp.max(X, axis=1, keepdims=True) - low
        return (X - low) / xp.maximum(span, EPS)
    rms = xp.sqrt(xp.mean(xp.square(X), axis=1, keepdims=True))
    return X * (10.0 ** (target_dbfs / 20.0) / xp.maximum(rms, EPS))
