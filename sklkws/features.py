"""Spectral and statistical features; they live in :mod:`sklkws.frontend` (this path stays importable)."""

from .frontend._features import GLOBAL_STATS, GlobalStatFeatures, MelFeatures

__all__ = ["GLOBAL_STATS", "GlobalStatFeatures", "MelFeatures"]
