"""OptunaSearch with plain scikit-learn estimators: contract, grouped CV, pruning, Pareto front.

The Keras-specific behaviour (per-epoch pruning) is in test_tuning_keras.py and the
storage behaviour (kill/resume, several workers, PostgreSQL) in test_tuning_storage.py.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklkws.tuning import OptunaSearch, count_params_scorer, default_search_space, save_study_plots

optuna.logging.set_verbosity(optuna.logging.WARNING)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ROOT = Path(__file__).resolve().parents[1]


@parametrize_with_checks(
    [
        OptunaSearch(
            DecisionTreeClassifier(random_state=0), {"max_depth": IntDistribution(1, 6)}, cv=2, n_trials=2, random_state=0
        ),
        OptunaSearch(Ridge(), {"alpha": FloatDistribution(1e-2, 1e2, log=True)}, cv=2, n_trials=2, random_state=0),
    ]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


class GroupRecorder(ClassifierMixin, BaseEstimator):
    """Remembers the groups (column 0 of X) it was trained on; refuses a second fit."""

    def __init__(self, dummy=0):
        self.dummy = dummy

    def fit(self, X, y):
        if hasattr(self, "groups_seen_"):
            raise RuntimeError("fitted twice: folds must get a fresh clone")
        self.groups_seen_ = np.unique(X[:, 0])
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


def leaked_fraction(estimator, X, y):
    """Share of test clips whose speaker was also in the training fold."""
    return float(np.isin(X[:, 0], estimator.groups_seen_).mean())


def xor_data(n=120, seed=0):
    """Depth-2 problem: a stump is at chance, a deeper tree is near perfect."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 2))
    y = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(int)
    return X, y, np.arange(n) % 12


def test_folds_are_grouped_by_speaker_and_fresh():
    rng = np.random.default_rng(0)
    groups = np.arange(60) % 10  # speakers interleaved, as in a shuffled dataset
    X = np.column_stack([groups, rng.normal(size=60)])
    y = np.arange(60) % 2
    space = {"dummy": CategoricalDistribution([0])}

    def search():
        return OptunaSearch(GroupRecorder(), space, cv=5, scoring=leaked_fraction, n_trials=1, refit=False)

    grouped = search().fit(X, y, groups=groups)
    assert grouped.n_splits_ == 5
    assert [grouped.cv_results_[f"split{k}_test_score"][0] for k in range(5)] == [0.0] * 5
    # Without groups the same speakers land on both sides: the leak GroupKFold prevents.
    ungrouped = search().fit(X, y)
    assert ungrouped.cv_results_["mean_test_score"][0] > 0.5


def test_cv_results_and_refit():
    X, y, groups = xor_data()
    search = OptunaSearch(
        DecisionTreeClassifier(random_state=0),
        {"max_depth": IntDistribution(1, 8), "criterion": ["gini", "entropy"]},
        cv=3,
        n_trials=6,
        random_state=0,
    ).fit(X, y, groups=groups)
    res = search.cv_results_
    assert len(res["params"]) == 6 and set(res["state"]) <= {"COMPLETE", "PRUNED"}
    assert isinstance(res["param_max_depth"], np.ma.MaskedArray)
    complete = res["state"] == "COMPLETE"
    splits = np.column_stack([res[f"split{k}_test_score"] for k in range(3)])
    np.testing.assert_allclose(res["mean_test_score"][complete], splits[complete].mean(axis=1))
    values = {t.number: t.value for t in search.study_.trials if t.value is not None}
    for number, mean in zip(res["trial_number"][complete], res["mean_test_score"][complete]):
        assert mean == pytest.approx(values[number])
    best = search.best_index_
    assert res["rank_test_score"][best] == 1 and search.best_score_ == np.nanmax(res["mean_test_score"])
    assert search.best_params_ == search.study_.best_trial.params
    assert search.best_estimator_.get_params()["max_depth"] == search.best_params_["max_depth"]
    assert search.best_params_["max_depth"] >= 2 and search.score(X, y) > 0.9
    np.testing.assert_array_equal(search.predict(X), search.best_estimator_.predict(X))
    assert search.predict_proba(X).shape == (len(X), 2) and list(search.classes_) == [0, 1]


