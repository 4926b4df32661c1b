"""Multiply-accumulates of one clip: the counter of TFLite graphs, and the FFT's count.

The reference count is that of the exported graph, :func:`tflite_macs` (what the device
runs, front end included); it reads only the flatbuffer, so it lives on the device side
(numpy and LiteRT). The training side counts without converting anything, with the same
formulas: :func:`sklkws.models.count_macs` for Keras networks, ``MelFeaturesLayer.count_macs``
for the front end (whose FFT is :func:`fft_macs` from here) and
:func:`sklkws.export.inference_macs` for both; the tests hold each equal to
:func:`tflite_macs` on exported models.
"""

import math
from pathlib import Path

import numpy as np

from . import _compact  # interpreter and schema loaders, used at call time (_compact imports this module)

__all__ = ["fft_macs", "tflite_macs"]


def _builtin_names(schema):
    return {value: name for name, value in vars(schema.BuiltinOperator).items() if not name.startswith("_")}


def fft_macs(rows, n):
    """Multiply-accumulates of ``rows`` real-input FFTs of length ``n``."""
    # A real-input FFT of length n: about half a complex FFT's 2 n log2 n real multiply-adds.
    return int(rows * n * math.log2(n)) if n > 1 else 0


def _static_shapes(content):
    """Every tensor's shape for one clip, after one run (dynamic shapes resolved)."""
    module = __import__(_compact._interpreter_class().__module__, fromlist=["OpResolverType"])
    interpreter = _compact._interpreter_class()(
        model_content=content,
        experimental_op_resolver_type=module.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )  # no delegate: every intermediate tensor keeps its shape
    details = interpreter.get_input_details()
    for detail in details:  # a batch of one of every input (a stateful step graph has two: frames and state)
        batch = _compact._input_batch(detail)
        if batch is None:
            interpreter.resize_tensor_input(detail["index"], [1, *detail["shape"][1:]])
        elif batch != 1:
            raise ValueError(f"Counting MACs needs a graph taking one clip; this one has a fixed batch of {batch}.")
    interpreter.allocate_tensors()
    for detail in interpreter.get_input_details():
        interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], dtype=np.float32))
    interpreter.invoke()
    return {d["index"]: [int(v) for v in d["shape"]] for d in interpreter.get_tensor_details()}


def tflite_macs(model):
    """Multiply-accumulates of one clip, counted on a TFLite graph.

    Counted as :func:`sklkws.models.count_macs` counts a Keras model (convolutions
    of every kind and fully connected layers; BatchNorm is folded on conversion),
    plus batch matrix products and real FFTs (``n log2 n`` per frame of length
    ``n``), so the front end is included. Shapes are those of a batch of one clip,
    read after one run of the interpreter (so dynamic shapes are resolved).

    Parameters
    ----------
    model : str, path-like or bytes
        A .tflite file or its content.

    Returns
    -------
    macs : int

    Raises
    ------
    ImportError
        If the flatbuffer schema (shipped with ai-edge-litert) is not installed.
    """
    schema = _compact._schema()
    if schema is None:
        raise ImportError("Counting MACs needs ai_edge_litert.schema_py_generated (pip install ai-edge-litert).")
    content = Path(model).read_bytes() if not isinstance(model, (bytes, bytearray)) else bytes(model)
    shapes = _static_shapes(content)
    root = schema.Model.GetRootAs(content, 0)
    graph = root.Subgraphs(0)  # the main graph; the exporter writes no control flow
    names = _builtin_names(schema)
    total = 0
    for o in range(graph.OperatorsLength()):
        op = graph.Operators(o)
        code = root.OperatorCodes(op.OpcodeIndex())
        name = names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "")
        inputs, outputs = op.InputsAsNumpy(), op.OutputsAsNumpy()
        n_out = math.prod(shapes[int(outputs[0])])
        if name == "CONV_2D":
            _, kh, kw, c_in = shapes[int(inputs[1])]
            total += n_out * kh * kw * c_in
        elif name == "DEPTHWISE_CONV_2D":
            _, kh, kw, _ = shapes[int(inputs[1])]
            total += n_out * kh * kw
        elif name == "TRANSPOSE_CONV":  # inputs: output shape, filter (out, kh, kw, in), input
            c_out, kh, kw, _ = shapes[int(inputs[1])]
            total += math.prod(shapes[int(inputs[2])]) * kh * kw * c_out
        elif name == "FULLY_CONNECTED":
            total += n_out * shapes[int(inputs[1])][1]
        elif name == "BATCH_MATMUL":
            options = schema.BatchMatMulOptions()
            table = op.BuiltinOptions()
            options.Init(table.Bytes, table.Pos)
            lhs = shapes[int(inputs[0])]
            total += n_out * (lhs[-2] if options.AdjX() else lhs[-1])
        elif name == "RFFT2D":
            frames = shapes[int(inputs[0])]
            total += fft_macs(math.prod(frames[:-1]), frames[-1])
    return int(total)
