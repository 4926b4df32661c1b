"""benchmarks/streaming.py runs end to end on a tiny folder written here."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from _embedding_model import require_speech_embedding

SR = 16000
SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "streaming.py"
WORDS = {"yes": 440.0, "no": 880.0, "up": 1760.0}


def _benchmark():
    spec = importlib.util.spec_from_file_location("streaming_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _folders(root):
    rng = np.random.default_rng(0)
    t = np.arange(SR) / SR
    data = root / "data"
    for word, freq in WORDS.items():
        (data / word).mkdir(parents=True)
        for speaker in range(6):
            clip = 0.3 * np.sin(2 * np.pi * freq * t) * np.hanning(SR) + 0.01 * rng.standard_normal(SR)
            sf.write(data / word / f"{speaker:08x}_nohash_0.wav", clip, SR, subtype="PCM_16")
    (data / "_background_noise_").mkdir()
    sf.write(data / "_background_noise_" / "hum.wav", 0.05 * rng.standard_normal(3 * SR), SR, subtype="PCM_16")
    negatives = root / "negatives"
    negatives.mkdir()
    for speaker in range(4):
        sf.write(negatives / f"{speaker:04d}_0001.flac", 0.05 * rng.standard_normal(4 * SR), SR)
    return data, negatives


@pytest.mark.slow
def test_streaming_benchmark_trains_both_variants_and_writes_the_pictures(tmp_path, capsys):
    data, negatives = _folders(tmp_path)
    out = tmp_path / "out"
    summary = _benchmark().main(["--data", str(data), "--negatives", str(negatives), "--epochs", "1",
                                 "--arch-params", '{"width": 0.25}', "--classifier-params", '{"batch_size": 8}',
                                 "--test-fraction", "0.34", "--quantize", "pipeline", "--out", str(out)])
    printed = capsys.readouterr().out
    assert set(summary) == {"none", "with"}
    assert summary["with"]["train_clips"] > summary["none"]["train_clips"]  # hard negatives were added
    assert "FRR at 0.5 FA/h" in printed and "| threshold | FRR | FA/h |" in printed
    for name in ("det.png", "timeline_none.png", "timeline_with.png"):
        assert (out / name).stat().st_size > 0
    saved = json.loads((out / "results.json").read_text())
    assert saved["keywords"] == 9 and 0 < saved["variants"]["none"]["rtf"]  # 3 of the 6 speakers x 3 words


@pytest.mark.slow
def test_streaming_benchmark_with_the_embedding_front_end(tmp_path, capsys):
    require_speech_embedding()
    data, negatives = _folders(tmp_path)
    summary = _benchmark().main(["--data", str(data), "--negatives", str(negatives), "--frontend", "embedding",
                                 "--hard-negatives", "none", "--test-fraction", "0.34", "--out", str(tmp_path / "o")])
    assert set(summary) == {"none"} and 0 < summary["none"]["rtf"]
    assert summary["none"]["pi3b_rtf_estimate"] is None  # no LiteRT graph to count MACs on
    assert "FRR at 0.5 FA/h" in capsys.readouterr().out


@pytest.mark.slow
def test_streaming_benchmark_save_keeps_the_trained_pipeline_when_the_export_fails(tmp_path, monkeypatch):
    data, negatives = _folders(tmp_path)
    out = tmp_path / "out"
    common = ["--data", str(data), "--negatives", str(negatives), "--test-fraction", "0.34", "--out", str(out)]
    bench = _benchmark()

    def failing_export(*args):
        raise RuntimeError("conversion failed")

    monkeypatch.setattr(bench, "compact", failing_export)
    with pytest.raises(RuntimeError, match="conversion failed"):
        bench.main(common + ["--epochs", "1", "--arch-params", '{"width": 0.25}', "--classifier-params",
                             '{"batch_size": 8}', "--hard-negatives", "none", "--save"])
    saved = out / "pipeline_none.joblib"
    assert saved.stat().st_size > 0
    # The saved pipeline is evaluated again as it is, without training.
    summary = _benchmark().main(common + ["--model", str(saved), "--quantize", "pipeline"])
    assert set(summary) == {"model"} and summary["model"]["train_clips"] == 0 and 0 < summary["model"]["rtf"]


@pytest.mark.slow
def test_streaming_benchmark_with_a_network_that_streams_with_state(tmp_path, capsys):
    data, negatives = _folders(tmp_path)
    summary = _benchmark().main(["--data", str(data), "--negatives", str(negatives), "--frontend", "stateful",
                                 "--epochs", "1", "--arch-params", '{"width": 0.25}', "--classifier-params",
                                 '{"batch_size": 8}', "--hard-negatives", "none", "--test-fraction", "0.34",
                                 "--quantize", "none", "--out", str(tmp_path / "o")])
    result = summary["none"]
    assert 0 < result["rtf"] and 0 <= result["clip_accuracy"] <= 1
    # The estimate counts one network step and one hop's frames per hop, not a whole window per hop.
    assert 0 < result["pi3b_rtf_estimate"]
    assert "RTF here" in capsys.readouterr().out