def test_each_fit_starts_a_fresh_study_unless_named():
    X, y, groups = xor_data()
    search = OptunaSearch(DecisionTreeClassifier(random_state=0), {"max_depth": IntDistribution(1, 8)}, cv=2, n_trials=3)
    first = search.fit(X, y, groups=groups).study_
    second = search.fit(X, y, groups=groups).study_
    assert first is not second and len(second.trials) == 3 and len(search.cv_results_["params"]) == 3
    # A named study in a storage resumes: n_trials counts the study's finished trials.
    storage = optuna.storages.InMemoryStorage()
    named = dict(storage=storage, study_name="resume-me", cv=2, random_state=0)
    OptunaSearch(DecisionTreeClassifier(), {"max_depth": IntDistribution(1, 8)}, n_trials=3, **named).fit(X, y)
    again = OptunaSearch(DecisionTreeClassifier(), {"max_depth": IntDistribution(1, 8)}, n_trials=5, **named).fit(X, y)
    assert len(again.study_.trials) == 5 and list(again.cv_results_["trial_number"]) == [0, 1, 2, 3, 4]


def test_fold_level_pruning_without_keras():
    X, y, groups = xor_data(n=240)
    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(storage=storage, study_name="prune", direction="maximize")
    for depth in (6, 1, 6, 1):  # good, stump, good, stump: stumps are pruned after fold 0
        study.enqueue_trial({"max_depth": depth})
    search = OptunaSearch(
        DecisionTreeClassifier(random_state=0),
        {"max_depth": IntDistribution(1, 8)},
        cv=4,
        n_trials=4,
        storage=storage,
        study_name="prune",
        pruner=optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0),
    ).fit(X, y, groups=groups)
    states = list(search.cv_results_["state"])
    assert states == ["COMPLETE", "PRUNED", "COMPLETE", "PRUNED"]
    trials = search.study_.trials
    assert sorted(trials[0].intermediate_values) == [0, 1, 2]  # one report per fold but the last
    assert sorted(trials[1].intermediate_values) == [0]
    assert np.isnan(search.cv_results_["mean_test_score"][1])
    assert np.isnan(search.cv_results_["split1_test_score"][1])  # later folds never ran
    assert list(search.cv_results_["rank_test_score"]) == [1, 3, 1, 3]  # pruned trials tie last
    assert search.best_params_ == {"max_depth": 6}


