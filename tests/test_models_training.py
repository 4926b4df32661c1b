"""Training features of the Keras classifiers: schedules, callbacks, weights, augmentation, seeds."""

import numpy as np
import pytest
from sklearn.utils.class_weight import compute_sample_weight

keras = pytest.importorskip("keras")

from sklkws.augment import Gain, SpecAugment  # noqa: E402
from sklkws.features import MelFeatures  # noqa: E402
from sklkws.models import KerasResNetClassifier  # noqa: E402
from sklkws.models._data import mixup  # noqa: E402

TINY_1D = {"n_blocks": 1, "filters": 4, "kernel_size": 3}


def clips(n_per_class=10, n_samples=400, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.array(["high", "low", "mid"]), n_per_class)
    freq = np.select([y == "low", y == "mid"], [0.02, 0.06], 0.12)[:, None]
    X = np.sin(2 * np.pi * freq * np.arange(n_samples) + rng.uniform(0, 6, (len(y), 1)))
    return (X + 0.3 * rng.standard_normal(X.shape)).astype(np.float32), y


def tiny(**params):
    defaults = dict(arch_params=TINY_1D, epochs=2, batch_size=64, learning_rate=0.02, run_eagerly=True,
                    random_state=0)
    return KerasResNetClassifier(**{**defaults, **params})


def final_learning_rate(clf):
    return float(keras.ops.convert_to_numpy(clf.model_.optimizer.learning_rate))


@pytest.mark.parametrize(
    "optimizer, decay, expected",
    [("sgd", "cosine", 0.1), ("rmsprop", "exponential", 0.1), ("adadelta", "step", 0.01), ("adam", None, 1.0)],
)
def test_optimizers_and_schedules_end_where_documented(optimizer, decay, expected):
    X, y = clips()
    # batch_size >= n: one step per epoch, two steps in all.
    clf = tiny(optimizer=optimizer, decay=decay, decay_rate=0.1, decay_steps=1, learning_rate=0.01).fit(X, y)
    assert type(clf.model_.optimizer).__name__.lower() == optimizer
    assert int(clf.model_.optimizer.iterations.numpy()) == 2
    np.testing.assert_allclose(final_learning_rate(clf), 0.01 * expected, rtol=1e-5)
    if optimizer == "sgd":
        assert clf.model_.optimizer.nesterov and clf.model_.optimizer.momentum == 0.9


def test_early_stopping_and_reduce_lr_on_plateau_act_on_a_plateau():
    X, y = clips()
    # A learning rate below float32 resolution: the loss is exactly flat (one full batch).
    clf = tiny(learning_rate=1e-12, decay=None, epochs=10, early_stopping=2, reduce_lr_on_plateau=1).fit(X, y)
    assert clf.n_epochs_ == 3 == len(clf.history_["loss"])
    assert clf.history_["loss"][0] == clf.history_["loss"][2]
    np.testing.assert_allclose(final_learning_rate(clf), 0.25e-12, rtol=1e-5)  # halved twice


def test_zero_weights_silence_a_class_and_balanced_equals_its_sample_weights():
    X, y = clips(12)
    # cnn6 has no BatchNorm, whose moving averages would lag behind a 6-step training.
    cnn = dict(arch="cnn6", arch_params={"filters": (4, 4), "dense_units": (8,)}, epochs=6, batch_size=12)
    by_class = tiny(**cnn, class_weight={"high": 1.0, "low": 1.0, "mid": 0.0}).fit(X, y)
    by_sample = tiny(**cnn).fit(X, y, sample_weight=(y != "mid").astype(float))
    for clf in (by_class, by_sample):
        assert "mid" not in set(clf.predict(X))
        # Untrained, every class sits near 1/3: weight 0 drove "mid" down everywhere.
        assert clf.predict_proba(X)[:, list(clf.classes_).index("mid")].mean() < 0.2

    X_imb, y_imb = X[6:], y[6:]  # 6 "high", 12 of the others
    balanced = tiny().fit(X_imb, y_imb, sample_weight=np.full(len(y_imb), 2.0))
    explicit = tiny(class_weight=None).fit(
        X_imb, y_imb, sample_weight=2.0 * compute_sample_weight("balanced", y_imb)
    )
    balanced_cw = tiny(class_weight="balanced").fit(X_imb, y_imb, sample_weight=np.full(len(y_imb), 2.0))
    np.testing.assert_array_equal(balanced_cw.predict_proba(X_imb), explicit.predict_proba(X_imb))
    assert not np.array_equal(balanced.predict_proba(X_imb), explicit.predict_proba(X_imb))


def test_validation_split_keeps_speakers_apart():
    clf = tiny(validation_split=0.25)
    groups = np.repeat(np.arange(20), 3)
    codes = np.arange(60) % 3
    train, val = clf._split(60, codes, groups, seed=0)
    assert not set(groups[train]) & set(groups[val])
    assert len(train) + len(val) == 60 and 0 < len(val) < 30
    train, val = clf._split(60, codes, None, seed=0)  # no groups: stratified
    np.testing.assert_array_equal(np.bincount(codes[val]), [5, 5, 5])


