"""The one registry of network architectures: plain functions that build a Keras model.

Every entry has the signature ``build(input_shape, n_outputs, **hyper) -> keras.Model``.
``input_shape`` is one clip without the batch axis: ``(n_samples,)`` for raw audio or
``(n_bins, n_frames)`` for features from :class:`sklkws.features.MelFeatures`. The model's
input is exactly that shape (the channel axis is added inside), so the exporter can put
front-end layers in front of it. The classifiers always pass ``output_activation``
(``"softmax"`` or ``"sigmoid"``), ``l2`` and ``dropout``; everything else comes from
their ``arch_params``. Adding an architecture is adding one decorated function.

Only built-in Keras layers are used, so a saved ``.keras`` file loads anywhere with
``safe_mode`` on and converts to TFLite without custom ops.
"""

import contextlib

import keras
from keras import layers

#: Architecture name -> builder function ``build(input_shape, n_outputs, **hyper)``.
ARCHITECTURES = {}


def register_architecture(name):
    """Decorator adding a builder to :data:`ARCHITECTURES` under ``name``.

    Parameters
    ----------
    name : str
        Registry key, the value of a classifier's ``arch`` parameter.

    Returns
    -------
    decorator : callable
        Registers the function and returns it unchanged.

    Examples
    --------
    >>> from sklkws.models import ARCHITECTURES, register_architecture
    >>> @register_architecture("tiny_dense")
    ... def build_tiny_dense(input_shape, n_outputs, *, output_activation="softmax",
    ...                      l2=0.0, dropout=0.0):
    ...     inputs = keras.Input(input_shape)
    ...     x = keras.layers.Flatten()(inputs)
    ...     return keras.Model(inputs, keras.layers.Dense(n_outputs,
    ...                        activation=output_activation)(x))
    >>> "tiny_dense" in ARCHITECTURES
    True
    >>> del ARCHITECTURES["tiny_dense"]
    """

    def decorator(func):
        if name in ARCHITECTURES and ARCHITECTURES[name] is not func:
            raise ValueError(f"Architecture {name!r} is already registered.")
        ARCHITECTURES[name] = func
        return func

    return decorator


#: Built-in architectures whose builder lives with the estimator it serves, name -> module.
#: The module registers the builder when imported; :func:`get_architecture` imports it on
#: first use, so ``arch="two_branch"`` works without importing :mod:`sklkws.ensemble` first
#: (importing it here would be circular: the ensemble builds on :mod:`sklkws.models`).
_DEFERRED = {"two_branch": "sklkws.ensemble._two_branch"}


def get_architecture(name):
    """Return the builder registered as ``name``, or raise a ValueError listing the names.

    Parameters
    ----------
    name : str
        Key of :data:`ARCHITECTURES`, or a built-in name registered by a module
        imported on first use (``"two_branch"``).

    Returns
    -------
    build : callable
        ``build(input_shape, n_outputs, **hyper) -> keras.Model``.

    Examples
    --------
    >>> get_architecture("two_branch").__name__
    'build_two_branch'
    """
    if isinstance(name, str) and name not in ARCHITECTURES and name in _DEFERRED:
        import importlib

        importlib.import_module(_DEFERRED[name])
    try:
        return ARCHITECTURES[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown architecture {name!r}; registered: {sorted(set(ARCHITECTURES) | set(_DEFERRED))}."
        ) from None


# ----------------------------------------------------------------------------- helpers


def _reg(l2):
    return keras.regularizers.L2(l2) if l2 else None


def _image_input(input_shape):
    """Input and its (height=bins, width=frames, 1) view for the 2-D networks.

    Raw audio ``(n_samples,)`` becomes a one-band image ``(1, n_samples, 1)``: not a
    sensible model for speech, but it keeps every estimator usable on any 2-D ``X``.
    """
    inputs = keras.Input(shape=tuple(input_shape), name="input")
    if len(input_shape) == 1:
        x = layers.Reshape((1, input_shape[0], 1))(inputs)
    elif len(input_shape) == 2:
        x = layers.Reshape((*input_shape, 1))(inputs)
    else:
        raise ValueError(f"Expected input of shape (n_samples,) or (n_bins, n_frames), got {input_shape}.")
    return inputs, x


def _sequence_input(input_shape):
    """Input and its (time, channels) view for the 1-D networks.

    Raw audio is one channel; features ``(n_bins, n_frames)`` become ``n_frames`` steps
    of ``n_bins`` channels (a temporal convolution over the mel bands).
    """
    inputs = keras.Input(shape=tuple(input_shape), name="input")
    if len(input_shape) == 1:
        x = layers.Reshape((input_shape[0], 1))(inputs)
    elif len(input_shape) == 2:
        x = layers.Permute((2, 1))(inputs)
    else:
        raise ValueError(f"Expected input of shape (n_samples,) or (n_bins, n_frames), got {input_shape}.")
    return inputs, x


