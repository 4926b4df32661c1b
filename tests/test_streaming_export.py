"""The streaming pair: frames computed once per stream give the whole-window model's posteriors."""

import numpy as np
import pytest
from sklearn.ensemble import VotingClassifier
from sklearn.pipeline import make_pipeline

from _tones import make_recording, make_tones
from sklkws.device import CompactClassifier
from sklkws.device._stream import StreamingModel
from sklkws.export import export_compact, to_compact
from sklkws.features import MelFeatures
from sklkws.models import KerasCNNClassifier
from sklkws.preprocessing import Normalizer, Preemphasis
from sklkws.streaming import KeywordSpotter, store_operating_point

SR = 16000
TONES = {"low": 400.0, "mid": 1200.0, "high": 3000.0}


def same_events(a, b):
    """Same keywords at the same times, scores equal to float32 rounding."""
    return [(e.time, e.keyword) for e in a] == [(e.time, e.keyword) for e in b] and np.allclose(
        [e.score for e in a], [e.score for e in b], atol=1e-5)


def network(seed=0, **params):
    return KerasCNNClassifier("cnn9", {"filters": (4, 8)}, learning_rate=1e-2, batch_size=16, epochs=3,
                              random_state=seed, **params)


@pytest.fixture(scope="module")
def data():
    return make_tones(150, np.random.default_rng(0), TONES)


@pytest.fixture(scope="module")
def recording(data):
    """Twenty clips end to end at varied levels, with an odd tail: windows off the clip grid."""
    return make_recording(data[0], np.random.default_rng(3))


@pytest.fixture(scope="module")
def pipeline(data):
    # Front end in the pipeline: a peak Normalizer, then log-mels with the hop the spotter's hop divides.
    return make_pipeline(Normalizer(), MelFeatures(n_mels=20, hop_length=320), network()).fit(*data)


@pytest.fixture(scope="module")
def vote(data):
    # The recommended vote's shape: each member's log-mels inside the classifier, different band counts.
    members = [(f"m{i}", make_pipeline(Normalizer(), network(i, frontend=MelFeatures(n_mels=n, hop_length=320))))
               for i, n in enumerate((20, 32))]
    return VotingClassifier(members, voting="soft").fit(*data)


def test_float_pair_gives_the_windowed_posteriors(pipeline, data, recording):
    compact = to_compact(pipeline, quantize=None, streaming=True)
    windowed, streaming = KeywordSpotter(compact, streaming=False), KeywordSpotter(compact)
    P, Q = windowed.window_posteriors(recording), streaming.window_posteriors(recording)
    assert streaming.streaming_ is not None and windowed.streaming_ is None
    assert P.shape == Q.shape and P.std() > 0.05  # a model whose posteriors move
    np.testing.assert_allclose(Q, P, atol=1e-5)
    assert same_events(streaming.detect(recording), windowed.detect(recording))


def test_live_chunks_reuse_frames_and_give_the_same_events(pipeline, recording):
    compact = to_compact(pipeline, quantize=None, streaming=True)
    expected = KeywordSpotter(compact, streaming=False, threshold=0.6).detect(recording)
    spotter = KeywordSpotter(compact, threshold=0.6).reset()
    events = []
    for start in range(0, len(recording), 1237):  # chunks that split frames and windows anywhere
        events += spotter.process(recording[start:start + 1237])
    events += spotter.flush()
    assert expected and same_events(events, expected)


def test_off_grid_hop_still_matches(pipeline, recording):
    compact = to_compact(pipeline, quantize=None, streaming=True)
    # 0.105 s = 1680 samples, not a multiple of the 320-sample frame hop: nothing shared, still exact.
    P = KeywordSpotter(compact, streaming=False, hop=0.105).window_posteriors(recording)
    Q = KeywordSpotter(compact, hop=0.105).window_posteriors(recording)
    np.testing.assert_allclose(Q, P, atol=1e-5)


def test_int8_vote_of_two_front_ends(vote, data, recording, tmp_path):
    X, _ = data
    path = tmp_path / "vote.tflite"
    export_compact(vote, path, "int8", X[:60], check=False, verbose=False, streaming=True)
    compact = CompactClassifier(path)
    assert compact.metadata_["streaming"]["n_bins"] == 20 + 32
    P = KeywordSpotter(compact, streaming=False).window_posteriors(recording)
    Q = KeywordSpotter(compact).window_posteriors(recording)
    # The int8 networks requantise float32-rounded inputs: a few output steps of 1/256 at most.
    assert np.abs(Q - P).max() <= 4 / 256
    # Storing an operating point rewrites the metadata and keeps the embedded pair.
    store_operating_point(path, {"threshold": 0.8})
    spotter = KeywordSpotter(str(path))
    spotter.window_posteriors(recording[:3 * SR])
    assert spotter.threshold_ == 0.8 and spotter.streaming_ is not None


def test_what_cannot_stream_is_named(data, pipeline):
    X, y = data
    pre = make_pipeline(Preemphasis(), MelFeatures(n_mels=20, hop_length=320), network()).fit(X[:40], y[:40])
    with pytest.raises(ValueError, match="Cannot stream.*Preemphasis"):
        to_compact(pre, quantize=None, streaming=True)
    plain = to_compact(pipeline, quantize=None)
    assert KeywordSpotter(plain).reset().streaming_ is None  # auto: the whole-window model
    with pytest.raises(ValueError, match="no streaming pair.*--streaming"):
        KeywordSpotter(plain, streaming=True).reset()
    with pytest.raises(ValueError, match="no streaming pair"):
        StreamingModel(plain)
