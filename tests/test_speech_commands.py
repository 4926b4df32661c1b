"""load_speech_commands / load_background_noise / read_clip on tiny folders written here, and on the real one."""

import re
import warnings
from collections import Counter

import numpy as np
import pytest
import soundfile as sf

from sklkws.datasets import (
    COMMAND_WORDS,
    SPEECH_COMMANDS_12,
    ClipLengthWarning,
    load_background_noise,
    load_speech_commands,
)
from sklkws.datasets._speech_commands import _compact_rows, read_clip

SR = 16000


def _clip(seed, n=SR):
    """A distinct, exactly PCM-representable clip per seed, so each row can be traced to its file."""
    rng = np.random.default_rng(seed)
    return rng.integers(-20000, 20000, size=n).astype(np.float64) / 32768


def _write(root, rel, data, sr=SR):
    file = root / rel
    file.parent.mkdir(parents=True, exist_ok=True)
    sf.write(file, data, sr, subtype="PCM_16")
    return file


@pytest.fixture
def dataset(tmp_path):
    """Standard layout, wav and flac mixed: 3 command words, 2 other words, _silence_, background noise."""
    files = {
        "yes/aaaa1111_nohash_0.wav": 1,
        "yes/bbbb2222_nohash_0.flac": 2,
        "no/aaaa1111_nohash_0.wav": 3,
        "no/cccc3333_nohash_1.flac": 4,
        "stop/bbbb2222_nohash_0.wav": 5,
        "bed/cccc3333_nohash_0.wav": 6,
        "marvin/dddd4444_nohash_0.flac": 7,
        "_silence_/1041.flac": 8,
    }
    for rel, seed in files.items():
        _write(tmp_path, rel, _clip(seed))
    # Background: a unique ramp, so each cut window reveals its offset through its first sample.
    ramp = (np.arange(40000) - 20000) / 32768
    _write(tmp_path, "_background_noise_/ramp.wav", ramp)
    (tmp_path / "_background_noise_" / "README.md").write_text("not audio")
    (tmp_path / "README.md").write_text("not a folder")
    return tmp_path, files, ramp


def test_standard_layout_12class(dataset):
    root, files, _ = dataset
    X, y, groups = load_speech_commands(root)
    order = sorted(files)  # folder then file name
    assert X.shape == (len(files), SR) and X.dtype == np.float32
    assert y.tolist() == ["_silence_", "_unknown_", "_unknown_", "no", "no", "stop", "yes", "yes"]
    assert groups.tolist() == [
        "_silence_/1041", "cccc3333", "dddd4444", "aaaa1111", "cccc3333", "bbbb2222", "aaaa1111", "bbbb2222",
    ]
    for row, rel in zip(X, order):
        np.testing.assert_array_equal(row, _clip(files[rel]).astype(np.float32))
    assert set(y) <= set(SPEECH_COMMANDS_12)


def test_label_sets(dataset):
    root, _, _ = dataset
    _, y_all, _ = load_speech_commands(root, labels="all")
    assert Counter(y_all) == {"yes": 2, "no": 2, "stop": 1, "bed": 1, "marvin": 1, "_silence_": 1}
    _, y_wake, _ = load_speech_commands(root, labels=["marvin", "yes"])
    assert Counter(y_wake) == {"yes": 2, "marvin": 1, "_unknown_": 4, "_silence_": 1}
    with pytest.raises(ValueError, match="sheila"):
        load_speech_commands(root, labels=["marvin", "sheila"])
    with pytest.raises(ValueError, match="13class"):
        load_speech_commands(root, labels="13class")
    with pytest.raises(ValueError, match="empty"):
        load_speech_commands(root, labels=[])


def test_canonical_test_set_layout(tmp_path):
    _write(tmp_path, "yes/aaaa1111_nohash_0.wav", _clip(1))
    _write(tmp_path, "_unknown_/bed_bbbb2222_nohash_0.wav", _clip(2))
    _write(tmp_path, "_unknown_/marvin_aaaa1111_nohash_3.wav", _clip(3))
    _write(tmp_path, "_silence_/7.wav", _clip(4))
    X, y, groups = load_speech_commands(tmp_path)
    assert y.tolist() == ["_silence_", "_unknown_", "_unknown_", "yes"]
    # The <word>_ prefix is not part of the speaker: aaaa1111 spoke "marvin" and "yes".
    assert groups.tolist() == ["_silence_/7", "bbbb2222", "aaaa1111", "aaaa1111"]
    _, y_all, _ = load_speech_commands(tmp_path, labels="all")
    assert y_all.tolist() == ["_silence_", "bed", "marvin", "yes"]
    _, y_list, _ = load_speech_commands(tmp_path, labels=["bed"])
    assert y_list.tolist() == ["_silence_", "bed", "_unknown_", "_unknown_"]


