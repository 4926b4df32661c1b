"""KeywordSpotter: tone 'keywords' placed at known times in a long recording are found there."""

import numpy as np
import pytest
import soundfile
from sklearn.pipeline import make_pipeline

from sklkws.export import CompactClassifier, export_compact
from sklkws.features import MelFeatures
from sklkws.models import KerasCNNClassifier
from sklkws.preprocessing import Normalizer
from sklkws.streaming import Event, KeywordSpotter, listen_main

SR = 16000
TONES = {"low": 400.0, "mid": 1200.0, "high": 3000.0}
BURST = SR // 4  # a 0.25 s keyword


def burst(label, rng):
    t = np.arange(BURST) / SR
    return rng.uniform(0.3, 0.8) * np.sin(2 * np.pi * TONES[label] * t) * np.hanning(BURST)


def make_tones(n, rng):
    labels = rng.choice([*TONES, "_silence_"], n)
    X = 0.02 * rng.standard_normal((n, SR))
    for i, label in enumerate(labels):
        if label in TONES:
            start = rng.integers(0, SR - BURST)
            X[i, start:start + BURST] += burst(label, rng)
    return X.astype(np.float32), labels


#: (centre time in s, keyword) of the long test recording.
SCRIPT = [(1.5, "low"), (4.0, "high"), (6.3, "mid"), (9.0, "low"), (11.2, "high")]


@pytest.fixture(scope="module")
def recording():
    rng = np.random.default_rng(1)
    audio = 0.02 * rng.standard_normal(13 * SR)
    for centre, label in SCRIPT:
        start = int(centre * SR) - BURST // 2
        audio[start:start + BURST] += burst(label, rng)
    return audio.astype(np.float32)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    rng = np.random.default_rng(0)
    X, y = make_tones(240, rng)
    clf = KerasCNNClassifier("cnn9", {"filters": (4, 8)}, learning_rate=1e-2, batch_size=8, epochs=6, random_state=0)
    pipe = make_pipeline(Normalizer(), MelFeatures(n_mels=20, hop_length=320), clf).fit(X, y)
    path = tmp_path_factory.mktemp("spotter") / "tones.tflite"
    export_compact(pipe, path, None, X[:100], verbose=False)
    return pipe, CompactClassifier(path), path


def assert_matches_script(events, tolerance=0.15):
    assert [e.keyword for e in events] == [label for _, label in SCRIPT], events
    for event, (centre, _) in zip(events, SCRIPT):
        assert abs(event.time - centre) <= tolerance, (event, centre)
        assert 0.5 <= event.score <= 1.0


def test_detections_land_at_the_keywords(models, recording):
    _, compact, _ = models
    events = KeywordSpotter(compact, hop=0.1, smoothing=0.3, threshold=0.5).detect(recording)
    assert all(isinstance(e, Event) for e in events)
    assert_matches_script(events)


def test_live_stream_gives_the_same_events(models, recording):
    _, compact, _ = models
    spotter = KeywordSpotter(compact, hop=0.1, smoothing=0.3, threshold=0.5)
    expected = spotter.detect(recording)
    rng = np.random.default_rng(3)
    cuts = np.sort(rng.choice(len(recording), 60, replace=False))  # ragged chunks, some tiny
    streamed = list(spotter.stream(np.split(recording, cuts)))
    assert [e.keyword for e in streamed] == [e.keyword for e in expected]
    np.testing.assert_allclose([e.time for e in streamed], [e.time for e in expected])
    np.testing.assert_allclose([e.score for e in streamed], [e.score for e in expected], rtol=1e-5)


def test_pipeline_and_compact_model_agree(models, recording):
    pipe, compact, _ = models
    from_pipeline = KeywordSpotter(pipe, hop=0.2).detect(recording)  # any classifier with predict_proba
    from_compact = KeywordSpotter(compact, hop=0.2).detect(recording)
    assert [e.keyword for e in from_pipeline] == [e.keyword for e in from_compact]
    assert_matches_script(from_compact, tolerance=0.3)


def test_threshold_refractory_and_keywords(models, recording):
    _, compact, _ = models
    only_low = KeywordSpotter(compact, keywords=["low"]).detect(recording)
    assert [e.keyword for e in only_low] == ["low", "low"]
    assert len(KeywordSpotter(compact, refractory=100.0).detect(recording)) == 1
    assert KeywordSpotter(compact, threshold=1.0).detect(recording) == []
    quiet = 0.02 * np.random.default_rng(5).standard_normal(5 * SR).astype(np.float32)
    assert KeywordSpotter(compact).detect(quiet) == []  # noise only: nothing


