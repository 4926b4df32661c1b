"""The compact exporter: one TFLite file per fitted pipeline, run without TensorFlow, checked.

A tiny CNN learns tone "keywords" (fast and exact to build); every check compares the
exported file with the pipeline it came from on the same clips.
"""

import json
import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pytest
from imblearn.pipeline import Pipeline as ImbPipeline
from sklearn.base import clone
from sklearn.ensemble import VotingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklkws.augment import AddNoise
from sklkws.export import (
    DEVICE_MODELS,
    CompactClassifier,
    CompactLimitError,
    build_inference_model,
    compact_report,
    device_latency_scorer,
    estimate_device_latency,
    export_compact,
    export_main,
    inference_macs,
    make_budget_scorer,
    make_size_scorer,
    model_size_scorer,
    read_metadata,
    sidecar_path,
    tflite_macs,
)
from sklkws.device._compact import _interpreter_class
from sklkws.features import MelFeatures
from sklkws.models import KerasCNNClassifier, count_macs
from sklkws.preprocessing import Normalizer, Preemphasis, TrimSilence

from _tones import SR
import _tones

TONES = {"low": 400.0, "mid": 1200.0, "high": 3000.0}


def make_tones(n, rng):
    return _tones.make_tones(n, rng, TONES)


def tiny_cnn(**kwargs):
    # batch_size 8: enough steps for BatchNorm's moving statistics to settle in a few epochs
    return KerasCNNClassifier("cnn9", {"filters": (4, 8)}, learning_rate=1e-2, batch_size=8, random_state=0,
                              **{"epochs": 6, **kwargs})


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return make_tones(240, rng), make_tones(200, rng)


@pytest.fixture(scope="module")
def pipe(data):
    (X, y), _ = data
    return make_pipeline(Preemphasis(), Normalizer(), MelFeatures(n_mels=20, hop_length=320), tiny_cnn()).fit(X, y)


@pytest.fixture(scope="module")
def exported(pipe, data, tmp_path_factory):
    """Each quantisation written once; export_compact raises if a check fails."""
    (X, _), (Xv, yv) = data
    folder = tmp_path_factory.mktemp("compact")
    out = {}
    for quantize in (None, "float16", "int8"):
        path = folder / f"model_{quantize}.tflite"
        report = export_compact(pipe, path, quantize, X, validation_data=(Xv, yv), verbose=False)
        out[quantize] = path, report
    return out


def test_the_tiny_model_learned(pipe, data):
    _, (Xv, yv) = data
    assert pipe.score(Xv, yv) > 0.9  # parity below is only meaningful for a model that works


@pytest.mark.parametrize("quantize", [None, "float16"])
def test_float_exports_predict_like_the_pipeline(exported, pipe, data, quantize):
    _, (Xv, yv) = data
    path, report = exported[quantize]
    compact = CompactClassifier(path)
    assert list(compact.classes_) == list(pipe.classes_)
    proba = compact.predict_proba(Xv)
    np.testing.assert_allclose(proba, pipe.predict_proba(Xv), atol=1e-3 if quantize else 1e-4)
    assert np.mean(compact.predict(Xv) == pipe.predict(Xv)) >= 0.99
    assert report["parity"]["agreement"] >= 0.99 and report["parity"]["passed"]


def test_int8_keeps_accuracy_and_quantises_only_the_network(exported, pipe, data):
    _, (Xv, yv) = data
    path, report = exported["int8"]
    compact = CompactClassifier(path)
    assert abs(compact.score(Xv, yv) - pipe.score(Xv, yv)) <= 0.005
    assert report["parity"]["passed"] and abs(report["parity"]["accuracy_change_points"]) <= 0.5
    # TensorFlow's bundled interpreter: ai-edge-litert's beside TensorFlow crashes later training.
    Interpreter = _interpreter_class()

    interpreter = Interpreter(model_path=str(path))
    tensors = {d["index"]: d for d in interpreter.get_tensor_details()}
    kinds = {}
    for op in interpreter._get_ops_details():
        kinds.setdefault(op["op_name"], set()).add(tensors[op["inputs"][0]]["dtype"].__name__)
    assert kinds["CONV_2D"] == {"int8"}  # the network runs in int8 ...
    assert kinds["RFFT2D"] == {"float32"} and kinds["LOG"] == {"float32"}  # ... the front end in float32
    assert path.stat().st_size < exported[None][0].stat().st_size


