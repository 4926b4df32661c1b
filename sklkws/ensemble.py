"""The audio-tagging seed's ensembling and test-time techniques, as scikit-learn estimators.

- :class:`TTAClassifier`: random crops (with random padding) of long clips at fit
  time, predictions averaged over deterministic crops and shifts at predict time.
- :class:`TwoBranchFeatures` and :class:`KerasTwoBranchClassifier`: log-mel into a
  CNN plus :class:`~sklkws.features.GlobalStatFeatures` (128 x 12 + clip length)
  into a second branch, joined before the head (architecture ``"two_branch"`` in
  :data:`sklkws.models.ARCHITECTURES`).
- :class:`NeuralStacker`: the seed's stacker over member probabilities, usable as
  ``StackingClassifier(final_estimator=NeuralStacker())``.

Importing this module imports Keras (through :mod:`sklkws.models`).
"""

import numbers

import keras
import numpy as np
import tensorflow as tf
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state, get_tags
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import (
    _check_sample_weight,
    check_array,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from ._validation import batch_slices, check_audio
from .features import GlobalStatFeatures, MelFeatures
from .models import KerasClassifierBase, get_architecture, register_architecture

__all__ = [
    "KerasTwoBranchClassifier",
    "NeuralStacker",
    "TTAClassifier",
    "TwoBranchFeatures",
    "build_stacker",
    "build_two_branch",
    "content_lengths",
]


# ------------------------------------------------------------------------ crops


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
    index = np.arange(length)[None, :] + offsets[:, None]
    inside = (index >= 0) & (index < lengths[:, None])
    gathered = np.take_along_axis(X, np.clip(index, 0, X.shape[1] - 1), axis=1)
    return np.where(inside, gathered, X.dtype.type(0))


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
            Passed to ``estimator.fit``; arrays of length ``n_clips`` (``groups``) are
            repeated per crop like the clips.

        Returns
        -------
        self : object
        """
        self._validate_params()
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None.")
        X = check_audio(self, X, reset=True)
        y = check_array(y, ensure_2d=False, dtype=None, input_name="y")
        check_classification_targets(y)
        self._multilabel = type_of_target(y) == "multilabel-indicator"
        if not self._multilabel:
            y = column_or_1d(y, warn=True)
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
        for name, value in fit_params.items():  # per-clip metadata (groups) follows the crops
            if hasattr(value, "__len__") and not isinstance(value, str) and len(value) == len(X):
                fit_params[name] = np.asarray(value)[rows]
        if sample_weight is not None:
            fit_params["sample_weight"] = _check_sample_weight(sample_weight, X)[rows]
        self.estimator_ = clone(self.estimator).fit(crops, y[rows], **fit_params)
        self.classes_ = self.estimator_.classes_
        return self

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
        """Most probable class, or labels with averaged probability >= 0.5 for multi-label.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_samples)

        Returns
        -------
        y : ndarray of shape (n_clips,) or (n_clips, n_labels)
        """
        proba = self.predict_proba(X)
        if self._multilabel:
            return (proba >= 0.5).astype(int)
        return self.classes_[np.argmax(proba, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.classifier_tags.multi_label = inner.classifier_tags.multi_label
        tags.non_deterministic = inner.non_deterministic
        return tags


# -------------------------------------------------------------------- two branch


class TwoBranchFeatures(TransformerMixin, BaseEstimator):
    """Log-mel and global statistics of each clip, packed side by side for a two-branch model.

    The output row is the flattened ``mel`` features ``(n_mels, n_frames)`` followed
    by the ``stats`` features (the seed's 128 x 12 window statistics and the clip
    length). :class:`KerasTwoBranchClassifier` (architecture ``"two_branch"``) splits
    the row again: log-mels into a CNN, statistics into a 1-D convolutional branch,
    joined before the head. :attr:`arch_params_` holds the split.

    Parameters
    ----------
    mel : transformer, default=None
        Gives ``(n_clips, n_mels, n_frames)``; None means ``MelFeatures()`` (log-mel).
    stats : transformer, default=None
        Gives 2-D ``(n_clips, n_stats)``; None means
        ``GlobalStatFeatures(include_length=True)`` (128 x 12 + 1 = 1537 columns).

    Attributes
    ----------
    mel_, stats_ : transformer
        The fitted clones.
    n_mels_, n_frames_, n_stats_ : int
        Shape of the two parts.
    arch_params_ : dict
        ``{"n_mels": n_mels_, "n_stats": n_stats_}``: what the ``"two_branch"``
        architecture needs to split the row (its defaults fit the default
        features: 40 mels, 1537 statistics).
    n_features_in_ : int
        Clip length.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(2, 16000)).astype(np.float32)
    >>> feats = TwoBranchFeatures().fit(X)
    >>> feats.transform(X).shape, feats.arch_params_
    ((2, 5577), {'n_mels': 40, 'n_stats': 1537})
    """

    _parameter_constraints = {
        "mel": [HasMethods(["fit", "transform"]), None],
        "stats": [HasMethods(["fit", "transform"]), None],
    }

    def __init__(self, mel=None, stats=None):
        self.mel = mel
        self.stats = stats

    def fit(self, X, y=None):
        """Fit both feature transformers and record the packed layout.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_samples)
        y : ignored

        Returns
        -------
        self : object
        """
        self._validate_params()
        X = check_audio(self, X, reset=True)
        self.mel_ = clone(self.mel if self.mel is not None else MelFeatures()).fit(X)
        self.stats_ = clone(self.stats if self.stats is not None else GlobalStatFeatures(include_length=True)).fit(X)
        mel, stats = self.mel_.transform(X[:1]), self.stats_.transform(X[:1])
        if mel.ndim != 3:
            raise ValueError(f"mel must give (n_clips, n_mels, n_frames), got shape {mel.shape}; "
                             "use MelFeatures(flatten=False).")
        if stats.ndim != 2:
            raise ValueError(f"stats must give 2-D (n_clips, n_stats), got shape {stats.shape}; "
                             "use GlobalStatFeatures(flatten=True).")
        _, self.n_mels_, self.n_frames_ = mel.shape
        self.n_stats_ = stats.shape[1]
        self.arch_params_ = {"n_mels": int(self.n_mels_), "n_stats": int(self.n_stats_)}
        return self

    def transform(self, X):
        """Pack the two feature sets into one row per clip.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_samples)

        Returns
        -------
        features : ndarray of shape (n_clips, n_mels_ * n_frames_ + n_stats_)
        """
        check_is_fitted(self)
        X = check_audio(self, X, reset=False)
        mel = self.mel_.transform(X)
        return np.hstack([mel.reshape(len(X), -1), self.stats_.transform(X).astype(mel.dtype, copy=False)])

    def get_feature_names_out(self, input_features=None):
        """Names ``"mel__b<bin>_t<frame>"`` then ``"stats__<name>"``.

        Returns
        -------
        feature_names_out : ndarray of str
        """
        check_is_fitted(self)
        mel = [f"mel__b{b}_t{t}" for b in range(self.n_mels_) for t in range(self.n_frames_)]
        if hasattr(self.stats_, "get_feature_names_out"):
            stats = [f"stats__{name}" for name in self.stats_.get_feature_names_out()]
        else:
            stats = [f"stats__{k}" for k in range(self.n_stats_)]
        return np.asarray(mel + stats, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


def _reg(l2):
    return keras.regularizers.L2(l2) if l2 else None


@register_architecture("two_branch")
def build_two_branch(
    input_shape, n_outputs, *, output_activation="softmax", l2=0.0, dropout=0.2,
    n_mels=40, n_stats=1537, mel_arch="cnn9", mel_params=None, stats_filters=(16, 32), head_units=64,
):
    """The tagging seed's two-branch network on a packed :class:`TwoBranchFeatures` row.

    The row is split with built-in layers: the first ``input_shape[0] - n_stats``
    values are the log-mel ``(n_mels, n_frames)`` and go through the trunk of a
    registered 2-D architecture (``mel_arch``, its layers up to the output layer);
    the last ``n_stats`` are ``n_stats // 12`` frames of the 12 global statistics,
    batch-normalised and sent through 1-D convolutions with max and mean pooling,
    plus the clip length (when ``n_stats % 12 == 1``). Both are concatenated and go
    through a dense layer to the output.

    Parameters
    ----------
    input_shape : tuple
        ``(n_mels * n_frames + n_stats,)``.
    n_outputs : int
    output_activation, l2, dropout
        As in every builder; ``dropout`` before the output layer.
    n_mels : int, default=40
        Mel bands of the packed log-mel.
    n_stats : int, default=1537
        Trailing statistics columns (``TwoBranchFeatures().arch_params_``).
    mel_arch : str, default="cnn9"
        Registered architecture used as the log-mel branch.
    mel_params : dict, default=None
        Its builder arguments, e.g. ``{"filters": (16, 32), "se_ratio": 4}``.
    stats_filters : tuple of int, default=(16, 32)
        Convolutions of the statistics branch.
    head_units : int, default=64
        Dense layer after the join.

    Returns
    -------
    model : keras.Model
    """
    (width,) = input_shape
    n_frames_stats, has_length = divmod(n_stats, 12)
    n_mel_values = width - n_stats
    if has_length not in (0, 1) or n_frames_stats < 1 or n_mel_values <= 0 or n_mel_values % n_mels:
        raise ValueError(
            f"A packed row of {width} values does not split into n_mels={n_mels} mel bands x frames plus "
            f"n_stats={n_stats} statistics (12 per frame, plus 1 for the clip length); pass "
            "arch_params=TwoBranchFeatures(...).fit(X).arch_params_."
        )
    inputs = keras.Input(shape=(width,), name="input")
    column = keras.layers.Reshape((width, 1))(inputs)

    mel = keras.layers.Cropping1D((0, n_stats))(column)
    mel = keras.layers.Reshape((n_mels, n_mel_values // n_mels), name="mel_part")(mel)
    mel_model = get_architecture(mel_arch)(
        (n_mels, n_mel_values // n_mels), 1, output_activation="linear", l2=l2, dropout=0.0, **(mel_params or {})
    )
    trunk = keras.Model(mel_model.inputs, mel_model.get_layer("output").input, name="mel_branch")
    parts = [trunk(mel)]

    stats = keras.layers.Cropping1D((n_mel_values, has_length))(column)
    stats = keras.layers.Reshape((n_frames_stats, 12), name="stats_part")(stats)
    stats = keras.layers.BatchNormalization()(stats)  # raw waveform statistics: put them on one scale
    for filters in stats_filters:
        stats = keras.layers.Conv1D(filters, 3, padding="same", activation="relu", kernel_regularizer=_reg(l2))(stats)
        if stats.shape[1] > 1:
            stats = keras.layers.MaxPooling1D(2, padding="same")(stats)
    parts += [keras.layers.GlobalMaxPooling1D()(stats), keras.layers.GlobalAveragePooling1D()(stats)]
    if has_length:
        length = keras.layers.Flatten(name="clip_length")(keras.layers.Cropping1D((width - 1, 0))(column))
        parts.append(keras.layers.BatchNormalization()(length))

    x = keras.layers.Concatenate()(parts)
    x = keras.layers.Dense(head_units, activation="relu", kernel_regularizer=_reg(l2))(x)
    if dropout:
        x = keras.layers.Dropout(dropout)(x)
    outputs = keras.layers.Dense(n_outputs, activation=output_activation, kernel_regularizer=_reg(l2),
                                 name="output")(x)
    return keras.Model(inputs, outputs, name="two_branch")


class KerasTwoBranchClassifier(KerasClassifierBase):
    """Two-branch classifier: log-mel CNN plus global-statistics branch, joined before the head.

    ``arch="auto"`` is ``"two_branch"`` (:func:`build_two_branch`). It takes the
    packed rows of :class:`TwoBranchFeatures`, either from a Pipeline step before it
    or from its own ``frontend`` (then ``X`` is raw audio and ``augment`` acts on the
    audio every epoch). ``arch_params`` must describe the split when the features are
    not the defaults: ``TwoBranchFeatures(...).fit(X).arch_params_``. All other
    parameters are those of :class:`~sklkws.models.KerasClassifierBase`, including
    ``mixup_alpha`` and ``label_smoothing`` (multi-label targets too) and
    ``warm_start`` (pretrain, then fine-tune).

    Parameters
    ----------
    arch : str, default="auto"
    arch_params : dict, default=None
        Arguments of :func:`build_two_branch`: ``n_mels``, ``n_stats``, ``mel_arch``,
        ``mel_params``, ``stats_filters``, ``head_units``.
    **kwargs
        The training parameters of :class:`~sklkws.models.KerasClassifierBase`.

    Attributes
    ----------
    classes_, model_, history_, n_features_in_, frontend_, n_epochs_
        As in :class:`~sklkws.models.KerasClassifierBase`.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklkws.features import GlobalStatFeatures, MelFeatures
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(24, 4000)).astype(np.float32)
    >>> Y = rng.integers(0, 2, size=(24, 3))  # multi-label
    >>> feats = TwoBranchFeatures(MelFeatures(n_mels=16), GlobalStatFeatures(16, include_length=True))
    >>> clf = KerasTwoBranchClassifier(
    ...     arch_params={"n_mels": 16, "n_stats": 193, "mel_params": {"filters": (4, 8)}},
    ...     epochs=1, mixup_alpha=0.4, label_smoothing=0.1, random_state=0)
    >>> make_pipeline(feats, clf).fit(X, Y).predict_proba(X[:2]).shape
    (2, 3)
    """

    def _resolve_arch(self, feature_shape):
        return "two_branch" if self.arch == "auto" else self.arch


# ---------------------------------------------------------------- neural stacker


@keras.saving.register_keras_serializable(package="sklkws")
class SumToOne(keras.constraints.Constraint):
    """Keep weights non-negative and summing to one along the last axis (uniform if all vanish)."""

    def __call__(self, w):
        w = keras.ops.relu(w)
        total = keras.ops.sum(w, axis=-1, keepdims=True)
        uniform = keras.ops.ones_like(w) / keras.ops.cast(keras.ops.shape(w)[-1], w.dtype)
        return keras.ops.where(total > 0, w / keras.ops.maximum(total, 1e-12), uniform)


@keras.saving.register_keras_serializable(package="sklkws")
class MemberWeights(keras.layers.Layer):
    """Per-class weighted average of ensemble members: what the seed's LocallyConnected1D did.

    Input ``(batch, n_classes, n_members)``, output ``(batch, n_classes)``; weights of
    shape ``(n_classes, n_members)`` start on the last member (as in the seed) and
    stay non-negative, summing to one per class (:class:`SumToOne`).
    """

    def build(self, input_shape):
        n_classes, n_members = input_shape[-2:]
        start = np.zeros((n_classes, n_members), dtype="float32")
        start[:, -1] = 1.0
        self.kernel = self.add_weight(
            name="kernel", shape=(n_classes, n_members),
            initializer=lambda shape, dtype=None: keras.ops.convert_to_tensor(start, dtype=dtype),
            constraint=SumToOne(),
        )

    def call(self, x):
        return keras.ops.sum(x * self.kernel, axis=-1)


@keras.saving.register_keras_serializable(package="sklkws")
class TanhSquash(keras.layers.Layer):
    """The seed's output squashing ``(tanh(x - shift) + 1) / 2``, optionally renormalised to sum to one."""

    def __init__(self, shift=1.6, normalize=False, **kwargs):
        super().__init__(**kwargs)
        self.shift = float(shift)
        self.normalize = bool(normalize)

    def call(self, x):
        y = (keras.ops.tanh(x - self.shift) + 1.0) * 0.5
        if self.normalize:
            y = y / keras.ops.maximum(keras.ops.sum(y, axis=-1, keepdims=True), 1e-12)
        return y

    def get_config(self):
        return {**super().get_config(), "shift": self.shift, "normalize": self.normalize}


