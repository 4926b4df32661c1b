"""Synthetic keyword clips: eSpeak NG speech placed in noisy one-second clips.

The embedded default dataset of sklkws. Each clip is one word said by a synthetic
"speaker" (an eSpeak voice and variant with its own pitch, intonation range and
speaking rate), at a random loudness and a random position inside the clip, over
white, pink or brown noise (or cuts of real background recordings) at a random
SNR. The speaker plays the part of the dataset's speaker id, so cross-validation
grouped by it behaves like speaker-grouped cross-validation on real recordings.
"""

import numbers
from collections.abc import Mapping

import numpy as np
from scipy import fft as sp_fft
from sklearn.utils import check_random_state

from .._validation import batch_slices, check_int
from ._labels import COMMAND_WORDS, SILENCE, UNKNOWN
from ._signals import (  # noqa: F401 (DEFAULT_LANGUAGES, DEFAULT_VARIANTS: documented here)
    DEFAULT_LANGUAGES,
    DEFAULT_VARIANTS,
    NOISE_COLORS,
    check_voices,
    colored_noise,
    draw_speakers,
    utterance_prosody,
    utterances,
)

#: Other words for ``_unknown_``: the auxiliary words of Speech Commands v0.02.
DEFAULT_UNKNOWN_WORDS = (
    "bed", "bird", "cat", "dog", "happy", "house", "marvin", "sheila", "tree", "wow",
    "backward", "forward", "follow", "learn", "visual",
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
)
_PEAK_RANGE = (0.1, 0.9)  # word peak amplitude, drawn log-uniformly
_SILENCE_RMS_DB = (-70.0, -20.0)  # noise level of _silence_ clips, dBFS (real ones: about -68 to -12)
_BATCH = 1024  # noise is generated in batches of this many clips (bounded memory)
_RT60_RANGE = (0.1, 0.8)  # reverberation time of the synthetic rooms, s (small office to living room)
_LOW_CUT_HZ = (80.0, 400.0)  # band-limited clips: low corner, drawn log-uniformly
_HIGH_CUT_HZ = (2500.0, 7000.0)  # and high corner (a phone line passes 300-3400 Hz)


def _check_words(words, name):
    if isinstance(words, str):
        words = (words,)
    try:
        words = tuple(words)
    except TypeError:
        raise ValueError(f"{name} must be a list of words, got {words!r}.") from None
    bad = [w for w in words if not isinstance(w, str) or not w.strip()]
    if bad:
        raise ValueError(f"{name} must hold non-empty strings; got {bad[0]!r}.")
    if len(set(words)) != len(words):
        raise ValueError(f"{name} has duplicates: {sorted(w for w in set(words) if words.count(w) > 1)}.")
    reserved = {SILENCE, UNKNOWN} & set(words)
    if reserved:
        raise ValueError(f"{name} may not contain the reserved label(s) {sorted(reserved)}.")
    return words


def _check_count(value, name, default, *, minimum):
    return default if value is None else check_int(value, name, minimum)


def _check_snr(snr_db):
    if snr_db is None:
        return None
    if isinstance(snr_db, numbers.Real):
        snr_db = (snr_db, snr_db)
    try:
        low, high = (float(v) for v in snr_db)
    except (TypeError, ValueError):
        raise ValueError(f"snr_db must be None, a number or a (low, high) pair in dB, got {snr_db!r}.") from None
    if not (np.isfinite(low) and np.isfinite(high) and low <= high):
        raise ValueError(f"snr_db must be a finite (low, high) pair with low <= high, got {snr_db!r}.")
    return low, high


def _check_noise(noise, n_samples):
    """Return ('colors', tuple) or ('recordings', list of 1-D float32 arrays)."""
    if noise is None:
        return "colors", NOISE_COLORS
    if isinstance(noise, str):
        noise = (noise,)
    # A mapping is load_background_noise's {name: recording}.
    items = list(noise.values()) if isinstance(noise, Mapping) else list(noise)
    if not items:
        raise ValueError("noise is empty; give noise colours or background recordings.")
    if all(isinstance(item, str) for item in items):
        unknown = sorted(set(items) - set(NOISE_COLORS))
        if unknown:
            raise ValueError(f"Unknown noise colour(s) {unknown}; choose from {NOISE_COLORS}.")
        return "colors", tuple(items)
    recordings = []
    for i, item in enumerate(items):
        rec = np.asarray(item, dtype=np.float32)
        if rec.ndim != 1:
            raise ValueError(f"Background recording {i} must be 1-D mono audio, got shape {rec.shape}.")
        if rec.shape[0] < n_samples:
            raise ValueError(
                f"Background recording {i} is shorter ({rec.shape[0]} samples) than one clip ({n_samples})."
            )
        if not np.all(np.isfinite(rec)):
            raise ValueError(f"Background recording {i} contains NaN or infinity.")
        if not np.any(rec):
            raise ValueError(f"Background recording {i} is all zeros.")
        recordings.append(rec)
    return "recordings", recordings