def test_quantised_front_end_keeps_loudness_normalisation_float(pipe, data, tmp_path):
    (X, _), (Xv, _) = data
    path = tmp_path / "frontend_int8.tflite"
    export_compact(pipe, path, "int8", X, quantize_frontend=True, check=False, verbose=False)
    quiet = np.concatenate([Xv[:2], np.zeros((1, SR), np.float32), 1e-6 * Xv[:1]])
    proba = CompactClassifier(path).predict_proba(quiet)  # a quantised peak of 0 aborted the DIV
    assert np.isfinite(proba).all() and np.allclose(proba.sum(axis=1), 1, atol=1e-2)
    interpreter = _interpreter_class()(model_path=str(path))
    tensors = {d["index"]: d for d in interpreter.get_tensor_details()}
    kinds = {}
    for op in interpreter._get_ops_details():
        kinds.setdefault(op["op_name"], set()).add(tensors[op["inputs"][0]]["dtype"].__name__)
    assert kinds["DIV"] == {"float32"} and kinds["CONV_2D"] == {"int8"}


def test_exporting_keeps_litert_out_of_the_tensorflow_process(exported):
    # ai-edge-litert's native library beside TensorFlow's crashed later Keras training
    # (a worker died in CI) and corrupted the heap at exit.
    assert "ai_edge_litert" not in sys.modules


def test_report_has_every_check(exported):
    for path, report in exported.values():
        assert report["size_bytes"] == path.stat().st_size <= 5_000_000
        assert report["latency_runs"] >= 100 and report["latency_ms"] > 0
        assert report["macs"] == tflite_macs(path)
        assert set(report["estimated_latency_ms"]) == set(DEVICE_MODELS)
        assert report["estimated_latency_ms"]["pi3b"] == pytest.approx(estimate_device_latency(report["macs"], "pi3b"))
        assert report["estimated_latency_ms"]["pi3b"] > report["estimated_latency_ms"]["pi4"]
        assert report["passed"] and report["failures"] == []


def test_macs_of_the_graph_match_the_keras_count(exported, pipe):
    path, _ = exported[None]
    network = count_macs(pipe[-1].model_)
    n_frames = 1 + SR // 320
    frontend = n_frames * 512 * 9 + n_frames * 257 * 20  # FFT n log2 n per frame, then the mel product
    assert tflite_macs(path) == inference_macs(pipe) == network + frontend


def test_keras_count_equals_the_graph_count_for_every_counted_layer():
    # count_macs (Keras, before conversion) and tflite_macs (the exported graph, the reference)
    # are two counters by the same formulas: held equal on each kind of layer they count.
    import keras

    from sklkws.device._macs import fft_macs
    from sklkws.export import to_tflite

    keras.utils.set_random_seed(0)
    inputs = keras.Input((400,))
    x = keras.layers.Reshape((20, 20, 1))(inputs)
    x = keras.layers.Conv2D(4, 3, padding="same")(x)
    x = keras.layers.DepthwiseConv2D(3, depth_multiplier=2)(x)
    x = keras.layers.SeparableConv2D(6, 3, padding="same")(x)
    x = keras.layers.Conv2D(6, (3, 1), groups=2)(x)
    x = keras.layers.Conv2DTranspose(3, 2, strides=2)(x)
    y = keras.layers.Conv1D(5, 3)(keras.layers.Reshape((400, 1))(inputs))
    x = keras.layers.Concatenate()([keras.layers.GlobalAveragePooling2D()(x), keras.layers.GlobalAveragePooling1D()(y)])
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Dense(7)(x)))
    assert tflite_macs(to_tflite(model)) == count_macs(model) > 0
    assert fft_macs(101, 512) == 101 * 512 * 9 and fft_macs(3, 1) == 0


