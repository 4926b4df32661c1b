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

import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
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


def frame(X, n_fft, hop_length, center=True, buffer=None):
    """Overlapping frames of a batch, shape ``(n_clips, n_frames, n_fft)`` (a view when possible).

    With ``center``, the clips are copied between ``n_fft // 2`` zeros at both ends, into
    ``buffer`` when given: zeros of shape ``(>= n_clips, n_samples + 2 * (n_fft // 2))``
    whose margins stay zero, so that repeated calls allocate nothing.
    """
    if center:
        pad = n_fft // 2
        if buffer is None:
            buffer = np.zeros((X.shape[0], X.shape[1] + 2 * pad), dtype=X.dtype)
        padded = buffer[: X.shape[0]]
        padded[:, pad : pad + X.shape[1]] = X
        X = padded
    return np.lib.stride_tricks.sliding_window_view(X, n_fft, axis=-1)[:, ::hop_length]


def n_bins(kind, n_fft, n_mels, n_mfcc):
    """Output bins of a feature ``kind``: ``n_fft // 2 + 1`` (power), ``n_mels`` (logmel), ``n_mfcc`` (mfcc)."""
    return {"power": n_fft // 2 + 1, "logmel": n_mels, "mfcc": n_mfcc}[kind]


#: Frames' bytes transformed at a time: the windowed frames and their spectrum (about as large)
#: then stay in a core's L2 cache through the FFT, the squares and the projection, where one pass
#: over a whole batch's frames goes through main memory at every step.
CHUNK_BYTES = 2**20

#: Consecutive mel filters multiplied together with the bins they cover (see ``_mel_bands``).
MELS_PER_BAND = 4


@lru_cache(maxsize=1)
def _blas_controller():
    # threadpoolctl comes with scikit-learn; made once, after numpy has loaded its BLAS.
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def single_threaded_blas():
    """A context in which BLAS uses one thread (threadpoolctl).

    The front end's matrix products are small (a chunk's frames times a band of mel
    filters, a batch's log-mels times the DCT): a threaded BLAS spends longer starting
    and waiting for its threads than multiplying, and far longer when other jobs hold
    the cores.
    """
    return _blas_controller().limit(limits=1, user_api="blas")


_THREAD_LIMIT = threading.local()


@contextlib.contextmanager
def thread_limit(n_threads):
    """Front-end calls made in this thread use at most ``n_threads`` threads (None: every core).

    For callers that already run several batches at once (the training input
    pipeline's workers): one thread per batch instead of every core per batch.
    """
    saved = getattr(_THREAD_LIMIT, "n", None)
    _THREAD_LIMIT.n = n_threads
    try:
        yield
    finally:
        _THREAD_LIMIT.n = saved


def available_cores():
    """The cores this process may run on (its CPU affinity where the system has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _n_threads():
    """The cores this process may run on, at most the calling thread's :func:`thread_limit`."""
    cores = available_cores()
    limit = getattr(_THREAD_LIMIT, "n", None)
    return cores if limit is None else max(1, min(int(limit), cores))


def _for_each_chunk(X, n_fft, hop_length, center, consume):
    """Call ``consume(clips, pairs)`` for consecutive chunks of the batch, ``clips`` a slice of ``X``.

    ``pairs`` holds the interleaved ``re**2, im**2`` of the STFT of ``X[clips]``, shape
    ``(n_chunk_clips * n_frames, 2 * (n_fft // 2 + 1))``: one real FFT over all frames of
    the chunk (scipy.fft) of the windowed frames, in a buffer each thread reuses; the
    squares are taken in place on the complex result seen as float pairs, so no separate
    real/imaginary temporaries are made. Float32 stays float32 (complex64 spectrum).

    The chunks run on all cores, one thread each from start to end (framing, FFT,
    squares, ``consume``), taken as threads free up: everything a chunk touches stays in
    that core's cache, and a core slowed by other jobs takes fewer chunks, where one FFT
    call split evenly over the cores waits for the slowest. ``consume`` is called from
    these threads and must write only to its chunk's part of the output. BLAS runs on one
    thread meanwhile (:func:`single_threaded_blas`).
    """
    n_clips = X.shape[0]
    window = hann_window(n_fft).astype(X.dtype, copy=False)
    n_t = n_frames(X.shape[1], n_fft, hop_length, center)
    step = max(1, CHUNK_BYTES // (n_t * n_fft * X.itemsize))
    starts = range(0, n_clips, step)
    buffers = threading.local()

    def run(start):
        clips = slice(start, min(n_clips, start + step))
        if not hasattr(buffers, "frames"):
            size = min(step, n_clips)
            buffers.frames = np.empty((size, n_t, n_fft), dtype=X.dtype)
            buffers.padded = np.zeros((size, X.shape[1] + 2 * (n_fft // 2)), dtype=X.dtype) if center else None
        windowed = buffers.frames[: clips.stop - start]
        np.multiply(frame(X[clips], n_fft, hop_length, center, buffers.padded), window, out=windowed)
        spectrum = scipy.fft.rfft(windowed, axis=-1, workers=1, overwrite_x=True)
        pairs = spectrum.view(X.dtype).reshape(-1, 2 * spectrum.shape[-1])
        np.square(pairs, out=pairs)
        consume(clips, pairs)

    n_threads = min(len(starts), _n_threads())
    with single_threaded_blas():
        if n_threads <= 1:
            for start in starts:
                run(start)
        else:
            with ThreadPoolExecutor(n_threads) as pool:
                for _ in pool.map(run, starts):  # re-raises a chunk's error here
                    pass


def power_spectrogram(X, n_fft, hop_length, center=True, power=2.0):
    """``|STFT|**power`` of a batch, frames first: shape ``(n_clips, n_frames, n_fft // 2 + 1)``.

    Computed chunk by chunk of the batch, each with one real FFT call (scipy.fft), the
    chunks spread over the cores (see ``_for_each_chunk``). Frames-first keeps the mel and DCT projections single large matrix products;
    callers transpose the (small) final features. Float32 input stays float32.
    """
    n_freq = n_fft // 2 + 1
    out = np.empty((X.shape[0], n_frames(X.shape[1], n_fft, hop_length, center), n_freq), dtype=X.dtype)

    def consume(clips, pairs):
        np.add(pairs[:, 0::2], pairs[:, 1::2], out=out[clips].reshape(-1, n_freq))

    _for_each_chunk(X, n_fft, hop_length, center, consume)
    if power != 2.0:
        np.power(out, power / 2.0, out=out)
    return out


@lru_cache(maxsize=32)
def _mel_bands(sample_rate, n_fft, n_mels, fmin, fmax, dtype):
    """The mel matrix in bands for interleaved squares: ``((mels, pairs, matrix), ...)``.

    A mel filter is non-zero over a few neighbouring bins only (about 12 of 257 for 40
    mels at ``n_fft=512``), so a dense product spends most of its work on zeros. Each
    band is ``MELS_PER_BAND`` consecutive filters (slice ``mels``) with the bins they
    cover, as the slice ``pairs`` of the interleaved squares and the matrix
    ``(2 * n_band_bins, n_band_mels)`` with each bin's row repeated: applied to
    ``re**2, im**2`` it sums the squares inside the product. The products add exactly
    the terms the dense ``mel @ |S|**2`` adds that are not zero.
    """
    mel = mel_matrix(sample_rate, n_fft, n_mels, fmin, fmax).astype(dtype)
    bands = []
    for start in range(0, n_mels, MELS_PER_BAND):
        mels = slice(start, min(n_mels, start + MELS_PER_BAND))
        bins = np.flatnonzero(mel[mels].any(axis=0))
        low, high = (bins[0], bins[-1] + 1) if len(bins) else (0, 1)  # a filter of zeros gives zeros
        matrix = np.ascontiguousarray(np.repeat(mel[mels, low:high], 2, axis=1).T)
        matrix.flags.writeable = False
        bands.append((mels, slice(2 * low, 2 * high), matrix))
    return tuple(bands)


def mel_spectrogram(X, sample_rate, n_fft, hop_length, n_mels, fmin, fmax, center=True):
    """Mel power of a batch, frames first: ``(n_clips, n_frames, n_mels)``.

    ``mel @ (re**2 + im**2)`` for all frames of a chunk at once, as one matrix product
    per band of filters (``_mel_bands``) of the interleaved squares: the sum of the
    squares happens inside the products, at no extra pass over the spectrum, and the
    zeros of the filter bank are skipped.
    """
    bands = _mel_bands(sample_rate, n_fft, n_mels, fmin, fmax, X.dtype)
    out = np.empty((X.shape[0], n_frames(X.shape[1], n_fft, hop_length, center), n_mels), dtype=X.dtype)

    def consume(clips, pairs):
        mel_power = out[clips].reshape(-1, n_mels)
        for mels, bins, matrix in bands:
            np.matmul(pairs[:, bins], matrix, out=mel_power[:, mels])

    _for_each_chunk(X, n_fft, hop_length, center, consume)
    return out


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