def _room_responses(rt60, sample_rate, rng):
    """Synthetic room impulse responses, one row per RT60 (seconds), unit energy.

    Exponentially decaying Gaussian noise (the late reverberation of a diffuse
    room, 60 dB down after ``rt60``) behind a unit direct path, so the dry word
    stays the loudest arrival.
    """
    rt60 = np.asarray(rt60, dtype=np.float64)
    length = max(1, int(np.ceil(rt60.max(initial=0.0) * sample_rate)))
    t = np.arange(length) / sample_rate
    decay = np.exp(-6.9 * t[None, :] / np.maximum(rt60[:, None], 1e-3))  # ln(1000) = 6.9: -60 dB at rt60
    rir = (rng.standard_normal((rt60.size, length)) * decay * 0.3).astype(np.float32)
    rir[:, 0] = 1.0
    return rir / np.sqrt(np.sum(rir.astype(np.float64) ** 2, axis=1, keepdims=True)).astype(np.float32)


def _reverberate(X, rows, rt60, sample_rate, rng):
    """Convolve ``X[rows]`` with synthetic rooms in place (one batched FFT convolution), keeping the peak."""
    from scipy.signal import fftconvolve

    for batch in batch_slices(rows.size, 256):  # bounded memory: the padded FFT block of 256 clips
        r = rows[batch]
        dry = X[r]
        wet = fftconvolve(dry, _room_responses(rt60[batch], sample_rate, rng), axes=1)[:, : X.shape[1]]
        peak_dry = np.abs(dry).max(axis=1, keepdims=True)
        peak_wet = np.maximum(np.abs(wet).max(axis=1, keepdims=True), 1e-12)
        X[r] = (wet * (peak_dry / peak_wet)).astype(np.float32)


def _band_limit(X, rows, low_hz, high_hz, sample_rate):
    """Band-pass ``X[rows]`` in place like a cheap microphone: smooth (raised-cosine) edges, one FFT."""
    for batch in batch_slices(rows.size, _BATCH):
        r = rows[batch]
        spec = sp_fft.rfft(X[r], axis=1)
        freqs = np.fft.rfftfreq(X.shape[1], d=1.0 / sample_rate)[None, :]
        lo, hi = low_hz[batch, None], high_hz[batch, None]
        # Raised-cosine edges an octave wide (half below, half above each corner).
        rise = np.clip(np.log2(np.maximum(freqs, 1.0) / lo) + 0.5, 0.0, 1.0)
        fall = np.clip(0.5 - np.log2(np.maximum(freqs, 1.0) / hi), 0.0, 1.0)
        gain = (0.5 - 0.5 * np.cos(np.pi * rise)) * (0.5 - 0.5 * np.cos(np.pi * fall))
        X[r] = sp_fft.irfft(spec * gain, n=X.shape[1], axis=1).astype(np.float32)


def _recording_noise(recordings, which, n_samples, rng):
    """Unit-RMS random cuts of background recordings and where they start.

    A loop over at most one batch of cuts: each is a plain slice copy.
    """
    out = np.empty((len(which), n_samples), dtype=np.float32)
    highs = np.array([recordings[k].shape[0] - n_samples + 1 for k in which])
    starts = (rng.random(len(which)) * highs).astype(int)
    for row, (k, start) in enumerate(zip(which, starts)):
        out[row] = recordings[k][start : start + n_samples]
    out -= out.mean(axis=1, keepdims=True)
    return out / np.maximum(np.sqrt(np.mean(out**2, axis=1, keepdims=True)), 1e-8), starts


