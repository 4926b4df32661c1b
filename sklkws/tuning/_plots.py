"""PNG plots of a study through ``optuna.visualization.matplotlib``."""

import functools
import numbers
import os
import warnings
from pathlib import Path

import numpy as np
import optuna
from optuna.trial import TrialState

from .._compat import Interval, validate_params

def _importances_possible(complete):
    """fANOVA needs variation: two trials, a varying parameter, varying objective values."""
    if len(complete) < 2:
        return False
    params_vary = any(len({repr(t.params.get(name)) for t in complete}) > 1 for name in complete[0].params)
    values = np.array([t.values for t in complete], dtype=float)
    return params_vary and bool(np.all(np.ptp(values, axis=0) > 0))


@validate_params(
    {
        "study": [optuna.Study],
        "directory": [str, os.PathLike],
        "target_names": [list, tuple, None],
        "dpi": [Interval(numbers.Integral, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def save_study_plots(study, directory, *, target_names=None, kinds=None, dpi=100):
    """Save an Optuna study's plots as PNG with ``optuna.visualization.matplotlib``.

    Parameters
    ----------
    study : optuna.Study
        A study with at least one complete trial.
    directory : str or Path
        Created if needed.
    target_names : list of str, default=None
        Objective names, for axis labels and file names.
    kinds : iterable of str, default=None
        Among ``"history"`` (optimization history, one per objective),
        ``"intermediate"`` (per-step reports: pruned trials stop early),
        ``"importances"`` (fANOVA parameter importances; needs two complete trials
        differing in a parameter and in their values) and ``"pareto"`` (the Pareto front; 2 or 3
        objectives). None: every kind that applies to ``study``.
    dpi : int, default=100
        Resolution of the PNG files.

    Returns
    -------
    paths : dict of str to Path
        Plot name (``history``, ``history_<name>``, ``intermediate``,
        ``importances``, ``pareto_front``) to PNG file.

    Examples
    --------
    >>> import optuna, tempfile
    >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
    >>> study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    >>> study.optimize(lambda t: t.suggest_float("x", -1, 1) ** 2, n_trials=5)
    >>> sorted(save_study_plots(study, tempfile.mkdtemp(), kinds=["history"]))
    ['history']
    """
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as ovm

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    n_objectives = len(study.directions)
    names = list(target_names) if target_names is not None else [f"objective_{i}" for i in range(n_objectives)]
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if kinds is None:
        kinds = ["history"]
        if any(t.intermediate_values for t in study.get_trials(deepcopy=False)):
            kinds.append("intermediate")
        if _importances_possible(complete):
            kinds.append("importances")
        if n_objectives in (2, 3):
            kinds.append("pareto")
    unknown = set(kinds) - {"history", "intermediate", "importances", "pareto"}
    if unknown:
        raise ValueError(f"Unknown plot kind(s) {sorted(unknown)}; use history, intermediate, importances, pareto.")

    plots = {}
    if "history" in kinds:
        if n_objectives == 1:
            plots["history"] = lambda: ovm.plot_optimization_history(study, target_name=names[0])
        else:
            for i, name in enumerate(names):
                plots[f"history_{name}"] = functools.partial(
                    ovm.plot_optimization_history, study, target=lambda t, i=i: t.values[i], target_name=name
                )
    if "intermediate" in kinds:
        plots["intermediate"] = lambda: ovm.plot_intermediate_values(study)
    if "importances" in kinds:
        if not _importances_possible(complete):
            raise ValueError(
                "Parameter importances need two complete trials that differ in a parameter and in every "
                "objective value."
            )
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
        if n_objectives == 1:
            plots["importances"] = lambda: ovm.plot_param_importances(study, evaluator=evaluator, target_name=names[0])
        else:
            plots["importances"] = lambda: ovm.plot_param_importances(study, evaluator=evaluator)
    if "pareto" in kinds:
        if n_objectives not in (2, 3):
            raise ValueError(f"A Pareto front needs 2 or 3 objectives; this study has {n_objectives}.")
        plots["pareto_front"] = lambda: ovm.plot_pareto_front(study, target_names=names)

    paths = {}
    for name, draw in plots.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            axes = draw()
        figure = np.ravel(axes)[0].figure
        path = directory / f"{name}.png"
        figure.savefig(path, dpi=dpi, bbox_inches="tight")
        plt.close(figure)
        paths[name] = path
    return paths