def _input_norm(x, bn_momentum):
    """Standardise each frequency band with learned scale and offset (log-mels in dB are
    far from zero-mean); folds into a multiply-add on export."""
    return layers.BatchNormalization(axis=1, momentum=bn_momentum, name="input_norm")(x)


def _head(x, n_outputs, output_activation, dropout, l2):
    if dropout:
        x = layers.Dropout(dropout)(x)
    # float32 even under a mixed policy: a float16 softmax resolves probabilities near 1
    # only to about 5e-4, and the loss needs more (the Keras mixed-precision guide's advice).
    return layers.Dense(n_outputs, activation=output_activation, kernel_regularizer=_reg(l2), dtype="float32",
                        name="output")(x)


def _kernel_regularizer(conv, l2):
    """The regularizer keyword of a convolution class (separable ones regularise the pointwise part)."""
    if issubclass(conv, (layers.SeparableConv1D, layers.SeparableConv2D)):
        return {"pointwise_regularizer": _reg(l2)}
    return {"kernel_regularizer": _reg(l2)}


def _conv_bn_relu(x, filters, kernel_size, l2, bn_momentum, strides=1, dilation_rate=1, conv=layers.Conv2D):
    x = conv(
        filters, kernel_size, strides=strides, dilation_rate=dilation_rate, padding="same",
        use_bias=False, **_kernel_regularizer(conv, l2),
    )(x)
    x = layers.BatchNormalization(momentum=bn_momentum)(x)
    return layers.ReLU()(x)


def _per_block(value, n_blocks, name):
    """Broadcast a scalar to one value per block, or check a sequence has ``n_blocks``."""
    if isinstance(value, (list, tuple)):
        if len(value) != n_blocks:
            raise ValueError(f"{name} has {len(value)} entries for {n_blocks} blocks.")
        return list(value)
    return [value] * n_blocks


# ---------------------------------------------------------------------- architectures


@register_architecture("resnet1d")
def build_resnet1d(
    input_shape, n_outputs, *, output_activation="softmax", l2=1e-4, dropout=0.0,
    n_blocks=17, filters=16, kernel_size=9, stem_kernel_size=80, stem_stride=4,
    strides=None, widen_every=2, max_filters=64, bn_momentum=0.99,
):
    """The speech seed's 1-D ResNet on raw audio (or on mel bands over time).

    A strided stem convolution, ``n_blocks`` residual blocks of two convolutions with
    BatchNorm, ReLU and L2, global average pooling and one dense output layer. By
    default the first ``2 * 6`` blocks alternate stride 2 and 1, halving the time axis
    six times, and the width doubles every ``widen_every`` strided blocks.

    Parameters
    ----------
    input_shape : tuple
        ``(n_samples,)`` or ``(n_bins, n_frames)``.
    n_outputs : int
        Number of output units.
    output_activation, l2, dropout
        Output activation, L2 weight of every kernel, dropout before the output layer.
    n_blocks : int, default=17
        Residual blocks (two convolutions each: 34 convolutions for the seed's 17).
    filters : int, default=16
        Width of the stem and the first blocks.
    kernel_size, stem_kernel_size, stem_stride : int
        Kernel of the block convolutions; kernel and stride of the stem.
    strides : sequence of int of length n_blocks, default=None
        Stride of each block's first convolution; None for the schedule above.
    widen_every : int, default=2
        Double the width every this many strided blocks (capped at ``max_filters``).
    bn_momentum : float, default=0.99
        Momentum of the BatchNorm moving averages (lower it for runs of few steps).

    Returns
    -------
    model : keras.Model
    """
    if strides is None:
        strides = [2 if (i % 2 == 0 and i < 12) else 1 for i in range(n_blocks)]
    strides = _per_block(strides, n_blocks, "strides")
    inputs, x = _sequence_input(input_shape)
    if len(input_shape) == 2:  # already framed: no strided stem
        stem_kernel_size, stem_stride = 3, 1
    x = _conv_bn_relu(x, filters, stem_kernel_size, l2, bn_momentum, strides=stem_stride, conv=layers.Conv1D)
    width, n_strided = filters, 0
    for stride in strides:
        if stride > 1:
            n_strided += 1
            if widen_every and n_strided % widen_every == 0:
                width = min(2 * width, max_filters)
        shortcut = x
        y = _conv_bn_relu(x, width, kernel_size, l2, bn_momentum, strides=stride, conv=layers.Conv1D)
        y = layers.Conv1D(width, kernel_size, padding="same", use_bias=False, kernel_regularizer=_reg(l2))(y)
        y = layers.BatchNormalization(momentum=bn_momentum)(y)
        if stride > 1 or shortcut.shape[-1] != width:
            shortcut = layers.Conv1D(width, 1, strides=stride, padding="same", use_bias=False,
                                     kernel_regularizer=_reg(l2))(shortcut)
            shortcut = layers.BatchNormalization(momentum=bn_momentum)(shortcut)
        x = layers.ReLU()(layers.Add()([shortcut, y]))
    x = layers.GlobalAveragePooling1D()(x)
    return keras.Model(inputs, _head(x, n_outputs, output_activation, dropout, l2), name="resnet1d")


