"""The stateful streaming export: each hop runs the network on the hop's new frames only.

The streaming pair (:mod:`sklkws.export._streaming`) computes each stream frame's
front end once but still runs the networks over every whole window. A network whose
output frames each depend on a fixed span of input frames (unpadded, unstrided
convolutions, shortcuts cropped to their newest frames, global pooling at the end:
:func:`~sklkws.models._architectures.build_tcresnet_stream`) can do better: its
**step graph** takes the ``hop_frames`` new frames of a hop and the state (each
convolution's last ``(kernel_size - 1) * dilation`` input frames, and the pooled
layer's recent frames), and returns the window's probabilities and the next state.
That is google-research's kws_streaming "external state" form: the state is an input
and an output of the graph, so the graph itself is a plain TFLite model.

Because nothing in such a network sees a window's edges, the step graph gives the
whole-window model's probabilities exactly, up to float32 rounding; quantised, it
rounds differently from the int8 whole-window model but is as close to the float model
(``tests/test_stateful_export.py`` checks both). The front end must be per frame as
well: :class:`~sklkws.features.MelFeatures` with ``center=False`` and ``top_db=None``
and no peak normalisation before it.

:func:`build_stateful_step` converts any Keras network made of per-frame layers
(``_PER_FRAME``), convolutions (1-D or 2-D) unstrided and unpadded in time,
``ZeroPadding2D`` and ``Reshape`` that leave time alone, ``Cropping1D`` of the oldest
frames and a final global pooling, and names the layer that stops it otherwise.
"""

import keras
import numpy as np
from keras import layers, ops

from ..device._stream import STEP_NAME  # noqa: F401  (the entry the device reads the graph by)
from ..frontend import _maths
from ..frontend._layers import MelFeaturesLayer, from_transformer
from ..models import float32_model
from ._convert import FRONTEND_PREFIX, _final, _n_samples, _unwrap, own_frontend, to_tflite

__all__ = ["build_stateful_step", "stateful_bytes"]

#: Name prefix of the layers that cut and join the state.
STATE_PREFIX = "sklkws_state"

#: Layers that act on each frame alone (elementwise, or along the channels only); besides
#: them: convolutions unstrided and unpadded in time, ZeroPadding2D and Reshape that leave
#: time alone, left Cropping1D and a final global pooling.
_PER_FRAME = (layers.ReLU, layers.Activation, layers.Dropout, layers.BatchNormalization, layers.Add,
              layers.Dense, layers.LayerNormalization, layers.Multiply, layers.Permute, layers.InputLayer)
_CONVS = (layers.Conv1D, layers.SeparableConv1D, layers.DepthwiseConv1D, layers.Conv2D, layers.DepthwiseConv2D,
          layers.SeparableConv2D)
_POOLS = (layers.GlobalAveragePooling1D, layers.GlobalMaxPooling1D)


@keras.saving.register_keras_serializable(package="sklkws")
class _FrameFeaturesLayer(keras.layers.Layer):
    """Mel power of a hop's frames ``(n, hop_frames, n_bins)`` to the network's features ``(n, n_bins, hop_frames)``."""

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.config = dict(config)
        self._layer = MelFeaturesLayer(**self.config)

    def call(self, power):
        return self._layer.features_from_power(power)

    def get_config(self):
        return {**super().get_config(), "config": self.config}


@keras.saving.register_keras_serializable(package="sklkws")
class _StateJoin(keras.layers.Layer):
    """A layer's recent frames (cut from the flat state) before the hop's, along the time ``axis``.

    ``shape`` is the recent frames' shape without the batch axis. Also returns the
    frames to keep for the next hop, flattened. In an int8 graph the state is an input
    and an output in float32; the layer after the join quantises the joined frames
    with its own calibrated scale.
    """

    def __init__(self, offset, shape, axis, hop_frames, **kwargs):
        super().__init__(**kwargs)
        self.offset, self.shape, self.axis, self.hop_frames = int(offset), tuple(shape), int(axis), int(hop_frames)

    def call(self, state, x):
        size = int(np.prod(self.shape))
        recent = ops.reshape(state[:, self.offset:self.offset + size], (-1, *self.shape))
        joined = ops.concatenate([recent, x], axis=self.axis)
        kept = joined[(slice(None),) * self.axis + (slice(self.hop_frames, None),)]
        return joined, ops.reshape(kept, (-1, size))

    def get_config(self):
        return {**super().get_config(), "offset": self.offset, "shape": list(self.shape), "axis": self.axis,
                "hop_frames": self.hop_frames}


def _refuse(network, layer, why):
    return ValueError(
        f"Cannot build a stateful step of network {network.name!r}: layer {layer.name!r} "
        f"({type(layer).__name__}) {why}. A network built by arch='tcresnet_stream' streams; "
        "other networks' spotters use the streaming pair."
    )