def test_fit_params_and_errors():
    X, y, groups = xor_data()
    weights = np.ones(len(y))
    # Sample-aligned fit parameters are indexed per fold (a full-length array would fail).
    search = OptunaSearch(DecisionTreeClassifier(), {"max_depth": IntDistribution(1, 4)}, cv=3, n_trials=2)
    assert search.fit(X, y, groups=groups, sample_weight=weights).n_trials_ == 2
    # A configuration that can't fit fails its trial; the others still run.
    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(storage=storage, study_name="errors", direction="maximize")
    study.enqueue_trial({"max_depth": -1})
    study.enqueue_trial({"max_depth": 3})
    failing = OptunaSearch(
        DecisionTreeClassifier(), {"max_depth": IntDistribution(-1, 4)}, cv=2, n_trials=2, storage=storage,
        study_name="errors",
    )
    with pytest.warns(FitFailedWarning, match="1 fold fit"):
        failing.fit(X, y)
    assert list(failing.cv_results_["state"]) == ["FAIL", "COMPLETE"]
    assert "max_depth" in failing.study_.trials[0].user_attrs["fail_reason"]
    # When every trial fails, the estimator's own message comes out.
    with pytest.raises(ValueError, match="(?s)No trial .* completed.*max_depth"):
        OptunaSearch(DecisionTreeClassifier(), {"max_depth": [-1]}, cv=2, n_trials=2).fit(X, y)
    with pytest.raises(ValueError, match="max_depth"):
        OptunaSearch(DecisionTreeClassifier(), {"max_depth": [-1]}, cv=2, n_trials=1, error_score="raise").fit(X, y)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(param_distributions={"nope": IntDistribution(1, 3)}), r"Unknown parameter path\(s\) \['nope'\]"),
        (dict(param_distributions=None), "holds no Keras classifier"),
        (dict(param_distributions={"max_depth": range(3)}), "must be an optuna distribution"),
        (dict(n_trials=None), "Set n_trials or timeout"),
        (dict(n_trials=0), r"'n_trials' parameter of OptunaSearch must be an int in the range \[1, inf\)"),
        (dict(scoring=["accuracy", "f1"]), "refit must be set to a scorer key"),
        (dict(scoring=["accuracy", "f1"], refit="auc"), "refit must be set to a scorer key"),
        (dict(scoring={"a": "accuracy"}, direction=["maximize", "minimize"], refit="a"), "one per scorer"),
        (dict(direction="up"), "'direction' parameter of OptunaSearch must be"),
        (dict(pruning_metric="val_accuracy"), "needs a Keras classifier"),
        (dict(heartbeat_interval=0), "'heartbeat_interval' parameter of OptunaSearch must be"),
        (dict(sampler="tpe"), "'sampler' parameter of OptunaSearch must be an instance of"),
        (dict(timeout=-1.0, n_trials=None), "'timeout' parameter of OptunaSearch"),
    ],
)
def test_bad_parameters_are_named(kwargs, message):
    X, y, _ = xor_data(n=40)
    params = dict(param_distributions={"max_depth": IntDistribution(1, 3)}, cv=2, n_trials=1) | kwargs
    with pytest.raises(ValueError, match=message):
        OptunaSearch(DecisionTreeClassifier(), **params).fit(X, y)


def test_refit_false_and_callable():
    X, y, groups = xor_data()
    space = {"max_depth": IntDistribution(1, 6)}
    search = OptunaSearch(DecisionTreeClassifier(), space, cv=2, n_trials=2, refit=False).fit(X, y)
    assert "max_depth" in search.best_params_ and not hasattr(search, "best_estimator_")
    with pytest.raises(AttributeError, match="no attribute 'predict'") as excinfo:
        search.predict(X)
    assert "refit=False" in str(excinfo.value.__cause__)
    pick_last = OptunaSearch(DecisionTreeClassifier(), space, cv=2, n_trials=3, refit=lambda res: 2).fit(X, y)
    assert pick_last.best_index_ == 2 and pick_last.best_params_ == pick_last.cv_results_["params"][2]


def test_default_space_is_found_by_parameter_path():
    class KerasLike(ClassifierMixin, BaseEstimator):
        """Stands for a Keras classifier: only its parameter names matter here."""

        def __init__(self, learning_rate=1e-3, decay="cosine", decay_rate=0.01, epochs=3, callbacks=None):
            self.learning_rate, self.decay, self.decay_rate = learning_rate, decay, decay_rate
            self.epochs, self.callbacks = epochs, callbacks

        def fit(self, X, y):
            self.classes_ = np.unique(y)
            return self

        def predict(self, X):
            return np.full(len(X), self.classes_[0])

    X, y, _ = xor_data(n=40)
    nested = Pipeline([("scale", StandardScaler()), ("inner", Pipeline([("clf", KerasLike())]))])
    search = OptunaSearch(nested, cv=2, n_trials=2, random_state=0).fit(X, y)
    assert search.search_space_ == default_search_space("inner__clf__")
    lr = search.cv_results_["param_inner__clf__learning_rate"].astype(float)
    assert np.all((lr >= 1e-4) & (lr <= 1e-1))
    assert set(search.cv_results_["param_inner__clf__decay"]) <= {None, "exponential", "cosine", "step"}


