"""The audio front end's maths, in one place.

Both the numpy transformers (:mod:`sklkws.preprocessing`, :mod:`sklkws.features`)
and the Keras layers the exporter puts on the device build on the constants made
here (window, DFT, mel and DCT matrices) and follow the same formulas, so a
fitted pipeline and its on-device model compute the same numbers.

Conventions match librosa's defaults: periodic Hann window, ``center=True`` with
zero padding of ``n_fft // 2`` on each side, Slaney-normalised mel filters from
:func:`librosa.filters.mel`, ``power_to_db`` with ``ref=1``, ``amin=1e-10`` and a
per-clip ``top_db`` floor, and an orthonormal DCT-II for MFCCs.

All batch functions take ``X`` of shape ``(n_clips, n_samples)`` and return
``(n_clips, n_bins, n_frames)``, like ``librosa`` does for a stacked input.
"""

from functools import lru_cache

import numpy as np
import scipy.fft
import scipy.signal

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


def power_spectrogram(X, n_fft, hop_length, center=True, power=2.0):
    """``|STFT|**power`` of a batch, frames first: shape ``(n_clips, n_frames, n_fft // 2 + 1)``.

    Computed for the whole batch with one real FFT call (scipy.fft, all cores).
    Frames-first keeps the mel and DCT projections single large matrix products;
    callers transpose the (small) final features. Float32 input stays float32.
    """
    frames = frame(X, n_fft, hop_length, center) * hann_window(n_fft).astype(X.dtype, copy=False)
    spectrum = scipy.fft.rfft(frames, axis=-1, workers=-1)
    magnitude_sq = np.square(spectrum.real)
    magnitude_sq += np.square(spectrum.imag)
    return magnitude_sq if power == 2.0 else magnitude_sq ** (power / 2.0)


def project(S, matrix):
    """Apply ``matrix`` (out_bins, in_bins) to frames-first ``S`` (n, n_frames, in_bins) as one GEMM."""
    n, t, b = S.shape
    return (S.reshape(n * t, b) @ matrix.T.astype(S.dtype, copy=False)).reshape(n, t, -1)


def power_to_db(S, top_db=80.0):
    """``10 * log10(max(S, amin))`` with a per-clip floor ``top_db`` below each clip's peak.

    Matches ``librosa.power_to_db(S, ref=1.0)`` applied clip by clip.
    """
    log_S = 10.0 * np.log10(np.maximum(S, S.dtype.type(AMIN)))
    if top_db is not None:
        peak = log_S.max(axis=tuple(range(1, log_S.ndim)), keepdims=True)
        log_S = np.maximum(log_S, peak - top_db)
    return log_S


def preemphasis(X, coef=0.97):
    """First-order high-pass ``y[t] = x[t] - coef * x[t-1]`` with ``x[-1] = 0``.

    Equal to ``librosa.effects.preemphasis(x, coef=coef, zi=0)``.
    """
    Y = X.copy()
    Y[:, 1:] -= X.dtype.type(coef) * X[:, :-1]
    return Y


#: Smallest level treated as non-silent when normalising (avoids 0 / 0 on silent clips).
EPS = 1e-8


def normalize(X, method="peak", target_dbfs=-20.0):
    """Loudness normalisation of each clip.

    ``"peak"`` scales to a peak of 1 (range [-1, 1]); ``"minmax"`` maps each clip
    to [0, 1]; ``"rms"`` scales to an RMS of ``target_dbfs`` dB full scale.
    Silent clips stay zero (``"minmax"`` maps them to 0).
    """
    dtype = X.dtype.type
    if method == "peak":
        scale = np.abs(X).max(axis=1, keepdims=True)
        return X / np.maximum(scale, dtype(EPS))
    if method == "minmax":
        low = X.min(axis=1, keepdims=True)
        span = X.max(axis=1, keepdims=True) - low
        return (X - low) / np.maximum(span, dtype(EPS))
    if method == "rms":
        rms = np.sqrt(np.mean(np.square(X), axis=1, keepdims=True))
        target = dtype(10.0 ** (target_dbfs / 20.0))
        return X * (target / np.maximum(rms, dtype(EPS)))
    raise ValueError(f"Unknown normalisation method {method!r}; use 'peak', 'minmax' or 'rms'.")