def _time_axis_after(layer, axis):
    """Where the time axis of ``layer``'s input ends up in its output (None once pooled away)."""
    if isinstance(layer, layers.Permute):
        return list(layer.dims).index(axis) + 1
    return axis


def _slab(tensor, axis, frames):
    """The shape (without batch) of ``frames`` time steps of ``tensor``."""
    shape = [int(d) for d in tensor.shape[1:]]
    shape[axis - 1] = int(frames)
    return tuple(shape)


def _plan(network, hop_frames):
    """Check every layer streams; return each tensor's time axis and the state each layer needs.

    The state of a layer is ``(shape of its recent frames without batch, time axis)``.
    """
    axes = {id(network.inputs[0]): 2}  # features (n_bins, n_frames): time is axis 2
    states = {}
    for layer in network.layers:
        if isinstance(layer, layers.InputLayer):
            continue
        inputs = layer.input if isinstance(layer.input, (list, tuple)) else [layer.input]
        axis = axes[id(inputs[0])]
        if any(axes[id(t)] != axis for t in inputs):
            raise _refuse(network, layer, "joins tensors whose time axes differ")
        if isinstance(layer, _CONVS):
            n_spatial = len(layer.kernel_size)
            if axis is None or not 1 <= axis <= n_spatial or layer.data_format != "channels_last":
                raise _refuse(network, layer, "does not convolve along the time axis")
            if layer.strides[axis - 1] != 1:
                raise _refuse(network, layer, f"has stride {layer.strides[axis - 1]} in time: a hop's frames would "
                                              "fall on and off its grid; use dilation instead")
            context = (layer.kernel_size[axis - 1] - 1) * layer.dilation_rate[axis - 1]
            if context and layer.padding != "valid":
                raise _refuse(network, layer, f"pads ({layer.padding!r}): its first and last output frames see "
                                              "the window's edges, which a stream does not have")
            if context:
                states[layer.name] = (_slab(inputs[0], axis, context), axis)
        elif isinstance(layer, layers.Cropping1D):
            if axis != 1 or layer.cropping[1] != 0:
                raise _refuse(network, layer, "drops the newest frames (only the oldest may be cropped)")
        elif isinstance(layer, layers.ZeroPadding2D):
            if axis not in (1, 2) or any(layer.padding[axis - 1]):
                raise _refuse(network, layer, "pads the time axis")
        elif isinstance(layer, layers.Reshape):
            # Per frame only when every axis up to time keeps its size.
            before = [int(d) for d in inputs[0].shape[1:axis + 1]]
            if axis is None or list(layer.target_shape[:axis]) != before:
                raise _refuse(network, layer, "reshapes across the time axis")
        elif isinstance(layer, _POOLS):
            if axis != 1 or getattr(layer, "keepdims", False):
                raise _refuse(network, layer, "pools over another axis than time")
            n_pooled = int(inputs[0].shape[1])
            if n_pooled > hop_frames:
                states[layer.name] = (_slab(inputs[0], 1, n_pooled - hop_frames), 1)
            axis = None
        elif isinstance(layer, _PER_FRAME):
            if isinstance(layer, (layers.BatchNormalization, layers.LayerNormalization)) and axis is not None:
                norm_axes = layer.axis if isinstance(layer.axis, (list, tuple)) else [layer.axis]
                rank = len(inputs[0].shape)
                if any(a % rank == axis for a in norm_axes):
                    raise _refuse(network, layer, "normalises along the time axis")
            if isinstance(layer, layers.Dense) and axis == len(inputs[0].shape) - 1:
                raise _refuse(network, layer, "mixes the time axis")
            axis = _time_axis_after(layer, axis)
        else:
            raise _refuse(network, layer, "is not a layer the step form supports")
        axes[id(layer.output)] = axis
    if axes[id(network.outputs[0])] is not None:
        raise ValueError(f"Cannot build a stateful step of network {network.name!r}: its output keeps the time "
                         "axis (no global pooling), so a window has no one probability per class.")
    return axes, states