def test_short_clips_padded_long_cropped(tmp_path):
    short, long_ = _clip(1, n=8000), _clip(2, n=SR + 37)
    _write(tmp_path, "yes/a_nohash_0.wav", short)
    _write(tmp_path, "yes/b_nohash_0.flac", long_)
    X, _, _ = load_speech_commands(tmp_path)
    np.testing.assert_array_equal(X[0, :8000], short.astype(np.float32))
    assert not X[0, 8000:].any()
    np.testing.assert_array_equal(X[1], long_[:SR].astype(np.float32))


def test_int16_storage_matches_float(dataset):
    root, _, _ = dataset
    X, y, g = load_speech_commands(root)
    X16, y16, g16 = load_speech_commands(root, dtype="int16")
    assert X16.dtype == np.int16 and X16.nbytes == X.nbytes // 2
    np.testing.assert_array_equal(X16 / np.float32(32768), X)
    assert y16.tolist() == y.tolist() and g16.tolist() == g.tolist()
    with pytest.raises(ValueError, match="dtype"):
        load_speech_commands(root, dtype="uint8")


def test_threads_and_progress_give_the_same_result(tmp_path, capsys):
    names = [f"{word}/{speaker:08x}_nohash_0.wav" for word in ("up", "go") for speaker in range(160)]
    files = {name: seed for seed, name in enumerate(names)}
    for rel, seed in files.items():
        _write(tmp_path, rel, _clip(seed, n=2000))  # short files keep the test fast
    X1, y1, g1 = load_speech_commands(tmp_path, n_jobs=1)
    X2, y2, g2 = load_speech_commands(tmp_path, n_jobs=2, progress=True)
    assert "Decoding clips" in capsys.readouterr().err
    np.testing.assert_array_equal(X1, X2)
    assert y1.tolist() == y2.tolist() and g1.tolist() == g2.tolist()
    # 320 files > one chunk of 256: rows still line up with their files.
    for row, rel in zip(X2[::97], sorted(files)[::97]):
        np.testing.assert_array_equal(row[:2000], _clip(files[rel], n=2000).astype(np.float32))


def test_official_split(dataset):
    root, files, _ = dataset
    # Official lists name .wav files; the flac copies must still match.
    (root / "validation_list.txt").write_text("yes/bbbb2222_nohash_0.wav\nno/cccc3333_nohash_1.wav\n")
    (root / "testing_list.txt").write_text("bed/cccc3333_nohash_0.wav\n\n")
    _, _, g_all = load_speech_commands(root)
    parts = {s: load_speech_commands(root, subset=s) for s in ("training", "validation", "testing")}
    assert len(parts["validation"][0]) == 2 and len(parts["testing"][0]) == 1
    assert len(parts["training"][0]) == len(files) - 3
    assert parts["testing"][1].tolist() == ["_unknown_"]
    assert "_silence_" in parts["training"][1]  # unlisted clips are training clips
    assert sorted(np.concatenate([p[2] for p in parts.values()])) == sorted(g_all)
    (root / "testing_list.txt").unlink()
    with pytest.raises(ValueError, match="testing_list.txt"):
        load_speech_commands(root, subset="training")
    assert len(load_speech_commands(root, subset="validation")[0]) == 2
    with pytest.raises(ValueError, match="subset"):
        load_speech_commands(root, subset="train")


def test_silence_cut_from_background(dataset):
    root, files, ramp = dataset
    X, y, groups = load_speech_commands(root, n_silence=25, random_state=0)
    assert len(X) == len(files) + 25
    assert (y[-25:] == "_silence_").all() and (groups[-25:] == "_background_noise_/ramp").all()
    starts = np.rint(X[-25:, 0] * 32768).astype(int) + 20000
    assert len(set(starts)) > 20 and starts.min() >= 0 and starts.max() <= len(ramp) - SR
    for row, start in zip(X[-25:], starts):
        np.testing.assert_array_equal(row, ramp[start : start + SR].astype(np.float32))
    X_again, _, _ = load_speech_commands(root, n_silence=25, random_state=0)
    X_other, _, _ = load_speech_commands(root, n_silence=25, random_state=1)
    np.testing.assert_array_equal(X, X_again)
    assert not np.array_equal(X[-25:], X_other[-25:])
    with pytest.raises(ValueError, match="n_silence"):
        load_speech_commands(root, n_silence=-1)


