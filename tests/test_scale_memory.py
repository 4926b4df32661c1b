"""Training memory does not grow with a float copy of integer PCM clips (the full-size data set as int16)."""

import tracemalloc

import numpy as np

from sklkws.features import MelFeatures
from sklkws.models import KerasCNNClassifier

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


def test_fit_makes_no_float_copy_of_the_int16_set():
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(3000, 4000)) * 3000).astype(np.int16)  # 24 MB; as float32 48 MB
    y = np.arange(len(X)) % 2
    clf = classifier()
    clf.set_params(callbacks=[_StopAfter(3)])
    tracemalloc.start()
    try:
        clf.fit(X, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # NumPy reports its buffers to tracemalloc; a float32 copy alone would be 2 * X.nbytes.
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