def test_metadata_travels_inside_the_file(exported, pipe, tmp_path):
    path, _ = exported["int8"]
    metadata = read_metadata(path)
    assert metadata == json.loads(sidecar_path(path).read_text())
    assert metadata["classes"] == list(pipe.classes_)
    assert metadata["n_samples"] == SR and metadata["sample_rate"] == SR and metadata["quantize"] == "int8"
    assert [step["step"] for step in metadata["frontend"]] == ["Preemphasis", "Normalizer", "MelFeatures"]
    assert metadata["frontend"][2]["params"]["n_mels"] == 20
    alone = tmp_path / "alone.tflite"  # no JSON beside it: the embedded copy is enough
    alone.write_bytes(path.read_bytes())
    assert CompactClassifier(alone).metadata_ == metadata


def test_compact_classifier_runs_without_tensorflow_keras_librosa(exported, data, tmp_path):
    _, (Xv, _) = data
    path, _ = exported["int8"]
    compact = CompactClassifier(path)
    joblib.dump(compact, tmp_path / "compact.joblib")
    np.save(tmp_path / "clips.npy", Xv[:20])
    script = textwrap.dedent(f"""
        import importlib.abc, sys
        BLOCKED = {{"tensorflow", "keras", "librosa", "sklearn", "tf_keras"}}
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ImportError(f"{{name}} is blocked in this test")
        sys.meta_path.insert(0, Block())
        import joblib, numpy as np
        from sklkws.device import CompactClassifier
        X = np.load({str(tmp_path / "clips.npy")!r})
        safe = CompactClassifier({str(path)!r})  # the safe path: file + metadata, no pickle
        pickled = joblib.load({str(tmp_path / "compact.joblib")!r})  # the convenience path
        np.save({str(tmp_path / "safe.npy")!r}, safe.predict_proba(X))
        np.save({str(tmp_path / "pickled.npy")!r}, pickled.predict_proba(X))
        assert not BLOCKED & set(m.split(".")[0] for m in sys.modules), sorted(sys.modules)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    expected = compact.predict_proba(Xv[:20])
    np.testing.assert_array_equal(np.load(tmp_path / "safe.npy"), expected)
    np.testing.assert_array_equal(np.load(tmp_path / "pickled.npy"), expected)


def test_compact_classifier_input_checks(exported, data):
    _, (Xv, _) = data
    compact = CompactClassifier(exported[None][0])
    pcm = np.round(Xv[:4] * 32767).astype(np.int16)
    np.testing.assert_allclose(compact.predict_proba(pcm), compact.predict_proba(pcm / np.float32(32768)), atol=1e-6)
    with pytest.raises(ValueError, match="8000 samples; this model takes 16000"):
        compact.predict(Xv[:2, :8000])
    with pytest.raises(ValueError, match="stereo"):
        compact.predict(np.stack([Xv[:2], Xv[:2]], axis=-1))
    with pytest.raises(ValueError, match="NaN"):
        compact.predict(np.full((1, SR), np.nan, dtype=np.float32))
    with pytest.raises(ValueError, match="2-D"):
        compact.predict(Xv[0])
    assert len(compact.predict_proba(np.tile(Xv[:1], (150, 1)))) == 150  # more than one batch


def test_voting_classifier_becomes_one_graph(data, tmp_path):
    (X, y), (Xv, _) = data
    members = [
        ("logmel", make_pipeline(Normalizer(), MelFeatures(n_mels=20, hop_length=320), tiny_cnn(epochs=1))),
        ("mfcc", make_pipeline(MelFeatures("mfcc", n_mels=20, n_mfcc=10, hop_length=400), tiny_cnn(epochs=1))),
    ]
    ensemble = VotingClassifier(members, voting="soft", weights=[2, 1]).fit(X[:80], y[:80])
    graph = build_inference_model(ensemble)
    np.testing.assert_allclose(graph.predict(Xv, verbose=0), ensemble.predict_proba(Xv), atol=1e-5)
    report = export_compact(ensemble, tmp_path / "vote.tflite", None, validation_data=(Xv,), verbose=False)
    assert report["parity"]["agreement"] >= 0.99
    np.testing.assert_allclose(CompactClassifier(tmp_path / "vote.tflite").predict_proba(Xv),
                               ensemble.predict_proba(Xv), atol=1e-4)
    ensemble.set_params(voting="hard")  # same fitted members, one-hot votes
    votes = build_inference_model(ensemble).predict(Xv, verbose=0)
    np.testing.assert_allclose(votes * 3, np.round(votes * 3), atol=1e-5)  # weighted shares of 2 + 1 votes
    np.testing.assert_allclose(votes.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(ensemble.classes_[votes.argmax(axis=1)], ensemble.predict(Xv))


def test_distilled_model_exports_its_student_alone(data, tmp_path):
    from sklkws.distillation import DistilledClassifier

    (X, y), (Xv, _) = data
    net = tiny_cnn(epochs=1, frontend=MelFeatures(n_mels=20, hop_length=320))
    vote = VotingClassifier([("a", net), ("b", clone(net).set_params(random_state=1))], voting="soft")
    model = make_pipeline(Normalizer(), DistilledClassifier(vote, net)).fit(X[:80], y[:80])
    student = model[-1].student_
    assert inference_macs(model) == inference_macs(make_pipeline(model[0], student))  # one network, not three
    report = export_compact(model, tmp_path / "student.tflite", None, validation_data=(Xv,), verbose=False)
    assert report["parity"]["agreement"] >= 0.99
    compact = CompactClassifier(tmp_path / "student.tflite")
    assert list(compact.classes_) == list(model.classes_)  # the labels, not the student's codes
    np.testing.assert_allclose(compact.predict_proba(Xv), model.predict_proba(Xv), atol=1e-4)
    np.testing.assert_array_equal(compact.predict(Xv), model.predict(Xv))


def test_multilabel_export_keeps_sigmoid_outputs(data, tmp_path):
    (X, y), (Xv, _) = data
    Y = np.stack([y == "low", y == "high"], axis=1).astype(int)  # two independent tags
    pipe = make_pipeline(MelFeatures(n_mels=20, hop_length=320), tiny_cnn(epochs=1)).fit(X[:80], Y[:80])
    export_compact(pipe, tmp_path / "tags.tflite", None, validation_data=(Xv[:40],), verbose=False)
    compact = CompactClassifier(tmp_path / "tags.tflite")
    assert compact.multilabel_ and compact.metadata_["multilabel"]
    np.testing.assert_allclose(compact.predict_proba(Xv[:40]), pipe.predict_proba(Xv[:40]), atol=1e-4)
    np.testing.assert_array_equal(compact.predict(Xv[:40]), pipe.predict(Xv[:40]))


def test_samplers_are_skipped_and_unsupported_steps_named(pipe, data):
    (X, y), (Xv, _) = data
    noise = AddNoise(random_state=0).fit(X[:10], y[:10])
    with_sampler = ImbPipeline([("noise", noise), *pipe.steps])
    np.testing.assert_allclose(build_inference_model(with_sampler).predict(Xv[:16], verbose=0),
                               pipe.predict_proba(Xv[:16]), atol=1e-5)
    trimmed = make_pipeline(TrimSilence().fit(X[:2]), *[step for _, step in pipe.steps])
    with pytest.raises(ValueError, match="TrimSilence"):
        build_inference_model(trimmed)
    linear = make_pipeline(MelFeatures(flatten=True), StandardScaler(), LogisticRegression()).fit(X[:40], y[:40])
    with pytest.raises(ValueError, match="StandardScaler"):
        build_inference_model(linear)
    with pytest.raises(ValueError, match="takes examples of shape"):
        build_inference_model(pipe[-1])  # the network alone wants features, not audio


def test_limits_fail_loudly(exported, pipe, data, tmp_path):
    _, (Xv, yv) = data
    with pytest.raises(CompactLimitError, match="size .* budget 'pi' needs < 1,000") as error:
        export_compact(pipe, tmp_path / "big.tflite", None, max_size_bytes=1000, verbose=False)
    assert not error.value.report["passed"] and (tmp_path / "big.tflite").exists()
    report = compact_report(exported[None][0], max_device_latency_ms=1e-3, n_runs=100)
    assert not report["passed"] and "estimated pi3b latency" in report["failures"][0]

    class Constant:  # an "original" model that disagrees with the export
        def predict(self, X):
            return np.full(len(X), "_silence_")

    # Judged on labels the original gets all right, the export is far worse: parity fails.
    silence = np.full(len(Xv), "_silence_")
    report = compact_report(exported["int8"][0], estimator=Constant(), X=Xv, y=silence, n_runs=100)
    assert not report["parity"]["passed"] and "parity failed" in report["failures"][0]
    # On the true labels the export is the better one: a one-sided check passes it.
    report = compact_report(exported["int8"][0], estimator=Constant(), X=Xv, y=yv, n_runs=10)
    assert report["parity"]["accuracy_change_points"] > 0 and report["parity"]["passed"]


def test_scorers_in_cross_validation(data):
    (X, y), _ = data
    budget = make_budget_scorer(max_device_latency_ms=1e-3, max_size_bytes=None)
    scores = cross_validate(
        make_pipeline(MelFeatures(n_mels=20, hop_length=320), tiny_cnn(epochs=1)), X[:80], y[:80], cv=2,
        scoring={"accuracy": "accuracy", "size": make_size_scorer("float16"), "pi3b_ms": device_latency_scorer,
                 "budget": budget},
        return_estimator=True,
    )
    fitted = scores["estimator"][0]
    assert np.all(scores["test_size"] < 0) and np.all(-scores["test_size"] <= 5_000_000)
    assert scores["test_pi3b_ms"][0] == pytest.approx(-estimate_device_latency(inference_macs(fitted), "pi3b"))
    # Over the (absurd) latency budget: the score is pushed below every score within budget.
    np.testing.assert_allclose(scores["test_budget"], scores["test_accuracy"] - 1.0)


def test_size_scorer_counts_the_exported_bytes(exported, pipe, data):
    (X, y), _ = data
    assert -model_size_scorer(pipe, X[:100], y[:100]) == exported["int8"][0].stat().st_size
    within = make_budget_scorer(quantize=None, max_size_bytes=5_000_000)  # converts: checks the size too
    assert within(pipe, X[:60], y[:60]) == pytest.approx(pipe.score(X[:60], y[:60]))


def test_export_main_from_a_joblib_file(pipe, data, tmp_path, capsys):
    (X, y), _ = data
    joblib.dump(pipe, tmp_path / "model.joblib")
    np.savez(tmp_path / "clips.npz", X=X[:60], y=y[:60])
    status = export_main(tmp_path / "model.joblib", tmp_path / "out.tflite", quantize="float16",
                         data=tmp_path / "clips.npz")
    assert status == 0 and "PASSED" in capsys.readouterr().out
    assert CompactClassifier(tmp_path / "out.tflite").score(X[:60], y[:60]) == pytest.approx(pipe.score(X[:60], y[:60]))
    with pytest.raises(ValueError, match="int8 export needs calibration clips"):
        export_main(tmp_path / "model.joblib", tmp_path / "int8.tflite", quantize="int8")
