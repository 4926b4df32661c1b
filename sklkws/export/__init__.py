"""The compact exporter (training machine): one on-device TFLite model per fitted pipeline, checked.

This package is the training side of the device boundary: it imports Keras and
converts with TensorFlow's TFLite converter (imported when a model is converted, so a
model trained with Keras's JAX backend can be prepared here and converted where
TensorFlow is installed). What runs on the device lives in :mod:`sklkws.device` (numpy and the
LiteRT interpreter only), whose names are re-exported here for convenience.

- :func:`export_compact`: write a fitted Pipeline / VotingClassifier as ONE .tflite
  file on raw audio (front end, network, vote), int8 / float16 / float32, with its
  description inside and beside it, and return (and print) the report of checks
  against a named budget (``"pi"``: < 5 MB, < 200 ms est. Pi 3; ``"micro"``: <= 250 KB,
  <= 20 ms), plus parity with the original.
- :func:`to_compact`: the same model as an in-memory :class:`~sklkws.device.CompactClassifier`
  to ``joblib.dump`` for the device.
- :func:`to_embedding_classifier`: a fitted speech-embedding pipeline
  (:func:`sklkws.custom_words.embedding_spotter_pipeline`) as a
  :class:`~sklkws.device.EmbeddingClassifier` (numpy + onnxruntime) for the device.
- :func:`drop_training_state`, :func:`saved_size`: training-only state (noise recordings,
  distillation teachers) out of a fitted model before saving it; its pickled size.
- :func:`build_stateful_step`: the stateful streaming form of a network that streams
  (``arch="tcresnet_stream"``), embedded by ``export_compact(..., streaming=True)``.
- :func:`build_inference_model`, :func:`to_tflite`, :func:`compact_bytes`,
  :func:`inference_macs`, :func:`embed_metadata`: the steps of it.
- :func:`model_size_scorer`, :func:`device_latency_scorer`, :func:`make_budget_scorer`:
  the limits as scorers (greater is better: negated bytes and milliseconds).
"""

from ..device import (
    BUDGETS,
    DEVICE_MODELS,
    CompactClassifier,
    CompactLimitError,
    DeviceModel,
    check_clips,
    compact_report,
    estimate_device_latency,
    format_report,
    measure_latency,
    read_metadata,
    sidecar_path,
    tflite_macs,
)
from ._convert import (
    VoteLayer,
    build_inference_model,
    compact_bytes,
    embed_metadata,
    export_compact,
    inference_macs,
    read_export_clips,
    to_compact,
    to_tflite,
)
from ..cli import export_main  # the `sklkws export` entry point, under its historical path
from ._deploy import drop_training_state, saved_size
from ._embedding import to_embedding_classifier
from ._stateful import build_stateful_step
from ._scorers import (
    device_latency_scorer,
    make_budget_scorer,
    make_device_latency_scorer,
    make_size_scorer,
    model_size_scorer,
)

__all__ = [
    "BUDGETS",
    "CompactClassifier",
    "CompactLimitError",
    "DEVICE_MODELS",
    "DeviceModel",
    "VoteLayer",
    "build_inference_model",
    "build_stateful_step",
    "check_clips",
    "compact_bytes",
    "compact_report",
    "device_latency_scorer",
    "drop_training_state",
    "embed_metadata",
    "estimate_device_latency",
    "export_compact",
    "export_main",
    "format_report",
    "read_export_clips",
    "inference_macs",
    "make_budget_scorer",
    "make_device_latency_scorer",
    "make_size_scorer",
    "measure_latency",
    "model_size_scorer",
    "read_metadata",
    "saved_size",
    "sidecar_path",
    "tflite_macs",
    "to_compact",
    "to_embedding_classifier",
    "to_tflite",
]
