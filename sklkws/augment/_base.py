"""What every augmentation sampler shares: the imbalanced-learn contract and the batch method.

A sampler here is used two ways with one definition:

- ``fit_resample(X, y)``: imbalanced-learn's contract, so it sits in an
  :class:`imblearn.pipeline.Pipeline` and acts only while fitting. The output is
  the originals followed by ``n_copies`` augmented copies, row ``c * n + i``
  coming from input row ``i``; :attr:`sample_indices_` records that layout and
  :func:`augmented_indices` computes it before fitting.
- ``augment(X, random_state)``: a fresh augmentation of a batch, called by the
  Keras classifiers on every batch so each epoch sees new draws.

Parameters are validated once, not per batch: ``fit`` / ``fit_resample`` check them
against ``_parameter_constraints`` (and the cross-parameter checks of
``_check_params``), and ``augment`` does so on its first call and again only after
a parameter was reassigned (``set_params`` or attribute), so the thousands of batch
calls of an epoch cost an identity comparison of the parameter values.

The work is done chunk by chunk (a few dozen clips at a time) so that the several
passes a transform makes over its data stay in the CPU cache; a chunk holds many
clips and every operation in it is vectorised across them.
"""

import numbers
import operator

import numpy as np
from imblearn.base import BaseSampler
from sklearn import get_config
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_feature_names,
    check_array,
    check_consistent_length,
    validate_data,
)

from .._compat import ArraysTransformer, Interval, _fit_context, _safe_indexing
from .._validation import _reject_bad_layout, as_float_audio, batch_slices, check_audio, check_labels
from ..device._audio import WARN_ABS_AMPLITUDE, check_amplitude

#: Floats per chunk: small enough that a chunk and its temporaries stay in cache.
CHUNK_FLOATS = 1 << 19


def as_generator(random_state):
    """Turn a scikit-learn ``random_state`` (or a numpy Generator) into a Generator.

    ``None`` and RandomState instances are advanced, so successive calls give fresh
    draws; an int gives the same draws every time.
    """
    if isinstance(random_state, np.random.Generator):
        return random_state
    rs = check_random_state(random_state)
    return np.random.default_rng(rs.randint(np.iinfo(np.int32).max, size=4))


#: Constraints every sampler shares.
COMMON_CONSTRAINTS = {
    "p": [Interval(numbers.Real, 0, 1, closed="both")],
    "n_copies": [Interval(numbers.Integral, 0, None, closed="left")],
    "random_state": ["random_state"],
}

#: A getter of each sampler class's parameter values, built once (inspect.signature,
#: behind _get_param_names, is slow at thousands of batches per epoch).
_PARAM_GETTERS = {}


def _param_getter(cls):
    getter = _PARAM_GETTERS.get(cls)
    if getter is None:
        names = tuple(cls._get_param_names())
        single = operator.attrgetter(*names)
        # attrgetter of one name returns the value itself, not a 1-tuple.
        getter = _PARAM_GETTERS[cls] = single if len(names) > 1 else (lambda obj: (single(obj),))
    return getter


def augmented_indices(estimator, n_samples):
    """Input row behind each row a sampler, chain or pipeline will fit on.

    Use it to keep per-sample metadata (``groups``, ``sample_weight``) aligned with
    the augmented rows the final estimator of a pipeline receives, before fitting.

    Parameters
    ----------
    estimator : sampler, AugmentChain or Pipeline
        A sampler from :mod:`sklkws.augment`, a chain of them, or a pipeline whose
        samplers all come from :mod:`sklkws.augment` (other samplers' layout depends
        on the data and cannot be known before fitting).
    n_samples : int
        Number of input rows.

    Returns
    -------
    indices : ndarray of shape (n_samples * prod(1 + n_copies),)
        Input row of each output row.

    Raises
    ------
    ValueError
        If the pipeline holds a sampler whose layout is unknown before fitting.

    Examples
    --------
    >>> import numpy as np
    >>> from imblearn.pipeline import make_pipeline
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklkws.augment import Gain, augmented_indices
    >>> pipe = make_pipeline(Gain(n_copies=1, random_state=0), LogisticRegression())
    >>> augmented_indices(pipe, 3)
    array([0, 1, 2, 0, 1, 2])
    >>> X = np.random.default_rng(0).normal(size=(6, 100))
    >>> y, w = [0, 1] * 3, np.arange(1.0, 7.0)
    >>> pipe = pipe.fit(X, y, logisticregression__sample_weight=w[augmented_indices(pipe, 6)])
    """
    idx = np.arange(n_samples)
    steps = getattr(estimator, "steps", None)
    if steps is None or isinstance(estimator, BaseAugmenter):
        steps = [("", estimator)]
    for _, step in steps:
        if not hasattr(step, "fit_resample"):
            continue
        if not hasattr(step, "n_copies"):
            raise ValueError(
                f"{type(step).__name__} is not a sklkws.augment sampler: its output "
                "layout depends on the data; read its sample_indices_ after fitting."
            )
        if isinstance(step, BaseAugmenter):
            step._checked_params()
        idx = np.tile(idx, 1 + step.n_copies)
    return idx


