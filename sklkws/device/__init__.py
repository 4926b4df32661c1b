"""The device side: what runs on a Raspberry Pi with numpy and a LiteRT interpreter only.

Nothing here imports TensorFlow, Keras, scikit-learn, librosa or soundfile; the training
side (:mod:`sklkws.export` and everything before it) imports from here, never the other
way round.

- :class:`CompactClassifier`: ``predict`` / ``predict_proba`` from an exported ``.tflite``.
- :class:`KeywordSpotter`, :class:`Event`: keyword spotting over long audio and streams;
  :class:`StreamingModel`: an exported model's streaming pair (frames once per stream);
  :class:`StatefulModel`: its step graph (the network once per hop, on the new frames).
- :class:`EmbeddingClassifier`: the speech-embedding spotter (numpy + onnxruntime).
- :func:`read_metadata`, :func:`tflite_macs`, :func:`measure_latency`, :func:`compact_report`,
  :func:`estimate_device_latency`, :data:`DEVICE_MODELS`, :data:`BUDGETS`: reading and checking an exported model.
- :func:`proba_to_labels`: probabilities to labels, the rule every sklkws classifier predicts with.
- :func:`load_model`: a ``.tflite`` file or a joblib-saved compact model; a full training
  pipeline is refused with what to do instead when the training stack is missing.
"""

from ._compact import (
    CompactClassifier,
    check_clips,
    load_model,
    measure_latency,
    read_metadata,
    sidecar_path,
    tflite_macs,
)
from ._embedding import EmbeddingClassifier
from ._labels import MULTILABEL_THRESHOLD, proba_to_labels
from ._models import DEVICE_MODELS, DeviceModel, estimate_device_latency
from ._report import BUDGETS, CompactLimitError, compact_report, format_report
from ._spotter import Event, KeywordSpotter
from ._stream import StatefulModel, StreamingModel

__all__ = [
    "BUDGETS",
    "CompactClassifier",
    "CompactLimitError",
    "DEVICE_MODELS",
    "DeviceModel",
    "EmbeddingClassifier",
    "Event",
    "KeywordSpotter",
    "MULTILABEL_THRESHOLD",
    "StatefulModel",
    "StreamingModel",
    "check_clips",
    "compact_report",
    "estimate_device_latency",
    "format_report",
    "load_model",
    "measure_latency",
    "proba_to_labels",
    "read_metadata",
    "sidecar_path",
    "tflite_macs",
]
