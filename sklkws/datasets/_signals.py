"""Speakers, utterances and noise that every synthetic dataset shares.

:func:`~sklkws.datasets.make_synthetic_commands` (``_synthetic.py``),
:func:`~sklkws.datasets.make_synthetic_tagging` (``_tagging.py``) and the custom-word
trainer (``sklkws.custom_words``) draw their synthetic speakers, the per-utterance
prosody, the eSpeak NG utterances and the unit-RMS coloured noise from here, so the
three make their clips the same way and each piece is written once.
"""

import numpy as np

from . import _espeak

#: English language voices of eSpeak NG used by default: American, British (``en``), Scottish,
#: Received Pronunciation, Lancaster, West Midlands, Caribbean, New York City
#: (``en-shaw`` is a spelling, not an accent).
DEFAULT_LANGUAGES = (
    "en-us", "en", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029", "en-us-nyc",
)
#: Voice variants used by default: the numbered male/female ones plus the named
#: human-sounding ones; effect voices (robots, whisper, croak, demonic) are left out.
DEFAULT_VARIANTS = (
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5",
    "Alex", "Alicia", "Andrea", "Andy", "Annie", "Denis", "Gene", "Lee", "Michael", "Mike", "Nguyen",
    "Reed", "adam", "anika", "aunty", "belinda", "benjamin", "boris", "caleb", "david", "ed", "edward",
    "grandma", "grandpa", "ian", "john", "klatt3", "linda", "max", "michel", "norbert", "paul", "quincy",
    "rob", "robert", "shelby", "steph", "travis", "victor", "zac",
)
NOISE_COLORS = ("white", "pink", "brown")
# Speaker pitch buckets (eSpeak pitch, 0-100): low, mid, high; part of the speaker id.
PITCH_BUCKETS = ((20, 40), (40, 60), (60, 80))
RATE_RANGE = (130, 230)  # speaker's base rate, words per minute (eSpeak default 175)
RATE_JITTER = 0.15  # per-utterance rate change, relative
PITCH_JITTER = 5  # per-utterance pitch change, eSpeak units
CUT_FADE_S = 0.005  # fade at cut edges, so trimmed words do not click


def check_voices(voices):
    """The eSpeak voices ``"language+variant"`` as a tuple (None: every default pair), each checked."""
    if voices is None:
        return tuple(f"{lang}+{var}" for lang in DEFAULT_LANGUAGES for var in DEFAULT_VARIANTS)
    if isinstance(voices, str):
        voices = (voices,)
    voices = tuple(voices)
    if not voices:
        raise ValueError("voices is empty; give at least one eSpeak voice such as 'en-us+m3'.")
    languages = set(_espeak.list_languages(""))
    variants = set(_espeak.list_variants())
    for voice in voices:
        if not isinstance(voice, str):
            raise ValueError(f"voices must hold strings like 'en-us+f3', got {voice!r}.")
        lang, _, variant = voice.partition("+")
        # eSpeak silently ignores an unknown variant, so both parts are checked here.
        if lang.lower() not in languages:
            raise ValueError(f"Unknown eSpeak language voice {lang!r} in {voice!r}; known: {sorted(languages)}.")
        if variant and variant not in variants:
            raise ValueError(f"Unknown eSpeak voice variant {variant!r} in {voice!r}; known: {sorted(variants)}.")
    return voices


def colored_noise(colors, n_samples, rng):
    """Unit-RMS float32 noise, one row per entry of ``colors`` ("white" / "pink" / "brown").

    The noise itself is :func:`sklkws.augment.coloured_noise` (one source for the
    colour shaping): one long stretch per colour, cut into rows, so the FFT runs
    once per colour rather than once per clip. ``rng`` a Generator or RandomState.
    """
    from ..augment._noise import coloured_noise

    colors = np.asarray(colors)
    noise = np.empty((len(colors), n_samples), dtype=np.float32)
    if not isinstance(rng, np.random.Generator):  # a RandomState, as other synthetic datasets pass
        rng = np.random.default_rng(rng.randint(2**32, dtype=np.uint64))
    for color in NOISE_COLORS:  # three colours at most: not a loop over clips
        rows = np.flatnonzero(colors == color)
        if rows.size:
            noise[rows] = coloured_noise(rows.size * n_samples, color, rng).reshape(rows.size, n_samples)
    noise -= noise.mean(axis=1, keepdims=True)
    return noise / np.maximum(np.sqrt(np.mean(noise**2, axis=1, keepdims=True)), 1e-12)


