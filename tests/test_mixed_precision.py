"""Mixed precision: 16-bit compute with float32 weights and output, trained, pickled and exported in float32.

The tone task of the export tests is small enough for CPU runs; on CPU the mixed policies are
slower than float32 (no tensor cores), so these tests check behaviour, never speed.
"""

import warnings

import joblib
import keras
import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError

from sklkws.export import CompactClassifier, export_compact
from sklkws.features import MelFeatures
from sklkws.models import (KerasCNNClassifier, KerasResNetClassifier, build_model, float32_model,
                           register_architecture)
from sklkws.models._architectures import ARCHITECTURES

import _tones

TONES = {"low": 400.0, "mid": 1200.0, "high": 3000.0}


@pytest.fixture(scope="module")
def tones():
    rng = np.random.default_rng(0)
    return _tones.make_tones(160, rng, TONES), _tones.make_tones(120, rng, TONES)


@pytest.fixture(scope="module")
def mixed(tones):
    (X, y), _ = tones
    # 10 epochs: float16 on a CPU learns at a speed that depends on the CPU's float16 support
    # (six epochs scored 0.875 on a CPU with AVX512-FP16, over 0.9 on others; float32 1.0).
    clf = KerasCNNClassifier("cnn9", {"filters": (4, 8)}, frontend=MelFeatures(n_mels=20, hop_length=320),
                             learning_rate=1e-2, batch_size=8, epochs=10, precision="mixed_float16", random_state=0)
    return clf.fit(X, y)


@pytest.mark.parametrize("precision, compute", [("mixed_float16", "float16"), ("mixed_bfloat16", "bfloat16")])
def test_build_model_computes_in_16_bits_with_a_float32_output(precision, compute):
    before = keras.config.dtype_policy().name
    model = build_model("tcresnet", (20, 51), 4, precision=precision)
    inner = [layer for layer in model.layers if layer.name != "output" and layer.weights]
    assert inner and all(layer.compute_dtype == compute for layer in inner)
    assert all(w.dtype == "float32" for w in model.weights)  # the weights stay float32
    assert model.get_layer("output").compute_dtype == "float32" and model.output.dtype == "float32"
    assert keras.config.dtype_policy().name == before  # the global policy is restored
    assert build_model("tcresnet", (20, 51), 4).layers[3].compute_dtype == "float32"


def test_global_policy_is_restored_when_the_builder_fails():
    before = keras.config.dtype_policy().name
    with pytest.raises(ValueError, match="Bad arch_params for 'tcresnet'"):
        build_model("tcresnet", (20, 51), 4, precision="mixed_float16", no_such_parameter=1)
    assert keras.config.dtype_policy().name == before
    with pytest.raises(ValueError, match="precision must be one of"):
        build_model("tcresnet", (20, 51), 4, precision="float16")


def test_a_user_builder_gets_a_float32_output():
    name = "_test_plain_dense"

    @register_architecture(name)
    def build(input_shape, n_outputs, *, output_activation="softmax", l2=0.0, dropout=0.0):
        inputs = keras.Input(input_shape)
        x = keras.layers.Flatten()(inputs)
        return keras.Model(inputs, keras.layers.Dense(n_outputs, activation=output_activation)(x))

    try:
        model = build_model(name, (4, 5), 3, precision="mixed_float16")
        assert model.layers[-2].compute_dtype == "float16"
        assert model.output.dtype == "float32" and model.layers[-1].name == "output_float32"
    finally:
        del ARCHITECTURES[name]


def test_float32_model_holds_the_same_weights_and_computes_what_mixed_approximates():
    model = build_model("tcresnet", (20, 51), 4, precision="mixed_float16")
    copy = float32_model(model)
    assert copy is not model
    assert all(layer.compute_dtype == "float32" for layer in copy.layers)
    for a, b in zip(model.get_weights(), copy.get_weights()):
        np.testing.assert_array_equal(a, b)
    x = np.random.default_rng(0).standard_normal((3, 20, 51)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(copy(x)), np.asarray(model(x)), atol=5e-3)
    plain = build_model("tcresnet", (20, 51), 4)
    assert float32_model(plain) is plain


def test_mixed_classifier_learns_with_loss_scaling(mixed, tones):
    _, (Xv, yv) = tones
    assert isinstance(mixed.model_.optimizer, keras.optimizers.LossScaleOptimizer)
    assert mixed.model_.layers[2].compute_dtype == "float16"
    assert mixed.score(Xv, yv) > 0.9
    proba = mixed.predict_proba(Xv)
    assert proba.dtype == np.float64 and np.allclose(proba.sum(axis=1), 1.0)
    assert keras.config.dtype_policy().name == "float32"


def test_mixed_classifier_pickles_with_its_policy_and_optimizer_state(mixed, tones, tmp_path):
    _, (Xv, _) = tones
    joblib.dump(mixed, tmp_path / "mixed.joblib")
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="Skipping variable loading")  # optimizer state dropped
        loaded = joblib.load(tmp_path / "mixed.joblib")
    assert loaded.model_.layers[2].compute_dtype == "float16"
    assert isinstance(loaded.model_.optimizer, keras.optimizers.LossScaleOptimizer)
    assert int(loaded.model_.optimizer.iterations) == int(mixed.model_.optimizer.iterations) > 0
    np.testing.assert_allclose(loaded.predict_proba(Xv), mixed.predict_proba(Xv), atol=1e-6)


def test_a_finished_mixed_checkpoint_loads_with_loss_scaling(tones, tmp_path):
    (X, y), _ = tones
    params = dict(arch="cnn9", arch_params={"filters": (4, 8)}, frontend=MelFeatures(n_mels=20, hop_length=320),
                  batch_size=16, epochs=2, precision="mixed_float16", checkpoint_dir=tmp_path, random_state=0)
    first = KerasCNNClassifier(**params).fit(X[:48], y[:48])
    again = KerasCNNClassifier(**params).fit(X[:48], y[:48])  # returns the finished checkpoint
    assert isinstance(again.model_.optimizer, keras.optimizers.LossScaleOptimizer)
    assert again.history_ == first.history_
    np.testing.assert_allclose(again.predict_proba(X[:16]), first.predict_proba(X[:16]), atol=1e-6)


def test_mixed_classifier_exports_its_float32_copy(mixed, tones, tmp_path):
    (X, _), (Xv, yv) = tones
    path = tmp_path / "mixed.tflite"
    report = export_compact(mixed, path, None, X, validation_data=(Xv, yv), verbose=False)
    compact = CompactClassifier(path)
    # float32 graph of the same weights: as close to the 16-bit network as float16 allows
    np.testing.assert_allclose(compact.predict_proba(Xv), mixed.predict_proba(Xv), atol=2e-2)
    assert np.mean(compact.predict(Xv) == mixed.predict(Xv)) >= 0.97 and report["parity"]["passed"]


def test_unknown_precision_is_refused_at_fit(tones):
    (X, y), _ = tones
    with pytest.raises(InvalidParameterError, match="precision"):
        KerasResNetClassifier(precision="float16", epochs=1).fit(X[:8], y[:8])