def test_mixup_makes_convex_pairs_that_keep_the_majority_label():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(8, 5, 6)).astype(np.float32)
    Y = np.eye(4, dtype=np.float32)[[0, 1, 2, 3, 0, 1, 2, 3]]
    w = np.arange(1, 9, dtype=np.float32)
    Xm, Ym, wm = mixup(X, Y, w, 0.4, np.random.default_rng(1))
    np.testing.assert_allclose(Ym.sum(axis=1), 1.0, rtol=1e-6)
    lam = Ym[np.arange(8), Y.argmax(1)]
    assert (lam >= 0.5).all() and (lam < 1).any()
    # Each mixed clip lies between itself and one partner, with the same weight lam.
    for i in range(8):
        residual = Xm[i] - lam[i] * X[i]
        partners = [j for j in range(8) if np.allclose(residual, (1 - lam[i]) * X[j], atol=1e-5)]
        assert partners
        assert np.isclose(wm[i], lam[i] * w[i] + (1 - lam[i]) * w[partners[0]], rtol=1e-5)


class Recorder:
    """An augmenter that records what it is called with and delegates to a real sampler."""

    def __init__(self, inner):
        self.inner = inner
        self.calls = []

    def augment(self, X, random_state=None):
        self.calls.append((X.shape, random_state))
        return self.inner.augment(X, random_state=random_state)


def test_fresh_augmentation_every_batch_through_frontend_and_mixup():
    X, y = clips(14)  # 42 clips, batches of 16: 3 steps per epoch
    raw = Recorder(Gain(gain_db=(-6.0, 6.0)))
    spec = Recorder(SpecAugment(n_freq_masks=1, freq_width=2, n_time_masks=1, time_width=2))
    clf = tiny(
        arch="resnet1d", frontend=MelFeatures(n_mels=8, n_fft=64, hop_length=32), augment=raw, feature_augment=spec,
        mixup_alpha=0.4, epochs=3, batch_size=16,
    ).fit(X, y)
    assert clf.model_.input_shape == (None, 8, 13)  # the front end's output, not raw audio
    assert {shape for shape, _ in raw.calls} == {(16, 400)}
    assert {shape for shape, _ in spec.calls} == {(16, 8, 13)}
    # 9 batches in all, each with its own draw (Keras reads the first ones twice for their shapes).
    assert len({seed for _, seed in raw.calls}) == 9
    assert len({seed for _, seed in spec.calls}) == 9
    calls = len(raw.calls)
    assert clf.predict(X).shape == (42,)
    assert len(raw.calls) == calls  # prediction never augments


def test_same_seed_same_model_in_graph_mode():
    X, y = clips(6)
    params = dict(run_eagerly=False, batch_size=8, epochs=2, mixup_alpha=0.2, dropout=0.3)
    first = tiny(**params).fit(X, y).predict_proba(X)
    again = tiny(**params).fit(X, y).predict_proba(X)
    other = tiny(**params, random_state=1).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


def test_another_thread_drawing_from_python_random_does_not_change_the_fit():
    # A Dask worker's event loop draws from Python's global random during a task;
    # Keras's default seeds came from there, so members fitted on Dask differed.
    import random
    import threading

    X, y = clips(6)
    params = dict(batch_size=8, epochs=1, dropout=0.3)
    quiet = tiny(**params).fit(X, y).predict_proba(X)
    stop = threading.Event()

    def draw():
        while not stop.is_set():
            random.random()

    thread = threading.Thread(target=draw, daemon=True)
    thread.start()
    try:
        busy = tiny(**params).fit(X, y).predict_proba(X)
    finally:
        stop.set()
        thread.join()
    np.testing.assert_array_equal(busy, quiet)


class WeightsAtStart(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.weights = [w.copy() for w in self.model.get_weights()]


def test_warm_start_continues_from_the_fitted_weights():
    X, y = clips(6)
    clf = tiny().fit(X, y)
    trained = [w.copy() for w in clf.model_.get_weights()]
    start = WeightsAtStart()
    clf.set_params(warm_start=True, callbacks=[start], learning_rate=1e-4).fit(X[::-1], y[::-1])
    for a, b in zip(start.weights, trained):
        np.testing.assert_array_equal(a, b)
    assert len(clf.history_["loss"]) == 2

    cold = WeightsAtStart()
    clf.set_params(warm_start=False, callbacks=[cold]).fit(X, y)
    assert not all(np.array_equal(a, b) for a, b in zip(cold.weights, trained))

    with pytest.raises(ValueError, match="warm_start needs the same input shape and number of classes"):
        clf.set_params(warm_start=True, callbacks=None).fit(X[y != "mid"], y[y != "mid"])
