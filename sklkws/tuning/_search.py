"""OptunaSearch: the scikit-learn search estimator around an Optuna study."""

import contextlib
import copy
import numbers
import re
import time
import warnings

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.trial import TrialState
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.exceptions import FitFailedWarning
from sklearn.metrics import check_scoring, get_scorer
from sklearn.model_selection import GroupKFold, check_cv
from sklearn.utils import get_tags, indexable
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, check_random_state

from .._compat import HasMethods, Interval, StrOptions, _fit_context
from ._objective import _cv_results, _Objective, _TrialFailed
from ._plots import save_study_plots
from ._space import _fit_signature, _keras_step, _keras_step_prefix, _max_value, _resamples_before, default_search_space

_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


@contextlib.contextmanager
def _optuna_logging(verbose):
    """Quiet Optuna's per-trial INFO lines unless ``verbose``; restore afterwards."""
    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.INFO if verbose else optuna.logging.ERROR)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(previous)


def _check_refit(search, attr):
    if not search.refit:
        raise AttributeError(
            f"This {type(search).__name__} instance was initialized with `refit=False`. {attr} is "
            "available only after refitting on the best parameters. You can refit an estimator "
            "manually using the `best_params_` attribute"
        )


def _search_estimator_has(attr):
    def check(self):
        _check_refit(self, attr)
        getattr(self.best_estimator_ if hasattr(self, "best_estimator_") else self.estimator, attr)
        return True

    return check


def _open_rdb_storage(url, attempts=6, **kwargs):
    """``RDBStorage(url)``, retried while another worker is creating the same schema.

    Workers starting together on a fresh database race to create Optuna's tables
    ("table ... already exists", a duplicate alembic version); the loser retries and
    finds the schema complete.
    """
    from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

    rng = np.random.default_rng()
    for attempt in range(attempts):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(url, **kwargs)
        except (IntegrityError, OperationalError, ProgrammingError):
            if attempt == attempts - 1:
                raise
            time.sleep(rng.uniform(0.1, 0.5) * (attempt + 1))