def test_files_and_the_listen_entry_point(models, recording, tmp_path, capsys):
    _, compact, path = models
    wav = tmp_path / "recording.wav"
    soundfile.write(wav, recording, SR, subtype="PCM_16")
    events = listen_main(path, wav)
    assert_matches_script(events)
    out = capsys.readouterr().out
    assert "low" in out and f"{len(SCRIPT)} keyword(s)" in out
    soundfile.write(tmp_path / "8k.wav", recording[::2], 8000)
    with pytest.raises(ValueError, match="8000 Hz; the model expects 16000 Hz"):
        KeywordSpotter(compact).detect(tmp_path / "8k.wav")


def test_bad_input_is_named(models, recording):
    _, compact, _ = models
    with pytest.raises(ValueError, match="mono"):
        KeywordSpotter(compact).detect(np.stack([recording, recording], axis=1))
    with pytest.raises(ValueError, match="NaN"):
        KeywordSpotter(compact).detect(np.full(SR, np.nan))
    with pytest.raises(ValueError, match="not among the model's classes"):
        KeywordSpotter(compact, keywords=["sheila"]).detect(recording)
    with pytest.raises(ValueError, match="hop"):
        KeywordSpotter(compact, hop=0).detect(recording)
    short = KeywordSpotter(compact).detect(recording[:SR // 2])  # shorter than a window: padded, no crash
    assert isinstance(short, list)


def test_operating_point_round_trips_through_the_artifact(models, recording, tmp_path):
    import shutil

    from sklkws.export import read_metadata
    from sklkws.streaming import store_operating_point

    _, _, path = models
    copy = tmp_path / "calibrated.tflite"
    shutil.copy(path, copy)
    point = {"threshold": 0.93, "smoothing": 0.5, "hop": 0.2, "refractory": 2.0, "target_fa_per_hour": 1.0}
    store_operating_point(copy, point)
    assert read_metadata(copy)["operating_point"] == point
    assert read_metadata(copy)["classes"] == read_metadata(path)["classes"]  # the rest of the description kept
    spotter = KeywordSpotter(copy)
    spotter.reset()
    assert (spotter.threshold_, spotter.smoothing_, spotter.hop_, spotter.refractory_) == (0.93, 0.5, 0.2, 2.0)
    explicit = KeywordSpotter(copy, threshold=0.6)
    explicit.reset()
    assert explicit.threshold_ == 0.6 and explicit.smoothing_ == 0.5  # the caller's value wins
    assert KeywordSpotter(CompactClassifier(copy), hop=0.2, smoothing=0.5, threshold=0.93,
                          refractory=2.0).detect(recording) == KeywordSpotter(copy).detect(recording)
    with pytest.raises(ValueError, match="threshold"):
        store_operating_point(copy, {"threshold": 2.0})


def test_cli_calibrates_plots_and_listens_at_the_stored_point(models, recording, tmp_path, capsys):
    import shutil

    from sklkws.cli import main
    from sklkws.export import read_metadata

    _, compact, path = models
    model = tmp_path / "kws.tflite"
    shutil.copy(path, model)
    negatives = tmp_path / "negatives"
    negatives.mkdir()
    rng = np.random.default_rng(7)
    soundfile.write(negatives / "quiet.wav", (0.02 * rng.standard_normal(20 * SR)).astype(np.float32), SR,
                    subtype="PCM_16")
    soundfile.write(negatives / "tone.wav", recording[:3 * SR], SR, subtype="PCM_16")  # holds one 'low' keyword
    assert main(["listen", str(model), "--calibrate", str(negatives), "--target-fa", "0"]) == 0
    point = read_metadata(model)["operating_point"]
    assert point["fa_per_hour"] == 0.0 and "stored in" in capsys.readouterr().out
    spotter = KeywordSpotter(compact)
    P = spotter.window_posteriors(recording[:3 * SR])
    assert spotter.events_from_posteriors(P, threshold=point["threshold"]) == []  # the 'low' at 1.5 s: not fired
    wav = tmp_path / "recording.wav"
    soundfile.write(wav, recording, SR, subtype="PCM_16")
    png = tmp_path / "timeline.png"
    assert main(["listen", str(model), str(wav), "--plot", str(png)]) == 0
    assert png.stat().st_size > 0
    printed = capsys.readouterr().out
    expected = KeywordSpotter(compact, threshold=point["threshold"]).detect(recording)
    assert f"{len(expected)} keyword(s)" in printed  # the stored threshold is the default
