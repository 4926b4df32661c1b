"""A small ctypes binding to eSpeak NG, the speech synthesiser behind synthetic clips.

The ``espeakng-loader`` wheel ships ``libespeak-ng`` and its ``espeak-ng-data``
folder. This module loads that library once per process and synthesises in
synchronous mode: the int16 samples arrive through a callback before
``espeak_Synth`` returns. eSpeak keeps its voice and parameters in global state,
so every call runs under one lock.

eSpeak also keeps waveform-generator state from one utterance to the next (the
phase of its pitch flutter, a function-level static that no API call resets), so
the same word synthesised twice in one process differs slightly, even in length.
:func:`synthesize_batch` therefore runs a batch of requests in a fresh child
process (this file run as a script, without numpy): the same requests always
give the same samples, in any process. :func:`synthesize` is the in-process
convenience for one word.
"""

import ctypes
import functools
import json
import struct
import subprocess
import sys
import threading
from fractions import Fraction
from pathlib import Path

# Constants from speak_lib.h.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000  # return an error code instead of calling exit()
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_PARAM_RATE, _PARAM_VOLUME, _PARAM_PITCH, _PARAM_RANGE = 1, 2, 3, 4
_EE_OK, _EE_NOT_FOUND = 0, 2
_RAND_SEED = 1  # eSpeak's breath noise is random; a fixed seed makes it repeatable

#: Speaking-rate limits of eSpeak, in words per minute.
MIN_RATE, MAX_RATE = 80, 450
_HEADER = struct.Struct("<iI")  # worker reply per request: status code, byte count
_WORKER_CHUNK = 8192  # requests per worker process: about 150 MB of PCM at most

_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)

_lock = threading.RLock()
_state = {}  # "lib", "rate", "callback", "chunks", "voice" once initialised


class EspeakError(RuntimeError):
    """eSpeak NG could not be loaded or refused a request."""


def _paths():
    try:
        import espeakng_loader
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise EspeakError(
            "Synthetic speech needs the 'espeakng-loader' package (it ships eSpeak NG): "
            "pip install espeakng-loader"
        ) from exc
    return espeakng_loader.get_library_path(), espeakng_loader.get_data_path()


def _collect(wav, n_samples, events):
    # Called by eSpeak from inside espeak_Synth (synchronous mode); wav is NULL at the end.
    if n_samples > 0 and wav:
        _state["chunks"].append(ctypes.string_at(wav, 2 * n_samples))
    return 0  # 0 = keep synthesising


def _library():
    """Load and initialise libespeak-ng once per process; return the state dict."""
    if "lib" in _state:
        return _state
    lib_path, data_path = _paths()
    try:
        lib = ctypes.CDLL(lib_path)
    except OSError as exc:
        raise EspeakError(f"Could not load the eSpeak NG library at {lib_path}: {exc}") from exc
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
    lib.espeak_SetSynthCallback.restype = None
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetVoiceByName.restype = ctypes.c_int
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_SetParameter.restype = ctypes.c_int
    lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
    lib.espeak_ng_SetRandSeed.restype = None
    lib.espeak_Synth.argtypes = [
        ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
        ctypes.c_uint, ctypes.POINTER(ctypes.c_uint), ctypes.c_void_p,
    ]
    lib.espeak_Synth.restype = ctypes.c_int
    # The path passed is the folder that holds espeak-ng-data.
    root = str(Path(data_path).parent).encode()
    rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, root, _INITIALIZE_DONT_EXIT)
    if rate <= 0:
        raise EspeakError(f"eSpeak NG failed to initialise with data from {data_path} (code {rate}).")
    callback = _CALLBACK(_collect)  # kept referenced so ctypes does not free it
    lib.espeak_SetSynthCallback(callback)
    _state.update(lib=lib, rate=rate, callback=callback, chunks=[], voice=None)
    return _state


def _synth_pcm(text, voice, rate, pitch, pitch_range):
    """Synthesise in this process; return (status, little-endian int16 bytes)."""
    with _lock:
        state = _library()
        lib = state["lib"]
        if state["voice"] != voice:
            code = lib.espeak_SetVoiceByName(voice.encode())
            if code != _EE_OK:
                state["voice"] = None
                return code, b""
            state["voice"] = voice
        for param, value in (
            (_PARAM_RATE, rate), (_PARAM_PITCH, pitch), (_PARAM_RANGE, pitch_range), (_PARAM_VOLUME, 100),
        ):
            lib.espeak_SetParameter(param, int(value), 0)
        lib.espeak_ng_SetRandSeed(_RAND_SEED)
        state["chunks"] = []
        data = text.encode("utf-8") + b"\0"
        code = lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        chunks, state["chunks"] = state["chunks"], []
        return code, b"".join(chunks)


