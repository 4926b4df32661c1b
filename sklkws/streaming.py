"""Keyword spotting in long audio.

The spotter itself (:class:`KeywordSpotter`, :class:`Event`) lives on the device side,
:mod:`sklkws.device`; this module is its home on the training machine.
"""

from .device._spotter import Event, KeywordSpotter, listen_main

__all__ = ["Event", "KeywordSpotter", "listen_main"]