def _check_finite(X, offset, audio=True):
    """Raise a ValueError naming the first clip holding NaN or infinity, or far outside [-1, 1].

    Skipped under ``sklearn.config_context(assume_finite=True)``, like scikit-learn's
    own check, for callers that validated the data once already. The range check is
    for raw audio only (``audio``); features such as log-mels have their own scale.
    """
    if get_config()["assume_finite"] or len(X) == 0:
        return
    rows = X.reshape(len(X), -1)
    if audio:
        # One pass of row energies checks both: NaN or infinity makes a row's energy
        # non-finite, and an energy within WARN_ABS_AMPLITUDE**2 bounds every sample of
        # the row by WARN_ABS_AMPLITUDE (speech clips have energies in the hundreds).
        # Only rows past that bound (or overflowing) get the exact tests below.
        with np.errstate(over="ignore", invalid="ignore"):
            if (np.einsum("ij,ij->i", rows, rows) <= WARN_ABS_AMPLITUDE**2).all():
                return
    else:
        # Row sums as one BLAS matrix-vector product: NaN or infinity in a row makes its
        # sum non-finite, at twice the speed of ndarray.sum. A sum may overflow on finite
        # data, hence the exact second test.
        with np.errstate(over="ignore", invalid="ignore"):
            if np.isfinite(rows @ np.ones(rows.shape[1], dtype=rows.dtype)).all():
                return
    if not np.isfinite(rows).all():
        bad = int(np.nonzero(~np.isfinite(rows).all(axis=1))[0][0])
        raise ValueError(f"Input X contains NaN or infinity (first in clip {offset + bad}).")
    if audio:
        # Unscaled PCM (or garbage) would overflow the augmenters' power and SNR sums.
        check_amplitude(rows, what="X")


