"""The concrete classifiers: they share KerasClassifierBase and differ in what "auto" builds."""

from ._base import KerasClassifierBase


class KerasResNetClassifier(KerasClassifierBase):
    """Residual network classifier: 1-D ResNet on raw audio, BC-ResNet on log-mels.

    With ``arch="auto"`` the input rank decides: raw audio ``(n_clips, n_samples)``
    trains the speech seed's 1-D ResNet (``"resnet1d"``: 17 residual blocks of two
    convolutions, BatchNorm + L2, global average pooling, one softmax layer); features
    ``(n_clips, n_bins, n_frames)`` (or a ``frontend`` producing them) train the
    BC-ResNet-style ``"bcresnet"`` (about 15 M MACs per 1 s clip at ``width=3``).
    ``arch="tcresnet"`` is TC-ResNet (temporal convolutions over the mel bands, the
    network of :func:`sklkws.recipes.recommended_pipeline`); ``arch="res2d"`` gives the
    res8/res15-style dilated 2-D ResNet.
    All parameters are those of :class:`KerasClassifierBase`.

    Parameters
    ----------
    arch : {"auto", "resnet1d", "bcresnet", "tcresnet", "res2d"} or str, default="auto"
        See above; any registered name works.
    arch_params : dict, default=None
        Builder arguments, e.g. ``{"n_blocks": 17, "filters": 16}`` for resnet1d or
        ``{"width": 3}`` for bcresnet, ``{"width": 1.5, "stem2d": 8}`` for tcresnet.
    **kwargs
        The training parameters of :class:`KerasClassifierBase` (``optimizer``,
        ``learning_rate``, ``decay``, ``epochs``, ``batch_size``, ``augment``, ...).

    Attributes
    ----------
    classes_, model_, history_, n_features_in_, frontend_, n_epochs_
        As in :class:`KerasClassifierBase`.

    See Also
    --------
    KerasCNNClassifier : the plain CNN baselines of the two seeds.
    sklkws.models.count_macs : compute budget of ``model_``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklkws.models import KerasResNetClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 400)).astype(np.float32)
    >>> y = np.array(["yes", "no"] * 20)
    >>> clf = KerasResNetClassifier(arch_params={"n_blocks": 2, "filters": 4},
    ...                             epochs=1, batch_size=20, random_state=0).fit(X, y)
    >>> clf.classes_
    array(['no', 'yes'], dtype='<U3')
    >>> clf.predict_proba(X[:2]).shape
    (2, 2)
    """

    def _resolve_arch(self, feature_shape):
        if self.arch != "auto":
            return self.arch
        return "resnet1d" if len(feature_shape) == 1 else "bcresnet"


class KerasCNNClassifier(KerasClassifierBase):
    """Plain convolutional classifier: the seeds' baselines.

    ``arch="auto"`` is ``"cnn17"``, the speech seed's 17 convolutions + BatchNorm + L2
    with global pooling. ``"cnn6"`` is its first model (6 convolutions, flatten, 3
    dense layers); ``"cnn9"`` is the tagging seed's 9-layer CNN with average pooling
    along time and max pooling along mel, optional squeeze-excitation
    (``arch_params={"se_ratio": 8}``) and the pixel-shuffle + max-over-time +
    mean-over-mel head. All parameters are those of :class:`KerasClassifierBase`.

    Parameters
    ----------
    arch : {"auto", "cnn17", "cnn6", "cnn9"} or str, default="auto"
    arch_params : dict, default=None
        Builder arguments, e.g. ``{"filters": 8}``.
    **kwargs
        The training parameters of :class:`KerasClassifierBase`.

    Attributes
    ----------
    classes_, model_, history_, n_features_in_, frontend_, n_epochs_
        As in :class:`KerasClassifierBase`.

    See Also
    --------
    KerasResNetClassifier : the residual networks (recommended).

    Examples
    --------
    >>> import numpy as np
    >>> from sklkws.models import KerasCNNClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(30, 8, 12)).astype(np.float32)  # (clips, mel bins, frames)
    >>> y = np.array([0, 1, 2] * 10)
    >>> clf = KerasCNNClassifier("cnn9", {"filters": (4, 4)}, epochs=1,
    ...                          random_state=0).fit(X, y)
    >>> clf.predict(X[:3]).shape
    (3,)
    """

    def _resolve_arch(self, feature_shape):
        return "cnn17" if self.arch == "auto" else self.arch
