"""The search space and the estimator introspection it needs (no TensorFlow here)."""

import inspect

import numpy as np
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from sklearn.pipeline import Pipeline

from .._compat import validate_params

#: Learning-rate range of the default space (log scale): Adam's useful band.
LEARNING_RATE_RANGE = (1e-4, 1e-1)
#: Schedules of the Keras classifiers' ``decay`` parameter.
DECAY_SCHEDULES = (None, "exponential", "cosine", "step")
#: ``decay_rate`` range: final fraction of the rate (exponential/cosine) or factor per step.
DECAY_RATE_RANGE = (1e-3, 1.0)


@validate_params({"prefix": [str]}, prefer_skip_nested_validation=True)
def default_search_space(prefix=""):
    """The default space: learning rate (log scale) and its decay schedule.

    Parameters
    ----------
    prefix : str, default=""
        Parameter path of the Keras classifier, e.g. ``"clf__"`` for a Pipeline
        step named ``clf``.

    Returns
    -------
    space : dict of str to optuna distribution
        ``learning_rate`` log-uniform in ``LEARNING_RATE_RANGE``, ``decay`` one of
        ``DECAY_SCHEDULES`` and ``decay_rate`` log-uniform in ``DECAY_RATE_RANGE``.

    Examples
    --------
    >>> sorted(default_search_space("clf__"))
    ['clf__decay', 'clf__decay_rate', 'clf__learning_rate']
    """
    return {
        f"{prefix}learning_rate": FloatDistribution(*LEARNING_RATE_RANGE, log=True),
        f"{prefix}decay": CategoricalDistribution(list(DECAY_SCHEDULES)),
        f"{prefix}decay_rate": FloatDistribution(*DECAY_RATE_RANGE, log=True),
    }


def _keras_step_prefix(estimator):
    """Parameter path prefix of the Keras classifier in ``estimator``, or None.

    A Keras classifier is recognised by its parameters (``callbacks``,
    ``learning_rate``, ``epochs``), so any estimator following the sklkws
    contract qualifies without importing TensorFlow.
    """
    if isinstance(estimator, Pipeline):
        for name, step in reversed(estimator.steps):
            sub = _keras_step_prefix(step)
            if sub is not None:
                return f"{name}__{sub}"
        return None
    if not hasattr(estimator, "get_params"):
        return None
    return "" if {"callbacks", "learning_rate", "epochs"} <= estimator.get_params(deep=False).keys() else None


def _keras_step(estimator, prefix):
    """The estimator at parameter path ``prefix`` (``""``: the estimator itself)."""
    if not prefix:
        return estimator
    return estimator.get_params()[prefix[:-2]]


def _fit_signature(estimator):
    return inspect.signature(estimator.fit).parameters


def _resamples_before(estimator, prefix):
    """Whether a sampler (``fit_resample``) precedes the step at ``prefix``.

    Such a step changes the number of samples, so ``groups`` can't be routed past it.
    """
    if not isinstance(estimator, Pipeline) or not prefix:
        return False
    name, _, rest = prefix.partition("__")
    for step_name, step in estimator.steps:
        if step_name == name:
            return _resamples_before(step, rest)
        if hasattr(step, "fit_resample"):
            return True
    return False


def _final_estimator(estimator):
    while isinstance(estimator, Pipeline):
        estimator = estimator.steps[-1][1]
    return estimator


def count_params_scorer(estimator, X=None, y=None):
    """Number of trained weights of a fitted estimator: a model-size objective.

    Use it with ``direction="minimize"`` in a multi-objective search, e.g.
    ``scoring={"accuracy": "accuracy", "n_params": count_params_scorer}``.

    Parameters
    ----------
    estimator : fitted estimator or Pipeline
        Its final step is a Keras classifier (``model_``) or an sklearn model with
        ``coefs_``/``intercepts_`` (MLP) or ``coef_``/``intercept_`` (linear).
    X, y : ignored
        Present for the scorer signature ``(estimator, X, y) -> float``.

    Returns
    -------
    n_params : float
        Number of weights.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> clf = LogisticRegression().fit(np.eye(4), [0, 1, 0, 1])
    >>> count_params_scorer(clf)
    5.0
    """
    final = _final_estimator(estimator)
    model = getattr(final, "model_", None)
    if model is not None and hasattr(model, "count_params"):
        return float(model.count_params())
    if hasattr(final, "coefs_"):
        return float(sum(np.size(a) for a in [*final.coefs_, *final.intercepts_]))
    if hasattr(final, "coef_"):
        return float(np.size(final.coef_) + np.size(getattr(final, "intercept_", [])))
    raise ValueError(
        f"count_params_scorer can't count the weights of {type(final).__name__}: "
        "it has no Keras model_ nor coef_/coefs_ attribute."
    )


def _suggest(trial, name, dist):
    """Draw ``name`` from ``dist`` through the public Trial API."""
    if isinstance(dist, FloatDistribution):
        return trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
    return trial.suggest_categorical(name, dist.choices)


def _max_value(dist, default):
    """Largest value ``dist`` can draw (numeric choices only), else ``default``."""
    if isinstance(dist, (FloatDistribution, IntDistribution)):
        return dist.high
    if isinstance(dist, CategoricalDistribution):
        numeric = [c for c in dist.choices if isinstance(c, (int, float)) and not isinstance(c, bool)]
        return max(numeric) if numeric else default
    return default