@register_architecture("res2d")
def build_res2d(
    input_shape, n_outputs, *, output_activation="softmax", l2=1e-5, dropout=0.0,
    n_layers=6, filters=45, pool=(4, 3), dilation=True, input_norm=True, bn_momentum=0.99,
):
    """A res8 / res15-style 2-D residual network for log-mel input (Tang & Lin, 2018).

    A 3x3 convolution, an optional average pooling, ``n_layers`` 3x3 convolutions
    (ReLU, then BatchNorm) with an identity shortcut every two, dilated as
    ``2 ** (i // 3)`` along both axes when ``dilation``; global average pooling and one
    dense layer. ``n_layers=6, pool=(4, 3)`` is res8 (about 30 M MACs on 40 x 101);
    ``n_layers=12, pool=None`` is res15.

    Parameters
    ----------
    input_shape : tuple
        ``(n_bins, n_frames)`` (raw audio is accepted as one band).
    n_outputs : int
    output_activation, l2, dropout
        As in every builder.
    n_layers : int, default=6
        Convolutions after the first (even).
    filters : int, default=45
        Feature maps of every convolution.
    pool : tuple of int or None, default=(4, 3)
        Average pooling after the first convolution.
    dilation : bool, default=True
        Dilate the convolutions exponentially.
    input_norm : bool, default=True
        Standardise each frequency band first (a BatchNorm over the band axis).
    bn_momentum : float, default=0.99
        Momentum of the BatchNorm moving averages.

    Returns
    -------
    model : keras.Model
    """
    inputs, x = _image_input(input_shape)
    if input_norm:
        x = _input_norm(x, bn_momentum)
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_regularizer=_reg(l2))(x)
    x = layers.ReLU()(x)
    if pool:
        pool = tuple(min(p, s) for p, s in zip(pool, x.shape[1:3]))
        x = layers.AveragePooling2D(pool, padding="same")(x)
    shortcut = x
    for i in range(n_layers):
        rate = 2 ** (i // 3) if dilation else 1
        x = layers.Conv2D(filters, 3, padding="same", dilation_rate=rate, use_bias=False,
                          kernel_regularizer=_reg(l2))(x)
        x = layers.ReLU()(x)
        if i % 2 == 1:
            x = layers.Add()([x, shortcut])
            shortcut = x
        x = layers.BatchNormalization(momentum=bn_momentum, center=False, scale=False)(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, _head(x, n_outputs, output_activation, dropout, l2), name="res2d")


@register_architecture("tcresnet")
def build_tcresnet(
    input_shape, n_outputs, *, output_activation="softmax", l2=1e-4, dropout=0.0,
    width=1.0, stem_filters=16, stage_filters=(24, 32, 48), blocks_per_stage=2, kernel_size=9,
    stem2d=0, separable=False, input_norm=True, bn_momentum=0.99,
):
    """TC-ResNet (Choi et al., 2019): temporal convolutions with the mel bands as channels.

    The features ``(n_bins, n_frames)`` are read as ``n_frames`` steps of ``n_bins``
    channels, so every convolution is a 1-D convolution over time: dense matrix
    products that CPUs (and a Raspberry Pi) run efficiently. A stem convolution of
    kernel 3, then one stage per entry of ``stage_filters``, each of
    ``blocks_per_stage`` residual blocks of two ``kernel_size`` convolutions (BatchNorm,
    ReLU, L2; the first block of a stage has stride 2 and a 1x1 convolution on its
    shortcut), global average pooling and one dense layer. ``blocks_per_stage=1`` is
    TC-ResNet8, ``2`` TC-ResNet14; ``width`` multiplies every channel count.

    Parameters
    ----------
    input_shape : tuple
        ``(n_bins, n_frames)``; raw audio ``(n_samples,)`` is read as one channel.
    n_outputs : int
    output_activation, l2, dropout
        As in every builder; ``dropout`` is applied before the output layer.
    width : float, default=1.0
        Channel multiplier (TC-ResNet14-1.5 is ``width=1.5``).
    stem_filters : int, default=16
    stem2d : int, default=0
        Channels of an optional 2-D stem: two 3x3 convolutions, each halving the
        frequency axis, whose output bands are folded into the channels before the
        temporal convolutions (local time-frequency patterns, shared across
        frequency); 0 for none.
    separable : bool, default=False
        Depthwise-separable block convolutions (a ``kernel_size`` depthwise
        convolution, then a pointwise one, as in MatchboxNet): about ``kernel_size``
        times fewer parameters, so a wider network fits the same size.
    stage_filters : tuple of int, default=(24, 32, 48)
        Channels of each stage (times ``width``).
    blocks_per_stage : int, default=2
    kernel_size : int, default=9
        Temporal kernel of the block convolutions.
    input_norm : bool, default=True
        Standardise each frequency band first (a BatchNorm over the band axis).
    bn_momentum : float, default=0.99

    Returns
    -------
    model : keras.Model

    Examples
    --------
    >>> model = build_tcresnet((40, 101), 12, width=1.5)
    >>> model.output_shape
    (None, 12)
    """
    ch = lambda c: max(1, int(round(c * width)))  # noqa: E731
    inputs = keras.Input(shape=tuple(input_shape), name="input")
    if len(input_shape) == 2:
        x = inputs
        if input_norm:
            x = layers.BatchNormalization(axis=1, momentum=bn_momentum, name="input_norm")(x)
        if stem2d:
            x = layers.Reshape((*input_shape, 1))(x)
            for _ in range(2):
                x = _conv_bn_relu(x, stem2d, 3, l2, bn_momentum, strides=(2 if x.shape[1] > 1 else 1, 1))
            x = layers.Permute((2, 1, 3))(x)  # (frames, bands, channels)
            x = layers.Reshape((x.shape[1], x.shape[2] * x.shape[3]))(x)
        else:
            x = layers.Permute((2, 1))(x)  # (frames, bands): bands are channels
    elif len(input_shape) == 1:
        x = layers.Reshape((input_shape[0], 1))(inputs)
    else:
        raise ValueError(f"Expected input of shape (n_samples,) or (n_bins, n_frames), got {input_shape}.")
    x = layers.Conv1D(ch(stem_filters), 3, padding="same", use_bias=False, kernel_regularizer=_reg(l2))(x)
    conv = layers.SeparableConv1D if separable else layers.Conv1D
    for filters in stage_filters:
        for i in range(blocks_per_stage):
            stride = 2 if i == 0 and x.shape[1] > 1 else 1
            shortcut = x
            y = _conv_bn_relu(x, ch(filters), kernel_size, l2, bn_momentum, strides=stride, conv=conv)
            y = conv(ch(filters), kernel_size, padding="same", use_bias=False, **_kernel_regularizer(conv, l2))(y)
            y = layers.BatchNormalization(momentum=bn_momentum)(y)
            if stride > 1 or shortcut.shape[-1] != ch(filters):
                shortcut = _conv_bn_relu(shortcut, ch(filters), 1, l2, bn_momentum, strides=stride, conv=layers.Conv1D)
            x = layers.ReLU()(layers.Add()([shortcut, y]))
    x = layers.GlobalAveragePooling1D()(x)
    return keras.Model(inputs, _head(x, n_outputs, output_activation, dropout, l2), name="tcresnet")


@register_architecture("tcresnet_stream")
def build_tcresnet_stream(
    input_shape, n_outputs, *, output_activation="softmax", l2=1e-4, dropout=0.0,
    width=1.0, stem_filters=16, stage_filters=(24, 32, 48), kernel_size=5, dilations=(1, 2, 4), stem2d=0,
    input_norm=True, bn_momentum=0.99,
):
    """A TC-ResNet that streams: dilated, unpadded temporal convolutions instead of strided ones.

    The layout of :func:`build_tcresnet` (the mel bands are the channels, a kernel-3
    stem, one residual block of two ``kernel_size`` convolutions per entry of
    ``stage_filters``, global average pooling, one dense layer), changed so that every
    output frame depends on a fixed span of input frames and on nothing else: no
    padding ("valid" convolutions), no stride (block ``i`` dilates by ``dilations[i]``
    to widen the receptive field instead), and each shortcut drops the oldest frames
    its block's convolutions consumed (a right-aligned crop). The network's output is
    then the mean over the last ``n_frames - receptive_field + 1`` frames of one
    per-frame computation, so a streaming form that keeps the convolutions' recent
    inputs as state (:func:`sklkws.export.build_stateful_step`) computes only the
    frames of each new hop and gives the same probabilities as this whole-window model.
    Feed it features that depend only on their own frame (``MelFeatures(center=False,
    top_db=None)``, no peak normalisation) so that the front end streams too.

    Parameters
    ----------
    input_shape : tuple
        ``(n_bins, n_frames)``.
    n_outputs : int
    output_activation, l2, dropout
        As in every builder; ``dropout`` is applied before the output layer.
    width : float, default=1.0
        Channel multiplier.
    stem_filters : int, default=16
    stage_filters : tuple of int, default=(24, 32, 48)
        Channels of each residual block (times ``width``).
    kernel_size : int, default=5
    dilations : tuple of int, default=(1, 2, 4)
        Dilation of each block's two convolutions, one per entry of ``stage_filters``.
        The receptive field is ``3 + sum(2 * (kernel_size - 1) * d)`` frames (59 by
        default; 4 more with ``stem2d``) and must not exceed ``n_frames``.
    stem2d : int, default=0
        Channels of an optional 2-D stem as in :func:`build_tcresnet` (two 3x3
        convolutions, each halving the bands, folded into the channels), unpadded in
        time; 0 for none.
    input_norm : bool, default=True
        Standardise each frequency band first (a BatchNorm over the band axis).
    bn_momentum : float, default=0.99

    Returns
    -------
    model : keras.Model

    Raises
    ------
    ValueError
        If the input is not ``(n_bins, n_frames)`` or the receptive field is longer
        than ``n_frames``.

    Examples
    --------
    >>> model = build_tcresnet_stream((40, 97), 12)
    >>> model.output_shape
    (None, 12)
    """
    if len(input_shape) != 2:
        raise ValueError(f"tcresnet_stream takes features of shape (n_bins, n_frames), got input of shape "
                         f"{tuple(input_shape)}: put MelFeatures(center=False, top_db=None) before it.")
    dilations = tuple(int(d) for d in dilations)
    if len(dilations) != len(stage_filters) or min(dilations, default=1) < 1:
        raise ValueError(f"dilations must hold one positive integer per entry of stage_filters "
                         f"{tuple(stage_filters)}, got {dilations}.")
    receptive = 3 + sum(2 * (kernel_size - 1) * d for d in dilations) + (4 if stem2d else 0)
    if receptive > input_shape[1]:
        raise ValueError(
            f"tcresnet_stream's receptive field is {receptive} frames (kernel_size={kernel_size}, "
            f"dilations={dilations}) but a clip has {input_shape[1]}: use a smaller kernel_size or dilations."
        )
    ch = lambda c: max(1, int(round(c * width)))  # noqa: E731
    inputs = keras.Input(shape=tuple(input_shape), name="input")
    x = _input_norm(inputs, bn_momentum) if input_norm else inputs
    if stem2d:
        x = layers.Reshape((*input_shape, 1))(x)
        for _ in range(2):  # "same" along the bands only: time stays unpadded
            x = layers.ZeroPadding2D(((1, 1), (0, 0)))(x)
            x = layers.Conv2D(stem2d, 3, strides=(2 if x.shape[1] > 3 else 1, 1), padding="valid", use_bias=False,
                              kernel_regularizer=_reg(l2))(x)
            x = layers.ReLU()(layers.BatchNormalization(momentum=bn_momentum)(x))
        x = layers.Permute((2, 1, 3))(x)  # (frames, bands, channels)
        x = layers.Reshape((x.shape[1], x.shape[2] * x.shape[3]))(x)
    else:
        x = layers.Permute((2, 1))(x)  # (frames, bands): bands are channels
    x = layers.Conv1D(ch(stem_filters), 3, padding="valid", use_bias=False, kernel_regularizer=_reg(l2))(x)
    for filters, dilation in zip(stage_filters, dilations):
        y = x
        for i in range(2):
            y = layers.Conv1D(ch(filters), kernel_size, dilation_rate=dilation, padding="valid", use_bias=False,
                              kernel_regularizer=_reg(l2))(y)
            y = layers.BatchNormalization(momentum=bn_momentum)(y)
            if i == 0:
                y = layers.ReLU()(y)
        # The shortcut keeps the newest frames, those the block's output frames end on.
        shortcut = layers.Cropping1D((2 * (kernel_size - 1) * dilation, 0))(x)
        if shortcut.shape[-1] != ch(filters):
            shortcut = layers.Conv1D(ch(filters), 1, use_bias=False, kernel_regularizer=_reg(l2))(shortcut)
            shortcut = layers.ReLU()(layers.BatchNormalization(momentum=bn_momentum)(shortcut))
        x = layers.ReLU()(layers.Add()([shortcut, y]))
    x = layers.GlobalAveragePooling1D()(x)
    return keras.Model(inputs, _head(x, n_outputs, output_activation, dropout, l2), name="tcresnet_stream")


def _subspectral_norm(x, groups, bn_momentum):
    """BatchNorm with separate statistics per frequency sub-band (BC-ResNet's SSN).

    Folds the ``groups`` sub-bands into the channel axis, normalises, and unfolds;
    plain BatchNorm when the band count does not divide.
    """
    n_bins, n_frames, channels = x.shape[1:]
    if groups <= 1 or n_bins % groups:
        return layers.BatchNormalization(momentum=bn_momentum)(x)
    band = n_bins // groups
    x = layers.Reshape((groups, band, n_frames, channels))(x)
    x = layers.Permute((2, 3, 1, 4))(x)
    x = layers.Reshape((band, n_frames, groups * channels))(x)
    x = layers.BatchNormalization(momentum=bn_momentum)(x)
    x = layers.Reshape((band, n_frames, groups, channels))(x)
    x = layers.Permute((3, 1, 2, 4))(x)
    return layers.Reshape((n_bins, n_frames, channels))(x)


def _bc_block(x, channels, stride, dilation, l2, dropout, ssn_groups, bn_momentum):
    """One broadcasted-residual block (Kim et al., 2021).

    The frequency-wise depthwise convolution keeps the 2-D detail (f2); its output is
    averaged over frequency, convolved along time and pointwise, and broadcast back
    (f1), so most of the work is done on a 1-D signal.
    """
    transition = x.shape[-1] != channels or stride > 1
    if transition:
        x = _conv_bn_relu(x, channels, 1, l2, bn_momentum)
    identity = x
    x2 = layers.DepthwiseConv2D((3, 1), padding="same", use_bias=False, depthwise_regularizer=_reg(l2))(x)
    if stride > 1:
        # Subsample frequency after the convolution: TensorFlow's Eigen depthwise kernel
        # (ARM boards, TF_ENABLE_ONEDNN_OPTS=0) rejects unequal row and column strides.
        x2 = layers.MaxPooling2D((1, 1), strides=(stride, 1))(x2)
    x2 = _subspectral_norm(x2, ssn_groups, bn_momentum)
    n_bins = x2.shape[1]
    y = layers.AveragePooling2D((n_bins, 1))(x2)
    y = layers.DepthwiseConv2D((1, 3), dilation_rate=(1, dilation), padding="same", use_bias=False,
                               depthwise_regularizer=_reg(l2))(y)
    y = layers.BatchNormalization(momentum=bn_momentum)(y)
    y = layers.Activation("swish")(y)
    y = layers.Conv2D(channels, 1, use_bias=False, kernel_regularizer=_reg(l2))(y)
    if dropout:
        y = layers.SpatialDropout2D(dropout)(y)
    parts = [x2, y] if transition else [identity, x2, y]  # y (one band) broadcasts over frequency
    return layers.ReLU()(layers.Add()(parts))


@register_architecture("bcresnet")
def build_bcresnet(
    input_shape, n_outputs, *, output_activation="softmax", l2=1e-4, dropout=0.1,
    width=3, blocks=(2, 2, 4, 4), stage_channels=(8, 12, 16, 20), freq_strides=(1, 2, 2, 1),
    dilations=(1, 2, 4, 8), ssn_groups=5, input_norm=True, bn_momentum=0.99,
):
    """BC-ResNet-style efficient network on log-mel input.

    A 5x5 stem (stride 2 in frequency, ``16 * width`` channels), four stages of
    broadcasted-residual blocks with ``stage_channels * width`` channels, frequency
    strides and temporal dilations as given, a depthwise 5x5 over what is left of the
    frequency axis, a 1x1 convolution to ``32 * width`` channels, global average
    pooling and one dense layer. ``width=3`` is about 20 M MACs on 40 x 101 log-mels.

    Parameters
    ----------
    input_shape : tuple
        ``(n_bins, n_frames)`` (raw audio is accepted as one band).
    n_outputs : int
    output_activation, l2, dropout
        ``dropout`` is the channel dropout inside every block.
    width : float, default=3
        Width multiplier (BC-ResNet-``width``).
    blocks, stage_channels, freq_strides, dilations : tuple of int, one per stage
        Blocks per stage, channels per stage (times ``width``), frequency stride of
        each stage's first block, temporal dilation of the stage.
    ssn_groups : int, default=5
        Frequency sub-bands of SubSpectralNorm (1 for plain BatchNorm).
    input_norm : bool, default=True
        Standardise each frequency band first (a BatchNorm over the band axis).
    bn_momentum : float, default=0.99
        Momentum of the BatchNorm moving averages.

    Returns
    -------
    model : keras.Model
    """
    for name, value in (("stage_channels", stage_channels), ("freq_strides", freq_strides),
                        ("dilations", dilations)):
        if len(value) != len(blocks):
            raise ValueError(f"{name} has {len(value)} entries for {len(blocks)} stages.")
    ch = lambda c: max(1, int(round(c * width)))  # noqa: E731
    inputs, x = _image_input(input_shape)
    if input_norm:
        x = _input_norm(x, bn_momentum)
    x = _conv_bn_relu(x, ch(16), 5, l2, bn_momentum, strides=(2 if x.shape[1] > 1 else 1, 1))
    for n_blocks, channels, stride, dilation in zip(blocks, stage_channels, freq_strides, dilations):
        for i in range(n_blocks):
            s = stride if (i == 0 and x.shape[1] >= 2 * stride) else 1
            x = _bc_block(x, ch(channels), s, dilation, l2, dropout, ssn_groups, bn_momentum)
    if x.shape[1] <= 5:  # the paper's head: collapse what is left of frequency
        x = layers.ZeroPadding2D(((0, 0), (2, 2)))(x)
        x = layers.DepthwiseConv2D((x.shape[1], 5), use_bias=False, depthwise_regularizer=_reg(l2))(x)
    else:
        x = layers.DepthwiseConv2D(5, padding="same", use_bias=False, depthwise_regularizer=_reg(l2))(x)
    x = _conv_bn_relu(x, ch(32), 1, l2, bn_momentum)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, _head(x, n_outputs, output_activation, 0.0, l2), name="bcresnet")


