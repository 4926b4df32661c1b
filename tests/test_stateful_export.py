"""The stateful step graph: each hop's new frames through the network give the whole-window posteriors."""

import keras
import numpy as np
import pytest
from sklearn.pipeline import make_pipeline

from _tones import make_recording, make_tones
from sklkws.device._stream import StatefulModel, StreamingModel
from sklkws.export import build_stateful_step, to_compact
from sklkws.features import MelFeatures
from sklkws.models import KerasCNNClassifier, build_model
from sklkws.preprocessing import Normalizer
from sklkws.streaming import KeywordSpotter

TONES = {"low": 400.0, "mid": 1200.0, "high": 3000.0}
# 20 ms frames: a clip has 49 (center=False), the spotter's 0.1 s hop is 5 of them.
STREAM_FRONT_END = {"n_mels": 20, "hop_length": 320, "center": False, "top_db": None}
SMALL = {"stem_filters": 8, "stage_filters": (8, 12, 12), "kernel_size": 3, "dilations": (1, 2, 4), "bn_momentum": 0.8}


def randomised(network, seed=0):
    """Batch-norm statistics far from the identity, so that a wrong frame alignment shows."""
    rng = np.random.default_rng(seed)
    for layer in network.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            shapes = [w.shape for w in layer.get_weights()]
            layer.set_weights([rng.uniform(0.5, 1.5, shapes[0]), rng.normal(0, 0.3, shapes[1]),
                               rng.normal(0, 0.3, shapes[2]), rng.uniform(0.5, 2.0, shapes[3])])
    return network


