"""One trial: cross-validate fresh clones, report to Optuna, prune; and ``cv_results_``."""

import functools
import os
import re
import socket
import time
import warnings

import numpy as np
import optuna
from optuna.trial import TrialState
from scipy.stats import rankdata
from sklearn.base import clone

from .._compat import _safe_indexing
from ._space import _suggest

# Keras log keys where lower is better; their sign flips before reporting.
_LOWER_IS_BETTER = re.compile(r"loss|error|mse|mae", re.IGNORECASE)


def _n_samples(value):
    """Length along the first axis (sparse matrices have no len), or None."""
    if isinstance(value, (str, bytes, dict)):
        return None
    shape = getattr(value, "shape", None)
    if shape is not None:
        return shape[0] if len(shape) else None
    return len(value) if hasattr(value, "__len__") else None


def _fold_params(params, indices, n_samples):
    """Index the sample-aligned fit parameters (sample_weight, ...) by fold."""
    return {
        key: _safe_indexing(value, indices) if _n_samples(value) == n_samples else value
        for key, value in params.items()
    }


@functools.cache
def _reporter_class():
    """The Keras callback class, built on first use so that TensorFlow loads lazily."""
    import keras

    class EpochReporter(keras.callbacks.Callback):
        """Report each epoch's monitored log value to an Optuna trial; stop when pruned.

        Stopping via ``model.stop_training`` (rather than raising inside Keras)
        lets the classifier finish ``fit`` cleanly; the search raises
        ``TrialPruned`` afterwards. One instance serves one fold only.
        """

        def __init__(self, report):
            super().__init__()
            self._report = report
            self.pruned = False
            self.epochs_run = 0

        def on_epoch_end(self, epoch, logs=None):
            self.epochs_run = epoch + 1
            if self._report(epoch, logs or {}):
                self.pruned = True
                self.model.stop_training = True

        # A classifier may copy its callbacks; keep this fold's one shared instance
        # so the pruned flag is seen by the search.
        def __deepcopy__(self, memo):
            return self

        def __copy__(self):
            return self

    return EpochReporter


class _TrialFailed(Exception):
    """A fold failed to fit or score with ``error_score=nan``: the trial fails."""