@register_architecture("cnn6")
def build_cnn6(
    input_shape, n_outputs, *, output_activation="softmax", l2=0.0, dropout=0.25,
    filters=(16, 16, 32, 32, 64, 64), dense_units=(256, 128),
):
    """The speech seed's first baseline: 6 convolutions (ReLU), flatten, 3 dense layers.

    Max pooling after every second convolution; ``dropout`` before each dense layer.

    Parameters
    ----------
    input_shape : tuple
        ``(n_bins, n_frames)`` (raw audio is accepted as one band).
    n_outputs : int
    output_activation, l2, dropout
        As in every builder.
    filters : tuple of int, default=(16, 16, 32, 32, 64, 64)
        One per convolution.
    dense_units : tuple of int, default=(256, 128)
        The hidden dense layers (the output layer is the third).

    Returns
    -------
    model : keras.Model
    """
    inputs, x = _image_input(input_shape)
    for i, f in enumerate(filters):
        x = layers.Conv2D(f, 3, padding="same", activation="relu", kernel_regularizer=_reg(l2))(x)
        if i % 2 == 1:
            x = layers.MaxPooling2D((2 if x.shape[1] > 1 else 1, 2), padding="same")(x)
    x = layers.Flatten()(x)
    for units in dense_units:
        if dropout:
            x = layers.Dropout(dropout)(x)
        x = layers.Dense(units, activation="relu", kernel_regularizer=_reg(l2))(x)
    return keras.Model(inputs, _head(x, n_outputs, output_activation, dropout, l2), name="cnn6")


