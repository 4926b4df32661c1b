"""Log-mel into a CNN plus global statistics into a second branch, joined before the head."""

import keras
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from .._compat import HasMethods
from .._validation import check_audio
from ..features import GlobalStatFeatures, MelFeatures
from ..models import KerasClassifierBase, get_architecture, register_architecture


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
                                 dtype="float32", name="output")(x)  # float32 under a mixed policy too
    return keras.Model(inputs, outputs, name="two_branch")


class KerasTwoBranchClassifier(KerasClassifierBase):
    """Two-branch classifier: log-mel CNN plus global-statistics branch, joined before the head.

    ``arch="auto"`` is ``"two_branch"`` (:func:`build_two_branch`). It takes the
    packed rows of :class:`TwoBranchFeatures`, either from a Pipeline step before it
    or from its own ``frontend`` (then ``X`` is raw audio and ``augment`` acts on the
    audio every epoch; without a front end the 2-D rows are features, so the audio
    checks of amplitude and layout do not apply). ``arch_params`` must describe the
    split when the features are not the defaults:
    ``TwoBranchFeatures(...).fit(X).arch_params_``. All other
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

    def _takes_feature_rows(self):
        # Without a front end the rows are TwoBranchFeatures' packed features, not audio.
        return self.frontend is None and self._resolve_arch(None) == "two_branch"