class _Objective:
    """One trial: sample parameters, cross-validate, report, prune."""

    def __init__(self, *, search, X, y, groups, fit_params, splits, space, scorers, directions, prefix, monitor, stride):
        self.search = search
        self.X, self.y, self.groups, self.fit_params = X, y, groups, fit_params
        self.splits, self.space, self.scorers, self.directions = splits, space, scorers, directions
        self.prefix, self.monitor, self.stride = prefix, monitor, stride
        self.n_failed = 0
        self.errors = []  # this process's fit/score exceptions, re-raised if every trial fails
        self.worker = f"{socket.gethostname()}:{os.getpid()}"

    def _reporter(self, trial, fold):
        higher_is_better = not _LOWER_IS_BETTER.search(self.monitor)
        sign = 1.0 if higher_is_better == (self.directions[0] == "maximize") else -1.0
        monitor, offset = self.monitor, fold * self.stride

        def report(epoch, logs):
            if monitor not in logs:
                raise ValueError(
                    f"pruning_metric {monitor!r} is not in the Keras logs (keys: {sorted(logs)}); "
                    "pick one of those keys."
                )
            trial.report(sign * float(logs[monitor]), offset + epoch)
            return trial.should_prune()

        return _reporter_class()(report)

    def __call__(self, trial):
        params = {name: _suggest(trial, name, dist) for name, dist in self.space.items()}
        trial.set_user_attr("worker", self.worker)
        for key in trial.user_attrs:  # a retried trial inherits its stale run's fold records
            if key.startswith("split"):
                trial.set_user_attr(key, None)
        fold_scores = {name: [] for name in self.scorers}
        for fold, (train, test) in enumerate(self.splits):
            record = self._run_fold(trial, fold, params, train, test)
            # One write per fold: the record survives a kill or a pruning later on.
            trial.set_user_attr(f"split{fold}", record)
            if record.get("pruned"):
                raise optuna.TrialPruned(f"pruned at fold {fold}, epoch {record['n_epochs'] - 1}")
            for name in self.scorers:
                fold_scores[name].append(record[f"test_{name}"])
            if self.monitor is None and len(self.directions) == 1 and fold < len(self.splits) - 1:
                # No per-epoch reports: prune between folds on the running mean.
                trial.report(float(np.mean(fold_scores[next(iter(self.scorers))])), fold)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"pruned after fold {fold}")
        means = [float(np.mean(fold_scores[name])) for name in self.scorers]
        return means[0] if len(means) == 1 else means

    def _run_fold(self, trial, fold, params, train, test):
        """Fit a fresh clone on one fold and score it: the fold's record."""
        search = self.search
        estimator = clone(search.estimator).set_params(**params)
        reporter = None
        if self.monitor is not None:
            # A fresh callback per fold: reports of one fold never reach another.
            reporter = self._reporter(trial, fold)
            key = f"{self.prefix}callbacks"
            estimator.set_params(**{key: [*(estimator.get_params()[key] or []), reporter]})
        fit_params = _fold_params(self.fit_params, train, _n_samples(self.X))
        if self.groups is not None:
            fit_params[f"{self.prefix}groups"] = _safe_indexing(self.groups, train)
        X_train, X_test = _safe_indexing(self.X, train), _safe_indexing(self.X, test)
        y_train, y_test = (None, None) if self.y is None else (_safe_indexing(self.y, train), _safe_indexing(self.y, test))
        record = {}
        start = time.perf_counter()
        try:
            estimator.fit(X_train, y_train, **fit_params)
            record["fit_time"] = time.perf_counter() - start
            if reporter is not None:
                record["n_epochs"] = reporter.epochs_run
                if reporter.pruned:
                    return {**record, "pruned": True}
            start = time.perf_counter()
            for name, scorer in self.scorers.items():
                record[f"test_{name}"] = float(scorer(estimator, X_test, y_test))
            record["score_time"] = time.perf_counter() - start
        except Exception as exc:
            if search.error_score == "raise":
                raise
            self.n_failed += 1
            self.errors.append(exc)
            reason = f"fold {fold}: {type(exc).__name__}: {exc}"
            trial.set_user_attr("fail_reason", reason)
            if np.isnan(search.error_score):
                raise _TrialFailed(reason) from exc
            record = {f"test_{name}": float(search.error_score) for name in self.scorers}
            record.update(fit_time=time.perf_counter() - start, score_time=0.0)
        return record


def _cv_results(trials, names, directions, n_splits):
    """sklearn-style ``cv_results_`` built from the study's trials (the source of truth)."""
    n = len(trials)
    attrs = [t.user_attrs for t in trials]
    results = {
        "trial_number": np.array([t.number for t in trials], dtype=int),
        "state": np.array([t.state.name for t in trials], dtype=object),
    }

    def per_split(key):
        values = [[(a.get(f"split{k}") or {}).get(key, np.nan) for k in range(n_splits)] for a in attrs]
        return np.array(values, dtype=float).reshape(n, n_splits)

    for key in ("fit_time", "score_time"):
        values = per_split(key)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # trials failed before any fold
            results[f"mean_{key}"] = np.nanmean(values, axis=1) if n else np.empty(0)
            results[f"std_{key}"] = np.nanstd(values, axis=1) if n else np.empty(0)
    results["n_epochs"] = np.nansum(per_split("n_epochs"), axis=1).astype(int)

    param_names = sorted({name for t in trials for name in t.params})
    for name in param_names:
        column = np.ma.MaskedArray(np.empty(n, dtype=object), mask=True)
        for i, t in enumerate(trials):
            if name in t.params:
                column[i] = t.params[name]
        results[f"param_{name}"] = column
    results["params"] = [dict(t.params) for t in trials]

    complete = np.array([t.state == TrialState.COMPLETE for t in trials], dtype=bool)
    for name, direction in zip(names, directions):
        splits = per_split(f"test_{name}")
        for k in range(n_splits):
            results[f"split{k}_test_{name}"] = splits[:, k]
        mean = np.full(n, np.nan)
        std = np.full(n, np.nan)
        if complete.any():
            mean[complete] = splits[complete].mean(axis=1)
            std[complete] = splits[complete].std(axis=1)
        results[f"mean_test_{name}"] = mean
        results[f"std_test_{name}"] = std
        key = -mean if direction == "maximize" else mean
        results[f"rank_test_{name}"] = rankdata(np.where(np.isnan(key), np.inf, key), method="min").astype(np.int32)
    return results