class BaseAugmenter(BaseSampler):
    """Base of the augmentation samplers (imbalanced-learn contract plus ``augment``).

    Subclasses store their parameters (including ``p``, ``n_copies`` and
    ``random_state``) in ``__init__``, declare ``_parameter_constraints`` (starting
    from :data:`COMMON_CONSTRAINTS`) and implement ``_transform(X, rng, out, state)``
    (writing into ``out``, or returning a new array when it is None, never a view of
    X); optionally ``_check_params()`` for checks constraints cannot express and for
    derived values, ``_prepare(X, rng)`` for per-call state and
    ``_chunk_clips(clip_size)``.
    """

    _sampling_type = "bypass"
    #: "audio" for raw clips (n, n_samples), "features" for (n, n_bins, n_frames).
    _input_kind = "audio"

    _parameter_constraints: dict = dict(COMMON_CONSTRAINTS)

    # -- subclass hooks -------------------------------------------------------
    def _check_params(self):
        """Checks beyond ``_parameter_constraints``; return the derived values.

        Called once the constraints hold. Raise a ValueError naming the first bad
        parameter; return a dict of values computed from the parameters (such as
        the ``(low, high)`` pairs of :class:`~sklkws._validation.NumberOrPair`
        parameters) that ``_transform`` reads with :meth:`_derived`.
        """
        return {}

    # -- validation once per parameter values -------------------------------------
    def _param_values(self):
        """The current parameter values, compared by identity to spot a reassignment."""
        return _param_getter(type(self))(self)

    def _checked_params(self, *, constraints=True, force=False):
        """Validate the parameters unless these very values were validated; derived values.

        The cache holds the values themselves (not their ids, which a later object
        could reuse), so any reassignment, through ``set_params`` or as an
        attribute, triggers a new check. A parameter changed in place (an element of
        a list) is not seen, as scikit-learn does not see it after ``fit`` either.
        ``constraints=False`` skips ``_parameter_constraints``, for callers that
        just checked them (``fit_resample`` under ``_fit_context``); ``force`` runs
        ``_check_params`` even on values seen before (``fit`` checks every time,
        as scikit-learn's estimators do; a chain's steps keep their cache).
        """
        values = self._param_values()
        cached = self.__dict__.get("_params_checked")
        if (
            not force
            and cached is not None
            and len(cached[0]) == len(values)
            and all(map(operator.is_, cached[0], values))
        ):
            return cached[1]
        if constraints:
            self._validate_params()
        derived = self._check_params()
        self._params_checked = (values, derived)
        return derived

    def _derived(self):
        """Derived values of the last validation (``_check_params``' result)."""
        return self.__dict__["_params_checked"][1]

    def _prepare(self, X, rng):
        """Per-call state shared by all chunks (e.g. a noise bank)."""
        return None

    def _chunk_clips(self, clip_size):
        return max(1, CHUNK_FLOATS // clip_size)

    def _transform(self, X, rng, out, state):  # pragma: no cover - abstract
        """Augment every clip of X into ``out`` (or a new array when None); return it."""
        raise NotImplementedError

    # -- validation -----------------------------------------------------------
    def _validate_X(self, X, *, reset):
        """Validated float input; sets ``n_features_in_`` when ``reset``."""
        if reset:
            X_checked = check_audio(self, X, reset=True)
            # check_audio reads DataFrames as arrays; keep their column names.
            _check_feature_names(self, X, reset=True)
            return X_checked
        # Finiteness is checked chunk by chunk in _augment_all, while the chunk is in cache.
        _reject_bad_layout(X, getattr(self, "sample_rate", None))
        return check_array(as_float_audio(X), dtype=[np.float32, np.float64], ensure_all_finite=False)

    def _check_X_y(self, X, y, accept_sparse=None):
        X = self._validate_X(X, reset=True)
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None "
                "(labels travel with the augmented copies)."
            )
        y = check_labels(y, self)
        check_consistent_length(X, y)
        check_classification_targets(y)
        return X, y, False

    def _class_counts(self, y, n_copies):
        """Samples added per class (per indicator column for 2-D targets)."""
        if y.ndim == 2 and y.shape[1] > 1:
            return {j: int(n_copies * np.count_nonzero(y[:, j])) for j in range(y.shape[1])}
        labels, counts = np.unique(y.ravel(), return_counts=True)
        # tolist() gives plain Python scalars for numeric labels and leaves the str
        # objects of object-dtype labels (what the loaders return) as they are.
        return dict(zip(labels.tolist(), (n_copies * counts).tolist()))

    # -- imbalanced-learn contract ------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, **params):
        """Validate the input and parameters; nothing is learnt.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_samples)
            Training clips.
        y : array-like of shape (n_clips,) or (n_clips, n_classes)
            Labels (indicator matrix for multi-label tagging).
        **params : dict
            Ignored; accepted for the sampler contract.

        Returns
        -------
        self : object
            The sampler.
        """
        self._checked_params(constraints=False, force=True)
        X, y, _ = self._check_X_y(X, y)
        self.sampling_strategy_ = self._class_counts(y, self.n_copies)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_resample(self, X, y, **params):
        """Return the originals followed by ``n_copies`` augmented copies.

        Row ``c * n_clips + i`` of the output comes from input row ``i`` (copy
        ``c = 0`` being the original), so labels and any per-sample metadata stay
        aligned: pass them as keyword arguments to get them back resampled.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_samples)
            Training clips (int16 is read as 16-bit PCM).
        y : array-like of shape (n_clips,) or (n_clips, n_classes)
            Labels; any classification target, multi-label indicator included.
        **params : dict of str to array-like of shape (n_clips,)
            Per-sample metadata such as ``groups`` or ``sample_weight``.

        Returns
        -------
        X_resampled : array-like of shape (n_clips * (1 + n_copies), n_samples)
            Same container type and float dtype as ``X``.
        y_resampled : array-like of shape (n_clips * (1 + n_copies),) or (..., n_classes)
            Labels tiled alongside.
        params_resampled : dict, only when ``params`` were given
            Each metadata array tiled alongside.
        """
        self._checked_params(constraints=False, force=True)
        arrays = ArraysTransformer(X, y)
        X, y, _ = self._check_X_y(X, y)
        X_res, y_res = arrays.transform(*self._fit_resample(X, y))
        if params:
            meta = {name: None if v is None else _safe_indexing(v, self.sample_indices_)
                    for name, v in params.items()}
            return X_res, y_res, meta
        return X_res, y_res

    def _fit_resample(self, X, y):
        n, k = X.shape[0], self.n_copies
        rng = as_generator(self.random_state)
        X_res = np.empty((n * (1 + k),) + X.shape[1:], dtype=X.dtype)
        X_res[:n] = X
        X32 = np.ascontiguousarray(X, dtype=np.float32)
        for c in range(1, k + 1):
            copy = X_res[c * n:(c + 1) * n]
            if X_res.dtype == np.float32:
                self._augment_all(X32, rng, out=copy)
            else:
                copy[...] = self._augment_all(X32, rng)
        self.sample_indices_ = np.tile(np.arange(n), 1 + k)
        self.sampling_strategy_ = self._class_counts(y, k)
        return X_res, y[self.sample_indices_]

    # -- batch method -----------------------------------------------------------
    def augment(self, X, random_state=None):
        """A fresh augmentation of a batch (each clip transformed with probability ``p``).

        Parameters
        ----------
        X : array-like of shape (n_clips, n_samples)
            The batch (``(n_clips, n_bins, n_frames)`` for feature samplers).
        random_state : int, RandomState, Generator or None, default=None
            Source of this call's draws. ``None`` draws from numpy's global state, so
            repeated calls differ; the estimator's own ``random_state`` is only used
            by :meth:`fit_resample`.

        Returns
        -------
        X_augmented : ndarray of shape like X, dtype float32
            Finite audio (or features) of the same shape.

        Raises
        ------
        ValueError
            Naming the problem: stereo, empty or non-finite clips (the NaN check
            is skipped under ``sklearn.config_context(assume_finite=True)``, for
            callers such as a training loop that validated the data once), or a
            bad parameter (checked on the first call and after a parameter was
            reassigned, not on every batch).
        """
        self._checked_params()
        X = self._validate_X(X, reset=False)
        X = np.ascontiguousarray(X, dtype=np.float32)
        return self._augment_all(X, as_generator(random_state), check_finite=True)

    def _augment_all(self, X, rng, p=None, check_finite=False, out=None):
        """Chunked augmentation of float32 input (into ``out`` when given).

        ``check_finite`` checks each chunk just before it is used, while it is in
        cache, instead of in a separate pass over the batch.
        """
        p = self.p if p is None else p
        audio = self._input_kind == "audio"
        state = self._prepare(X, rng)
        size = self._chunk_clips(int(np.prod(X.shape[1:])))
        if size >= len(X):  # one chunk: its result is the output, no copy
            if check_finite:
                _check_finite(X, 0, audio)
            return self._augment_chunk(X, rng, p, out, state)
        out = np.empty_like(X) if out is None else out
        for sl in batch_slices(len(X), size):
            chunk = X[sl]
            if check_finite:
                _check_finite(chunk, sl.start, audio)
            self._augment_chunk(chunk, rng, p, out[sl], state)
        return out

    def _augment_chunk(self, X, rng, p, out, state):
        """Transform the clips drawn with probability ``p``; copy the others.

        Writes into ``out`` when given, else returns a new array.
        """
        apply = rng.random(len(X)) < p
        if apply.all():
            return self._transform(X, rng, out, state)
        if out is None:
            out = X.copy()
        else:
            out[...] = X
        if apply.any():
            out[apply] = self._transform(X[apply], rng, None, state)
        return out

    def __getstate__(self):
        state = super().__getstate__()
        # The validation cache holds references to the parameter values (recordings
        # included); a pickle re-validates on first use instead.
        state.pop("_params_checked", None)
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        tags.sampler_tags.sample_indices = True
        return tags


class FeatureAugmenter(BaseAugmenter):
    """Base of samplers working on features of shape (n_clips, n_bins, n_frames)."""

    _input_kind = "features"

    def _validate_X(self, X, *, reset):
        # 2-D input is read as (n_clips, n_frames), a single band.
        if getattr(X, "ndim", np.ndim(X)) not in (2, 3):
            raise ValueError(
                "Expected features of shape (n_clips, n_bins, n_frames) or (n_clips, n_frames), "
                f"got an array with {np.ndim(X)} dimension(s)."
            )
        kwargs = dict(dtype=[np.float32, np.float64], ensure_all_finite=reset, allow_nd=True)
        frame = X
        if hasattr(X, "columns"):  # pandas, sparse columns included
            X = X.to_numpy()
        if reset:
            X = validate_data(self, X, reset=True, **kwargs)
            _check_feature_names(self, frame, reset=True)
            return X
        return check_array(X, **kwargs)
