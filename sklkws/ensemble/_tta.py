"""Random crops at fit time, averaged deterministic crops and shifts at predict time (the tagging seed's TTA)."""

import numbers

import numpy as np
from sklearn import get_config
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils import check_random_state, get_tags
from sklearn.utils.metadata_routing import MetadataRouter, MethodMapping, process_routing
from sklearn.utils.validation import check_consistent_length, check_is_fitted

from .._compat import HasMethods, Interval, _check_method_params, _check_sample_weight
from ..frontend._maths import gather_zero_fill
from .._validation import batch_slices, check_audio
from ..device._labels import proba_to_labels
from ..models._labels import check_targets


def content_lengths(X):
    """Samples up to and including the last non-zero one of each clip.

    Zero padding (from :func:`~sklkws.preprocessing.pad_clips` or
    :class:`~sklkws.preprocessing.TrimSilence`) does not count, so crops are
    taken from the clip itself, not from its padding.

    Parameters
    ----------
    X : ndarray of shape (n_clips, n_samples)

    Returns
    -------
    lengths : ndarray of shape (n_clips,), dtype int64
        0 for an all-zero clip.

    Examples
    --------
    >>> import numpy as np
    >>> content_lengths(np.array([[1.0, 2.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])).tolist()
    [2, 0]
    """
    nonzero = X != 0
    last = X.shape[1] - np.argmax(nonzero[:, ::-1], axis=1)
    return np.where(nonzero.any(axis=1), last, 0).astype(np.int64)


def _offset_range(lengths, length):
    """Per clip, the source offsets ``d`` a view may use: ``view[j] = clip[j + d]``.

    ``d >= 0`` crops a clip longer than ``length``; ``d <= 0`` pads a shorter one
    (its content then starts at ``-d``).
    """
    slack = lengths - length
    return np.minimum(slack, 0), np.maximum(slack, 0)


def _gather(X, offsets, lengths, length):
    """Views ``out[i, j] = X[i, j + offsets[i]]`` inside the clip's content, zero elsewhere."""
    return gather_zero_fill(X, offsets, length, high=lengths)