class OptunaSearch(MetaEstimatorMixin, BaseEstimator):
    """Hyperparameter search driven by an Optuna study, with grouped CV and pruning.

    Every trial samples parameters, fits a fresh clone of ``estimator`` on each
    cross-validation fold and scores it on the held-out fold; the trial's value
    is the mean fold score. Each fold's scores, times and epochs are written to
    the trial (user attribute ``split<k>``) as soon as the fold ends, so
    ``cv_results_`` also covers trials run by other workers or by an earlier,
    interrupted process. Each trial also records its ``worker`` (host:pid).

    Parameters
    ----------
    estimator : estimator or Pipeline
        Cloned for every fold. A Keras classifier following the sklkws contract
        (parameters ``callbacks``, ``learning_rate``, ``epochs``), alone or as a
        Pipeline step, enables per-epoch pruning and the default space.
    param_distributions : dict of str to optuna distribution, default=None
        Search space by parameter path (``"clf__optimizer"``, ``"mel__n_mels"``);
        a list or tuple is shorthand for a ``CategoricalDistribution``. None:
        :func:`default_search_space` of the Keras classifier (learning rate on a
        log scale, decay schedule and decay rate).
    cv : int, cross-validation generator or iterable, default=5
        An int means ``GroupKFold(cv)`` when ``groups`` are passed to ``fit``
        (folds grouped by speaker), else ``StratifiedKFold``/``KFold``.
    scoring : str, callable, list or dict, default=None
        A scorer ``(estimator, X, y) -> float`` or an sklearn scorer name; None
        uses ``estimator.score``. A list or dict gives several objectives (a
        multi-objective study) whose directions are set by ``direction``.
    n_trials : int or None, default=10
        Finished (complete or pruned) trials the study should hold. A resumed
        study only runs the missing ones and workers sharing a study stop
        together once it is reached (each may finish a trial in flight). Each
        ``fit`` starts at most that many missing trials; failed ones don't count
        as finished, so a later ``fit`` retries them.
    timeout : float or None, default=None
        Stop starting new trials after this many seconds.
    storage : str, optuna storage or None, default=None
        Database URL (``"sqlite:///study.db"``, ``"postgresql://user@host/db"``)
        or an optuna storage object (e.g. ``JournalStorage`` on a shared file
        system). None: in memory, or ``sqlite:///<study_name>.db`` in the current
        directory when ``study_name`` is given.
    study_name : str or None, default=None
        Name of the study in ``storage``; an existing study of this name is
        resumed (loaded and continued) rather than restarted.
    pruner : optuna pruner or None, default=None
        None: Optuna's default ``MedianPruner()``. Pass
        ``optuna.pruners.NopPruner()`` to disable pruning. Multi-objective
        studies are never pruned (Optuna can't).
    sampler : optuna sampler or None, default=None
        None: ``TPESampler`` seeded from ``random_state``. Copied on each fit, so
        searches never share sampler state.
    direction : str or list of str, default="maximize"
        ``"maximize"`` or ``"minimize"``, one for all objectives or one per
        scorer (sklearn scorers are greater-is-better; raw counts such as
        :func:`count_params_scorer` want ``"minimize"``).
    pruning_metric : str or None, default="auto"
        Keras log key reported every epoch. "auto": ``"val_accuracy"`` when the
        Keras classifier has ``validation_split > 0``, otherwise per-fold
        reports of the running mean score (also used for non-Keras estimators).
        Keys naming a loss or error are negated when the study maximizes.
    refit : bool, str or callable, default=True
        Refit the best parameters on the whole data (``best_estimator_``). With
        several scorers, the scorer name (or a callable ``cv_results_ -> index``)
        that picks the configuration to refit, or False.
    error_score : "raise" or float, default=np.nan
        Score of a fold whose fit fails; nan fails the whole trial at once.
    heartbeat_interval : int or None, default=60
        Seconds between heartbeats of running trials in a database storage. A
        trial whose heartbeat stops (killed worker) is failed after twice this
        and re-queued with the same parameters. None disables heartbeats.
    random_state : int, RandomState instance or None, default=None
        Seeds the default sampler. The seed also mixes in the number of trials
        already in the study, so a resumed study doesn't replay its start.
    n_jobs : int, default=1
        Trials run concurrently in threads of this process (Optuna's
        ``n_jobs``). For processes or machines, run several searches with the
        same ``storage`` and ``study_name``.
    verbose : int, default=0
        0 keeps Optuna quiet (errors only) during ``fit``; > 0 logs every trial.

    Attributes
    ----------
    study_ : optuna.Study
        The study, with every trial, intermediate value and user attribute.
    cv_results_ : dict of ndarray
        One row per finished or failed trial of the study: ``trial_number``,
        ``state``, ``params``, ``param_<path>`` (masked arrays),
        ``split<k>_test_<name>``, ``mean_test_<name>``, ``std_test_<name>``,
        ``rank_test_<name>`` (``<name>`` is ``score`` with one scorer),
        ``mean_fit_time``, ``std_fit_time``, ``mean_score_time``,
        ``std_score_time``, ``n_epochs`` (Keras epochs run, summed over folds).
        Pruned trials have nan means.
    best_trials_ : list of optuna.trial.FrozenTrial
        The Pareto front (the best trial when there is one objective).
    best_index_ : int
        Row of ``cv_results_`` of the refitted configuration.
    best_params_ : dict
        Its parameters.
    best_score_ : float
        Its mean cross-validated score (of the refit scorer).
    best_estimator_ : estimator
        Fitted on the whole data with ``best_params_`` (when ``refit``).
    refit_time_ : float
        Seconds spent refitting.
    scorer_ : callable or dict of callables
        The scorer(s) used.
    multimetric_ : bool
        Whether several scorers were given.
    n_splits_ : int
        Number of cross-validation folds.
    search_space_ : dict of str to optuna distribution
        The space searched.
    n_trials_ : int
        Finished (complete or pruned) trials in the study after ``fit``.

    See Also
    --------
    sklearn.model_selection.RandomizedSearchCV : the same contract without Optuna.
    save_study_plots : PNG plots of a study.

    Notes
    -----
    Pruning steps: with per-epoch reports, fold ``k`` epoch ``e`` reports at step
    ``k * max_epochs + e``, where ``max_epochs`` is the classifier's ``epochs``
    (the upper bound when ``epochs`` is searched), so every trial reports the
    same (fold, epoch) at the same step. Per-fold reports use step ``k``.
    ``groups`` are also passed to the Keras classifier's ``fit`` (its
    validation split is then grouped by speaker) unless a sampler precedes it.

    Examples
    --------
    >>> import numpy as np
    >>> from optuna.distributions import FloatDistribution
    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 4))
    >>> y = (X[:, 0] > 0).astype(int)
    >>> search = OptunaSearch(
    ...     LogisticRegression(), {"C": FloatDistribution(1e-3, 1e2, log=True)},
    ...     cv=3, n_trials=4, random_state=0,
    ... ).fit(X, y, groups=np.arange(60) % 6)
    >>> len(search.cv_results_["params"]), search.best_score_ > 0.8
    (4, True)
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit"])],
        "param_distributions": [dict, None],
        "cv": ["cv_object"],
        "scoring": [str, callable, list, tuple, set, dict, None],
        "n_trials": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "timeout": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "storage": [str, optuna.storages.BaseStorage, None],
        "study_name": [str, None],
        "pruner": [optuna.pruners.BasePruner, None],
        "sampler": [optuna.samplers.BaseSampler, None],
        "direction": [StrOptions({"maximize", "minimize"}), list, tuple],
        "pruning_metric": [str, None],
        "refit": ["boolean", str, callable],
        "error_score": [StrOptions({"raise"}), numbers.Real],
        "heartbeat_interval": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "n_jobs": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimator,
        param_distributions=None,
        *,
        cv=5,
        scoring=None,
        n_trials=10,
        timeout=None,
        storage=None,
        study_name=None,
        pruner=None,
        sampler=None,
        direction="maximize",
        pruning_metric="auto",
        refit=True,
        error_score=np.nan,
        heartbeat_interval=60,
        random_state=None,
        n_jobs=1,
        verbose=0,
    ):
        self.estimator = estimator
        self.param_distributions = param_distributions
        self.cv = cv
        self.scoring = scoring
        self.n_trials = n_trials
        self.timeout = timeout
        self.storage = storage
        self.study_name = study_name
        self.pruner = pruner
        self.sampler = sampler
        self.direction = direction
        self.pruning_metric = pruning_metric
        self.refit = refit
        self.error_score = error_score
        self.heartbeat_interval = heartbeat_interval
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        sub = get_tags(self.estimator)
        tags.estimator_type = sub.estimator_type
        tags.classifier_tags = copy.deepcopy(sub.classifier_tags)
        tags.regressor_tags = copy.deepcopy(sub.regressor_tags)
        tags.input_tags.pairwise = sub.input_tags.pairwise
        tags.input_tags.sparse = sub.input_tags.sparse
        # The search accepts whatever the estimator accepts (NaN for trees, 2-D y, ...).
        tags.input_tags.allow_nan = sub.input_tags.allow_nan
        tags.target_tags = copy.deepcopy(sub.target_tags)
        return tags

    # ------------------------------------------------------------------ checks
    def _check_params(self):
        """What ``_parameter_constraints`` cannot say: the study needs a stopping rule."""
        if self.n_trials is None and self.timeout is None:
            raise ValueError("Set n_trials or timeout: with neither, the study would never stop.")

    def _get_scorers(self):
        scoring = self.scoring
        if isinstance(scoring, dict):
            if not scoring:
                raise ValueError("scoring is an empty dict: give at least one scorer.")
            return {name: check_scoring(self.estimator, s) for name, s in scoring.items()}, True
        if isinstance(scoring, (list, tuple, set)):
            if not scoring or not all(isinstance(s, str) for s in scoring) or len(set(scoring)) != len(scoring):
                raise ValueError(
                    f"scoring as a list must hold distinct scorer names, got {scoring!r}; "
                    "use a dict {name: callable} for callables."
                )
            return {name: get_scorer(name) for name in scoring}, True
        return {"score": check_scoring(self.estimator, scoring)}, False

    def _get_directions(self, n_objectives):
        directions = [self.direction] * n_objectives if isinstance(self.direction, str) else list(self.direction)
        if len(directions) != n_objectives or any(d not in ("maximize", "minimize") for d in directions):
            raise ValueError(
                f"direction must be 'maximize' or 'minimize', or a list of them with one per scorer "
                f"({n_objectives}), got {self.direction!r}."
            )
        return directions

    def _check_refit_param(self, multimetric, scorers):
        if not multimetric:
            return
        if self.refit is True or (isinstance(self.refit, str) and self.refit not in scorers):
            raise ValueError(
                "For multi-metric scoring, the parameter refit must be set to a scorer key or a callable "
                "to refit an estimator with the best parameter setting on the whole data and make the "
                f"best_* attributes available for that metric. Scorer keys: {sorted(scorers)}; "
                f"{self.refit!r} was passed. If refitting is not needed, set refit=False."
            )

    def _get_search_space(self, prefix):
        if self.param_distributions is None:
            if prefix is None:
                raise ValueError(
                    f"param_distributions=None searches the Keras classifier's learning rate and decay, but "
                    f"{type(self.estimator).__name__} holds no Keras classifier (no step with 'callbacks', "
                    "'learning_rate' and 'epochs' parameters). Pass param_distributions."
                )
            space = default_search_space(prefix)
        elif isinstance(self.param_distributions, dict) and self.param_distributions:
            space = {}
            for name, dist in self.param_distributions.items():
                if isinstance(dist, (list, tuple)):
                    dist = CategoricalDistribution(list(dist))
                if not isinstance(dist, BaseDistribution):
                    raise ValueError(
                        f"param_distributions[{name!r}] must be an optuna distribution or a list of choices, "
                        f"got {type(dist).__name__}."
                    )
                space[name] = dist
        else:
            raise ValueError(
                f"param_distributions must be a non-empty dict of parameter path to optuna distribution, "
                f"got {self.param_distributions!r}."
            )
        valid = self.estimator.get_params(deep=True)
        unknown = sorted(set(space) - set(valid))
        if unknown:
            raise ValueError(
                f"Unknown parameter path(s) {unknown} for {type(self.estimator).__name__}; "
                f"valid paths include {sorted(valid)[:20]}."
            )
        return space

    def _get_cv(self, y, groups):
        if isinstance(self.cv, numbers.Integral) and not isinstance(self.cv, bool) and groups is not None:
            if self.cv < 2:
                raise ValueError(f"cv must be at least 2 folds, got {self.cv}.")
            return GroupKFold(n_splits=self.cv)
        return check_cv(self.cv, y, classifier=is_classifier(self.estimator))

    def _get_monitor(self, prefix, space, multimetric_objectives):
        """The Keras log key reported per epoch, or None for per-fold reports."""
        if multimetric_objectives or self.pruning_metric is None:
            return None
        validation_split = None
        if prefix is not None:
            validation_split = self.estimator.get_params().get(f"{prefix}validation_split")
            searched = space.get(f"{prefix}validation_split")
            if searched is not None:
                validation_split = _max_value(searched, 0)
        if self.pruning_metric == "auto":
            return "val_accuracy" if prefix is not None and validation_split else None
        if not isinstance(self.pruning_metric, str):
            raise ValueError(f"pruning_metric must be 'auto', a Keras log key or None, got {self.pruning_metric!r}.")
        if prefix is None:
            raise ValueError(
                f"pruning_metric={self.pruning_metric!r} needs a Keras classifier (a 'callbacks' parameter); "
                f"{type(self.estimator).__name__} has none. Use pruning_metric='auto' or None."
            )
        if self.pruning_metric.startswith("val_") and not validation_split:
            raise ValueError(
                f"pruning_metric={self.pruning_metric!r} needs validation logs, but the Keras classifier has "
                f"validation_split={validation_split!r}: set {prefix}validation_split > 0 (e.g. 0.1) or "
                "pruning_metric=None to prune between folds."
            )
        return self.pruning_metric

    # ----------------------------------------------------------------- storage
    def _get_storage(self):
        storage = self.storage
        if storage is None and self.study_name is not None:
            safe = re.sub(r"[^\w.-]", "_", self.study_name)
            storage = f"sqlite:///{safe}.db"
        if not isinstance(storage, str):
            return storage
        engine_kwargs = {}
        if storage.startswith("sqlite"):
            # Workers wait for the write lock instead of failing with "database is locked".
            engine_kwargs["connect_args"] = {"timeout": 120}
        retry = None
        if self.heartbeat_interval is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=2)
        return _open_rdb_storage(
            storage,
            engine_kwargs=engine_kwargs,
            heartbeat_interval=self.heartbeat_interval,
            heartbeat_stale_trial_callback=retry,
        )

    def _create_study(self, directions):
        storage = self._get_storage()
        study = optuna.create_study(
            storage=storage,
            study_name=self.study_name,
            directions=directions,
            load_if_exists=True,
            sampler=optuna.samplers.RandomSampler(),  # placeholder until the seed is known
            pruner=copy.deepcopy(self.pruner) if self.pruner is not None else optuna.pruners.MedianPruner(),
        )
        found = [d.name.lower() for d in study.directions]
        if found != directions:
            raise ValueError(
                f"Study {study.study_name!r} in the storage optimizes {found}, but this search asks for "
                f"{directions}: use another study_name or matching scoring/direction."
            )
        if self.sampler is not None:
            study.sampler = copy.deepcopy(self.sampler)
        else:
            seed = None
            if self.random_state is not None:
                base = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
                n_existing = len(study.get_trials(deepcopy=False))
                seed = int(np.random.SeedSequence([base, n_existing]).generate_state(1)[0])
            study.sampler = optuna.samplers.TPESampler(seed=seed)
        return study

    # --------------------------------------------------------------------- fit
    # The estimator validates its own parameters in each fold's fit.
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, groups=None, **params):
        """Run the study (or resume it) and refit the best parameters.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_samples) or (n_clips, n_bins, n_frames)
            Raw audio or features; anything the estimator takes.
        y : array-like of shape (n_clips,) or (n_clips, n_labels), default=None
            Targets.
        groups : array-like of shape (n_clips,), default=None
            Speaker of each clip: folds never split a speaker.
        **params : dict
            Passed to ``estimator.fit`` (sample-aligned arrays are indexed by fold).

        Returns
        -------
        self : OptunaSearch
            Fitted search.
        """
        self._check_params()
        if y is None and get_tags(self.estimator).target_tags.required:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None.")
        X, y, groups = indexable(X, y, groups)
        scorers, multimetric = self._get_scorers()
        directions = self._get_directions(len(scorers))
        self._check_refit_param(multimetric, scorers)
        prefix = _keras_step_prefix(self.estimator)
        space = self._get_search_space(prefix)
        cv = self._get_cv(y, groups)
        splits = list(cv.split(X, y, groups))
        monitor = self._get_monitor(prefix, space, len(scorers) > 1)

        epochs_param = f"{prefix}epochs" if prefix is not None else None
        stride = max(
            int(self.estimator.get_params()[epochs_param]) if epochs_param else 1,
            int(_max_value(space[epochs_param], 1)) if epochs_param in space else 1,
        )
        route_groups = (
            groups is not None
            and prefix is not None
            and not _resamples_before(self.estimator, prefix)
            and "groups" in _fit_signature(_keras_step(self.estimator, prefix))
        )
        objective = _Objective(
            search=self,
            X=X,
            y=y,
            groups=groups if route_groups else None,
            fit_params=params,
            splits=splits,
            space=space,
            scorers=scorers,
            directions=directions,
            prefix=prefix,
            monitor=monitor,
            stride=stride,
        )

        study = self._run_study(objective, directions, keras=prefix is not None)
        self.study_ = study
        self.scorer_ = scorers if multimetric else scorers["score"]
        self.multimetric_ = multimetric
        self.n_splits_ = len(splits)
        self.search_space_ = space
        trials = [t for t in study.get_trials(deepcopy=False) if t.state in (*_FINISHED, TrialState.FAIL)]
        self.cv_results_ = _cv_results(trials, list(scorers), directions, self.n_splits_)
        self.n_trials_ = int(np.isin(self.cv_results_["state"], ["COMPLETE", "PRUNED"]).sum())
        self._check_some_complete(trials, objective)
        self.best_trials_ = study.best_trials if len(directions) > 1 else [study.best_trial]

        if self.refit is not False or not multimetric:
            self.best_index_ = self._best_index(list(scorers), directions)
            self.best_params_ = self.cv_results_["params"][self.best_index_]
            if not callable(self.refit):
                key = "score" if not multimetric else self.refit
                self.best_score_ = float(self.cv_results_[f"mean_test_{key}"][self.best_index_])
        if self.refit:
            self.best_estimator_ = clone(self.estimator).set_params(**clone(self.best_params_, safe=False))
            refit_params = dict(params)
            if route_groups:
                refit_params[f"{prefix}groups"] = groups
            start = time.perf_counter()
            self.best_estimator_.fit(X, y, **refit_params)
            self.refit_time_ = time.perf_counter() - start
        return self

    def _run_study(self, objective, directions, *, keras):
        """Create or resume the study and run the trials it is missing."""
        with _optuna_logging(self.verbose):
            study = self._create_study(directions)
            done = len(study.get_trials(deepcopy=False, states=_FINISHED))
            remaining = None if self.n_trials is None else max(self.n_trials - done, 0)
            if remaining == 0:
                return study
            # Counts every worker's trials, so workers sharing the study stop together.
            callbacks = [] if self.n_trials is None else [optuna.study.MaxTrialsCallback(self.n_trials, _FINISHED)]
            study.optimize(
                objective,
                n_trials=remaining,
                timeout=self.timeout,
                n_jobs=self.n_jobs,
                catch=(_TrialFailed,),
                callbacks=callbacks,
                gc_after_trial=keras,  # frees the trials' Keras graphs
            )
        return study

    def _check_some_complete(self, trials, objective):
        complete = [t for t in trials if t.state == TrialState.COMPLETE]
        failed = [t for t in trials if t.state == TrialState.FAIL]
        if not complete:
            reasons = sorted({t.user_attrs.get("fail_reason", "no reason recorded") for t in failed})
            message = (
                f"No trial of study {self.study_.study_name!r} completed ({len(failed)} failed, "
                f"{len(trials) - len(failed)} pruned). Failures:\n" + "\n".join(reasons)
            )
            # Keep the estimator's own error type (bad values -> ValueError, bad dtype -> TypeError).
            cause = objective.errors[0] if objective.errors else None
            error = TypeError if isinstance(cause, TypeError) and not isinstance(cause, ValueError) else ValueError
            raise error(message) from cause
        if objective.n_failed:
            warnings.warn(
                f"{objective.n_failed} fold fit(s) failed in this search; see cv_results_['state'] and the "
                "trials' 'fail_reason' user attribute.",
                FitFailedWarning,
                stacklevel=3,
            )

    def _best_index(self, names, directions):
        numbers_ = self.cv_results_["trial_number"]
        if callable(self.refit):
            index = self.refit(self.cv_results_)
            if not isinstance(index, numbers.Integral) or not 0 <= index < len(numbers_):
                raise ValueError(f"refit callable must return a row index of cv_results_, got {index!r}.")
            return int(index)
        if len(directions) == 1 and not self.multimetric_:
            return int(np.flatnonzero(numbers_ == self.study_.best_trial.number)[0])
        key = names.index(self.refit) if isinstance(self.refit, str) else 0
        means = self.cv_results_[f"mean_test_{names[key]}"]
        sign = 1.0 if directions[key] == "maximize" else -1.0
        return int(np.nanargmax(sign * means))

    # -------------------------------------------------------------- delegation
    @property
    def classes_(self):
        """Class labels of the refitted estimator."""
        _search_estimator_has("classes_")(self)
        return self.best_estimator_.classes_

    @property
    def n_features_in_(self):
        """Number of features seen by the refitted estimator."""
        try:
            check_is_fitted(self)
        except Exception as exc:
            raise AttributeError(f"{type(self).__name__} is not fitted yet: no n_features_in_.") from exc
        return self.best_estimator_.n_features_in_

    @available_if(_search_estimator_has("predict"))
    def predict(self, X):
        """Predict with the refitted best estimator."""
        check_is_fitted(self)
        return self.best_estimator_.predict(X)

    @available_if(_search_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities from the refitted best estimator."""
        check_is_fitted(self)
        return self.best_estimator_.predict_proba(X)

    @available_if(_search_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X):
        """Log class probabilities from the refitted best estimator."""
        check_is_fitted(self)
        return self.best_estimator_.predict_log_proba(X)

    @available_if(_search_estimator_has("decision_function"))
    def decision_function(self, X):
        """Decision function of the refitted best estimator."""
        check_is_fitted(self)
        return self.best_estimator_.decision_function(X)

    @available_if(_search_estimator_has("transform"))
    def transform(self, X):
        """Transform with the refitted best estimator."""
        check_is_fitted(self)
        return self.best_estimator_.transform(X)

    def score(self, X, y=None):
        """Score of the refitted best estimator, by the refit scorer.

        Parameters
        ----------
        X : array-like
            Input of the estimator.
        y : array-like, default=None
            Targets.

        Returns
        -------
        score : float
            ``scoring`` (the ``refit`` scorer with several) of ``best_estimator_``.
        """
        _check_refit(self, "score")
        check_is_fitted(self)
        scorer = self.scorer_
        if self.multimetric_:
            if not isinstance(self.refit, str):
                raise ValueError("score needs refit to name a scorer when several scorers are used.")
            scorer = self.scorer_[self.refit]
        return scorer(self.best_estimator_, X, y)

    def save_plots(self, directory, **kwargs):
        """Save the study's plots as PNG files; see :func:`save_study_plots`.

        Parameters
        ----------
        directory : str or Path
            Created if needed.
        **kwargs : dict
            Passed to :func:`save_study_plots`.

        Returns
        -------
        paths : dict of str to Path
            Plot name to PNG file.
        """
        check_is_fitted(self)
        names = list(self.scorer_) if self.multimetric_ else ["score"]
        return save_study_plots(self.study_, directory, target_names=names, **kwargs)