@register_architecture("cnn17")
def build_cnn17(
    input_shape, n_outputs, *, output_activation="softmax", l2=1e-4, dropout=0.0,
    n_conv=17, filters=16, pool_every=4, max_filters=128, bn_momentum=0.99,
):
    """The speech seed's second baseline: 17 convolutions + BatchNorm + L2, global pooling.

    3x3 convolutions (BatchNorm, ReLU, L2), a 2x2 max pooling and a doubling of the
    width every ``pool_every`` convolutions, global average pooling, one softmax layer.

    Parameters
    ----------
    input_shape : tuple
        ``(n_bins, n_frames)`` (raw audio is accepted as one band).
    n_outputs : int
    output_activation, l2, dropout
        As in every builder.
    n_conv : int, default=17
        Convolutions.
    filters : int, default=16
        Width of the first convolutions.
    pool_every : int, default=4
        Convolutions between poolings.
    bn_momentum : float, default=0.99
        Momentum of the BatchNorm moving averages.

    Returns
    -------
    model : keras.Model
    """
    inputs, x = _image_input(input_shape)
    width = filters
    for i in range(n_conv):
        x = _conv_bn_relu(x, width, 3, l2, bn_momentum)
        if (i + 1) % pool_every == 0 and i + 1 < n_conv:
            x = layers.MaxPooling2D((2 if x.shape[1] > 1 else 1, 2), padding="same")(x)
            width = min(2 * width, max_filters)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, _head(x, n_outputs, output_activation, dropout, l2), name="cnn17")


