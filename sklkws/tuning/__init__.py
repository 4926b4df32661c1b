"""Optuna hyperparameter search over sklkws pipelines.

:class:`OptunaSearch` is a scikit-learn search estimator (like ``GridSearchCV``)
driven by an Optuna study. It answers the questions the speech write-up leaves
open (which learning rate, which decay, which optimizer) with:

- cross-validation grouped by speaker (``GroupKFold`` when ``groups`` are given)
  and a fresh clone of the estimator for every fold;
- per-epoch pruning: a fresh Keras callback per fold reports the validation score
  from inside training at step ``fold * max_epochs + epoch``, so folds never
  collide on a step (the failure of optuna-integration's pruning callbacks
  under cross-validation, where every fold restarts at step 0 and its reports
  are dropped); estimators without Keras callbacks are pruned between folds;
- persistence: a named study lives in a storage (an SQLite file by default,
  PostgreSQL for many machines), resumes after the process is killed, and can be
  shared by several worker processes;
- multi-objective mode (accuracy against model size or latency) returning the
  Pareto front, and PNG plots via ``optuna.visualization.matplotlib``.

TensorFlow is imported only when a Keras pruning callback is actually built.
"""

from ._plots import save_study_plots
from ._search import OptunaSearch
from ._space import (
    DECAY_RATE_RANGE,
    DECAY_SCHEDULES,
    LEARNING_RATE_RANGE,
    count_params_scorer,
    default_search_space,
)

__all__ = [
    "DECAY_RATE_RANGE",
    "DECAY_SCHEDULES",
    "LEARNING_RATE_RANGE",
    "OptunaSearch",
    "count_params_scorer",
    "default_search_space",
    "save_study_plots",
]