def stream_through(step, n_state, features, hop):
    """Step a (n_bins, T) feature stream hop by hop from zero state; one output per hop."""
    state, out = np.zeros((1, n_state), np.float32), []
    for i in range(features.shape[1] // hop):
        proba, state = step([features[None, :, i * hop:(i + 1) * hop], state])
        state = np.asarray(state)
        out.append(np.asarray(proba)[0])
    return np.array(out)


@pytest.mark.parametrize("hop, stem2d", [(1, 0), (7, 4), (30, 0)])  # a pool longer than the hop, one shorter
def test_step_graph_gives_the_whole_window_network(hop, stem2d):
    network = randomised(build_model("tcresnet_stream", (20, 49), 4, **SMALL, stem2d=stem2d))
    step, n_state = build_stateful_step(network, hop)
    rng = np.random.default_rng(1)
    features = rng.normal(size=(20, 49 + 6 * hop)).astype(np.float32)
    expected = network.predict(np.stack([features[:, s:s + 49] for s in range(0, 6 * hop + 1, hop)]), verbose=0)
    # Warm-up hops before the first whole window start from zero state: their outputs are not windows.
    warm = -(-49 // hop) * hop - 49
    padded = np.concatenate([np.repeat(features[:, :1], warm, axis=1), features], axis=1)
    got = stream_through(step, n_state, padded, hop)[-len(expected):]
    assert expected.std() > 0.01
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_networks_that_see_window_edges_are_refused_naming_the_layer():
    with pytest.raises(ValueError, match=r"network 'tcresnet': layer 'conv1d.*pads .'same'."):
        build_stateful_step(build_model("tcresnet", (20, 49), 4, stage_filters=(8,), blocks_per_stage=1), 5)

    def net(*middle):
        return keras.Sequential([keras.Input((20, 49)), keras.layers.Permute((2, 1)), *middle,
                                 keras.layers.GlobalAveragePooling1D()])

    with pytest.raises(ValueError, match="has stride 2"):
        build_stateful_step(net(keras.layers.Conv1D(4, 3, strides=2)), 5)
    with pytest.raises(ValueError, match="drops the newest frames"):
        build_stateful_step(net(keras.layers.Cropping1D((0, 2))), 5)
    with pytest.raises(ValueError, match="Flatten.*not a layer the step form supports"):
        build_stateful_step(keras.Sequential([keras.Input((20, 49)), keras.layers.Flatten(),
                                              keras.layers.Dense(4)]), 5)
    with pytest.raises(ValueError, match="receptive field is 59 frames"):
        build_model("tcresnet_stream", (20, 49), 4)


@pytest.fixture(scope="module")
def data():
    return make_tones(150, np.random.default_rng(0), TONES)


@pytest.fixture(scope="module")
def recording(data):
    return make_recording(data[0], np.random.default_rng(3))


@pytest.fixture(scope="module")
def pipeline(data):
    network = KerasCNNClassifier("tcresnet_stream", SMALL, learning_rate=1e-2, batch_size=16, epochs=4,
                                 random_state=0)
    return make_pipeline(MelFeatures(**STREAM_FRONT_END), network).fit(*data)


def same_events(a, b, atol=1e-5):
    return [(e.time, e.keyword) for e in a] == [(e.time, e.keyword) for e in b] and np.allclose(
        [e.score for e in a], [e.score for e in b], atol=atol)


def test_exported_step_graph_gives_the_windowed_posteriors(pipeline, recording):
    compact = to_compact(pipeline, quantize=None, streaming=True)
    assert compact.metadata_["stateful"]["hop_frames"] == 5
    windowed, stateful = KeywordSpotter(compact, streaming=False), KeywordSpotter(compact)
    P, Q = windowed.window_posteriors(recording), stateful.window_posteriors(recording)
    assert isinstance(stateful.streaming_, StatefulModel)
    assert P.shape == Q.shape and P.std() > 0.05
    np.testing.assert_allclose(Q, P, atol=1e-5)
    # Live chunks that split frames, hops and windows anywhere: the state carries between them.
    expected = windowed.detect(recording)
    stateful.reset()
    events = []
    for start in range(0, len(recording), 1237):
        events += stateful.process(recording[start:start + 1237])
    events += stateful.flush()
    assert expected and same_events(events, expected)


def test_int8_step_graph_is_as_faithful_as_the_int8_windowed_model(pipeline, data, recording):
    # Quantised, the two forms round differently; each is judged against the float model.
    F = KeywordSpotter(to_compact(pipeline, quantize=None), streaming=False).window_posteriors(recording)
    compact = to_compact(pipeline, data[0][:100], quantize="int8", streaming=True)
    P = KeywordSpotter(compact, streaming=False).window_posteriors(recording)
    Q = KeywordSpotter(compact, streaming="stateful").window_posteriors(recording)
    assert np.abs(Q - F).mean() <= max(1.5 * np.abs(P - F).mean(), 2 / 256)
    assert (Q.argmax(1) == F.argmax(1)).mean() >= (P.argmax(1) == F.argmax(1)).mean() - 0.02


def test_other_hops_and_other_models_fall_back_to_the_pair(pipeline, data, recording):
    compact = to_compact(pipeline, quantize=None, streaming=True)
    spotter = KeywordSpotter(compact, hop=0.06)  # 3 frames, not the step graph's 5: the pair serves
    spotter.window_posteriors(recording[:3 * 16000])
    assert type(spotter.streaming_) is StreamingModel
    with pytest.raises(ValueError, match="advances by 1600 samples"):
        KeywordSpotter(compact, hop=0.06, streaming="stateful").window_posteriors(recording)
    with pytest.raises(ValueError, match="streaming must be None, True, False, 'pair' or 'stateful'"):
        KeywordSpotter(compact, streaming="step").window_posteriors(recording)
    # A peak-normalised front end depends on the whole window: the pair alone, and the metadata says why.
    other = make_pipeline(Normalizer(), MelFeatures(**STREAM_FRONT_END),
                          KerasCNNClassifier("tcresnet_stream", SMALL, epochs=1, random_state=0)).fit(*data)
    compact = to_compact(other, quantize=None, streaming=True)
    assert "Normalizer" in compact.metadata_["stateful"]["refused"]
    spotter = KeywordSpotter(compact)
    spotter.window_posteriors(recording[:2 * 16000])
    assert type(spotter.streaming_) is StreamingModel
    with pytest.raises(ValueError, match="carries no stateful step graph.*Normalizer"):
        KeywordSpotter(compact, streaming="stateful").window_posteriors(recording)


def test_export_report_counts_the_step_graph_per_hop(pipeline, data, tmp_path):
    from sklkws.export import export_compact, format_report

    report = export_compact(pipeline, tmp_path / "kws.tflite", None, streaming=True, verbose=False)
    stream = report["streaming"]
    assert stream["form"] == "step" and stream["hop_seconds"] == 0.1
    # A hop's step: 5 new frames through the network, where the whole-window model runs 49 per window.
    assert 0 < stream["macs_per_hop"] < report["macs"] / 3
    assert "step graph:" in format_report(report)
    plain = make_pipeline(Normalizer(), MelFeatures(**STREAM_FRONT_END),
                          KerasCNNClassifier("tcresnet_stream", SMALL, epochs=1, random_state=0)).fit(*data)
    report = export_compact(plain, tmp_path / "pair.tflite", None, streaming=True, verbose=False)
    assert report["streaming"]["form"] == "pair" and "pair only (no step graph" in format_report(report)
