"""Keyword spotting in long audio, and its evaluation on streams.

The spotter itself (:class:`KeywordSpotter`, :class:`Event`) lives on the device side,
:mod:`sklkws.device`; this module is its home on the training machine, with the
streams and the measurement: :func:`make_keyword_stream`, :func:`load_negative_audio`,
:func:`evaluate_spotter` (DET table from one model pass), :func:`calibrate_spotter`
and :func:`store_operating_point`.
"""

from ._stream_eval import (
    KeywordTruth,
    StreamingResult,
    calibrate_main,
    calibrate_spotter,
    default_thresholds,
    evaluate_spotter,
    load_negative_audio,
    make_keyword_stream,
    store_operating_point,
    timeline_main,
)
from .cli import listen_main  # the `sklkws listen` entry point, under its historical path
from .device._spotter import Event, KeywordSpotter, microphone_chunks, read_wav

__all__ = ["Event", "KeywordSpotter", "KeywordTruth", "StreamingResult", "calibrate_main", "calibrate_spotter", "default_thresholds",
           "evaluate_spotter", "listen_main", "load_negative_audio", "make_keyword_stream", "microphone_chunks",
           "read_wav", "store_operating_point", "timeline_main"]
