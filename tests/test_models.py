"""The scikit-learn contract of the Keras classifiers: checks, labels, meta-estimators.

Models are tiny (a few hundred weights) and run eagerly when they train for a step or
two: tracing a TensorFlow graph costs seconds per fit, far more than such a training.
"""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.ensemble import StackingClassifier, VotingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

keras = pytest.importorskip("keras")

from sklkws.models import KerasClassifierBase, KerasCNNClassifier, KerasResNetClassifier  # noqa: E402

TINY = dict(epochs=1, batch_size=128, learning_rate=0.02, run_eagerly=True, random_state=0)
TINY_1D = {"n_blocks": 1, "filters": 4, "kernel_size": 3}
TINY_CNN = {"filters": (4, 4), "dense_units": (8,)}

_NOT_SGD = (
    "mini-batch training: a sample weight of 2 is not the same as repeating the sample "
    "(the batches, the BatchNorm statistics and the number of steps per epoch change)"
)
_TINY_SCORE = (
    "the network is kept to a few hundred weights and one epoch so the checks run in "
    "seconds; it does not reach the check's 0.83 blob accuracy in that budget. "
    "test_learns_separable_clips checks that the classifiers do learn"
)
EXPECTED_FAILURES = {
    "check_sample_weight_equivalence_on_dense_data": _NOT_SGD,
    "check_classifiers_train": _TINY_SCORE,
    "check_class_weight_classifiers": _TINY_SCORE,
}


@parametrize_with_checks(
    [KerasResNetClassifier(arch_params=TINY_1D, **TINY), KerasCNNClassifier("cnn6", TINY_CNN, **TINY)],
    expected_failed_checks=lambda est: EXPECTED_FAILURES,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def tone_clips(n_per_class, classes=("low", "high", "mid"), n_samples=400, seed=0):
    """Noisy sine tones, one frequency per class: separable 'audio'."""
    rng = np.random.default_rng(seed)
    freqs = {"low": 0.02, "mid": 0.06, "high": 0.12}
    y = np.repeat(np.array(classes), n_per_class)
    phase = rng.uniform(0, 2 * np.pi, size=(len(y), 1))
    t = np.arange(n_samples)
    X = np.sin(2 * np.pi * np.array([freqs[c] for c in y])[:, None] * t + phase)
    X += 0.3 * rng.standard_normal(X.shape)
    order = rng.permutation(len(y))
    return X[order].astype(np.float32), y[order]


def test_learns_separable_clips_with_string_labels():
    X, y = tone_clips(30)
    # bn_momentum: BatchNorm's moving averages must catch up within 40 steps.
    clf = KerasResNetClassifier(arch_params={"n_blocks": 2, "filters": 8, "bn_momentum": 0.8}, epochs=8,
                                batch_size=16, learning_rate=0.01, random_state=0,
                                validation_split=0.2)
    clf.fit(X, y)
    X_test, y_test = tone_clips(10, seed=1)
    assert list(clf.classes_) == ["high", "low", "mid"]
    assert clf.predict(X_test).dtype == y.dtype
    assert clf.score(X_test, y_test) >= 0.9
    proba = clf.predict_proba(X_test)
    assert proba.shape == (30, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X_test))
    assert set(clf.history_) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(clf.history_["loss"]) == clf.n_epochs_ == 8
    assert clf.history_["loss"][-1] < clf.history_["loss"][0]
    assert clf.n_features_in_ == 400
    # The network is a plain functional model on one clip.
    assert clf.model_.input_shape == (None, 400)
    assert any(isinstance(layer, keras.layers.Conv1D) for layer in clf.model_.layers)


def test_auto_architecture_follows_input_rank(rng):
    X = rng.normal(size=(12, 10, 20)).astype(np.float32)  # (clips, mel bins, frames)
    y = np.array([0, 1, 2] * 4)
    clf = KerasResNetClassifier(arch_params={"width": 0.5, "blocks": (1, 1, 1, 1)}, **TINY).fit(X, y)
    assert clf.model_.name == "bcresnet"
    assert clf.model_.input_shape == (None, 10, 20)
    assert clf.n_features_in_ == 10
    assert KerasCNNClassifier(arch_params={"n_conv": 2, "filters": 2}, **TINY).fit(X, y).model_.name == "cnn17"
    with pytest.raises(ValueError, match=r"shape \(10, 21\).*fitted on shape \(10, 20\)"):
        clf.predict(np.zeros((2, 10, 21), dtype=np.float32))
    with pytest.raises(ValueError, match="no automatic architecture"):
        KerasClassifierBase(**TINY).fit(X, y)


def test_multilabel_indicator_targets_use_sigmoid(rng):
    X = rng.normal(size=(40, 64)).astype(np.float32)
    Y = np.stack([X[:, :32].mean(1) > 0, X[:, 32:].mean(1) > 0, np.zeros(40, bool)], axis=1).astype(int)
    Y[::5, 2] = 1
    clf = KerasResNetClassifier(arch_params=TINY_1D, **TINY).fit(X, Y)
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    assert clf.model_.layers[-1].activation.__name__ == "sigmoid"
    assert isinstance(clf.model_.loss, keras.losses.BinaryCrossentropy)
    proba = clf.predict_proba(X)
    assert proba.shape == (40, 3) and ((proba >= 0) & (proba <= 1)).all()
    assert not np.allclose(proba.sum(axis=1), 1.0)  # independent labels, not a softmax
    np.testing.assert_array_equal(clf.predict(X), (proba >= 0.5).astype(int))
    with pytest.raises(ValueError, match="class_weight is not supported for multi-label"):
        clone(clf).set_params(class_weight="balanced").fit(X, Y)