def pareto_dominated(a, b, signs):
    """Whether values ``a`` are dominated by ``b`` (``signs``: +1 maximize, -1 minimize)."""
    a, b = np.asarray(a) * signs, np.asarray(b) * signs
    return bool(np.all(b >= a) and np.any(b > a))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_multi_objective_pareto_front_and_plots(tmp_path):
    X, y, groups = xor_data(n=200)
    search = OptunaSearch(
        MLPClassifier(max_iter=300, random_state=0),
        {"hidden_layer_sizes": IntDistribution(1, 24, log=True), "alpha": FloatDistribution(1e-5, 1e-1, log=True)},
        cv=2,
        scoring={"accuracy": "accuracy", "n_params": count_params_scorer},
        direction=["maximize", "minimize"],
        refit="accuracy",
        n_trials=8,
        random_state=0,
    )
    search.fit(X, y, groups=groups)
    res = search.cv_results_
    assert len(search.study_.directions) == 2
    assert all(not t.intermediate_values for t in search.study_.trials)  # no pruning with 2 objectives
    signs = np.array([1.0, -1.0])
    complete = [t for t in search.study_.trials if t.state.name == "COMPLETE"]
    front = search.best_trials_
    assert front and {t.number for t in front} <= {t.number for t in complete}
    for t in complete:
        dominated = any(pareto_dominated(t.values, o.values, signs) for o in complete)
        assert dominated == (t.number not in {f.number for f in front})
    # Sizes are the MLP's weight counts: 2*h + h (first layer) + h + 1 (output).
    h = res["param_hidden_layer_sizes"].astype(int)
    np.testing.assert_allclose(res["mean_test_n_params"], 4 * h + 1)
    assert search.best_index_ == int(np.nanargmax(res["mean_test_accuracy"]))
    assert search.best_score_ == pytest.approx(np.nanmax(res["mean_test_accuracy"]))
    assert search.score(X, y) == pytest.approx(np.mean(search.predict(X) == y))

    paths = search.save_plots(tmp_path / "plots")
    assert set(paths) == {"history_accuracy", "history_n_params", "importances", "pareto_front"}
    for path in paths.values():
        assert path.read_bytes()[:8] == PNG_MAGIC and path.stat().st_size > 5000


def test_single_objective_plots(tmp_path):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))

    def objective(trial):
        x = trial.suggest_float("x", -2, 2)
        trial.suggest_int("unused", 0, 3)
        for step in range(3):
            trial.report(-(x**2) * (step + 1), step)
        return -(x**2)

    study.optimize(objective, n_trials=6)
    paths = save_study_plots(study, tmp_path, target_names=["accuracy"])
    assert set(paths) == {"history", "intermediate", "importances"}
    assert all(p.read_bytes()[:8] == PNG_MAGIC for p in paths.values())
    with pytest.raises(ValueError, match="Pareto front needs 2 or 3 objectives"):
        save_study_plots(study, tmp_path, kinds=["pareto"])


def test_importing_tuning_does_not_import_tensorflow():
    code = "import sys, sklkws.tuning; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.split() == ["False", "False"]


def test_kfold_splitter_object_is_used_as_given():
    X, y, _ = xor_data(n=60)
    search = OptunaSearch(
        DecisionTreeClassifier(), {"max_depth": IntDistribution(1, 3)}, cv=KFold(4), n_trials=1, refit=False
    ).fit(X, y)
    assert search.n_splits_ == 4 and "split3_test_score" in search.cv_results_


def test_threads_and_timeout():
    X, y, groups = xor_data()
    space = {"max_depth": IntDistribution(1, 8)}
    threaded = OptunaSearch(DecisionTreeClassifier(), space, cv=2, n_trials=4, n_jobs=2).fit(X, y, groups=groups)
    assert sorted(threaded.cv_results_["trial_number"]) == [0, 1, 2, 3]
    timed = OptunaSearch(DecisionTreeClassifier(), space, cv=2, n_trials=None, timeout=0.5).fit(X, y, groups=groups)
    assert timed.n_trials_ >= 1 and timed.study_.trials[-1].datetime_start is not None