def library_sample_rate():
    """Return the rate eSpeak NG synthesises at (22050 Hz for the shipped voices)."""
    with _lock:
        return _library()["rate"]


@functools.lru_cache(maxsize=None)
def list_variants():
    """Return the names of the voice variants shipped in ``espeak-ng-data/voices/!v``.

    A variant (``m3``, ``f2``, ``klatt``...) changes pitch, formants and voicing
    and is appended to a language voice with ``+``, as in ``"en-us+f3"``.
    """
    folder = Path(_paths()[1]) / "voices" / "!v"
    return tuple(sorted(p.name for p in folder.iterdir() if p.is_file()))


@functools.lru_cache(maxsize=None)
def list_languages(prefix="en"):
    """Return the language voice names (``en``, ``en-us``, ``en-gb-scotland``...) starting with ``prefix``.

    These are the names eSpeak accepts before the ``+variant``: the voice files'
    names in ``espeak-ng-data/lang``, lower-cased (British English is ``en``).
    """
    folder = Path(_paths()[1]) / "lang"
    names = {p.name.lower() for p in folder.rglob("*") if p.is_file()}
    return tuple(sorted(n for n in names if n.startswith(prefix.lower())))


def _request(text, voice, rate, pitch, pitch_range):
    """Normalise one request to the (text, voice, rate, pitch, range) tuple eSpeak gets."""
    clip = lambda v, lo, hi: int(min(max(int(round(v)), lo), hi))  # noqa: E731
    return (str(text), str(voice), clip(rate, MIN_RATE, MAX_RATE), clip(pitch, 0, 100), clip(pitch_range, 0, 100))


def _raise_for(code, text, voice):
    if code == _EE_NOT_FOUND:
        raise ValueError(f"eSpeak NG has no voice named {voice!r}.")
    raise EspeakError(f"eSpeak NG failed to synthesise {text!r} with voice {voice!r} (code {code}).")


@functools.lru_cache(maxsize=1024)
def _synthesize_cached(text, voice, rate, pitch, pitch_range, sample_rate):
    code, pcm = _synth_pcm(text, voice, rate, pitch, pitch_range)
    if code != _EE_OK:
        _raise_for(code, text, voice)
    return _resample_many([pcm], library_sample_rate(), sample_rate)[0]


def synthesize(text, voice="en-us", *, rate=175, pitch=50, pitch_range=50, sample_rate=16000):
    """Synthesise ``text`` with eSpeak NG in this process; return float32 mono audio.

    Parameters
    ----------
    text : str
        What to say (a word or a short phrase, UTF-8).
    voice : str, default="en-us"
        eSpeak voice name, optionally with a variant: ``"en+m3"``, ``"en-us+f2"``.
    rate : int, default=175
        Speaking rate in words per minute, clipped to [80, 450].
    pitch, pitch_range : int, default=50
        Base pitch and intonation range, 0-100 (50 is the voice's normal).
    sample_rate : int, default=16000
        Output rate; the library's own rate (22050 Hz) is resampled with
        :func:`scipy.signal.resample_poly`.

    Returns
    -------
    wave : ndarray of shape (n_samples,), dtype float32
        The utterance in [-1, 1], with eSpeak's short trailing pause. Read-only:
        results are cached per request in this process. Not bit-identical across
        processes (see the module notes); use :func:`synthesize_batch` for that.

    Raises
    ------
    ValueError
        If eSpeak has no such language voice (an unknown ``+variant`` is
        silently ignored by eSpeak; check it against :func:`list_variants`).
    EspeakError
        If the library cannot be loaded or synthesis fails.

    Examples
    --------
    >>> from sklkws.datasets._espeak import synthesize
    >>> wave = synthesize("yes", "en-us+f3")
    >>> wave.dtype, wave.ndim
    (dtype('float32'), 1)
    """
    return _synthesize_cached(*_request(text, voice, rate, pitch, pitch_range), int(sample_rate))