@keras.saving.register_keras_serializable(package="sklkws")
class TowardsIdentity(keras.regularizers.Regularizer):
    """L2 penalty ``l2 * ||W - I||^2`` pulling a square kernel towards the identity."""

    def __init__(self, l2=0.0):
        self.l2 = float(l2)

    def __call__(self, w):
        return self.l2 * keras.ops.sum(keras.ops.square(w - keras.ops.eye(w.shape[0], dtype=w.dtype)))

    def get_config(self):
        return {"l2": self.l2}


def build_stacker(n_outputs, n_members, *, shift=1.6, normalize=False, mixing_l2=0.0):
    """The seed's stacking network: per-class member weights, label-mixing dense, squashing.

    Parameters
    ----------
    n_outputs : int
        Classes (or labels).
    n_members : int
        Ensemble members.
    shift : float, default=1.6
        Offset inside the squashing ``(tanh(x - shift) + 1) / 2``.
    normalize : bool, default=False
        Renormalise outputs to a distribution (single-label problems).
    mixing_l2 : float, default=0.0
        Weight of :class:`TowardsIdentity` on the label-mixing layer (0: none, as in the seed).

    Returns
    -------
    model : keras.Model
        Input ``(n_outputs, n_members)``, output ``(n_outputs,)``.
    """
    inputs = keras.Input(shape=(n_outputs, n_members), name="member_probabilities")
    x = MemberWeights(name="member_weights")(inputs)
    # Identity start: the stacker begins as the chosen member and learns label correlations from there.
    x = keras.layers.Dense(n_outputs, use_bias=False, kernel_initializer="identity", name="label_mixing",
                           kernel_regularizer=TowardsIdentity(mixing_l2) if mixing_l2 else None)(x)
    outputs = TanhSquash(shift, normalize, name="squash")(x)
    return keras.Model(inputs, outputs, name="neural_stacker")


