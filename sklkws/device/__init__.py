"""The device side: what runs on a Raspberry Pi with numpy and a LiteRT interpreter only.

Nothing here imports TensorFlow, Keras, scikit-learn, librosa or soundfile; the training
side (:mod:`sklkws.export` and everything before it) imports from here, never the other
way round.

- :class:`CompactClassifier`: ``predict`` / ``predict_proba`` from an exported ``.tflite``.
- :class:`KeywordSpotter`, :class:`Event`: keyword spotting over long audio and streams.
- :func:`read_metadata`, :func:`tflite_macs`, :func:`measure_latency`, :func:`compact_report`,
  :func:`estimate_device_latency`, :data:`DEVICE_MODELS`: reading and checking an exported model.
"""

from ._compact import CompactClassifier, check_clips, measure_latency, read_metadata, sidecar_path, tflite_macs
from ._models import DEVICE_MODELS, DeviceModel, estimate_device_latency
from ._report import CompactLimitError, compact_report, format_report
from ._spotter import Event, KeywordSpotter

__all__ = [
    "CompactClassifier",
    "CompactLimitError",
    "DEVICE_MODELS",
    "DeviceModel",
    "Event",
    "KeywordSpotter",
    "check_clips",
    "compact_report",
    "estimate_device_latency",
    "format_report",
    "measure_latency",
    "read_metadata",
    "sidecar_path",
    "tflite_macs",
]