def _balanced(n, n_groups, rs):
    """``n`` draws from ``range(n_groups)`` with counts differing by at most one."""
    return rs.permutation(np.resize(rs.permutation(n_groups), n))


def make_synthetic_commands(
    words=COMMAND_WORDS,
    n_per_word=50,
    *,
    unknown_words=DEFAULT_UNKNOWN_WORDS,
    n_unknown=None,
    n_silence=None,
    voices=None,
    n_speakers=None,
    sample_rate=16000,
    duration=1.0,
    snr_db=(5.0, 30.0),
    noise=None,
    reverb=0.3,
    band_limit=0.3,
    shuffle=True,
    random_state=None,
    return_meta=False,
):
    """Make keyword clips of synthetic speech (eSpeak NG) in noise.

    The embedded default dataset of sklkws, shaped like
    :func:`load_speech_commands`' output. Every word clip is one word spoken by a
    synthetic speaker, an eSpeak NG English voice and variant (``"en-gb+f3"``) in
    a pitch bucket, with its own base pitch, intonation range and speaking rate,
    varied a little per utterance. The word (eSpeak's pauses trimmed) gets a random
    peak level in [0.1, 0.9] and a random position fully inside the clip; noise is
    added at an SNR drawn from ``snr_db`` relative to the word's RMS. ``_silence_``
    clips hold noise only, at -70 to -20 dBFS RMS. Any list of words works, so this
    also trains a detector for a wake word of one's own without recordings.

    A word longer than ``duration`` at the drawn rate is synthesised again at the
    rate that makes it fit (at most eSpeak's 450 words per minute) and, if still
    too long, cut at the clip's end with a 5 ms fade.

    Parameters
    ----------
    words : sequence of str, default=COMMAND_WORDS
        The target words; each becomes its own label.
    n_per_word : int, default=50
        Clips per target word.
    unknown_words : sequence of str, default=DEFAULT_UNKNOWN_WORDS
        Words said in ``_unknown_`` clips (those also in ``words`` are dropped).
        The default is the 25 auxiliary words of Speech Commands v0.02.
    n_unknown : int, default=None
        Number of ``_unknown_`` clips; ``None`` means ``2 * n_per_word``; 0 for none.
    n_silence : int, default=None
        Number of ``_silence_`` clips; ``None`` means ``n_per_word``; 0 for none.
    voices : sequence of str, default=None
        eSpeak voices, language plus optional variant (``"en-us+m3"``). ``None``
        means every pair of :data:`DEFAULT_LANGUAGES` (8 English accents) and
        :data:`DEFAULT_VARIANTS` (53 human-sounding variants).
    n_speakers : int, default=None
        Size of the speaker pool, drawn without replacement from the
        ``voices`` x 3 pitch buckets. ``None`` means one speaker per 10 speech
        clips (at least 10). Capped at the pool size.
    sample_rate : int, default=16000
        Sample rate of the clips; eSpeak's 22050 Hz output is resampled to it.
    duration : float, default=1.0
        Clip length in seconds.
    snr_db : (float, float) or float or None, default=(5.0, 30.0)
        Range of the speech-to-noise ratio in dB, drawn uniformly per clip. A
        number fixes it; ``None`` adds no noise to word clips.
    noise : str, sequence of str, sequence or dict of 1-D arrays, default=None
        Noise colours drawn per clip from ``"white"``, ``"pink"``, ``"brown"``
        (``None`` means all three), or background recordings at ``sample_rate``
        cut at random, e.g. the dict :func:`load_background_noise` returns.
    reverb : float, default=0.3
        Fraction of word clips said in a synthetic room: the word is convolved
        (:func:`scipy.signal.fftconvolve`, batched) with a room impulse response of
        exponentially decaying noise, RT60 drawn in [0.1, 0.8] s, before the noise
        is added. 0 keeps every word dry.
    band_limit : float, default=0.3
        Fraction of clips (word and noise, silence too) band-passed like a cheap
        microphone: raised-cosine edges at a low corner in [80, 400] Hz and a high
        corner in [2.5, 7] kHz (capped below Nyquist), drawn log-uniformly.
    shuffle : bool, default=True
        Shuffle the clips; otherwise they come grouped by label in the order
        ``words``, ``_unknown_``, ``_silence_``.
    random_state : int, RandomState instance or None, default=None
        Seeds every draw; the same seed gives identical arrays.
    return_meta : bool, default=False
        Also return a dict of per-clip arrays: ``"text"`` (what was said, ``""``
        for silence), ``"voice"``, ``"rate"`` (words per minute), ``"pitch"``,
        ``"onset"`` and ``"length"`` (the word's first sample and length in
        samples; -1 and 0 for silence), ``"snr_db"`` (NaN for silence and for
        ``snr_db=None``), ``"noise"`` (colour or recording index) and
        ``"noise_offset"`` (first sample of the recording cut, -1 otherwise),
        ``"rt60"`` (the room's reverberation time in s, 0 for a dry word) and
        ``"band"`` (an (n_clips, 2) array of the band-pass corners in Hz, 0 for
        a full-band clip).

    Returns
    -------
    X : ndarray of shape (n_clips, round(duration * sample_rate)), dtype float32
        The clips, in [-1, 1].
    y : ndarray of shape (n_clips,), dtype object
        Labels: the words, ``"_unknown_"`` and ``"_silence_"``.
    groups : ndarray of shape (n_clips,), dtype object
        The synthetic speaker, e.g. ``"en-gb+f3/high"``, for speaker-grouped
        cross-validation (:class:`~sklearn.model_selection.GroupKFold`).
        ``_silence_`` clips are spread over the speakers, as background from
        their recording sessions.
    meta : dict of ndarray
        Only when ``return_meta`` is true.

    Raises
    ------
    ValueError
        If a word list is empty or holds empty strings, duplicates or a reserved
        label, a count is not a non-negative integer (``n_per_word`` >= 1), a voice,
        variant or noise colour is unknown, a background recording is too short,
        or the parameters leave no clips.

    Examples
    --------
    >>> import numpy as np
    >>> from sklkws.datasets import make_synthetic_commands
    >>> X, y, groups = make_synthetic_commands(n_per_word=5, random_state=0)
    >>> X.shape, X.dtype
    ((65, 16000), dtype('float32'))
    >>> np.unique(y)[:3].tolist()
    ['_silence_', '_unknown_', 'down']
    >>> X, y, groups = make_synthetic_commands(["sheila"], 20, random_state=0)
    >>> np.unique(y).tolist()
    ['_silence_', '_unknown_', 'sheila']
    """
    words = _check_words(words, "words")
    if not words:
        raise ValueError("words is empty; give at least one word to synthesise.")
    n_per_word = _check_count(n_per_word, "n_per_word", None, minimum=1)
    n_unknown = _check_count(n_unknown, "n_unknown", 2 * n_per_word, minimum=0)
    n_silence = _check_count(n_silence, "n_silence", n_per_word, minimum=0)
    unknown_words = tuple(w for w in _check_words(unknown_words, "unknown_words") if w not in words)
    if n_unknown and not unknown_words:
        raise ValueError("n_unknown > 0 but no unknown_words are left once the target words are removed.")
    sample_rate = check_int(sample_rate, "sample_rate", 1000, unit=" Hz")
    if not isinstance(duration, numbers.Real) or not np.isfinite(duration) or duration <= 0:
        raise ValueError(f"duration must be a positive number of seconds, got {duration!r}.")
    n_samples = int(round(duration * sample_rate))
    if n_samples < 1:
        raise ValueError(f"duration={duration} s is shorter than one sample at {sample_rate} Hz.")
    voices = check_voices(voices)
    snr_db = _check_snr(snr_db)
    noise_kind, noise_sources = _check_noise(noise, n_samples)
    for name, value in (("reverb", reverb), ("band_limit", band_limit)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
            raise ValueError(f"{name} must be a fraction of clips in [0, 1], got {value!r}.")
    rs = check_random_state(random_state)

    # Object arrays of str, like load_speech_commands.
    labels = np.array(
        [w for w in words for _ in range(n_per_word)] + [UNKNOWN] * n_unknown + [SILENCE] * n_silence, dtype=object
    )
    n = labels.shape[0]
    if shuffle:
        labels = labels[rs.permutation(n)]
    silent = labels == SILENCE
    speech = np.flatnonzero(~silent)
    n_speakers = _check_count(n_speakers, "n_speakers", max(10, round(speech.size / 10)), minimum=1)
    names, spk_voice, spk_pitch, spk_range, spk_rate = draw_speakers(voices, n_speakers, rs)
    speaker = _balanced(n, names.size, rs)

    # Every draw happens before synthesis, so the arrays depend on the seed only.
    text = labels.copy()
    is_unknown = labels == UNKNOWN
    text[is_unknown] = np.array(unknown_words, dtype=object)[rs.randint(len(unknown_words), size=is_unknown.sum())]
    text[silent] = ""
    rate, pitch = utterance_prosody(spk_rate, spk_pitch, speaker, rs)
    pitch_range = np.rint(spk_range[speaker]).astype(int)
    peak = np.exp(rs.uniform(*np.log(_PEAK_RANGE), size=n))
    position = rs.uniform(size=n)
    snr = rs.uniform(*snr_db, size=n) if snr_db is not None else np.full(n, np.nan)
    silence_rms = 10 ** (rs.uniform(*_SILENCE_RMS_DB, size=n) / 20)
    source = rs.randint(len(noise_sources), size=n)
    rt60 = np.where((rs.uniform(size=n) < reverb) & ~silent, rs.uniform(*_RT60_RANGE, size=n), 0.0)
    banded = rs.uniform(size=n) < band_limit
    low_hz = np.where(banded, np.exp(rs.uniform(*np.log(_LOW_CUT_HZ), size=n)), 0.0)
    high_hz = np.where(banded, np.minimum(np.exp(rs.uniform(*np.log(_HIGH_CUT_HZ), size=n)), 0.45 * sample_rate), 0.0)

    X = np.zeros((n, n_samples), dtype=np.float32)
    onset = np.full(n, -1)
    length = np.zeros(n, dtype=int)
    speech_rms = np.zeros(n)
    requests = [(text[i], spk_voice[speaker[i]], rate[i], pitch[i], pitch_range[i]) for i in speech]
    for i, wave in zip(speech, utterances(requests, n_samples, sample_rate)):
        if wave.size == 0:
            continue
        wave = wave * np.float32(peak[i] / np.abs(wave).max())
        onset[i] = int(position[i] * (n_samples - wave.size + 1))
        length[i] = wave.size
        X[i, onset[i] : onset[i] + wave.size] = wave
        speech_rms[i] = np.sqrt(np.mean(np.square(wave, dtype=np.float64)))

    # A Generator seeded from the draws above: its float32 normals are much faster.
    rng = np.random.default_rng(rs.randint(2**32, dtype=np.uint64))
    wet = np.flatnonzero((rt60 > 0) & (length > 0))
    if wet.size:
        _reverberate(X, wet, rt60[wet], sample_rate, rng)

    if snr_db is None:
        level = np.where(silent, silence_rms, 0.0)
    else:
        level = np.where(silent, silence_rms, speech_rms / 10 ** (snr / 20))
    noisy = np.flatnonzero(level > 0)
    noise_offset = np.full(n, -1)
    for batch in batch_slices(noisy.size, _BATCH):
        rows = noisy[batch]
        if noise_kind == "colors":
            unit = colored_noise(np.array(noise_sources)[source[rows]], n_samples, rng)
        else:
            unit, noise_offset[rows] = _recording_noise(noise_sources, source[rows], n_samples, rng)
        unit *= level[rows, None].astype(np.float32)
        X[rows] += unit
    if banded.any():
        _band_limit(X, np.flatnonzero(banded), low_hz[banded], high_hz[banded], sample_rate)
    # Loud word plus noise can pass full scale: scale such clips down rather than clip them.
    X /= np.maximum(np.abs(X).max(axis=1, keepdims=True), 1.0)

    groups = names[speaker]
    if not return_meta:
        return X, labels, groups
    meta = {
        "text": text.astype(str),
        "voice": np.where(silent, "", spk_voice[speaker]).astype(str),
        "rate": np.where(silent, 0, rate),
        "pitch": np.where(silent, 0, pitch),
        "onset": onset,
        "length": length,
        "snr_db": np.where(silent | (length == 0), np.nan, snr),
        "noise": np.array(noise_sources, dtype=object)[source].astype(str)
        if noise_kind == "colors"
        else source,
        "noise_offset": noise_offset,
        "rt60": np.where(length > 0, rt60, 0.0),
        "band": np.stack([low_hz, high_hz], axis=1),
    }
    return X, labels, groups, meta