def _squeeze_excite(x, ratio, l2):
    channels = x.shape[-1]
    s = layers.GlobalAveragePooling2D()(x)
    s = layers.Dense(max(1, channels // ratio), activation="relu", kernel_regularizer=_reg(l2))(s)
    s = layers.Dense(channels, activation="sigmoid", kernel_regularizer=_reg(l2))(s)
    return layers.Multiply()([x, layers.Reshape((1, 1, channels))(s)])


@register_architecture("cnn9")
def build_cnn9(
    input_shape, n_outputs, *, output_activation="softmax", l2=0.0, dropout=0.2,
    filters=(32, 64, 128, 256), time_pool="avg", se_ratio=None, pixel_shuffle=True, bn_momentum=0.99,
):
    """The tagging seed's 9-layer CNN: axis-split pooling, optional SE, its pooling head.

    Four blocks of two 3x3 convolutions (BatchNorm, ReLU), each followed by pooling
    that averages along one axis and takes the maximum along the other (the seed's
    point: time and mel axes mean different things) and, when ``se_ratio`` is set, a
    squeeze-excitation block; then the seed's head: pixel shuffle (pairs of mel bins
    folded into channels), max over time, mean over mel, and the output layer.

    Parameters
    ----------
    input_shape : tuple
        ``(n_bins, n_frames)`` (raw audio is accepted as one band).
    n_outputs : int
    output_activation, l2, dropout
        ``dropout`` is applied before the output layer.
    filters : tuple of int, default=(32, 64, 128, 256)
        Width of each block.
    time_pool : {"avg", "max"}, default="avg"
        Pooling along time; the mel axis gets the other kind.
    se_ratio : int or None, default=None
        Squeeze-excitation reduction ratio; None for no SE blocks.
    pixel_shuffle : bool, default=True
        Fold pairs of mel bins into channels before the head's pooling.
    bn_momentum : float, default=0.99
        Momentum of the BatchNorm moving averages.

    Returns
    -------
    model : keras.Model
    """
    if time_pool not in ("avg", "max"):
        raise ValueError(f"time_pool must be 'avg' or 'max', got {time_pool!r}.")
    pools = {"avg": layers.AveragePooling2D, "max": layers.MaxPooling2D}
    mel_pool = pools["max" if time_pool == "avg" else "avg"]
    inputs, x = _image_input(input_shape)
    for f in filters:
        x = _conv_bn_relu(x, f, 3, l2, bn_momentum)
        x = _conv_bn_relu(x, f, 3, l2, bn_momentum)
        if se_ratio:
            x = _squeeze_excite(x, se_ratio, l2)
        x = pools[time_pool]((1, 2), padding="same")(x)
        if x.shape[1] > 1:
            x = mel_pool((2, 1), padding="same")(x)
    n_bins, n_frames, channels = x.shape[1:]
    x = layers.Permute((2, 1, 3))(x)  # (time, mel, channels), the seed's layout
    if pixel_shuffle and n_bins % 2 == 0:
        n_bins, channels = n_bins // 2, channels * 2
        x = layers.Reshape((n_frames, n_bins, channels))(x)
    x = layers.MaxPooling2D((n_frames, 1))(x)  # max over time
    x = layers.Reshape((n_bins, channels))(x)
    x = layers.GlobalAveragePooling1D()(x)  # mean over mel
    return keras.Model(inputs, _head(x, n_outputs, output_activation, dropout, l2), name="cnn9")


#: ``precision`` values of :func:`build_model` (Keras dtype policies).
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


@contextlib.contextmanager
def _dtype_policy(name):
    """Keras's global dtype policy set to ``name`` while layers are built (they record it), then restored."""
    old = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(old)


def build_model(arch, input_shape, n_outputs, *, precision="float32", **hyper):
    """Build a fresh model from the registry; a ValueError names a bad argument.

    Parameters
    ----------
    arch : str
        Key of :data:`ARCHITECTURES`.
    input_shape : tuple
        One clip's shape.
    n_outputs : int
        Output units.
    precision : {"float32", "mixed_float16", "mixed_bfloat16"}, default="float32"
        Keras dtype policy of the layers built: a mixed policy computes in 16 bits
        and keeps float32 weights (faster on GPUs with tensor cores, slower on most
        CPUs). The output layer of the built-in builders computes in float32, and
        any builder's output is cast to float32. ``compile`` wraps the optimizer in
        Keras's loss scaling for ``"mixed_float16"``.
    **hyper
        Passed to the builder.

    Returns
    -------
    model : keras.Model

    Examples
    --------
    >>> model = build_model("cnn6", (40, 101), 12, precision="mixed_bfloat16")
    >>> model.layers[2].compute_dtype, model.output.dtype
    ('bfloat16', 'float32')
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}.")
    build = get_architecture(arch)
    with _dtype_policy(precision):
        try:
            model = build(tuple(int(s) for s in input_shape), int(n_outputs), **hyper)
        except TypeError as exc:  # unknown keyword: name it as a value problem
            raise ValueError(f"Bad arch_params for {arch!r}: {exc}") from exc
        if precision != "float32" and model.outputs[0].dtype != "float32":  # a builder of the user's
            outputs = layers.Activation("linear", dtype="float32", name="output_float32")(model.outputs[0])
            model = keras.Model(model.inputs, outputs, name=model.name)
    return model


def _float32_config(config):
    """A layer config with every mixed dtype policy replaced by float32 (nested models included)."""
    if isinstance(config, dict):
        if config.get("class_name") == "DTypePolicy" and "mixed" in str(config.get("config", {}).get("name")):
            return "float32"
        return {k: _float32_config(v) for k, v in config.items()}
    if isinstance(config, list):
        return [_float32_config(v) for v in config]
    return config


def float32_model(model):
    """``model`` itself if it computes in float32, else a float32 copy with the same weights.

    A mixed-precision network keeps float32 weights, so the copy holds exactly them and
    computes what the mixed one approximates: the exporters convert this copy (LiteRT
    int8 and float16 conversion start from a float32 graph).

    Parameters
    ----------
    model : keras.Model

    Returns
    -------
    model : keras.Model

    Examples
    --------
    >>> mixed = build_model("cnn6", (40, 101), 12, precision="mixed_bfloat16")
    >>> float32_model(mixed).layers[2].compute_dtype
    'float32'
    """
    if all(layer.compute_dtype == "float32" for layer in _all_layers(model)):
        return model
    with _dtype_policy("float32"):
        copy = model.__class__.from_config(_float32_config(model.get_config()))
    copy.set_weights(model.get_weights())
    return copy


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)