def build_stateful_step(network, hop_frames, frontend=None):
    """The step graph of a whole-window network (see the module docstring).

    Parameters
    ----------
    network : keras.Model
        The whole-window network: features ``(n_bins, n_frames)`` -> ``(n_outputs,)``.
    hop_frames : int
        Frames per hop (the spotter's hop over the front end's ``hop_length``).
    frontend : dict, default=None
        A :class:`~sklkws.frontend._layers.MelFeaturesLayer` configuration: the step
        graph then takes the hop's mel power ``(n, hop_frames, n_bins)`` (the output
        of the frames graph) and applies the per-frame rest of the front end first.

    Returns
    -------
    step : keras.Model
        Inputs ``[frames, state]``: ``(n, n_bins, hop_frames)`` features (or mel power
        ``(n, hop_frames, n_bins)`` with ``frontend``) and ``(n, n_state)`` float32;
        outputs ``[proba, state]``: the probabilities of the window that ends with
        this hop and the next state.
    n_state : int
        Floats of state per stream: the width of the state input and output (at
        least 1; a network with nothing to keep still has a one-float state).

    Raises
    ------
    ValueError
        Naming the layer, if the network has one that does not stream (a stride, a
        padded convolution, ...).

    Examples
    --------
    >>> from sklkws.models import build_model
    >>> network = build_model("tcresnet_stream", (40, 97), 12)
    >>> step, n_state = build_stateful_step(network, 10)
    >>> [tuple(t.shape) for t in step.outputs] == [(None, 12), (None, n_state)]
    True
    """
    hop_frames = int(hop_frames)
    if hop_frames < 1:
        raise ValueError(f"hop_frames must be a positive integer, got {hop_frames!r}.")
    network = float32_model(network)
    n_bins = int(network.input_shape[1])
    axes, plan = _plan(network, hop_frames)
    # A zero-width input does not convert to TFLite: a stateless network keeps one unused float.
    n_state = max(int(sum(np.prod(shape) for shape, _ in plan.values())), 1)
    if frontend is None:
        frames_in = keras.Input((n_bins, hop_frames), name="frames")
        x_in = frames_in
    else:
        frames_in = keras.Input((hop_frames, n_bins), name="frames")
        x_in = _FrameFeaturesLayer(frontend, name=f"{FRONTEND_PREFIX}_step_features")(frames_in)
    state_in = keras.Input((n_state,), name="state")
    joins, offset = {}, 0
    for name, (shape, axis) in plan.items():
        joins[name] = _StateJoin(offset, shape, axis, hop_frames, name=f"{STATE_PREFIX}_{name}")
        offset += int(np.prod(shape))
    tensors = {id(network.inputs[0]): x_in}
    new_state = []
    for layer in network.layers:
        if isinstance(layer, layers.InputLayer):
            continue
        inputs = layer.input if isinstance(layer.input, (list, tuple)) else [layer.input]
        args = [tensors[id(t)] for t in inputs]
        if layer.name in joins:
            # The layer's recent inputs, then the hop's: its valid outputs (a convolution's)
            # or its pooled span (the pooling's) end with the hop's frames.
            joined, kept = joins[layer.name](state_in, args[0])
            new_state.append(kept)
        elif isinstance(layer, _POOLS):  # it pools no more frames than a hop brings
            joined = args[0][:, hop_frames - int(layer.input.shape[1]):]
        if isinstance(layer, layers.Cropping1D):
            out = args[0]  # it drops the oldest frames of a window; a hop has only the newest
        elif isinstance(layer, layers.Reshape):  # the same per-frame reshape, with a hop's frames
            axis = axes[id(inputs[0])]
            out = ops.reshape(args[0], (-1, *[hop_frames if i == axis - 1 else d
                                             for i, d in enumerate(layer.target_shape)]))
        elif isinstance(layer, _POOLS):
            out = (ops.mean if isinstance(layer, layers.GlobalAveragePooling1D) else ops.max)(joined, axis=1)
        elif layer.name in joins:
            out = layer(joined)
        else:
            out = layer(args if isinstance(layer.input, (list, tuple)) else args[0])
        tensors[id(layer.output)] = out
    proba = layers.Identity(name="proba")(tensors[id(network.outputs[0])])
    if len(new_state) > 1:
        state_out = layers.Concatenate(name=f"{STATE_PREFIX}_next")(new_state)
    else:
        state_out = layers.Identity(name=f"{STATE_PREFIX}_next")(new_state[0] if new_state else state_in)
    return keras.Model([frames_in, state_in], [proba, state_out], name=STEP_NAME), n_state


