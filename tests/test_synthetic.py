"""make_synthetic_commands and its eSpeak NG binding: real synthesised words in noisy clips."""

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import stft
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GroupKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from sklkws.datasets import (
    COMMAND_WORDS,
    SILENCE,
    SPEECH_COMMANDS_12,
    UNKNOWN,
    load_background_noise,
    make_synthetic_commands,
)
from sklkws.datasets import _espeak
from sklkws.datasets._synthetic import DEFAULT_UNKNOWN_WORDS

N_PER_WORD = 12


@pytest.fixture(scope="module")
def small():
    """A small default-vocabulary set with its per-clip metadata."""
    return make_synthetic_commands(n_per_word=N_PER_WORD, random_state=0, return_meta=True)


def _power_spectrogram(X, hop):
    """|STFT|^2 of each clip, shape (n_clips, 257, n_frames), at 16 kHz."""
    _, _, Z = stft(X, fs=16000, nperseg=512, noverlap=512 - hop, axis=-1)
    return np.abs(Z) ** 2


def _band_energy_db(X):
    """Frame energy (dB) in the speech band 300-4000 Hz.

    The first difference whitens brown noise first, so its huge low-frequency
    swing does not leak into the band and look like a word.
    """
    freqs = np.fft.rfftfreq(512, 1 / 16000)
    band = (freqs >= 300) & (freqs <= 4000)
    return 10 * np.log10(_power_spectrogram(np.diff(X, axis=1), 256)[:, band].sum(axis=1) + 1e-12)


# 28 log-spaced bands from 62 Hz up: a mel-like resolution without librosa's JIT start-up.
_BAND_EDGES = np.unique(np.geomspace(2, 257, 33).astype(int))[:-1]


def _pooled_log_bands(X):
    """Shift-invariant clip features: mean, std and max over time of each log band energy."""
    S = np.log(np.add.reduceat(_power_spectrogram(X, 320), _BAND_EDGES, axis=1) + 1e-10)
    return np.concatenate([S.mean(axis=2), S.std(axis=2), S.max(axis=2)], axis=1)


# ----------------------------------------------------------------------------- the binding


def test_espeak_synthesizes_float_audio_at_the_requested_rate():
    assert _espeak.library_sample_rate() == 22050
    wave16 = _espeak.synthesize("seven", "en-us+m3", sample_rate=16000)
    wave8 = _espeak.synthesize("seven", "en-us+m3", sample_rate=8000)
    assert wave16.dtype == np.float32 and wave16.ndim == 1
    assert 0.2 * 16000 < wave16.size < 1.0 * 16000  # a two-syllable word
    assert abs(wave16.size / wave8.size - 2) < 0.01
    assert 0.05 < np.abs(wave16).max() <= 1.1
    # Faster speech is shorter; a higher pitch changes the waveform.
    assert _espeak.synthesize("seven", "en-us+m3", rate=350).size < 0.75 * wave16.size
    assert not np.array_equal(_espeak.synthesize("seven", "en-us+m3", pitch=90)[:4000], wave16[:4000])


def test_espeak_lists_voices_and_rejects_unknown_ones():
    assert {"m1", "m7", "f1", "f5"} <= set(_espeak.list_variants())
    assert {"en", "en-us", "en-gb-scotland"} <= set(_espeak.list_languages("en"))
    with pytest.raises(ValueError, match="no voice named"):
        _espeak.synthesize("yes", "xx-nowhere")


def test_espeak_batch_is_reproducible_and_matches_requests():
    requests = [("up", "en+m1", 175, 50, 50), ("down", "en-us+f2", 220, 70, 40), ("up", "en+m1", 175, 50, 50)]
    first = _espeak.synthesize_batch(requests)
    second = _espeak.synthesize_batch(requests[::-1])[::-1]  # order of requests does not matter
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert first[0] is first[2]  # a repeated request is synthesised once
    # Same utterance as in-process synthesis, up to eSpeak's pitch-flutter drift.
    single = _espeak.synthesize("down", "en-us+f2", rate=220, pitch=70, pitch_range=40)
    assert abs(single.size - first[1].size) < 0.03 * single.size
    with pytest.raises(ValueError, match="no voice named"):
        _espeak.synthesize_batch([("yes", "en-us", 175, 50, 50), ("yes", "xx-nowhere", 175, 50, 50)])


