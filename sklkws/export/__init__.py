"""The compact exporter: one on-device TFLite model per fitted pipeline, checked against the budget.

On the training machine (TensorFlow):

- :func:`export_compact`: write a fitted Pipeline / VotingClassifier as ONE .tflite
  file on raw audio (front end, network, vote), int8 / float16 / float32, with its
  description inside and beside it, and return (and print) the report of checks:
  size <= 5 MB, latency here, MACs, estimated Raspberry Pi latency <= 200 ms, parity.
- :func:`build_inference_model`, :func:`to_tflite`, :func:`compact_bytes`,
  :func:`inference_macs`: the steps of it.
- :func:`model_size_scorer`, :func:`device_latency_scorer`, :func:`make_budget_scorer`:
  the limits as scorers (greater is better: negated bytes and milliseconds).

On the device (numpy and the LiteRT interpreter only; importing this package does
not import TensorFlow):

- :class:`CompactClassifier`: ``predict`` / ``predict_proba`` from the .tflite file.
- :func:`read_metadata`, :func:`tflite_macs`, :func:`measure_latency`,
  :func:`compact_report`, :func:`estimate_device_latency`, :data:`DEVICE_MODELS`.
"""

from ..device._compact import CompactClassifier, check_clips, measure_latency, read_metadata, sidecar_path, tflite_macs
from ..device._models import DEVICE_MODELS, DeviceModel, estimate_device_latency
from ..device._report import CompactLimitError, compact_report, format_report

# Names needing TensorFlow load on first use, so that the device side stays TensorFlow-free.
_CONVERT = {"VoteLayer", "build_inference_model", "compact_bytes", "embed_metadata", "export_compact", "export_main",
            "inference_macs", "to_tflite"}
_SCORERS = {"device_latency_scorer", "make_budget_scorer", "make_device_latency_scorer", "make_size_scorer",
            "model_size_scorer"}

__all__ = sorted(
    {"CompactClassifier", "CompactLimitError", "DEVICE_MODELS", "DeviceModel", "check_clips", "compact_report",
     "estimate_device_latency", "format_report", "measure_latency", "read_metadata", "sidecar_path", "tflite_macs"}
    | _CONVERT | _SCORERS
)


def __getattr__(name):
    if name in _CONVERT:
        from . import _convert

        return getattr(_convert, name)
    if name in _SCORERS:
        from . import _scorers

        return getattr(_scorers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return __all__
