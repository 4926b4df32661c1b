"""Multiply-accumulate count of a built Keras model: the compute budget of one clip.

Counted: convolutions (grouped, depthwise, separable, transposed) and dense layers,
the layers that dominate inference. BatchNorm is left out (it folds into the preceding
convolution on export), as are activations, pooling and element-wise adds.
"""

# The reference count is the exported graph's, sklkws.device.tflite_macs (device/_macs.py); this
# one counts a Keras model without converting it, by the same formulas, and is tested equal to it.
import math

import keras
from keras import layers


def _spatial(shape):
    return math.prod(int(d) for d in shape[1:-1])


def _layer_macs(layer, input_shape, output_shape):
    # The most specific classes first: SeparableConv and DepthwiseConv are not Conv subclasses
    # in Keras 3, but Conv*DTranspose are.
    if isinstance(layer, (layers.SeparableConv1D, layers.SeparableConv2D)):
        k = math.prod(layer.kernel_size)
        c_in = int(input_shape[-1])
        depthwise = _spatial(output_shape) * k * c_in * layer.depth_multiplier
        return depthwise + _spatial(output_shape) * c_in * layer.depth_multiplier * layer.filters
    if isinstance(layer, (layers.DepthwiseConv1D, layers.DepthwiseConv2D)):
        k = math.prod(layer.kernel_size)
        return _spatial(output_shape) * k * int(input_shape[-1]) * layer.depth_multiplier
    if isinstance(layer, (layers.Conv1DTranspose, layers.Conv2DTranspose, layers.Conv3DTranspose)):
        k = math.prod(layer.kernel_size)
        return _spatial(input_shape) * k * int(input_shape[-1]) * layer.filters
    if isinstance(layer, (layers.Conv1D, layers.Conv2D, layers.Conv3D)):
        k = math.prod(layer.kernel_size)
        groups = getattr(layer, "groups", 1)
        return _spatial(output_shape) * k * (int(input_shape[-1]) // groups) * layer.filters
    if isinstance(layer, layers.Dense):
        return math.prod(int(d) for d in output_shape[1:-1]) * int(input_shape[-1]) * layer.units
    return 0


def count_macs(model):
    """Count the multiply-accumulates of one forward pass of one example.

    Parameters
    ----------
    model : keras.Model
        A built functional (or Sequential) model with a fixed input shape; nested
        models are walked, and a layer called several times is counted each time.

    Returns
    -------
    macs : int
        Multiply-accumulates per example (one 1 s clip for the Speech Commands models).

    Examples
    --------
    >>> import keras
    >>> inputs = keras.Input((10,))
    >>> model = keras.Model(inputs, keras.layers.Dense(4)(inputs))
    >>> count_macs(model)
    40
    """
    graph = getattr(getattr(model, "_functional", None), "_nodes", None) or getattr(model, "_nodes", None)

    def in_graph(layer, index):
        # A layer or model reused in another graph (the exporter's inference model) gains
        # inbound nodes there: count only the calls that belong to this model's graph.
        return graph is None or f"{id(layer)}_ib-{index}" in graph  # keras' make_node_key

    total = 0
    for layer in model.layers:
        calls = [i for i in range(len(layer._inbound_nodes)) if in_graph(layer, i)]
        if isinstance(layer, keras.Model):
            total += count_macs(layer) * max(1, len(calls))
            continue
        for i in calls:
            node = layer._inbound_nodes[i]
            inputs = keras.tree.flatten(node.input_tensors)
            outputs = keras.tree.flatten(node.output_tensors)
            if not inputs or not outputs:
                continue
            total += _layer_macs(layer, inputs[0].shape, outputs[0].shape)
    return int(total)
