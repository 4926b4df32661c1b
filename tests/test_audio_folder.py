"""load_audio_folder on folders the tests write themselves, crop/pad warnings and the crop policy
(also in load_speech_commands), and the bad inputs of issues #13 and #17.7."""

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sklkws.datasets import ClipLengthWarning, load_audio_folder, load_speech_commands

# Clips padded on purpose in most tests; the tests of the warning itself catch it with pytest.warns.
pytestmark = pytest.mark.filterwarnings("ignore::sklkws.datasets.ClipLengthWarning")

ESC10 = Path(__file__).resolve().parents[2] / "shared" / "data" / "esc10"
if not ESC10.is_dir():
    ESC10 = Path("/work/shared/data/esc10")


def _tone(n, sr, freq=440.0, amp=0.5):
    return (amp * np.sin(2 * np.pi * freq * np.arange(n) / sr)).astype(np.float64)


def _write(root, rel, data, sr, **kw):
    path = Path(root) / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, data, sr, **kw)
    return path


@pytest.fixture
def folder(tmp_path):
    """Two classes, three formats, three sample rates, one stereo file, names with a fold prefix."""
    _write(tmp_path, "dog/1-dog-a.wav", _tone(16000, 16000), 16000)
    _write(tmp_path, "dog/2-dog-b.flac", _tone(44100, 44100), 44100)
    _write(tmp_path, "rain/1-rain-a.ogg", _tone(4000, 8000, 300.0), 8000)  # 0.5 s
    stereo = np.stack([_tone(16000, 16000), np.zeros(16000)], axis=1)
    _write(tmp_path, "rain/2-rain-b.wav", stereo, 16000)
    (tmp_path / "rain" / "notes.txt").write_text("not audio")
    return tmp_path


def test_folders_resampled_downmixed_fixed_length_and_groups(folder):
    with pytest.warns(ClipLengthWarning, match="Zero-padded 1 clip.*1-rain-a.ogg"):
        X, y, groups = load_audio_folder(folder, sample_rate=16000, duration=1.0, groups=r"^(\d)-")
    assert X.shape == (4, 16000) and X.dtype == np.float32
    assert list(y) == ["dog", "dog", "rain", "rain"] and list(groups) == ["1", "2", "1", "2"]
    # The 44.1 kHz one-second tone resampled to 16 kHz is the 16 kHz tone (soxr, high quality).
    np.testing.assert_allclose(X[1, 200:-200], _tone(16000, 16000)[200:-200], atol=2e-3)
    # Stereo: the mean of the channels.
    np.testing.assert_allclose(X[3], _tone(16000, 16000) / 2, atol=1e-4)
    # The 8 kHz half-second ogg: resampled, then zero-padded to one second.
    assert np.abs(X[2, :7000]).max() > 0.3 and not X[2, 8100:].any()


def test_list_output_keeps_each_length_and_own_rate(tmp_path):
    _write(tmp_path, "a/x.wav", _tone(3000, 8000), 8000)
    _write(tmp_path, "b/y.wav", _tone(5000, 8000), 8000)
    X, y, groups = load_audio_folder(tmp_path)  # no rate: the files' own, all the same
    assert isinstance(X, list) and [len(x) for x in X] == [3000, 5000]
    assert list(groups) == ["a/x.wav", "b/y.wav"]
    X16, _, _ = load_audio_folder(tmp_path, sample_rate=16000)
    assert [len(x) for x in X16] == [6000, 10000]


def test_int16_is_pcm_and_threads_agree(folder):
    Xf, _, _ = load_audio_folder(folder, sample_rate=16000, duration=1.0)
    Xi, _, _ = load_audio_folder(folder, sample_rate=16000, duration=1.0, dtype="int16", n_jobs=2)
    assert Xi.dtype == np.int16
    np.testing.assert_allclose(Xi / 32768.0, Xf, atol=1 / 16000)
    raw = sf.read(folder / "dog" / "1-dog-a.wav", dtype="int16")[0]
    np.testing.assert_array_equal(Xi[0], raw)


def test_group_rules(folder):
    _, _, groups = load_audio_folder(folder, sample_rate=16000, groups=lambda rel: rel.split(os.sep)[0])
    assert list(groups) == ["dog", "dog", "rain", "rain"]
    _, _, whole = load_audio_folder(folder, sample_rate=16000, groups=r"\d")  # no group: the whole match
    assert list(whole) == ["1", "2", "1", "2"]
    with pytest.raises(ValueError, match=r"group rule '\^\(\\d\)_'.*4 file name.*1-dog-a.wav"):
        load_audio_folder(folder, sample_rate=16000, groups=r"^(\d)_")
    with pytest.raises(ValueError, match="not a valid regular expression"):
        load_audio_folder(folder, sample_rate=16000, groups="(")