def test_espeak_is_thread_safe():
    # Without the lock, eSpeak's global voice, parameters and sample buffer would
    # mix between threads: words would come back with each other's samples.
    jobs = [(w, v, r) for w in ("yes", "backward") for v in ("en-us+f2", "en+m5") for r in (120, 300)]
    _espeak._synthesize_cached.cache_clear()
    with ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(lambda job: _espeak.synthesize(job[0], job[1], rate=job[2]), jobs * 2))
    reference = _espeak.synthesize_batch([(w, v, r, 50, 50) for w, v, r in jobs]) * 2
    for got, want in zip(parallel, reference):
        assert abs(got.size - want.size) < 0.03 * want.size
    assert isinstance(_espeak._lock, type(threading.RLock()))


# ----------------------------------------------------------------------------- the dataset


def test_shapes_dtypes_and_range(small):
    X, y, groups, _ = small
    n = N_PER_WORD * (len(COMMAND_WORDS) + 3)  # words, 2x unknown, 1x silence
    assert X.shape == (n, 16000) and X.dtype == np.float32
    assert np.isfinite(X).all() and np.abs(X).max() <= 1.0
    assert y.shape == groups.shape == (n,)
    # Object arrays of str, as load_speech_commands returns.
    assert y.dtype == object and groups.dtype == object
    assert all(isinstance(v, str) for v in np.concatenate([y, groups]))
    # Loudness varies: clip peaks span a wide range.
    peaks = np.abs(X[y != SILENCE]).max(axis=1)
    assert peaks.min() < 0.25 and peaks.max() > 0.6


def test_labels_and_counts(small):
    _, y, _, meta = small
    labels, counts = np.unique(y, return_counts=True)
    assert set(labels) == set(SPEECH_COMMANDS_12)
    expected = {**{w: N_PER_WORD for w in COMMAND_WORDS}, UNKNOWN: 2 * N_PER_WORD, SILENCE: N_PER_WORD}
    assert dict(zip(labels, counts)) == expected
    # Word clips say their label; unknown clips say one of the other words.
    words = np.isin(y, COMMAND_WORDS)
    np.testing.assert_array_equal(meta["text"][words], y[words])
    assert set(meta["text"][y == UNKNOWN]) <= set(DEFAULT_UNKNOWN_WORDS)
    assert len(set(meta["text"][y == UNKNOWN])) > 5
    assert (meta["text"][y == SILENCE] == "").all()

    _, y2, _ = make_synthetic_commands(["yes", "no"], 3, n_unknown=0, n_silence=4, shuffle=False, random_state=0)
    np.testing.assert_array_equal(y2, ["yes"] * 3 + ["no"] * 3 + [SILENCE] * 4)


def test_deterministic_for_a_seed():
    kwargs = dict(words=["up", "down"], n_per_word=6, n_unknown=4, n_silence=3)
    a = make_synthetic_commands(**kwargs, random_state=7)
    b = make_synthetic_commands(**kwargs, random_state=7)
    c = make_synthetic_commands(**kwargs, random_state=8)
    d = make_synthetic_commands(**kwargs, random_state=np.random.RandomState(7))
    for first, second, third in zip(a, b, d):
        np.testing.assert_array_equal(first, second)
        np.testing.assert_array_equal(first, third)
    assert not np.array_equal(a[0], c[0])
    assert not np.array_equal(a[2], c[2])