def _trim(wave, threshold=1e-3):
    """Drop eSpeak's leading and trailing pauses (below ``threshold`` x peak)."""
    magnitude = np.abs(wave)
    active = np.flatnonzero(magnitude > threshold * max(float(magnitude.max(initial=0.0)), 1e-12))
    if active.size == 0:
        return wave[:0]
    return wave[active[0] : active[-1] + 1]


def utterances(requests, n_samples, sample_rate):
    """Synthesise (text, voice, rate, pitch, range) requests, each trimmed to at most ``n_samples``.

    ``n_samples`` is one length or one per request. All requests go to one eSpeak
    process (:func:`~._espeak.synthesize_batch`), so the result is reproducible.
    A word longer than its clip is synthesised again at the rate that makes it
    fit (up to eSpeak's fastest); if it is still too long it is cut with a short fade.
    """
    limit = np.broadcast_to(np.asarray(n_samples, dtype=np.int64), (len(requests),))
    waves = [_trim(w) for w in _espeak.synthesize_batch(requests, sample_rate=sample_rate)]
    long = [i for i, w in enumerate(waves) if w.shape[0] > limit[i] and requests[i][2] < _espeak.MAX_RATE]
    if long:
        faster = []
        for i in long:
            text, voice, rate, pitch, pitch_range = requests[i]
            new_rate = min(_espeak.MAX_RATE, int(np.ceil(rate * waves[i].shape[0] / limit[i] * 1.05)))
            faster.append((text, voice, new_rate, pitch, pitch_range))
        for i, wave in zip(long, _espeak.synthesize_batch(faster, sample_rate=sample_rate)):
            waves[i] = _trim(wave)
    for i, wave in enumerate(waves):
        if wave.shape[0] > limit[i]:
            fade = min(int(limit[i]), max(1, int(CUT_FADE_S * sample_rate)))
            wave = wave[: limit[i]].copy()
            wave[wave.shape[0] - fade :] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
            waves[i] = wave
    return waves


def draw_speakers(voices, n_speakers, rs):
    """Draw the speaker pool: a voice, a pitch bucket, and base pitch/range/rate each."""
    pool = [(v, b) for v in voices for b in range(len(PITCH_BUCKETS))]
    chosen = rs.choice(len(pool), size=min(n_speakers, len(pool)), replace=False)
    voice = np.array([pool[k][0] for k in chosen], dtype=object)
    bucket = np.array([pool[k][1] for k in chosen])
    lows, highs = np.array(PITCH_BUCKETS).T
    pitch = rs.uniform(lows[bucket], highs[bucket])
    pitch_range = rs.uniform(30, 80, size=len(chosen))
    rate = rs.uniform(*RATE_RANGE, size=len(chosen))
    names = np.array([f"{v}/{('low', 'mid', 'high')[b]}" for v, b in zip(voice, bucket)], dtype=object)
    return names, voice, pitch, pitch_range, rate


def utterance_prosody(speaker_rate, speaker_pitch, speaker, rs):
    """Rate and pitch of each utterance: its speaker's, jittered (``speaker`` indexes the pool).

    Two draws from ``rs`` (a RandomState), rate then pitch, one value per utterance.
    """
    n = len(speaker)
    rate = np.rint(speaker_rate[speaker] * (1 + rs.uniform(-RATE_JITTER, RATE_JITTER, n))).astype(int)
    pitch = np.clip(np.rint(speaker_pitch[speaker] + rs.uniform(-PITCH_JITTER, PITCH_JITTER, n)), 0, 100).astype(int)
    return rate, pitch
