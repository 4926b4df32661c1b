"""The Speech Commands benchmark's modes run end to end on a tiny folder written here."""

import importlib.util
from pathlib import Path

import joblib
import numpy as np
import pytest
import soundfile as sf

SR = 16000
SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "speech_commands.py"
ABLATION = SCRIPT.with_name("ablation.py")
WORDS = {"yes": 440.0, "no": 880.0, "up": 1760.0}
TINY = ["--epochs", "1", "--arch-params", '{"width": 0.25}', "--members", "2"]


def _benchmark(script=SCRIPT):
    spec = importlib.util.spec_from_file_location(script.stem + "_benchmark", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _folder(root, speakers, seed):
    """Standard layout: one tone per word, a few speakers each, and a background recording."""
    rng = np.random.default_rng(seed)
    t = np.arange(SR) / SR
    for word, freq in WORDS.items():
        (root / word).mkdir(parents=True)
        for speaker in speakers:
            clip = 0.3 * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(SR)
            sf.write(root / word / f"{speaker}_nohash_0.wav", clip, SR, subtype="PCM_16")
    (root / "_background_noise_").mkdir()
    sf.write(root / "_background_noise_" / "hum.wav", 0.05 * rng.standard_normal(3 * SR), SR, subtype="PCM_16")
    return root


@pytest.mark.slow
def test_test_mode_trains_scores_and_saves_a_loadable_pipeline(tmp_path, capsys):
    data = _folder(tmp_path / "train", [f"{i:08x}" for i in range(4)], 0)
    test = _folder(tmp_path / "test", [f"{i:08x}" for i in range(10, 12)], 1)
    saved = tmp_path / "model.joblib"
    _benchmark().main(["--data", str(data), "--test", str(test), "--save", str(saved), "--models", "recommended",
                       "--classifier-params", '{"batch_size": 16}', "--out", str(tmp_path / "out"), *TINY])
    printed = capsys.readouterr().out
    assert "recommended  accuracy" in printed and "Saved the fitted recommended model" in printed
    assert (tmp_path / "out" / "confusion_recommended.png").stat().st_size > 0
    model = joblib.load(saved)
    from sklkws.datasets import load_speech_commands

    X_test, _, _ = load_speech_commands(test)
    assert set(model.predict(X_test)) <= {"yes", "no", "up", "_silence_", "_unknown_"}
    assert len(model[-1].estimators_) == 2  # the recommended model is a vote, of two here
    net = model[-1].estimators_[0]
    assert net.arch == "tcresnet" and net.epochs == 1 and net.batch_size == 16  # flags applied


@pytest.mark.slow
def test_cross_validation_scores_the_vote_and_each_member(tmp_path, capsys):
    data = _folder(tmp_path / "train", [f"{i:08x}" for i in range(4)], 0)
    _benchmark().main(["--data", str(data), "--folds", "2", "--run-folds", "1", "--models", "vote",
                       "--out", str(tmp_path / "out"), *TINY])
    printed = capsys.readouterr().out
    for member in ("single", "resnet1d", "res8", "vote"):
        assert f"  {member:12s} accuracy" in printed
    means = {line.split()[0] for line in printed.split("Mean accuracy")[1].splitlines()[1:5]}
    assert means == {"single", "resnet1d", "res8", "vote"}
    assert (tmp_path / "out" / "confusion_vote.png").stat().st_size > 0


@pytest.mark.slow
def test_cross_validation_scores_the_members_of_the_recommended_model(tmp_path, capsys):
    data = _folder(tmp_path / "train", [f"{i:08x}" for i in range(4)], 0)
    _benchmark().main(["--data", str(data), "--folds", "2", "--only-folds", "2", "--models", "recommended",
                       "--out", str(tmp_path / "out"), *TINY])
    printed = capsys.readouterr().out
    assert "Fold 2/2" in printed and "Fold 1/2" not in printed  # only the fold asked for
    for part in ("recommended", "net0", "net1"):
        assert f"  {part:12s} accuracy" in printed
    assert "vote of 2" in printed
    _benchmark().main(["--data", str(data), "--folds", "2", "--only-folds", "1", "--models", "recommended",
                       "--distill", "--student-params", '{"arch_params": {"width": 0.5}}',
                       "--out", str(tmp_path / "out"), *TINY])
    printed = capsys.readouterr().out
    for part in ("recommended", "teachers", "teacher_net0", "teacher_net1"):
        assert f"  {part:12s} accuracy" in printed
    params = {line.split()[0]: line.split("params ")[1].split(", MACs")[0] for line in printed.splitlines()
              if "params " in line}
    assert params["recommended"] != params["teacher_net0"] == params["teacher_net1"]  # a wider student


def test_unknown_model_names_are_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        _benchmark().main(["--data", str(tmp_path), "--models", "recommended,resnet"])
    assert "unknown --models ['resnet']" in capsys.readouterr().err


@pytest.mark.slow
def test_overhead_mode_reports_both_epoch_times(tmp_path, capsys):
    data = _folder(tmp_path / "train", [f"{i:08x}" for i in range(4)], 0)
    _benchmark().main(["--data", str(data), "--overhead", "12", "--epochs", "2", "--arch-params", '{"width": 0.25}'])
    printed = capsys.readouterr().out
    assert printed.count("augmented epochs (s):") == 2 and printed.count("plain     epochs (s):") == 2
    assert "augmentation adds" in printed and "data side of one epoch, plain" in printed


@pytest.mark.slow
def test_ablation_runs_are_the_vote_members_and_combine_into_its_soft_vote(tmp_path, capsys):
    """Seed i trained alone is member net{i} of the recommended vote, so saved runs recombine
    into exactly the vote's probabilities; finished folds are skipped on a rerun."""
    from sklkws.datasets import load_background_noise, load_speech_commands
    from sklkws.recipes import recommended_pipeline

    data = _folder(tmp_path / "train", [f"{i:08x}" for i in range(4)], 0)
    out = tmp_path / "runs"
    tiny = ["--data", str(data), "--folds", "2", "--only-folds", "1", "--epochs", "1",
            "--arch-params", '{"width": 0.25}', "--out", str(out), "--tag", "base"]
    ablation = _benchmark(ABLATION)
    for seed in ("0", "1"):
        ablation.main([*tiny, "--seed", seed])
    saved = [np.load(out / "base" / f"seed{seed}_fold1.npz", allow_pickle=True) for seed in (0, 1)]
    assert set(saved[0].files) >= {"proba", "classes", "test", "accuracy", "minutes", "macs"}

    X, y, groups = load_speech_commands(data)
    test = saved[0]["test"]
    train = np.setdiff1d(np.arange(len(X)), test)
    vote = recommended_pipeline(n_members=2, arch_params={"width": 0.25}, epochs=1, random_state=0,
                                background_noise=load_background_noise(data)).fit(X[train], y[train])
    np.testing.assert_allclose(np.mean([s["proba"] for s in saved], axis=0), vote.predict_proba(X[test]),
                               rtol=1e-5, atol=1e-6)

    ablation.main([*tiny, "--seed", "0"])
    assert "exists, skipped" in capsys.readouterr().out
    ablation.main(["--data", str(data), "--out", str(out), "--combine", "base:0", "base:1"])
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[1:4]}
    assert float(rows["base:0"][1]) == pytest.approx(float(saved[0]["accuracy"]), abs=1e-4)
    expected = np.mean(vote.predict(X[test]) == y[test])
    assert float(rows["vote"][1]) == pytest.approx(expected, abs=1e-4)
    with pytest.raises(SystemExit, match="no saved runs"):
        ablation.main(["--data", str(data), "--out", str(out), "--combine", "base:0", "other:0"])