def test_groups_are_speakers_usable_for_group_kfold(small):
    X, y, groups, meta = small
    speech = y != SILENCE
    # The group is the voice plus a pitch bucket.
    voice, bucket = np.array([g.rsplit("/", 1) for g in groups]).T
    np.testing.assert_array_equal(voice[speech], meta["voice"][speech])
    assert set(bucket) == {"low", "mid", "high"}
    names, counts = np.unique(groups, return_counts=True)
    assert len(names) >= 10 and counts.min() >= 2  # speakers say several words each
    # Each speaker keeps a consistent base pitch: its clips' pitch spread is small.
    for name in names[:5]:
        pitches = meta["pitch"][(groups == name) & speech]
        assert np.ptp(pitches) <= 10
    for train, test in GroupKFold(5).split(X, y, groups):
        assert not set(groups[train]) & set(groups[test])
    # More speakers on request.
    _, _, many = make_synthetic_commands(["go"], 40, n_speakers=30, random_state=0)
    assert len(set(many)) == 30


def test_word_lies_inside_the_clip_where_reported():
    X, y, _, meta = make_synthetic_commands(
        ["left", "right"], 5, n_unknown=4, n_silence=0, snr_db=None, reverb=0, band_limit=0, random_state=1,
        return_meta=True,
    )
    onset, length = meta["onset"], meta["length"]
    assert (onset >= 0).all() and (onset + length <= X.shape[1]).all()
    assert (length > 0.15 * 16000).all()
    positions = np.arange(X.shape[1])
    inside = (positions >= onset[:, None]) & (positions < (onset + length)[:, None])
    # Without noise every sample outside the word is silent, and the word starts
    # and ends on non-zero samples (eSpeak's pauses are trimmed).
    assert not X[~inside].any()
    assert np.all(X[np.arange(len(X)), onset] != 0) and np.all(X[np.arange(len(X)), onset + length - 1] != 0)
    # Offsets vary across clips.
    assert np.ptp(onset) > 0.2 * 16000


def test_noise_follows_snr_and_silence_has_no_speech():
    X, y, _, meta = make_synthetic_commands(
        ["stop", "go"], 8, n_unknown=4, n_silence=12, snr_db=20, reverb=0, band_limit=0, random_state=2,
        return_meta=True,
    )
    speech = y != SILENCE
    positions = np.arange(X.shape[1])
    onset, length = meta["onset"][:, None], meta["length"][:, None]
    inside = (positions >= onset) & (positions < onset + length)
    Xd = X.astype(np.float64)
    word_power = np.where(inside, Xd**2, 0).sum(1) / length[:, 0].clip(1)
    noise_power = np.where(~inside, Xd**2, 0).sum(1) / (~inside).sum(1)
    speech_rows = np.flatnonzero(speech)
    snr = np.full(len(y), np.nan)  # (word + noise) over noise: 20.04 dB
    snr[speech_rows] = 10 * np.log10(word_power[speech_rows] / noise_power[speech_rows])
    # Brown noise drifts slowly, so its power differs inside and outside the word.
    stationary = speech & (meta["noise"] != "brown")
    np.testing.assert_allclose(snr[stationary], 20, atol=1.0)
    np.testing.assert_allclose(snr[speech & ~stationary], 20, atol=6.0)
    # Speech-band energy: flat over time for silence, a clear peak for a word.
    energy = _band_energy_db(X)
    swing = energy.max(axis=1) - np.median(energy, axis=1)
    assert swing[~speech].max() < 4
    assert swing[speech].min() > 6
    assert set(meta["noise"]) == {"white", "pink", "brown"}
    # Silence levels vary.
    rms_db = 10 * np.log10((Xd[~speech] ** 2).mean(axis=1))
    assert np.ptp(rms_db) > 10


def test_background_recordings_as_noise(rng):
    # A hum recording: silence clips must be cuts of it.
    t = np.arange(3 * 16000) / 16000
    hum = (0.3 * np.sin(2 * np.pi * 50 * t) + 0.1 * np.sin(2 * np.pi * 150 * t)).astype(np.float32)
    X, y, _, meta = make_synthetic_commands(["on"], 4, n_silence=6, noise=[hum], band_limit=0, random_state=0,
                                             return_meta=True)
    silence = X[y == SILENCE].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(silence, axis=1))
    assert (spectrum.argmax(axis=1) == 50).all()  # 1 Hz bins: the 50 Hz hum dominates
    assert (meta["noise"] == 0).all()


