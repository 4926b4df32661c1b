"""Training memory does not grow with a float copy of integer PCM clips (the full-size data set as int16),
the recommended recipe's peak normalisation included."""

import tracemalloc

import numpy as np

from sklearn.pipeline import make_pipeline

from sklkws.features import MelFeatures
from sklkws.models import KerasCNNClassifier
from sklkws.preprocessing import Normalizer
from sklkws.recipes import recommended_classifier, recommended_pipeline

ARCH = ("cnn6", {"filters": (4,) * 6, "dense_units": ()})


def classifier(**params):
    return KerasCNNClassifier(*ARCH, frontend=MelFeatures(kind="logmel", n_mels=16, n_fft=256, hop_length=256),
                              epochs=1, batch_size=16, random_state=0, **params)


def test_int16_clips_train_like_their_float_scaling():
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(32, 4000)) * 3000).astype(np.int16)
    y = np.arange(32) % 2
    a = classifier(validation_split=0.25).fit(X, y)
    b = classifier(validation_split=0.25).fit(X.astype(np.float32) / 32768, y)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X.astype(np.float32) / 32768), atol=1e-6)
    assert a.n_features_in_ == 4000


def _fit_peak(estimator, X, y):
    """Peak bytes NumPy (which reports its buffers to tracemalloc) allocated while fitting."""
    tracemalloc.start()
    try:
        estimator.fit(X, y)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_fit_makes_no_float_copy_of_the_int16_set():
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(3000, 4000)) * 3000).astype(np.int16)  # 24 MB; as float32 48 MB
    y = np.arange(len(X)) % 2
    peak = _fit_peak(classifier().set_params(callbacks=[_StopAfter(3)]), X, y)
    # NumPy reports its buffers to tracemalloc; a float32 copy alone would be 2 * X.nbytes.
    assert peak < X.nbytes, f"fit allocated {peak / 2**20:.0f} MB for a {X.nbytes / 2**20:.0f} MB int16 set"


def small_recipe(**params):
    """The recipe's network (augmentation, log-mels, SpecAugment) at a size that trains in seconds."""
    return dict(n_members=1, arch_params={"width": 0.5, "stem2d": 4}, epochs=1, batch_size=16, run_eagerly=True,
                random_state=0, **params)


def test_recipe_normalising_per_batch_predicts_like_the_normalizer_step_before_it():
    rng = np.random.default_rng(1)
    X = (rng.normal(size=(48, 4000)) * rng.uniform(300, 12000, size=(48, 1))).astype(np.int16)
    y = np.arange(48) % 3
    params = small_recipe(validation_split=0.25)
    new = recommended_pipeline(**params)
    assert [name for name, _ in new.steps] == ["kerasresnetclassifier"]
    net = {k: v for k, v in params.items() if k not in ("n_members", "random_state")}
    old = make_pipeline(Normalizer(method="peak"), recommended_classifier(normalizer=None, random_state=0, **net))
    new.fit(X, y)
    old.fit(X, y)
    assert new[-1].history_ == old[-1].history_
    np.testing.assert_array_equal(new.predict_proba(X), old.predict_proba(X))
    np.testing.assert_array_equal(new.predict(X), old.predict(X))
    # The exporter puts the classifier's normalizer in the graph where the Pipeline step was.
    from sklkws.export import build_inference_model
    from sklkws.export._streaming import build_streaming_models

    graphs = [build_inference_model(pipe) for pipe in (new, old)]
    assert [layer.name for layer in graphs[0].layers] == [layer.name for layer in graphs[1].layers]
    assert any("_normalizer" in layer.name for layer in graphs[0].layers)
    Xf = X.astype(np.float32) / 32768
    np.testing.assert_allclose(graphs[0].predict(Xf, verbose=0), graphs[1].predict(Xf, verbose=0), atol=1e-6)
    assert build_streaming_models(new)[2] == build_streaming_models(old)[2]  # "peak": True for both


def test_recipe_fit_makes_no_float_copy_of_the_int16_set():
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(3000, 4000)) * 3000).astype(np.int16)  # 24 MB; as float32 48 MB
    y = np.arange(len(X)) % 2
    peak = _fit_peak(recommended_pipeline(**small_recipe(callbacks=[_StopAfter(3)])), X, y)
    # A Normalizer step before the classifier returned a float32 copy, 2 * X.nbytes.
    assert peak < X.nbytes, f"fit allocated {peak / 2**20:.0f} MB for a {X.nbytes / 2**20:.0f} MB int16 set"


class _StopAfter:
    """A Keras callback stopping after a few batches (built lazily: keras imports TensorFlow)."""

    def __new__(cls, steps):
        import keras

        class Stop(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                if batch + 1 >= steps:
                    self.model.stop_training = True

        return Stop()
