"""Custom keywords: the training set for one's own words, and the benchmark script on a tiny folder."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from _embedding_model import require_speech_embedding
from sklkws.custom_words import augment_recordings, make_custom_dataset, synthetic_sentences

SR = 16000
SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "custom_words.py"


def test_custom_dataset_joins_synthetic_words_recordings_and_speech():
    rng = np.random.default_rng(0)
    recordings = {"hey sheila": [0.2 * rng.standard_normal(12000), 0.2 * rng.standard_normal(20000)]}
    speech = [0.1 * rng.standard_normal(3 * SR).astype(np.float32)]
    X, y, groups = make_custom_dataset(["hey sheila"], n_per_word=6, recordings=recordings, speech=speech,
                                       n_speech_unknown=5, random_state=0)
    assert X.shape == (6 + 12 + 6 + 2 + 5, SR) and X.dtype == np.float32
    counts = dict(zip(*np.unique(y, return_counts=True)))
    assert counts == {"hey sheila": 8, "_unknown_": 17, "_silence_": 6}
    recorded = groups == "recorded"
    assert recorded.sum() == 2 and set(y[recorded]) == {"hey sheila"}
    # The short recording is zero-padded, the long one cut to one second.
    assert not X[recorded][0, 12000:].any() and X[recorded][1, -1] != 0
    cuts = X[groups == "speech"]
    assert len(cuts) == 5 and np.allclose(np.abs(cuts).max(axis=1), 0.5)
    with pytest.raises(ValueError, match="not in words"):
        make_custom_dataset(["hey sheila"], n_per_word=2, recordings={"hello": [np.ones(100)]})


def test_augmented_recordings_keep_the_originals_first_and_vary_the_copies():
    rng = np.random.default_rng(0)
    t = np.arange(SR) / SR
    X = (0.3 * np.sin(2 * np.pi * np.array([[300.0], [900.0]]) * t) * (t < 0.5)).astype(np.float32)
    y = np.array(["yes", "no"])
    Xa, ya = augment_recordings(X, y, n_copies=4, random_state=0)
    assert Xa.shape == (10, SR) and Xa.dtype == np.float32
    np.testing.assert_array_equal(Xa[:2], X)  # originals untouched, first
    assert ya.tolist() == ["yes", "no"] * 5  # copy c of clip i at row c * 2 + i
    copies = Xa[2:]
    assert all(not np.allclose(c, X[i % 2]) for i, c in enumerate(copies))
    assert len({c.tobytes() for c in copies}) == 8  # no two copies alike
    again, _ = augment_recordings(X, y, n_copies=4, random_state=0)
    np.testing.assert_array_equal(again, Xa)  # reproducible for a seed
    same, same_y = augment_recordings(X, y, n_copies=0)
    assert same is not None and np.array_equal(same, X) and same_y.tolist() == ["yes", "no"]
    with pytest.raises(ValueError, match="n_copies must be an integer >= 0"):
        augment_recordings(X, y, n_copies=-1)


def test_custom_dataset_augments_each_recording_as_asked():
    rng = np.random.default_rng(1)
    recordings = {"hey sheila": [0.2 * rng.standard_normal(SR) for _ in range(3)]}
    X, y, groups = make_custom_dataset(["hey sheila"], n_per_word=4, recordings=recordings, recording_copies=5,
                                       random_state=0)
    recorded = groups == "recorded"
    assert recorded.sum() == 3 * 6 and set(y[recorded]) == {"hey sheila"}
    np.testing.assert_allclose(X[recorded][:3], np.stack(recordings["hey sheila"]), atol=1e-7)


def test_synthetic_sentences_are_long_varied_speech():
    waves = synthetic_sentences(3, random_state=1)
    assert len(waves) == 3 and all(w.shape[0] > SR for w in waves)
    assert all(np.isclose(np.abs(w).max(), 0.5) for w in waves)
    assert len({w.shape[0] for w in waves}) > 1


def _folder(root, speakers, rng):
    t = np.arange(SR) / SR
    for word, freq in {"yes": 440.0, "no": 880.0, "up": 1760.0}.items():
        (root / word).mkdir(parents=True)
        for speaker in speakers:
            clip = 0.3 * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(SR)
            sf.write(root / word / f"{speaker}_nohash_0.wav", clip, SR, subtype="PCM_16")
    (root / "_background_noise_").mkdir()
    sf.write(root / "_background_noise_" / "hum.wav", 0.05 * rng.standard_normal(3 * SR), SR, subtype="PCM_16")
    return root


def _benchmark():
    spec = importlib.util.spec_from_file_location("custom_words_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_script_runs_every_condition(tmp_path, capsys):
    data = _folder(tmp_path / "sc", [f"{i:08x}" for i in range(4)], np.random.default_rng(0))
    module = _benchmark()
    out = tmp_path / "r.json"
    rows = module.main(["--data", str(data), "--folds", "2", "--epochs", "1", "--n-per-word", "2", "--shots", "1",
                        "--out", str(out)])
    names = [r["training"] for r in rows if r["frontend"] == "scratch"]
    assert names == ["synthetic only", "1 real/class", "1 real/class + synthetic", "all real",
                     "all real + synthetic"]
    assert [r["training"] for r in rows if r["frontend"] == "embedding"] == names  # the same clips, both ways
    sizes = {r["training"]: r["n_train"] for r in rows}
    assert sizes["1 real/class"] == 3 and sizes["all real"] == 6  # 2 training speakers x 3 words
    assert sizes["all real + synthetic"] == sizes["all real"] + sizes["synthetic only"]
    assert all(0 <= r["accuracy"] <= 1 for r in rows)
    assert json.loads(out.read_text())["rows"] == rows
    assert "| synthetic only |" in capsys.readouterr().out


def test_benchmark_adds_cuts_of_real_speech_to_the_synthetic_unknown(tmp_path, capsys):
    rng = np.random.default_rng(1)
    data = _folder(tmp_path / "sc", [f"{i:08x}" for i in range(4)], rng)
    speech = tmp_path / "speech"
    speech.mkdir()
    sf.write(speech / "talk.wav", 0.1 * rng.standard_normal(3 * SR), SR, subtype="PCM_16")
    module = _benchmark()
    args = ["--data", str(data), "--folds", "2", "--epochs", "1", "--n-per-word", "2", "--conditions", "synthetic",
            "--frontends", "scratch"]
    without = module.main(args)
    with_cuts = module.main(args + ["--speech", str(speech), "--n-speech", "5"])
    assert with_cuts[0]["n_train"] == without[0]["n_train"] + 5
    assert "+ 5 cuts of real speech" in capsys.readouterr().out


def test_benchmark_scores_every_model_on_shifted_copies_with_tta(tmp_path, capsys, monkeypatch):
    require_speech_embedding()
    module = _benchmark()
    assert module.tta_shifts("0.16,0.24") == (-3840, -2560, 0, 2560, 3840)
    assert module.tta_shifts("0.1,-0.1,0") == (-1600, 0, 1600)  # magnitudes, each both ways, once
    assert module.tta_shifts(None) is None and module.tta_shifts("") is None
    seen = []

    class Spy(module.TTAClassifier):
        def predict_proba(self, X):
            seen.append(tuple(self.shifts_))
            return super().predict_proba(X)

    monkeypatch.setattr(module, "TTAClassifier", Spy)
    data = _folder(tmp_path / "sc", [f"{i:08x}" for i in range(4)], np.random.default_rng(2))
    args = ["--data", str(data), "--folds", "2", "--n-per-word", "2", "--conditions", "synthetic,all",
            "--frontends", "embedding"]
    plain = module.main(args)
    assert seen == []
    shifted = module.main(args + ["--tta", "0.1"])
    assert seen == [(-1600, 0, 1600)] * len(shifted)  # every row's model, once per scoring
    assert [r["n_train"] for r in shifted] == [r["n_train"] for r in plain]
    assert "test-time shifts [-1600, 0, 1600] samples" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        module.main(args + ["--tta", "0.1,soon"])
    assert "--tta takes seconds separated by commas" in capsys.readouterr().err


def test_train_command_with_the_embedding_front_end(tmp_path, capsys):
    require_speech_embedding()
    import joblib

    from sklkws.cli import main
    from sklkws.device import EmbeddingClassifier, load_model
    from sklkws.streaming import KeywordSpotter

    out = tmp_path / "words.joblib"
    recordings = tmp_path / "recordings" / "hey_sheila"
    recordings.mkdir(parents=True)
    for i in range(2):
        sf.write(recordings / f"take{i}.wav", 0.1 * np.random.default_rng(i).standard_normal(SR), SR,
                 subtype="PCM_16")
    assert main(["train", "--words", "hey sheila", "--n-per-word", "8", "--frontend", "embedding",
                 "--recordings", str(recordings.parent), "--recording-copies", "3", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "size: met" in printed and "2 real recordings and 6 augmented copies of them" in printed
    model = load_model(out)
    assert isinstance(model, EmbeddingClassifier) and isinstance(joblib.load(out), EmbeddingClassifier)
    assert set(model.classes_) == {"hey sheila", "_unknown_", "_silence_"}
    posteriors = KeywordSpotter(model).window_posteriors(np.zeros(2 * SR, dtype=np.float32))
    assert posteriors.shape == (11, 1)