def test_real_background_noise(speech_commands_dir):
    recordings = load_background_noise(speech_commands_dir)
    X, y, _, meta = make_synthetic_commands(["on"], 3, n_silence=8, noise=recordings, band_limit=0, random_state=0,
                                             return_meta=True)
    assert np.isfinite(X).all() and np.abs(X).max() <= 1.0
    assert set(meta["noise"]) <= set(range(len(recordings))) and len(set(meta["noise"])) > 1
    # Each silence clip is, up to scale and mean, the cut of the recording it names.
    sources = list(recordings.values())
    n = X.shape[1]
    assert all(0 <= start <= sources[k].size - n for k, start in zip(meta["noise"], meta["noise_offset"]))
    silent = np.flatnonzero(y == SILENCE)
    cuts = np.stack([sources[k][s : s + n] for k, s in zip(meta["noise"][silent], meta["noise_offset"][silent])])
    corr = [np.corrcoef(a, b)[0, 1] for a, b in zip(X[silent], cuts)]
    np.testing.assert_allclose(corr, 1.0, atol=1e-4)


def test_custom_wake_word_and_long_words():
    X, y, _, meta = make_synthetic_commands(["sheila"], 10, random_state=0, return_meta=True)
    assert set(y) == {"sheila", UNKNOWN, SILENCE}
    assert "sheila" not in set(meta["text"][y == UNKNOWN])  # the wake word is never "unknown"
    # A word longer than the clip at any rate is sped up, then cut, never overflowing.
    long_word = "supercalifragilisticexpialidocious"
    X, y, _, meta = make_synthetic_commands(
        [long_word], 3, n_unknown=0, n_silence=0, duration=0.5, snr_db=None, random_state=0, return_meta=True
    )
    assert X.shape == (3, 8000)
    assert (meta["onset"] + meta["length"] <= 8000).all() and (meta["length"] > 6000).all()
    assert (meta["rate"] > 0).all()


def test_other_sample_rates_and_voices():
    X, y, groups = make_synthetic_commands(["yes"], 4, n_unknown=0, n_silence=0, sample_rate=8000,
                                           voices=["en-us+f1", "en+m2"], random_state=0)
    assert X.shape == (4, 8000)
    assert {g.split("/")[0] for g in groups} <= {"en-us+f1", "en+m2"}


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(words=[]), "words is empty"),
        (dict(words=["yes", ""]), "non-empty strings"),
        (dict(words=["yes", "yes"]), "duplicates"),
        (dict(words=[SILENCE]), "reserved"),
        (dict(n_per_word=0), "n_per_word"),
        (dict(n_per_word=2.5), "n_per_word"),
        (dict(n_unknown=-1), "n_unknown"),
        (dict(voices=["xx-nowhere"]), "Unknown eSpeak language"),
        (dict(voices=["en-us+nobody"]), "Unknown eSpeak voice variant"),
        (dict(voices=[]), "voices is empty"),
        (dict(noise="purple"), "noise colour"),
        (dict(noise=[np.zeros(100, dtype=np.float32) + 0.1]), "shorter"),
        (dict(noise=[np.zeros((2, 20000))]), "1-D"),
        (dict(snr_db=(30, 5)), "low <= high"),
        (dict(duration=0), "duration"),
        (dict(unknown_words=["yes"], words=["yes"]), "no unknown_words"),
    ],
)
def test_bad_parameters_raise(kwargs, match):
    kwargs = {"n_per_word": 1, **kwargs}
    with pytest.raises(ValueError, match=match):
        make_synthetic_commands(**kwargs)


# ----------------------------------------------------------------------------- usefulness


def test_a_classifier_learns_it_across_speakers():
    X, y, groups = make_synthetic_commands(n_per_word=30, random_state=0)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=300))
    with threadpool_limits(1):  # tiny BLAS calls: threads only contend on a shared runner
        scores = cross_val_score(model, _pooled_log_bands(X), y, groups=groups, cv=GroupKFold(5))
    chance = 1 / len(SPEECH_COMMANDS_12)
    assert scores.mean() > 3 * chance, scores
    # The scores depend on the audio, not on label leakage through the groups.
    shuffled = np.random.default_rng(0).permutation(y)
    with threadpool_limits(1):
        null = cross_val_score(model, _pooled_log_bands(X), shuffled, groups=groups, cv=GroupKFold(5))
    assert null.mean() < 2 * chance, null


