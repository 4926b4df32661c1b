"""The command line as a user runs it."""

import subprocess
import sys

from sklkws.cli import build_parser, main


def test_demo_writes_a_confusion_matrix_and_reports_grouped_accuracy(tmp_path, capsys):
    assert main(["demo", "--model", "logreg", "--folds", "2", "--n-per-word", "8", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "speaker-grouped 2-fold CV accuracy" in out and "chance 0.083" in out
    png = tmp_path / "confusion_matrix.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_subcommands_and_module_entry_point():
    parser = build_parser()
    args = parser.parse_args(["export", "model.joblib", "--out", "m.tflite", "--quantize", "float16"])
    assert (args.model, args.out, args.quantize) == ("model.joblib", "m.tflite", "float16")
    args = parser.parse_args(["listen", "m.tflite", "long.wav", "--threshold", "0.7"])
    assert args.threshold == 0.7
    done = subprocess.run([sys.executable, "-m", "sklkws", "--help"], capture_output=True, text=True, check=True)
    assert "demo" in done.stdout and "export" in done.stdout and "listen" in done.stdout