def test_csv_single_and_multi_label(tmp_path):
    for name in ("a.wav", "b.wav", "c.wav"):
        _write(tmp_path, f"clips/{name}", _tone(4000, 16000), 16000)
    (tmp_path / "labels.csv").write_text('file,labels,group\nclips/a.wav,dog,s1\nclips/b.wav,"dog,rain",s2\n'
                                         "clips/c.wav,rain,s1\n")
    X, y, groups = load_audio_folder(tmp_path, csv=tmp_path / "labels.csv", duration=0.25)
    assert X.shape == (3, 4000) and list(groups) == ["s1", "s2", "s1"]
    assert list(y) == [("dog",), ("dog", "rain"), ("rain",)]
    (tmp_path / "single.csv").write_text("clips/a.wav,dog\nclips/c.wav,rain\n")
    _, y1, g1 = load_audio_folder(tmp_path, csv=tmp_path / "single.csv")
    assert list(y1) == ["dog", "rain"] and list(g1) == ["clips/a.wav", "clips/c.wav"]
    (tmp_path / "missing.csv").write_text("clips/a.wav,dog\nclips/gone.wav,rain\n")
    with pytest.raises(ValueError, match="1 missing file.*gone.wav"):
        load_audio_folder(tmp_path, csv=tmp_path / "missing.csv")
    (tmp_path / "nolabel.csv").write_text("clips/a.wav\n")
    with pytest.raises(ValueError, match="lack a label"):
        load_audio_folder(tmp_path, csv=tmp_path / "nolabel.csv")


def test_bad_files_named_or_skipped(folder):
    (folder / "dog" / "3-dog-c.wav").write_bytes(b"RIFF not really a wave file")
    with pytest.raises(ValueError, match="Cannot decode audio file .*3-dog-c.wav"):
        load_audio_folder(folder, sample_rate=16000)
    with pytest.warns(UserWarning, match="Skipped 1 unreadable.*3-dog-c.wav"):
        X, y, groups = load_audio_folder(folder, sample_rate=16000, duration=1.0, on_error="warn", n_jobs=2)
    assert len(X) == len(y) == 4 and "dog/3-dog-c.wav" not in groups
    os.remove(folder / "dog" / "3-dog-c.wav")
    _write(folder, "dog/4-dog-empty.wav", np.zeros(0), 16000)
    with pytest.raises(ValueError, match="4-dog-empty.wav has no samples"):
        load_audio_folder(folder, sample_rate=16000)


