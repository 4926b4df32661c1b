"""A chain of samplers, each applied with its own probability."""

import numbers
from collections import Counter

from .._compat import Hidden, Interval, InvalidParameterError, _BaseComposition
from ._base import COMMON_CONSTRAINTS, BaseAugmenter, FeatureAugmenter

#: A step's own probability, as the chain's ``p`` is constrained.
_PROBABILITY = Interval(numbers.Real, 0, 1, closed="both")


class AugmentChain(_BaseComposition, BaseAugmenter):
    """Apply several samplers in turn, each to a clip with its own probability.

    One augmented copy passes every clip through the steps in order; step ``s``
    transforms a clip with probability ``p_s`` (drawn independently per clip and
    step). The chain is a sampler itself: use it in a pipeline, or pass it to a
    Keras classifier's ``augment`` for fresh draws every batch.

    Steps are processed chunk by chunk (a chunk goes through all steps while it
    is in cache). The steps' own ``n_copies`` and ``random_state`` are not used:
    the chain's are.

    Parameters
    ----------
    steps : list of sampler or (sampler, float)
        Samplers from :mod:`sklkws.augment`, all on audio or all on features.
        A ``(sampler, p)`` pair applies the sampler with probability ``p``
        instead of its own ``p``. Nested parameters are named after the class in
        lower case (``"addnoise__snr_db"``; ``"-1"``, ``"-2"`` suffixes for
        repeats) and the probability of a pair step as ``"<name>__p"``, with
        scikit-learn's ``_BaseComposition`` as in ``Pipeline``: searches reach
        them through an enclosing estimator (``"augment__addnoise__snr_db"``).
    p : float, default=1.0
        Probability that a clip goes through the chain at all.
    n_copies : int, default=1
        Augmented copies added by :meth:`fit_resample` (originals are kept).
    random_state : int, RandomState instance or None, default=None
        Seeds :meth:`fit_resample`; :meth:`augment` takes its own.

    Attributes
    ----------
    sample_indices_ : ndarray of shape (n_clips * (1 + n_copies),)
        Input row of each row returned by :meth:`fit_resample`.
    sampling_strategy_ : dict
        Samples added per class (per indicator column for multi-label targets).
    n_features_in_ : int
        Clip length seen in fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when X was a DataFrame with string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from sklkws.augment import AddNoise, AugmentChain, Gain, TimeShift, TimeStretch
    >>> chain = AugmentChain([(AddNoise("pink", snr_db=(5, 20)), 0.8),
    ...                       (TimeShift(), 0.5), (Gain(), 0.5), (TimeStretch(), 0.3)],
    ...                      n_copies=2, random_state=0)
    >>> X = np.random.default_rng(0).normal(0, 0.1, (4, 16000)).astype(np.float32)
    >>> chain.augment(X, random_state=1).shape
    (4, 16000)
    >>> X_res, y_res = chain.fit_resample(X, ["yes", "no", "yes", "no"])
    >>> X_res.shape
    (12, 16000)
    >>> chain.set_params(addnoise__snr_db=(0, 10)).steps[0][0].snr_db
    (0, 10)
    """

    _parameter_constraints: dict = {
        **COMMON_CONSTRAINTS,
        "steps": [list, Hidden(tuple)],
    }

    def __init__(self, steps, *, p=1.0, n_copies=1, random_state=None):
        self.steps = steps
        self.p = p
        self.n_copies = n_copies
        self.random_state = random_state

    # -- steps ------------------------------------------------------------------
    def _unpacked(self):
        """[(sampler, p)] with the probability each step is applied with."""
        if not isinstance(self.steps, (list, tuple)) or not self.steps:
            raise ValueError(f"steps must be a non-empty list of samplers, got {self.steps!r}.")
        out = []
        for i, step in enumerate(self.steps):
            if isinstance(step, tuple):
                if len(step) != 2:
                    raise ValueError(f"step {i} must be a sampler or a (sampler, p) pair, got {step!r}.")
                sampler, p = step
            else:
                sampler, p = step, getattr(step, "p", 1.0)
            if not isinstance(sampler, BaseAugmenter):
                raise ValueError(
                    f"step {i} must be a sampler from sklkws.augment, got {type(sampler).__name__}."
                )
            out.append((sampler, p))
        return out

    def _names(self):
        names = [type(s).__name__.lower() for s, _ in self._unpacked()]
        counts, seen = Counter(names), Counter()
        result = []
        for name in names:
            if counts[name] > 1:
                seen[name] += 1
                name = f"{name}-{seen[name]}"
            result.append(name)
        return result

    @property
    def _input_kind(self):
        kinds = {s._input_kind for s, _ in self._unpacked()}
        if len(kinds) > 1:
            raise ValueError(
                "AugmentChain mixes samplers on raw audio and on features "
                "(SpecAugment); chain them separately, before and after the feature step."
            )
        return kinds.pop()

    def _param_values(self):
        # The steps' own values too, so a step changed with set_params is checked again.
        # Duck-typed, not isinstance: an ABC instance check costs a microsecond per step.
        values = list(super()._param_values())
        steps = self.steps if isinstance(self.steps, (list, tuple)) else ()
        for step in steps:
            if isinstance(step, tuple):
                values.extend(step)  # the sampler and the pair's probability
                sampler = step[0] if step else None
            else:
                values.append(step)
                sampler = step
            getter = getattr(sampler, "_param_values", None)
            if getter is not None:
                values.extend(getter())
        return tuple(values)

    def _check_params(self):
        steps = self._unpacked()
        names = self._names()
        self._validate_names(names)
        for i, (name, step, (sampler, p)) in enumerate(zip(names, self.steps, steps)):
            if not _PROBABILITY.is_satisfied_by(p):
                where = f"{name}__p" if isinstance(step, tuple) else f"{name}__p (the step's own p)"
                raise InvalidParameterError(
                    f"The probability of step {i} ({where}) of AugmentChain must be "
                    f"{_PROBABILITY}. Got {p!r} instead."
                )
            sampler._checked_params()
        self._input_kind  # noqa: B018 - raises on mixed kinds
        return {}

    def _validate_X(self, X, *, reset):
        if self._input_kind == "features":
            return FeatureAugmenter._validate_X(self, X, reset=reset)
        return super()._validate_X(X, reset=reset)

    # -- batch work -------------------------------------------------------------
    def _prepare(self, X, rng):
        return [sampler._prepare(X, rng) for sampler, _ in self._unpacked()]

    def _chunk_clips(self, clip_size):
        return min(sampler._chunk_clips(clip_size) for sampler, _ in self._unpacked())

    def _transform(self, X, rng, out, states):
        steps = self._unpacked()
        current = X
        for i, ((sampler, p), state) in enumerate(zip(steps, states)):
            target = out if i == len(steps) - 1 else None
            current = sampler._augment_chunk(current, rng, p, target, state)
        return current

    # -- nested parameters ----------------------------------------------------------
    @property
    def _named_steps(self):
        """[(name, sampler)]: the steps as ``_BaseComposition`` reads them."""
        return list(zip(self._names(), (s for s, _ in self._unpacked())))

    @_named_steps.setter
    def _named_steps(self, named):
        # _BaseComposition replaces a whole step by name: keep the pair's probability.
        steps = [
            (sampler, old[1]) if isinstance(old, tuple) else sampler
            for (_, sampler), old in zip(named, self.steps)
        ]
        self.steps = steps if isinstance(self.steps, list) else tuple(steps)

    def get_params(self, deep=True):
        """Parameters of the chain and, when ``deep``, of its steps (see ``steps``).

        Parameters
        ----------
        deep : bool, default=True
            Include the steps and their parameters.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        try:
            steps = self._unpacked()
        except ValueError:  # invalid steps: say so in fit, not here
            return super().get_params(deep=False)
        params = self._get_params("_named_steps", deep=deep)
        if deep:
            for name, step, (_, p) in zip(self._names(), self.steps, steps):
                if isinstance(step, tuple):
                    params[f"{name}__p"] = p  # the pair's probability, not the sampler's own p
        return params

    def set_params(self, **params):
        """Set chain parameters, or steps' with ``<step name>__<parameter>``.

        Parameters
        ----------
        **params : dict
            Parameter names and values; ``steps`` is set first, then whole steps
            by name, then the steps' parameters.

        Returns
        -------
        self : AugmentChain
            The chain.
        """
        if "steps" in params:
            self.steps = params.pop("steps")
        own = BaseAugmenter.get_params(self, deep=False)
        nested = [key for key in params if key.partition("__")[0] not in own]
        if not nested:
            return super().set_params(**params)
        names = self._names()
        for key in nested:
            name, _, sub = key.partition("__")
            if name not in names:
                raise ValueError(f"Invalid parameter {key!r} for AugmentChain; steps are named {names}.")
            i = names.index(name)
            if sub == "p" and isinstance(self.steps[i], tuple):
                steps = list(self.steps)
                steps[i] = (steps[i][0], params.pop(key))
                self.steps = steps if isinstance(self.steps, list) else tuple(steps)
        return self._set_params("_named_steps", **params)
