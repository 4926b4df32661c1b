"""The checks of an exported artifact: size, latency, MACs, device estimates, parity.

Numpy and the LiteRT interpreter only (the original estimator, when given for the
parity check, is only called through its ``predict``).
"""

from pathlib import Path

import numpy as np

from ._compact import CompactClassifier, measure_latency, tflite_macs
from ._models import DEVICE_MODELS, estimate_device_latency

__all__ = ["CompactLimitError", "compact_report", "format_report"]

#: The speech seed's limits: a model under 5 MB, under 200 ms per 1 s clip on a Raspberry Pi.
MAX_SIZE_BYTES = 5_000_000
MAX_DEVICE_LATENCY_MS = 200.0
#: Parity: float exports predict the same class on >= 99% of clips; int8 keeps accuracy within 0.5 points.
MIN_AGREEMENT = 0.99
MAX_ACCURACY_CHANGE = 0.005


class CompactLimitError(RuntimeError):
    """An exported model breaks a limit (size, estimated device latency or parity).

    Attributes
    ----------
    report : dict
        The full report of :func:`compact_report`.
    """

    def __init__(self, message, report):
        super().__init__(message)
        self.report = report


def _accuracy(pred, y, multilabel):
    if multilabel:
        return float(np.mean(np.all(np.asarray(pred) == np.asarray(y), axis=1)))
    return float(np.mean(np.asarray(pred) == np.asarray(y)))


def _parity(compact, estimator, X, y, quantize, min_agreement, max_accuracy_change):
    exported = compact.predict(X)
    original = np.asarray(estimator.predict(X))
    if compact.multilabel_:
        original = original.astype(int)
    multilabel = compact.multilabel_
    agreement = _accuracy(exported, original, multilabel)
    # Without labels the original's own predictions are the labels (a stricter test).
    labels = original if y is None else np.asarray(y)
    acc_original, acc_exported = _accuracy(original, labels, multilabel), _accuracy(exported, labels, multilabel)
    change = acc_exported - acc_original
    if quantize == "int8":
        passed = abs(change) <= max_accuracy_change + 1e-12
        criterion = f"|accuracy change| <= {100 * max_accuracy_change:g} points"
    else:
        passed = agreement >= min_agreement
        criterion = f"identical predictions >= {100 * min_agreement:g}%"
    return {
        "n_clips": int(len(X)), "labels": "given" if y is not None else "original predictions",
        "agreement": agreement, "accuracy_original": acc_original, "accuracy_exported": acc_exported,
        "accuracy_change_points": 100 * change, "criterion": criterion, "passed": bool(passed),
    }


def compact_report(
    model_path, *, estimator=None, X=None, y=None, n_runs=100, num_threads=1, device="pi3b",
    max_size_bytes=MAX_SIZE_BYTES, max_device_latency_ms=MAX_DEVICE_LATENCY_MS,
    min_agreement=MIN_AGREEMENT, max_accuracy_change=MAX_ACCURACY_CHANGE,
):
    """Check an exported model against the budget and against the model it came from.

    Parameters
    ----------
    model_path : str or path-like
        The .tflite file.
    estimator : fitted estimator, default=None
        The original pipeline; with ``X`` it enables the parity check.
    X : array-like of shape (n_clips, n_samples), default=None
        Clips for the parity check (and the latency input).
    y : array-like of shape (n_clips,), default=None
        Their labels; without them the original's predictions are the labels.
    n_runs : int, default=100
        Timed single-clip runs; the median is reported.
    num_threads : int, default=1
    device : str, default="pi3b"
        Device (key of :data:`~sklkws.export.DEVICE_MODELS`) whose estimated latency
        is checked against ``max_device_latency_ms``; every device is reported.
    max_size_bytes : int, default=5_000_000
    max_device_latency_ms : float, default=200.0
    min_agreement : float, default=0.99
        Float / float16 exports: share of identical predictions.
    max_accuracy_change : float, default=0.005
        int8 exports: largest accuracy change (0.005 = 0.5 points).

    Returns
    -------
    report : dict
        ``size_bytes``, ``latency_ms`` (measured here, median), ``macs``,
        ``estimated_latency_ms`` (per device, an estimate), ``parity`` (or None),
        ``failures`` (list of str) and ``passed``, plus the limits used.
    """
    path = Path(model_path)
    compact = CompactClassifier(path, num_threads=num_threads)
    quantize = compact.metadata_.get("quantize")
    clip = None
    if X is not None:
        X = compact._check_X(X)
        clip = X[0]
    macs = tflite_macs(path)
    estimates = {name: estimate_device_latency(macs, name) for name in DEVICE_MODELS}
    report = {
        "path": str(path),
        "quantize": quantize,
        "size_bytes": path.stat().st_size,
        "max_size_bytes": int(max_size_bytes),
        "latency_ms": measure_latency(path.read_bytes(), clip, n_runs=n_runs, num_threads=num_threads),
        "latency_runs": int(n_runs),
        "num_threads": int(num_threads),
        "macs": macs,
        "estimated_latency_ms": estimates,
        "device": device,
        "max_device_latency_ms": float(max_device_latency_ms),
        "parity": None,
    }
    if estimator is not None and X is not None:
        report["parity"] = _parity(compact, estimator, X, y, quantize, min_agreement, max_accuracy_change)
    failures = []
    if report["size_bytes"] > max_size_bytes:
        failures.append(f"size {report['size_bytes']:,} bytes > limit {int(max_size_bytes):,}")
    estimate = estimate_device_latency(macs, device)
    if estimate > max_device_latency_ms:
        failures.append(f"estimated {device} latency {estimate:.1f} ms > limit {max_device_latency_ms:g} ms")
    if report["parity"] is not None and not report["parity"]["passed"]:
        p = report["parity"]
        failures.append(f"parity failed ({p['criterion']}): agreement {100 * p['agreement']:.2f}%, accuracy "
                        f"{100 * p['accuracy_original']:.2f}% -> {100 * p['accuracy_exported']:.2f}%")
    report["failures"] = failures
    report["passed"] = not failures
    return report


def format_report(report):
    """The report as a few lines of text."""
    est = ", ".join(f"{name} {ms:.1f} ms" for name, ms in report["estimated_latency_ms"].items())
    lines = [
        f"compact model {report['path']} ({report['quantize'] or 'float32'})",
        f"  size           {report['size_bytes']:,} bytes (limit {report['max_size_bytes']:,})",
        f"  latency here   {report['latency_ms']:.3f} ms per clip (median of {report['latency_runs']}, "
        f"{report['num_threads']} thread)",
        f"  MACs           {report['macs']:,}",
        f"  estimated      {est} (estimate from published throughput; limit "
        f"{report['max_device_latency_ms']:g} ms on {report['device']})",
    ]
    p = report["parity"]
    if p is not None:
        lines.append(
            f"  parity         {p['n_clips']} clips: {100 * p['agreement']:.2f}% identical, accuracy "
            f"{100 * p['accuracy_original']:.2f}% -> {100 * p['accuracy_exported']:.2f}% "
            f"(labels: {p['labels']}; {p['criterion']}): {'ok' if p['passed'] else 'FAILED'}"
        )
    else:
        lines.append("  parity         not checked (no clips given)")
    lines.append("  result         " + ("PASSED" if report["passed"] else "FAILED: " + "; ".join(report["failures"])))
    return "\n".join(lines)