def test_meta_estimators_and_grouped_cross_validation():
    X, y = tone_clips(12)
    groups = np.arange(len(y)) % 6  # six "speakers"
    member = KerasResNetClassifier(arch_params=TINY_1D, **TINY)
    other = KerasCNNClassifier("cnn6", TINY_CNN, **TINY)
    hard = VotingClassifier([("resnet", member), ("cnn", other)], voting="hard").fit(X, y)
    assert set(hard.predict(X)) <= set(y)
    soft = VotingClassifier([("resnet", member), ("cnn", other)], voting="soft").fit(X, y)
    members = [est.predict_proba(X) for est in soft.estimators_]
    np.testing.assert_allclose(soft.predict_proba(X), np.mean(members, axis=0), rtol=1e-6)

    stack = StackingClassifier([("cnn", other)], final_estimator=LogisticRegression(), cv=2).fit(X, y)
    assert stack.predict_proba(X).shape == (36, 3)

    search = GridSearchCV(member, {"learning_rate": [0.001, 0.02]}, cv=GroupKFold(2)).fit(X, y, groups=groups)
    assert search.best_params_["learning_rate"] in (0.001, 0.02)
    assert hasattr(search.best_estimator_, "model_")

    scores = cross_val_score(make_pipeline(member), X, y, groups=groups, cv=GroupKFold(2))
    assert scores.shape == (2,) and ((scores >= 0) & (scores <= 1)).all()


def test_clone_and_params_leave_the_model_alone():
    X, y = tone_clips(4)
    clf = KerasResNetClassifier(arch_params=TINY_1D, **TINY).fit(X, y)
    fresh = clone(clf)
    assert not hasattr(fresh, "model_")
    assert fresh.get_params()["arch_params"] == TINY_1D
    fresh.set_params(learning_rate=0.5, arch_params={"n_blocks": 2})
    assert clf.learning_rate == 0.02 and clf.arch_params == TINY_1D


def test_arch_params_are_nested_parameters_that_a_search_can_tune():
    X, y = tone_clips(6)
    clf = KerasResNetClassifier(arch_params=TINY_1D, **TINY)
    params = clf.get_params(deep=True)
    assert {k: v for k, v in params.items() if k.startswith("arch_params__")} == {
        f"arch_params__{k}": v for k, v in TINY_1D.items()
    }
    assert "arch_params__filters" not in clf.get_params(deep=False)
    wider = clone(clf).set_params(arch_params__filters=6, arch_params__dilation_typo=None)
    assert wider.arch_params == {**TINY_1D, "filters": 6, "dilation_typo": None}
    assert clf.arch_params == TINY_1D  # a copy is set: the dict given (and shared by clones) is unchanged
    assert clone(wider).get_params()["arch_params__filters"] == 6  # clone round trip
    nested = KerasResNetClassifier(arch_params={"mel_params": {"filters": (4,)}}).set_params(
        arch_params__mel_params__filters=(8,))
    assert nested.get_params()["arch_params__mel_params__filters"] == (8,)

    search = GridSearchCV(clf, {"arch_params__filters": [2, 5]}, cv=2).fit(X, y)
    assert search.best_params_["arch_params__filters"] in (2, 5)
    tried = [p["arch_params__filters"] for p in search.cv_results_["params"]]
    assert tried == [2, 5]
    best = search.best_estimator_
    assert best.arch_params == {**TINY_1D, "filters": search.best_params_["arch_params__filters"]}
    first_conv = next(layer for layer in best.model_.layers if isinstance(layer, keras.layers.Conv1D))
    assert first_conv.filters == best.arch_params["filters"]  # the network was built with it
    piped = make_pipeline(clf).set_params(kerasresnetclassifier__arch_params__n_blocks=2)
    assert piped[-1].arch_params == {**TINY_1D, "n_blocks": 2}

    optuna = pytest.importorskip("optuna")
    from sklkws.tuning import OptunaSearch

    study = OptunaSearch(clf, {"arch_params__filters": optuna.distributions.IntDistribution(2, 5)}, cv=2,
                         n_trials=2, random_state=0).fit(X, y)
    assert study.best_estimator_.arch_params["filters"] == study.best_params_["arch_params__filters"]


@pytest.mark.parametrize(
    "params, message",
    [
        ({"arch": "nope"}, "Unknown architecture 'nope'"),
        ({"arch_params": {"n_layers_typo": 3}}, "Bad arch_params for 'resnet1d'"),
        ({"optimizer": "lbfgs"}, "optimizer"),
        ({"decay": "cosine", "reduce_lr_on_plateau": True}, "set decay=None"),
        ({"validation_split": 0.99}, "empty training or validation set"),
    ],
)
def test_bad_parameters_raise_value_errors(params, message):
    X, y = tone_clips(3)
    clf = KerasResNetClassifier(**{**dict(arch_params=TINY_1D, **TINY), **params})
    with pytest.raises(ValueError, match=message):
        clf.fit(X, y)


def test_bad_input_raises_value_errors():
    X, y = tone_clips(3)
    clf = KerasResNetClassifier(arch_params=TINY_1D, **TINY)
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clf.fit(X_nan, y)
    with pytest.raises(ValueError, match="requires y"):
        clf.fit(X, None)
    with pytest.raises(ValueError, match="Unknown label type"):
        clf.fit(X, np.linspace(0, 1, len(X)))
    clf.fit(X, y)
    with pytest.raises(ValueError, match="X has 399 features"):
        clf.predict(X[:, :399])
