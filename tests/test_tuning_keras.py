"""OptunaSearch over the real Keras classifiers: per-epoch pruning from inside training.

Tiny data (96 clips of 8x10 "features", 12 speakers) and a registered one-hidden-layer
architecture keep each fit at a second or two.
"""

import numpy as np
import optuna
import pytest

keras = pytest.importorskip("keras")

from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer  # noqa: E402

from sklkws.models import ARCHITECTURES, KerasCNNClassifier, register_architecture  # noqa: E402
from sklkws.tuning import OptunaSearch, count_params_scorer, default_search_space  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)

ARCH = "tuning_test_dense"
EPOCHS = 5


def build_tuning_test_dense(input_shape, n_outputs, *, output_activation="softmax", l2=0.0, dropout=0.0, units=8):
    inputs = keras.Input(input_shape)
    x = keras.layers.Dense(units, activation="relu")(keras.layers.Flatten()(inputs))
    return keras.Model(inputs, keras.layers.Dense(n_outputs, activation=output_activation)(x))


if ARCH not in ARCHITECTURES:
    register_architecture(ARCH)(build_tuning_test_dense)


def tiny_features(n=96, n_classes=4, seed=0):
    """(n, 8, 10) noisy features; the class raises one band. 12 interleaved speakers."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    X = rng.normal(size=(n, 8, 10)).astype(np.float32)
    X[np.arange(n), 2 * y, :] += 2.0
    return X, y, np.arange(n) % 12


class CallCounter(keras.callbacks.Callback):
    """A user callback: must reach every fold's training, untouched by the search."""

    def __init__(self):
        super().__init__()
        self.epochs_seen = 0

    def on_epoch_end(self, epoch, logs=None):
        self.epochs_seen += 1


def tiny_pipeline(**clf_params):
    clf = KerasCNNClassifier(
        ARCH, epochs=EPOCHS, batch_size=16, validation_split=0.25, random_state=0, **clf_params
    )
    return Pipeline([("scale", FunctionTransformer(lambda X: X / 2.0)), ("clf", clf)])


def test_four_trial_study_prunes_inside_training_and_refits_the_best(tmp_path):
    X, y, groups = tiny_features()
    user_callback = CallCounter()
    pipe = tiny_pipeline(callbacks=[user_callback])
    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(storage=storage, study_name="kws", direction="maximize")
    good = {"clf__learning_rate": 3e-2, "clf__decay": "cosine", "clf__decay_rate": 0.1}
    bad = {"clf__learning_rate": 1e-4, "clf__decay": None, "clf__decay_rate": 0.5}  # barely moves in 5 epochs
    for params in (good, bad, {**good, "clf__decay": "exponential"}, bad):
        study.enqueue_trial(params)

    search = OptunaSearch(
        pipe,  # param_distributions=None: the classifier's learning rate and decay
        cv=2,
        n_trials=4,
        storage=storage,
        study_name="kws",
        pruner=optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=1),
        random_state=0,
    ).fit(X, y, groups=groups)

    assert search.search_space_ == default_search_space("clf__")
    states = list(search.cv_results_["state"])
    assert states[0] == "COMPLETE" and states[1] == "PRUNED" and states[3] == "PRUNED"
    trials = search.study_.trials
    # Reports come from inside Keras training: fold k, epoch e -> step k * EPOCHS + e.
    assert sorted(trials[0].intermediate_values) == list(range(2 * EPOCHS))
    val_acc = [trials[0].intermediate_values[s] for s in range(2 * EPOCHS)]
    assert all(0.0 <= v <= 1.0 for v in val_acc) and max(val_acc) > 0.5
    # A pruned trial stopped training at the epoch the pruner said so, in the first fold.
    pruned_steps = sorted(trials[1].intermediate_values)
    assert pruned_steps == list(range(len(pruned_steps))) and len(pruned_steps) < EPOCHS
    assert search.cv_results_["n_epochs"][1] == len(pruned_steps)
    assert search.cv_results_["n_epochs"][0] == 2 * EPOCHS
    assert np.isnan(search.cv_results_["split1_test_score"][1])

    # The best trial was refitted on all the data.
    best = search.best_estimator_
    assert search.best_params_ == trials[search.best_index_].params
    assert search.best_params_["clf__learning_rate"] == pytest.approx(3e-2)
    assert best is not pipe and best.named_steps["clf"].model_ is not None
    assert best.named_steps["clf"].n_epochs_ == EPOCHS
    assert search.score(X, y) > 0.6 and search.predict_proba(X).shape == (len(X), 4)
    # No state leaks: the user's estimator and its callback list are untouched, the
    # refitted model carries no pruning callback, and every fold got the user's
    # callback as a fresh copy (the original instance never trained).
    assert pipe.named_steps["clf"].callbacks == [user_callback] and user_callback.epochs_seen == 0
    refit_callbacks = best.named_steps["clf"].callbacks
    assert len(refit_callbacks) == 1 and type(refit_callbacks[0]).__name__ == "CallCounter"

    paths = search.save_plots(tmp_path)
    assert {"history", "intermediate"} <= set(paths)
    assert all(p.stat().st_size > 5000 for p in paths.values())


def test_pruning_metric_needs_a_validation_split():
    X, y, groups = tiny_features(n=24)
    no_split = Pipeline([("clf", KerasCNNClassifier(ARCH, epochs=2))])
    with pytest.raises(ValueError, match="validation_split > 0"):
        OptunaSearch(no_split, cv=2, n_trials=1, pruning_metric="val_accuracy").fit(X, y, groups=groups)


def test_without_validation_split_pruning_falls_back_to_folds():
    X, y, groups = tiny_features(n=48)
    clf = KerasCNNClassifier(ARCH, epochs=2, batch_size=16, random_state=0)
    search = OptunaSearch(clf, cv=3, n_trials=1, refit=False, random_state=0).fit(X, y, groups=groups)
    trial = search.study_.trials[0]
    assert sorted(trial.intermediate_values) == [0, 1]  # running mean after folds 0 and 1
    assert trial.intermediate_values[1] == pytest.approx(
        np.mean([search.cv_results_["split0_test_score"][0], search.cv_results_["split1_test_score"][0]])
    )


def test_count_params_scorer_reads_the_keras_model():
    X, y, _ = tiny_features(n=24)
    pipe = tiny_pipeline().set_params(clf__epochs=1, clf__validation_split=0.0).fit(X, y)
    units, n_in = 8, 8 * 10
    assert count_params_scorer(pipe, X, y) == (n_in + 1) * units + (units + 1) * 4