def test_silence_needs_background(tmp_path):
    _write(tmp_path, "yes/a_nohash_0.wav", _clip(0))
    with pytest.raises(ValueError, match="_background_noise_"):
        load_speech_commands(tmp_path, n_silence=3)


@pytest.mark.parametrize(
    "rel, make, message",
    [
        ("no/eeee5555_nohash_0.wav", lambda f: f.write_bytes(b"RIFF\x00\x00garbage" * 10), "Cannot decode"),
        ("no/eeee5555_nohash_0.flac", lambda f: sf.write(f, _clip(9, 44100), 44100), "44100 Hz"),
        ("no/eeee5555_nohash_0.wav", lambda f: sf.write(f, np.stack([_clip(9)] * 2, 1), SR), "2 channels"),
    ],
    ids=["corrupt", "44.1kHz", "stereo"],
)
def test_bad_file_raises_or_is_skipped(dataset, rel, make, message):
    root, files, _ = dataset
    make(root / rel)
    with pytest.raises(ValueError) as info:
        load_speech_commands(root)
    assert str(root / rel) in str(info.value) and message in str(info.value)
    with pytest.warns(UserWarning, match=message) as record:
        X, y, groups = load_speech_commands(root, on_error="warn", n_jobs=2)
    assert str(root / rel) in str(record[0].message)
    assert len(X) == len(files) and "eeee5555" not in groups
    for row, name in zip(X, sorted(files)):
        np.testing.assert_array_equal(row, _clip(files[name]).astype(np.float32))


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        load_speech_commands(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="No wav or flac"):
        load_speech_commands(tmp_path)
    _write(tmp_path, "yes/a_nohash_0.wav", _clip(0))
    with pytest.raises(ValueError, match="on_error"):
        load_speech_commands(tmp_path, on_error="ignore")


def test_compact_rows_in_place(rng):
    X = rng.normal(size=(50, 7)).astype(np.float32)
    keep = rng.random(50) > 0.3
    keep[[0, 1, 2, 49]] = False, False, True, False  # runs of bad rows at both ends
    expected = X[keep].copy()
    np.testing.assert_array_equal(_compact_rows(X, keep), expected)


def test_background_noise_and_read_clip(dataset):
    root, _, ramp = dataset
    noise = load_background_noise(root)
    assert list(noise) == ["ramp"] and noise["ramp"].dtype == np.float32
    np.testing.assert_array_equal(noise["ramp"], ramp.astype(np.float32))
    assert load_background_noise(root / "_background_noise_", dtype="int16")["ramp"][0] == -20000
    with pytest.raises(ValueError, match="_background_noise_"):
        load_background_noise(root / "yes")
    clip = read_clip(root / "yes" / "aaaa1111_nohash_0.wav", n_samples=SR + 100)
    assert clip.shape == (SR + 100,) and not clip[SR:].any()
    _write(root, "odd/rate.wav", _clip(0, 8000), sr=8000)
    with pytest.raises(ValueError, match="rate.wav.*8000 Hz"):
        read_clip(root / "odd" / "rate.wav")


def test_real_speech_commands(speech_commands_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every real file must decode cleanly...
        # ...but the set holds a few genuinely short recordings (0.5-0.75 s), padded with a warning.
        warnings.simplefilter("ignore", ClipLengthWarning)
        X, y, groups = load_speech_commands(speech_commands_dir, n_jobs=2, dtype="int16")
    counts = Counter(y)
    assert set(counts) == set(SPEECH_COMMANDS_12)
    assert 3500 <= len(X) <= 4000 and X.shape[1] == SR and X.dtype == np.int16
    assert all(150 <= counts[w] <= 400 for w in COMMAND_WORDS)
    assert 500 <= counts["_unknown_"] <= 1000 and counts["_silence_"] >= 100
    Xf = X[:200] / np.float32(32768)
    assert np.abs(Xf).max() <= 1.0 and (np.abs(Xf).max(axis=1) > 0).all()  # clips are not empty
    # Speakers are 8-hex-digit ids; silence clips each get their own group.
    speech = y != "_silence_"
    assert all(re.fullmatch(r"[0-9a-f]{8}", g) for g in groups[speech])
    assert all(g.startswith("_silence_/") for g in groups[~speech])
    assert len(set(groups[speech])) > 300
    _, y_all, _ = load_speech_commands(speech_commands_dir, labels="all", n_jobs=2, dtype="int16")
    assert len(set(y_all)) == 36  # the 35 words of v0.02 and _silence_
    assert len(load_background_noise(speech_commands_dir)) == 6