def test_empty_class_folder_mixed_rates_and_arguments(folder, tmp_path_factory):
    with pytest.raises(ValueError, match="Mixed sample rates.*2-dog-b.flac is 44100 Hz.*16000 Hz"):
        load_audio_folder(folder)
    (folder / "cat").mkdir()
    with pytest.raises(ValueError, match="no audio file.*cat"):
        load_audio_folder(folder, sample_rate=16000)
    empty = tmp_path_factory.mktemp("empty")
    with pytest.raises(ValueError, match="no class folder"):
        load_audio_folder(empty)
    with pytest.raises(ValueError, match="not found"):
        load_audio_folder(empty / "nowhere")
    for bad in ({"crop": "middle"}, {"tolerance": -1}, {"duration": 0}, {"sample_rate": 0}, {"dtype": "int8"},
                {"on_error": "ignore"}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            load_audio_folder(folder, **bad)


def test_dangling_symlink_and_non_utf8_name(tmp_path):
    _write(tmp_path, "a/ok.wav", _tone(1600, 16000), 16000)
    os.symlink(tmp_path / "nowhere.wav", tmp_path / "a" / "link.wav")
    with pytest.raises(ValueError, match="Dangling symbolic link.*link.wav"):
        load_audio_folder(tmp_path)
    with pytest.warns(UserWarning, match="Skipped 1 .*link.wav is a dangling symbolic link"):
        X, _, _ = load_audio_folder(tmp_path, on_error="warn")
    assert len(X) == 1
    os.remove(tmp_path / "a" / "link.wav")
    # A Latin-1 file name (not valid UTF-8) is read, and named (escaped) when broken.
    good, bad = os.fsencode(tmp_path / "a") + b"/caf\xe9.wav", os.fsencode(tmp_path / "a") + b"/bro\xefken.wav"
    os.rename(tmp_path / "a" / "ok.wav", good)
    with open(bad, "wb") as handle:
        handle.write(b"garbage")
    with pytest.raises(ValueError, match=r"bro\\xefken.wav"):
        load_audio_folder(tmp_path)
    os.remove(bad)
    X, _, groups = load_audio_folder(tmp_path)
    assert len(X[0]) == 1600 and "caf" in groups[0]


def test_crop_policies_and_length_warning(tmp_path):
    sr = 8000
    late = np.zeros(3 * sr)
    late[2 * sr + 1000 : 2 * sr + 3000] = _tone(2000, sr)  # the sound is in the third second
    _write(tmp_path, "a/late.wav", late, sr)
    _write(tmp_path, "a/short.wav", _tone(sr // 2, sr), sr)
    _write(tmp_path, "a/exact.wav", _tone(sr + 40, sr), sr)  # 5 ms over: within the tolerance
    with pytest.warns(ClipLengthWarning) as record:
        first, _, _ = load_audio_folder(tmp_path, duration=1.0)
    assert len(record) == 1  # one warning, listing the files
    message = str(record[0].message)
    assert "Cropped 1 clip" in message and "late.wav (3.00 s)" in message
    assert "Zero-padded 1 clip" in message and "short.wav (0.50 s)" in message and "exact" not in message
    assert not first[1].any()  # crop="first": the silent first second of late.wav
    with pytest.warns(ClipLengthWarning):
        loud, _, _ = load_audio_folder(tmp_path, duration=1.0, crop="loudest")
    np.testing.assert_allclose(loud[1][sr // 2 - 1000 : sr // 2 + 1000], late[2 * sr + 1000 : 2 * sr + 3000], atol=1e-4)
    with pytest.raises(ValueError, match=r"longer than 1.00 s \(crop='error'\).*late.wav"):
        load_audio_folder(tmp_path, duration=1.0, crop="error")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_audio_folder(tmp_path, duration=1.0, crop="loudest", tolerance=2.0)


def test_speech_commands_crop_policy_and_warning(tmp_path):
    sr = 16000
    late = np.zeros(3 * sr)
    late[2 * sr : 2 * sr + 4000] = _tone(4000, sr)
    _write(tmp_path, "yes/aaaa1111_nohash_0.wav", late, sr)
    _write(tmp_path, "no/bbbb2222_nohash_0.wav", _tone(sr, sr), sr)
    with pytest.warns(ClipLengthWarning, match="Cropped 1 clip.*aaaa1111_nohash_0.wav"):
        X, y, _ = load_speech_commands(tmp_path, labels="all")
    assert list(y) == ["no", "yes"] and not X[1].any()  # the old behaviour: a silent "yes"
    with pytest.warns(ClipLengthWarning):
        X, _, _ = load_speech_commands(tmp_path, labels="all", crop="loudest")
    assert np.abs(X[1]).max() > 0.4
    with pytest.raises(ValueError, match="crop='error'.*aaaa1111"):
        load_speech_commands(tmp_path, labels="all", crop="error")
    with pytest.raises(ValueError, match="'crop' parameter of load_speech_commands must be a str among"):
        load_speech_commands(tmp_path, crop="centre")


@pytest.mark.skipif(not ESC10.is_dir(), reason="ESC-10 is not in shared/data/esc10 on this machine")
def test_real_esc10_official_folds():
    with pytest.warns(ClipLengthWarning, match="Cropped 4 clip"):
        X, y, fold = load_audio_folder(ESC10, sample_rate=16000, duration=5.0, groups=r"^(\d)-", n_jobs=2,
                                       dtype="int16")
    assert X.shape == (400, 80000) and X.dtype == np.int16
    values, counts = np.unique(fold, return_counts=True)
    assert list(values) == ["1", "2", "3", "4", "5"] and set(counts) == {80}
    assert len(set(y)) == 10 and np.abs(X).max(axis=1).min() > 100


def test_speech_commands_dangling_link_and_non_utf8_name(tmp_path):
    sr = 16000
    _write(tmp_path, "yes/aaaa1111_nohash_0.wav", _tone(sr, sr), sr)
    os.symlink(tmp_path / "gone.wav", tmp_path / "yes" / "bbbb2222_nohash_0.wav")
    with pytest.raises(ValueError, match="Dangling symbolic link.*bbbb2222_nohash_0.wav"):
        load_speech_commands(tmp_path)
    with pytest.warns(UserWarning, match="Skipped 1 dangling symbolic link.*bbbb2222"):
        X, _, groups = load_speech_commands(tmp_path, on_error="warn")
    assert list(groups) == ["aaaa1111"]
    os.remove(tmp_path / "yes" / "bbbb2222_nohash_0.wav")
    broken = os.fsencode(tmp_path / "yes") + b"/caf\xe9_nohash_0.wav"
    with open(broken, "wb") as handle:
        handle.write(b"garbage")
    with pytest.raises(ValueError, match=r"Cannot decode audio file .*caf\\xe9_nohash_0.wav"):
        load_speech_commands(tmp_path)