def _stream_network(estimator):
    """The one network and its one per-frame MelFeatures configuration, or a ValueError saying why not."""
    from sklearn.pipeline import Pipeline

    from ..frontend import MelFeatures

    estimator = _unwrap(estimator)
    steps = [s for _, s in estimator.steps[:-1]] if isinstance(estimator, Pipeline) else []
    final = _final(estimator)
    steps += own_frontend(final)
    network = getattr(final, "model_", None)
    if not isinstance(network, keras.Model):
        raise ValueError(f"{type(final).__name__} has no Keras network to step (a vote steps member by member, "
                         "which is not built).")
    mel = []
    for step in steps:
        if step is None or (isinstance(step, str) and step == "passthrough") or hasattr(step, "fit_resample"):
            continue
        if isinstance(step, MelFeatures):
            mel.append(step)
        elif from_transformer(step) is not None or mel:
            raise ValueError(f"The front end applies {type(step).__name__} ({step!r}), which is not per frame: "
                             "only MelFeatures(center=False, top_db=None) streams with state.")
    if len(mel) != 1:
        raise ValueError("A stateful step needs exactly one MelFeatures step before the network.")
    layer = from_transformer(mel[0])
    if layer.center or layer.top_db is not None or layer.flatten:
        raise ValueError(
            f"{mel[0]!r} depends on the whole window (center=True pads its edges, top_db floors at its peak, "
            "flatten mixes the frames): use MelFeatures(center=False, top_db=None) to stream with state."
        )
    config = {k: v for k, v in layer.get_config().items()
              if k in ("kind", "sample_rate", "n_fft", "hop_length", "n_mels", "fmin", "fmax", "n_mfcc",
                       "top_db", "center", "stft")}
    return float32_model(network), config


def calibration_steps(step, power, hop_frames, n_state, max_samples=400, seed=0):
    """``[frames, state]`` inputs the step graph sees on clips streamed from their start (int8 calibration).

    ``power`` is ``(n_clips, n_frames, n_bins)`` mel power; each clip is streamed in
    hops that end with its last frame, its first frame repeated before it.
    """
    n_clips, n_frames, _ = power.shape
    n_steps = -(-n_frames // hop_frames)
    pad = n_steps * hop_frames - n_frames
    power = np.concatenate([np.repeat(power[:, :1], pad, axis=1), power], axis=1)
    state = np.zeros((n_clips, n_state), dtype=np.float32)
    frames, states = [], []
    for i in range(n_steps):
        chunk = power[:, i * hop_frames:(i + 1) * hop_frames]
        frames.append(chunk)
        states.append(state)
        state = np.asarray(step([chunk, state])[1], dtype=np.float32)
    frames, states = np.concatenate(frames), np.concatenate(states)
    rows = np.random.default_rng(seed).permutation(len(frames))[:max_samples]
    return [frames[rows], states[rows]]


def stateful_bytes(estimator, hop_samples, quantize="int8", representative_data=None, *, stft="fft"):
    """The TFLite step graph of a fitted pipeline, and what the device needs to run it.

    Parameters
    ----------
    estimator : fitted estimator
        A Pipeline (or classifier with its own front end) of
        ``MelFeatures(center=False, top_db=None)`` and a Keras classifier whose
        network streams (``arch="tcresnet_stream"``).
    hop_samples : int
        The spotter's hop; a multiple of the front end's ``hop_length``.
    quantize : {"int8", "float16"} or None, default="int8"
    representative_data : ndarray of shape (n_clips, n_samples), default=None
        Calibration clips, required for int8.
    stft : {"fft", "matmul"}, default="fft"

    Returns
    -------
    content : bytes
    spec : dict
        ``hop_frames``, ``hop_samples``, ``n_state``.

    Raises
    ------
    ValueError
        If the front end or the network cannot stream with state (the message says which step or layer).
    """
    network, config = _stream_network(estimator)
    if hop_samples % config["hop_length"]:
        raise ValueError(f"The hop ({hop_samples} samples) is not a multiple of the front end's hop_length "
                         f"({config['hop_length']}): a stateful step needs whole frames per hop.")
    hop_frames = hop_samples // config["hop_length"]
    config = {**config, "stft": stft, "flatten": False}
    step, n_state = build_stateful_step(network, hop_frames, frontend=config)
    n_classes = int(step.outputs[0].shape[-1])
    if n_state == n_classes:  # the device tells the two outputs apart by their size
        raise ValueError(f"The network's state ({n_state} floats) is as long as its output ({n_classes} classes): "
                         "the device could not tell them apart; change its width.")
    calibration = None
    if representative_data is not None:
        from ._streaming import _FramesLayer

        X = np.asarray(representative_data, dtype=np.float32)
        rows = keras.Input((config["n_fft"],))
        frames_model = keras.Model(rows, _FramesLayer([config])(rows))
        n_frames = _maths.n_frames(_n_samples(estimator), config["n_fft"], config["hop_length"], False)
        framed = _maths.frame(X, config["n_fft"], config["hop_length"], False).reshape(-1, config["n_fft"])
        power = frames_model.predict(framed, verbose=0, batch_size=4096).reshape(len(X), n_frames, -1)
        calibration = calibration_steps(step, power, hop_frames, n_state)
    content = to_tflite(step, quantize, calibration)
    return content, {"hop_frames": int(hop_frames), "hop_samples": int(hop_samples), "n_state": int(n_state)}