def _train(model, loss, optimizer, X, Y, w, *, epochs, batch_size, rng, verbose=0):
    """Minibatch training with one graph call per epoch; returns the mean loss of each epoch.

    ``model.fit`` spends milliseconds per step on a network this small; here an
    epoch's steps run in one ``tf.while_loop`` and only the shuffle is numpy.
    """
    X, Y, w = (tf.constant(a) for a in (X, Y, w))
    n = int(X.shape[0])
    steps = -(-n // batch_size)
    optimizer.build(model.trainable_variables)

    def run_epoch(order):
        def body(step, total):
            rows = order[step * batch_size : (step + 1) * batch_size]
            with tf.GradientTape() as tape:
                value = loss(tf.gather(Y, rows), model(tf.gather(X, rows), training=True),
                             sample_weight=tf.gather(w, rows))
                if model.losses:  # the regularisers
                    value += tf.add_n(model.losses)
            optimizer.apply(tape.gradient(value, model.trainable_variables), model.trainable_variables)
            return step + 1, total + value

        _, total = tf.while_loop(lambda step, total: step < steps, body, (tf.constant(0), tf.constant(0.0)))
        return total / steps

    # Tracing costs about a second: not worth it for a handful of steps.
    epoch = run_epoch if epochs * steps <= 32 else tf.function(run_epoch, autograph=False)
    history = []
    for k in range(epochs):
        history.append(float(epoch(tf.constant(rng.permutation(n), dtype=tf.int32))))
        if verbose:
            print(f"epoch {k + 1}/{epochs}: loss {history[-1]:.4f}")
    return history


class NeuralStacker(ClassifierMixin, BaseEstimator):
    """The tagging seed's neural stacker over the probabilities of several models.

    For every class, a weighted average of the members' probabilities (weights
    non-negative, summing to one per class, starting on the last member); then a
    dense layer without bias, initialised to the identity, that learns label
    correlations; then the seed's squashing ``(tanh(x - shift) + 1) / 2``, which maps
    the identity start's [0, 1] to a small positive range the dense layer learns to
    stretch. Trained with binary cross-entropy for multi-label and binary targets;
    for single-label targets with three or more classes the squashed outputs are
    renormalised to a distribution and trained with categorical cross-entropy.

    Input is what ``StackingClassifier(stack_method="predict_proba")`` gives its final
    estimator, ``(n, n_members * n_classes)`` member by member (for binary targets
    one column per member, the second class's probability), or
    ``(n, n_classes, n_members)``.

    Parameters
    ----------
    n_members : int, default=None
        Members in 2-D input; inferred as ``n_columns // n_classes`` when None. Give
        it for binary targets with both probability columns per member
        (``n_columns == 2 * n_members``).
    shift : float, default=1.6
        The seed's offset in the squashing.
    mixing_l2 : float, default=0.0
        L2 pull of the label-mixing weights towards the identity (:class:`TowardsIdentity`);
        0 is the seed's free dense layer. On small stacking sets the free layer can
        cost lwlrap (see ``docs/tagging.md``); a strong pull leaves the per-class
        member weights.
    epochs : int, default=100
    batch_size : int, default=32
    learning_rate : float, default=3e-3
        Adam's learning rate.
    verbose : int, default=0
    random_state : int, RandomState instance or None, default=None
        Seeds shuffling (and TensorFlow); an int gives the same model on CPU.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels (``arange(n_labels)`` for indicator targets).
    n_members_ : int
        Members seen in ``fit``.
    member_weights_ : ndarray of shape (n_outputs, n_members_)
        Learned per-class member weights (rows sum to one); one row for binary targets.
    model_ : keras.Model
        The network.
    history_ : dict of str -> list of float
        Per-epoch ``loss``.
    n_features_in_ : int
        Columns of 2-D input (``n_classes`` for 3-D input).

    See Also
    --------
    sklearn.ensemble.StackingClassifier : produces the out-of-fold member probabilities.

    Notes
    -----
    ``StackingClassifier.predict_proba`` assumes a multi-label final estimator
    returns a list of per-label arrays; for multi-label stacking call
    ``stack.final_estimator_.predict_proba(stack.transform(X))`` instead (``fit``,
    ``predict`` and ``transform`` work as usual).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> Y = (rng.random((200, 4)) < 0.3).astype(int)
    >>> members = [np.clip(Y + rng.normal(0, s, Y.shape), 0, 1) for s in (0.6, 0.3)]
    >>> P = np.stack(members, axis=-1)  # (n, n_labels, n_members)
    >>> stacker = NeuralStacker(epochs=20, random_state=0).fit(P, Y)
    >>> stacker.member_weights_.shape, stacker.predict_proba(P[:2]).shape
    ((4, 2), (2, 4))
    """

    _parameter_constraints = {
        "n_members": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "shift": [Interval(numbers.Real, None, None, closed="neither")],
        "mixing_l2": [Interval(numbers.Real, 0, None, closed="left")],
        "epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    def __init__(self, n_members=None, *, shift=1.6, mixing_l2=0.0, epochs=100, batch_size=32, learning_rate=3e-3,
                 verbose=0, random_state=None):
        self.n_members = n_members
        self.shift = shift
        self.mixing_l2 = mixing_l2
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.verbose = verbose
        self.random_state = random_state

    def _targets(self, y):
        """Targets for the network: indicator/one-hot, or one column for binary."""
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None.")
        y = check_array(y, ensure_2d=False, dtype=None, input_name="y")
        check_classification_targets(y)
        if type_of_target(y) == "multilabel-indicator":
            self.classes_ = np.arange(y.shape[1])
            self._kind = "multilabel"
            return np.asarray(y, dtype=np.float32)
        y = column_or_1d(y, warn=True)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        codes = encoder.transform(y)
        if len(self.classes_) == 2:
            self._kind = "binary"
            return codes[:, None].astype(np.float32)
        self._kind = "multiclass"
        return np.eye(len(self.classes_), dtype=np.float32)[codes]

    def _n_outputs(self):
        return 1 if self._kind == "binary" else len(self.classes_)

    def _members(self, X, *, reset):
        """Validate ``X`` and return it as ``(n, n_outputs, n_members)`` float32."""
        X = validate_data(self, X, reset=reset, allow_nd=True, dtype=[np.float32, np.float64])
        n_out = self._n_outputs()
        if X.ndim == 3:
            per = X.shape[1]
            if per != n_out and not (self._kind == "binary" and per == 2):
                raise ValueError(f"X has shape {X.shape}: expected (n_samples, {n_out}, n_members) for "
                                 f"{len(self.classes_)} classes.")
            members = X[:, -n_out:, :]
        elif X.ndim == 2:
            width = X.shape[1]
            per = n_out
            if self._kind == "binary" and self.n_members is not None and width == 2 * self.n_members:
                per = 2  # both probability columns per member: keep the second
            if width % per or (self.n_members is not None and width != per * self.n_members):
                expected = f"{self.n_members} x {per}" if self.n_members is not None else f"n_members x {per}"
                raise ValueError(
                    f"X has {width} columns; stacked member probabilities need {expected} columns "
                    f"({len(self.classes_)} classes, member by member, as StackingClassifier gives them)."
                )
            members = X.reshape(len(X), width // per, per).transpose(0, 2, 1)[:, -n_out:, :]
        else:
            raise ValueError(f"X must be 2-D (n, n_members * n_classes) or 3-D (n, n_classes, n_members), "
                             f"got {X.ndim}-D.")
        if not reset and members.shape[2] != self.n_members_:
            raise ValueError(f"X holds {members.shape[2]} members, but {type(self).__name__} was fitted on "
                             f"{self.n_members_}.")
        return np.ascontiguousarray(members, dtype=np.float32)

    def _build(self):
        return build_stacker(self._n_outputs(), self.n_members_, shift=self.shift,
                             normalize=self._kind == "multiclass", mixing_l2=self.mixing_l2)

    def fit(self, X, y, sample_weight=None):
        """Train the stacker on member probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_members * n_classes) or (n_samples, n_classes, n_members)
            Member probabilities (out of fold, for a fair stacker).
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        self._validate_params()
        Y = self._targets(y)
        members = self._members(X, reset=True)
        check_consistent_length(members, Y)
        w = _check_sample_weight(sample_weight, members, dtype=np.float32)
        self.n_members_ = members.shape[2]
        rng = check_random_state(self.random_state)
        model = self._build()  # deterministic start (identity and last-member weights): only shuffling is random
        multiclass = self._kind == "multiclass"
        loss = keras.losses.CategoricalCrossentropy() if multiclass else keras.losses.BinaryCrossentropy()
        losses = _train(model, loss, keras.optimizers.Adam(self.learning_rate), members, Y, w,
                        epochs=self.epochs, batch_size=self.batch_size, rng=rng, verbose=self.verbose)
        self.model_ = model
        self.history_ = {"loss": losses}
        self.member_weights_ = keras.ops.convert_to_numpy(model.get_layer("member_weights").kernel)
        return self

    def predict_proba(self, X):
        """Stacked probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_members * n_classes) or (n_samples, n_classes, n_members)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Rows sum to one for single-label targets; per-label values for multi-label.
        """
        check_is_fitted(self)
        members = self._members(X, reset=False)
        out = np.empty((len(members), self._n_outputs()))
        for rows in batch_slices(len(members), 4096):
            out[rows] = keras.ops.convert_to_numpy(self.model_(members[rows], training=False))
        if self._kind == "binary":
            return np.hstack([1.0 - out, out])
        if self._kind == "multiclass":
            out /= out.sum(axis=1, keepdims=True)
        return out

    def predict(self, X):
        """Most probable class, or labels with probability >= 0.5 for multi-label.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_members * n_classes) or (n_samples, n_classes, n_members)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_labels)
        """
        proba = self.predict_proba(X)
        if self._kind == "multilabel":
            return (proba >= 0.5).astype(int)
        return self.classes_[np.argmax(proba, axis=1)]

    def __getstate__(self):
        """Pickle the network as its weights: no live TensorFlow objects."""
        state = dict(super().__getstate__())  # a copy: object.__getstate__ gives the live __dict__
        model = state.pop("model_", None)
        if model is not None:
            state["_model_weights"] = model.get_weights()
        return state

    def __setstate__(self, state):
        weights = state.pop("_model_weights", None)
        super().__setstate__(state)
        if weights is not None:
            self.model_ = self._build()
            self.model_.set_weights(weights)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        tags.input_tags.three_d_array = True
        tags.non_deterministic = self.random_state is None
        return tags