def synthesize_batch(requests, *, sample_rate=16000, timeout=600):
    """Synthesise many utterances reproducibly, in a fresh eSpeak NG process.

    Parameters
    ----------
    requests : sequence of (text, voice, rate, pitch, pitch_range)
        As for :func:`synthesize`. Each distinct request is synthesised once,
        in a fixed order (by voice, then text and settings).
    sample_rate : int, default=16000
        Output rate.
    timeout : float, default=600
        Seconds each child process (one per 8192 requests) may take.

    Returns
    -------
    waves : list of ndarray of shape (n_samples_i,), dtype float32
        One read-only wave per request; equal requests share one array. The same
        set of requests gives the same samples every time, in any process (each
        wave also depends slightly on the others: eSpeak's state carries over).

    Raises
    ------
    ValueError
        If a language voice is unknown.
    EspeakError
        If the child process or the library fails.

    Examples
    --------
    >>> from sklkws.datasets._espeak import synthesize_batch
    >>> a = synthesize_batch([("up", "en+m1", 175, 50, 50), ("down", "en-us+f2", 200, 60, 40)])
    >>> b = synthesize_batch([("up", "en+m1", 175, 50, 50), ("down", "en-us+f2", 200, 60, 40)])
    >>> all((x == y).all() for x, y in zip(a, b))
    True
    """
    requests = [_request(*r) for r in requests]
    # The per-call cache: each distinct request once, grouped by voice (a voice
    # switch costs about as much as a word); sorted, so the order is reproducible.
    unique = sorted(set(requests), key=lambda r: (r[1], r))
    if not unique:
        return []
    pcms = []
    for start in range(0, len(unique), _WORKER_CHUNK):  # bounded memory for huge batches
        lib_rate, chunk = _run_worker(unique[start : start + _WORKER_CHUNK], timeout)
        pcms.extend(chunk)
    waves = dict(zip(unique, _resample_many(pcms, lib_rate, sample_rate)))
    return [waves[r] for r in requests]


def _run_worker(requests, timeout):
    """Synthesise ``requests`` in a fresh child process; return (library rate, int16 byte strings)."""
    if not sys.executable:
        raise EspeakError("Cannot start the eSpeak NG worker: sys.executable is not set.")
    # -I: isolated, so the child neither sees this folder on sys.path nor user site-packages.
    try:
        proc = subprocess.run(
            [sys.executable, "-I", str(Path(__file__).resolve())],
            input=json.dumps(requests).encode(),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EspeakError(f"The eSpeak NG worker process failed: {exc}") from exc
    if proc.returncode != 0:
        raise EspeakError(f"The eSpeak NG worker process failed: {proc.stderr.decode(errors='replace')[-2000:]}")
    out, pos = proc.stdout, 0
    lib_rate, pos = _HEADER.unpack_from(out, pos)[1], pos + _HEADER.size
    pcms = []
    for text, voice, *_ in requests:
        code, n_bytes = _HEADER.unpack_from(out, pos)
        pos += _HEADER.size
        if code != _EE_OK:
            _raise_for(code, text, voice)
        pcms.append(out[pos : pos + n_bytes])
        pos += n_bytes
    return lib_rate, pcms


def _resample_many(pcms, lib_rate, sample_rate, chunk=512):
    """int16 byte strings -> read-only float32 waves, resampled a chunk at a time.

    Zero-padding the waves to one length and resampling the 2-D block gives the
    same samples as one :func:`~scipy.signal.resample_poly` call per wave (which
    pads with zeros too) at a fraction of the cost: the filter is designed once.
    """
    import numpy as np
    from scipy.signal import resample_poly

    ratio = Fraction(int(sample_rate), int(lib_rate))
    waves = []
    for start in range(0, len(pcms), chunk):
        block = [np.frombuffer(p, dtype="<i2") for p in pcms[start : start + chunk]]
        sizes = np.array([b.size for b in block])
        padded = np.zeros((len(block), max(sizes.max(), 1)), dtype=np.float32)
        for row, b in enumerate(block):
            padded[row, : b.size] = b
        padded *= np.float32(1 / 32768.0)
        if ratio != 1:
            padded = resample_poly(padded, ratio.numerator, ratio.denominator, axis=1).astype(np.float32)
        out_sizes = -(-sizes * ratio.numerator // ratio.denominator)  # ceil, as resample_poly
        for row, size in enumerate(out_sizes):
            wave = padded[row, :size].copy()
            wave.flags.writeable = False
            waves.append(wave)
    return waves


def _worker():
    """Child side of :func:`synthesize_batch`: JSON requests in, framed int16 PCM out."""
    requests = json.loads(sys.stdin.buffer.read())
    out = sys.stdout.buffer
    try:
        rate = _library()["rate"]
    except EspeakError as exc:
        sys.stderr.write(str(exc))
        sys.exit(1)
    out.write(_HEADER.pack(0, rate))
    for text, voice, rate, pitch, pitch_range in requests:
        code, pcm = _synth_pcm(text, voice, rate, pitch, pitch_range)
        out.write(_HEADER.pack(code, len(pcm)))
        out.write(pcm)
        if code != _EE_OK:
            break  # the parent raises on this request
    out.flush()


if __name__ == "__main__":
    _worker()
