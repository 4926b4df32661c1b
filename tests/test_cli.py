"""The command line as a user runs it."""

import re
import subprocess
import sys

import numpy as np
import soundfile as sf

from sklkws.cli import build_parser, main


def _png(path):
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


def test_demo_writes_a_confusion_matrix_and_reports_grouped_accuracy(tmp_path, capsys):
    assert main(["demo", "--model", "logreg", "--folds", "2", "--n-per-word", "8", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "speaker-grouped 2-fold CV accuracy" in out and "chance 0.083" in out
    assert _png(tmp_path / "confusion_matrix.png")
    assert not (tmp_path / "kws.tflite").exists()  # the linear baseline has no device export


def test_demo_folds_side_by_side_score_as_one_after_another(tmp_path, capsys):
    # The folds run in worker processes by default; each fold's predictions must land on its own clips.
    base = ["demo", "--model", "logreg", "--folds", "3", "--n-per-word", "8"]
    scores = []
    for jobs in ("1", "3"):
        assert main(base + ["--jobs", jobs, "--out", str(tmp_path / jobs)]) == 0
        scores.append(re.findall(r"fold \d/3: accuracy ([0-9.]+)", capsys.readouterr().out))
    assert len(scores[0]) == 3 and scores[0] == scores[1]
    assert main(base + ["--jobs", "0", "--out", str(tmp_path / "0")]) == 2
    assert "--jobs must be at least 1" in capsys.readouterr().err


def test_demo_trains_exports_and_listens(tmp_path, capsys):
    # Tiny flags for CI: two folds of 104 clips, one epoch; the full demo runs the same code.
    args = ["demo", "--folds", "2", "--n-per-word", "8", "--epochs", "1", "--n-stream", "3", "--out", str(tmp_path)]
    assert main(args) == 0
    out = capsys.readouterr().out
    accuracy = float(re.search(r"speaker-grouped 2-fold CV accuracy: ([0-9.]+)", out).group(1))
    assert 0.0 <= accuracy <= 1.0
    assert "Budget check" in out and "Listening" in out
    said = re.findall(r"^\s+[0-9.]+ s  (\w+)", out, flags=re.M)
    assert len(said) == 3 and set(said) <= {"yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"}
    assert re.search(r"found \d+ of 3 keywords", out)
    for name in ("confusion_matrix.png", "det.png", "timeline.png"):
        assert _png(tmp_path / name), name
    from sklkws.device import CompactClassifier

    model = CompactClassifier(tmp_path / "kws.tflite")
    assert len(model.classes_) == 12 and "_unknown_" in set(model.classes_)


def test_train_custom_words_to_a_tflite_file(tmp_path, capsys):
    out = tmp_path / "kws.tflite"
    assert main(["train", "--words", "hey sheila", "lights on", "--n-per-word", "10", "--epochs", "1",
                 "--out", str(out)]) == 0
    assert "budget 'pi'" in capsys.readouterr().out
    from sklkws.device import CompactClassifier

    model = CompactClassifier(out)
    assert sorted(model.classes_) == ["_silence_", "_unknown_", "hey sheila", "lights on"]
    assert model.predict_proba(np.zeros((2, 16000), np.float32)).shape == (2, 4)


def test_train_rejects_recordings_of_other_words(tmp_path):
    (tmp_path / "rec" / "hello").mkdir(parents=True)
    wave = (0.1 * np.sin(np.arange(16000) / 5)).astype(np.float32)
    sf.write(tmp_path / "rec" / "hello" / "a.wav", wave, 16000)
    assert main(["train", "--words", "hey sheila", "--recordings", str(tmp_path / "rec"), "--out",
                 str(tmp_path / "k.tflite")]) == 2


def test_subcommands_and_module_entry_point():
    parser = build_parser()
    args = parser.parse_args(["export", "model.joblib", "--out", "m.tflite", "--quantize", "float16"])
    assert (args.model, args.out, args.quantize) == ("model.joblib", "m.tflite", "float16")
    args = parser.parse_args(["listen", "m.tflite", "long.wav", "--threshold", "0.7"])
    assert args.threshold == 0.7
    done = subprocess.run([sys.executable, "-m", "sklkws", "--help"], capture_output=True, text=True, check=True)
    assert all(name in done.stdout for name in ("demo", "train", "export", "listen"))
    args = parser.parse_args(["train", "--words", "hey sheila", "stop", "--out", "k.tflite"])
    assert args.words == ["hey sheila", "stop"] and args.func.__name__ == "train"