class TTAClassifier(ClassifierMixin, BaseEstimator):
    """Crop-based training and test-time augmentation around any classifier.

    The tagging seed's recipe for clips of any length: at fit time each clip is
    cut to ``crop_length`` samples at a random position (a clip shorter than that
    is zero-padded with its content at a random position: "random padding"); at
    predict time the class probabilities are averaged over ``n_crops`` deterministic
    crops (or paddings) spread evenly over the clip, each also shifted by every
    entry of ``shifts``. The clip's length is its content length
    (:func:`content_lengths`), so zero padding, e.g. after
    :class:`~sklkws.preprocessing.TrimSilence`, never gets cropped in. Put
    ``TrimSilence`` before this estimator in a Pipeline to trim before cropping.

    Parameters
    ----------
    estimator : classifier with ``predict_proba``
        Fitted (a clone) on the crops; receives ``(n, crop_length)`` audio.
    n_crops : int, default=3
        Crops per clip at predict time: evenly spaced from the start to the end of
        the clip (one crop: the centre).
    crop_length : int, default=None
        Samples per crop; None keeps the clip length (random placement at fit time,
        shifted placements at predict time for clips with zero padding).
    shifts : sequence of int, default=None
        Delays in samples applied to every crop at predict time (negative: earlier),
        content beyond the clip is zeros; None means ``(0,)``. Views per clip: ``n_crops * len(shifts)``.
    n_train_crops : int, default=1
        Random crops per clip at fit time (the training set grows by this factor;
        per-epoch variety comes from the inner classifier's ``augment``).
    batch_size : int, default=128
        Clips per call of the inner ``predict_proba`` (times the views per clip):
        bounds memory on long clips.
    random_state : int, RandomState instance or None, default=None
        Draws the fit-time crops.

    Attributes
    ----------
    estimator_ : classifier
        The fitted clone of ``estimator``.
    classes_ : ndarray of shape (n_classes,)
        From ``estimator_``.
    crop_length_ : int
        Samples per view.
    shifts_ : ndarray of int
        The shifts used at predict time.
    n_features_in_ : int
        Clip length seen in ``fit``.

    See Also
    --------
    sklkws.preprocessing.TrimSilence : trim silence before cropping.
    sklkws.augment.TimeShift : fresh random shifts every epoch.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 50)); y = np.repeat([0, 1], 20); X[y == 1] += 1
    >>> tta = TTAClassifier(LogisticRegression(), n_crops=3, crop_length=30, shifts=(0, 2),
    ...                     random_state=0).fit(X, y)
    >>> tta.estimator_.n_features_in_, tta.predict_proba(X[:2]).shape
    (30, (2, 2))
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict_proba"])],
        "n_crops": [Interval(numbers.Integral, 1, None, closed="left")],
        "crop_length": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "shifts": ["array-like", None],
        "n_train_crops": [Interval(numbers.Integral, 1, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator, n_crops=3, crop_length=None, shifts=None, *, n_train_crops=1,
                 batch_size=128, random_state=None):
        self.estimator = estimator
        self.n_crops = n_crops
        self.crop_length = crop_length
        self.shifts = shifts
        self.n_train_crops = n_train_crops
        self.batch_size = batch_size
        self.random_state = random_state

    def _check_shifts(self):
        if self.shifts is None:
            return np.zeros(1, dtype=np.int64)
        shifts = np.asarray(self.shifts)
        if shifts.ndim != 1 or shifts.size == 0 or not np.all(np.isfinite(shifts.astype(float))) \
                or not np.array_equal(shifts, np.round(shifts)):
            raise ValueError(f"shifts must be a non-empty sequence of whole sample counts, got {self.shifts!r}.")
        return shifts.astype(np.int64)

    def fit(self, X, y, sample_weight=None, **fit_params):
        """Fit a clone of ``estimator`` on random crops of the clips.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_samples)
            Raw audio.
        y : array-like of shape (n_clips,) or (n_clips, n_labels)
            Labels, or a multi-label indicator matrix.
        sample_weight : array-like of shape (n_clips,), default=None
            Passed on (repeated per crop) when given.
        **fit_params : dict
            Metadata for ``estimator.fit`` (e.g. ``groups``). With
            ``sklearn.set_config(enable_metadata_routing=True)`` they are routed as the
            estimator requests them (``set_fit_request``); otherwise all are passed on.
            Per-clip metadata follows the crops by scikit-learn's rule for fit
            parameters (the one ``cross_validate`` splits them by): an array with one
            entry per clip is repeated like the clips, anything else passes as it is.

        Returns
        -------
        self : object
        """
        self._validate_params()
        y, self._multilabel = check_targets(y, self)  # labels pass to the estimator as they are
        X = check_audio(self, X, reset=True)
        check_consistent_length(X, y)
        self.shifts_ = self._check_shifts()
        self.crop_length_ = int(self.crop_length or X.shape[1])

        rng = check_random_state(self.random_state)
        lengths = content_lengths(X)
        low, high = _offset_range(lengths, self.crop_length_)
        crops = np.empty((self.n_train_crops * len(X), self.crop_length_), dtype=X.dtype)
        for rows in batch_slices(len(crops), len(X)):  # one random crop of every clip per pass
            offsets = low + np.floor(rng.uniform(size=len(X)) * (high - low + 1)).astype(np.int64)
            crops[rows] = _gather(X, offsets, lengths, self.crop_length_)
        rows = np.tile(np.arange(len(X)), self.n_train_crops)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        given = {**fit_params, **({} if sample_weight is None else {"sample_weight": sample_weight})}
        if get_config()["enable_metadata_routing"]:
            params = process_routing(self, "fit", **given).estimator.fit
        else:
            params = given
        params = _check_method_params(X, params, indices=rows)  # per-clip metadata follows the crops
        self.estimator_ = clone(self.estimator).fit(crops, y[rows], **params)
        self.classes_ = self.estimator_.classes_
        return self

    def get_metadata_routing(self):
        """How ``fit`` routes metadata to ``estimator`` (scikit-learn's metadata routing).

        Returns
        -------
        routing : MetadataRouter
        """
        return MetadataRouter(owner=type(self).__name__).add(
            estimator=self.estimator, method_mapping=MethodMapping().add(caller="fit", callee="fit"))

    def _views(self, X):
        """All views of a batch, view-major: shape ``(n_views * n_clips, crop_length_)``."""
        lengths = content_lengths(X)
        low, high = _offset_range(lengths, self.crop_length_)
        where = np.array([0.5]) if self.n_crops == 1 else np.linspace(0.0, 1.0, self.n_crops)
        views = []
        for fraction in where:
            offsets = low + np.rint(fraction * (high - low)).astype(np.int64)
            views.extend(_gather(X, offsets - shift, lengths, self.crop_length_) for shift in self.shifts_)
        return np.concatenate(views)

    def predict_proba(self, X):
        """Class probabilities averaged over the crops and shifts of each clip.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_samples)

        Returns
        -------
        proba : ndarray of shape (n_clips, n_classes)
            Multi-label: per-label probabilities (inner per-label outputs given as a
            list of ``(n, 2)`` arrays are reduced to their positive column).
        """
        check_is_fitted(self)
        X = check_audio(self, X, reset=False)
        n_views = self.n_crops * len(self.shifts_)
        out = None
        for rows in batch_slices(len(X), self.batch_size):
            proba = self.estimator_.predict_proba(self._views(X[rows]))
            if isinstance(proba, list):
                proba = np.column_stack([p[:, -1] for p in proba])
            proba = np.asarray(proba, dtype=np.float64)
            if out is None:
                out = np.empty((len(X), proba.shape[1]))
            out[rows] = proba.reshape(n_views, -1, proba.shape[1]).mean(axis=0)
        return out

    def predict(self, X):
        """Most probable class, or labels with averaged probability of at least 0.5 for multi-label.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_samples)

        Returns
        -------
        y : ndarray of shape (n_clips,) or (n_clips, n_labels)
        """
        return proba_to_labels(self.predict_proba(X), self.classes_, self._multilabel)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.classifier_tags.multi_label = inner.classifier_tags.multi_label
        tags.non_deterministic = inner.non_deterministic
        return tags