def test_transfers_to_real_speech(speech_commands_dir):
    # Trained on synthetic speech only, scored on a class-balanced sample of real clips.
    X, y, _ = make_synthetic_commands(n_per_word=40, random_state=0)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=300))
    with threadpool_limits(1):
        model.fit(_pooled_log_bands(X), y)
    clips, labels = [], []
    for folder in sorted(p for p in speech_commands_dir.iterdir() if p.is_dir()):
        if folder.name == "_background_noise_":
            continue
        label = folder.name if folder.name in SPEECH_COMMANDS_12 else UNKNOWN
        for path in sorted(folder.glob("*.*"))[: 25 if label != UNKNOWN else 3]:
            audio, rate = sf.read(path, dtype="float32")
            assert rate == 16000
            clips.append(np.pad(audio[:16000], (0, max(0, 16000 - audio.size))))
            labels.append(label)
    score = balanced_accuracy_score(labels, model.predict(_pooled_log_bands(np.stack(clips))))
    assert score > 2 / len(SPEECH_COMMANDS_12), score


def test_reverberation_and_band_limiting():
    kwargs = dict(words=["yes", "no"], n_per_word=6, n_unknown=0, n_silence=4, snr_db=None, random_state=3,
                  return_meta=True)
    dry, y, _, _ = make_synthetic_commands(reverb=0, band_limit=0, **kwargs)
    X, y2, _, meta = make_synthetic_commands(reverb=1, band_limit=1, **kwargs)
    np.testing.assert_array_equal(y, y2)
    speech = y != SILENCE
    assert np.all((meta["rt60"][speech] >= 0.1) & (meta["rt60"][speech] <= 0.8))
    assert np.all(meta["rt60"][~speech] == 0)
    low, high = meta["band"].T
    assert np.all((low >= 80) & (low <= 400) & (high >= 2500) & (high <= 7000))
    # The room's tail rings on after the (dry) word ends: energy after it that the dry clip lacks.
    positions = np.arange(X.shape[1])
    after = (positions >= (meta["onset"] + meta["length"])[:, None]) & (positions < X.shape[1])
    rows = np.flatnonzero(speech & (after.sum(1) > 1600))
    assert rows.size
    tail = np.where(after, X.astype(np.float64) ** 2, 0).sum(1)
    dry_tail = np.where(after, dry.astype(np.float64) ** 2, 0).sum(1)
    assert np.all(tail[rows] > 100 * dry_tail[rows] + 1e-9)
    # Band-limited: little energy above the high corner compared with the full-band clip.
    spec, dry_spec = (np.abs(np.fft.rfft(a[speech], axis=1)) ** 2 for a in (X, dry))
    freqs = np.fft.rfftfreq(X.shape[1], 1 / 16000)
    above = freqs[None, :] > 1.5 * high[speech, None]
    ratio = np.where(above, spec, 0).sum(1) / np.where(above, dry_spec, 0).sum(1).clip(1e-12)
    assert np.median(ratio) < 0.05
    with pytest.raises(ValueError, match="reverb must be a fraction"):
        make_synthetic_commands(["yes"], 2, reverb=1.5)


def test_synthetic_datasets_share_one_source_of_speakers_and_noise():
    # The keyword and tagging sets (and the custom-word trainer) take their speakers, prosody,
    # utterances and noise from one module, not from each other's private names.
    import ast
    from pathlib import Path

    import sklkws
    from sklkws.datasets import _signals, _synthetic, _tagging

    for name in ("check_voices", "colored_noise", "draw_speakers", "utterance_prosody", "utterances"):
        assert getattr(_synthetic, name) is getattr(_tagging, name) is getattr(_signals, name)
    borrowed = []
    for path in Path(sklkws.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("_synthetic"):
                borrowed += [f"{path.name}: {a.name}" for a in node.names if a.name.startswith("_")]
    assert borrowed == []
