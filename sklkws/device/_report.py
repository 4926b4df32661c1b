"""The checks of an exported artifact: size, latency, MACs, device estimates, parity.

Numpy and the LiteRT interpreter only (the original estimator, when given for the
parity check, is only called through its ``predict``).
"""

import math
import subprocess
import sys
from pathlib import Path

import numpy as np

from ._compact import CompactClassifier, measure_latency, tflite_macs
from ._models import DEVICE_MODELS, estimate_device_latency

__all__ = ["BUDGETS", "CompactLimitError", "compact_report", "format_report", "peak_memory"]

#: The speech seed's limits: a model under 5 MB, under 200 ms per 1 s clip on a Raspberry Pi.
MAX_SIZE_BYTES = 5_000_000
MAX_DEVICE_LATENCY_MS = 200.0
#: Parity: float exports predict the same class on >= 99% of clips; an int8 export fails only when it
#: is worse than the original by more than 0.5 points beyond what the check clips can resolve.
MIN_AGREEMENT = 0.99
MAX_ACCURACY_CHANGE = 0.005
#: One-sided confidence of the parity bound: the drop must exceed 0.5 points at this level to fail.
PARITY_CONFIDENCE = 0.95

#: The named deployment budgets. ``pi``: the speech seed's limits (under 5,000,000 bytes and under
#: 200 ms estimated on a Raspberry Pi 3 on one thread). ``micro``: at most 250 KB (250,000 bytes) of
#: int8 and at most 20 ms estimated on a Pi 3 on one thread (the distilled single network).
BUDGETS = {
    "pi": {"max_size_bytes": MAX_SIZE_BYTES, "max_device_latency_ms": MAX_DEVICE_LATENCY_MS, "device": "pi3b",
           "inclusive": False, "quantize": None},
    "micro": {"max_size_bytes": 250_000, "max_device_latency_ms": 20.0, "device": "pi3b", "inclusive": True,
              "quantize": "int8"},
}


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


def _binomial_sf(k, n, p):
    """P(B >= k) for B ~ Binomial(n, p), summed in log space (numpy and math only: no scipy on a device)."""
    if k <= 0:
        return 1.0
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    i = np.arange(k, n + 1)
    log_pmf = (math.lgamma(n + 1) - np.array([math.lgamma(j + 1) + math.lgamma(n - j + 1) for j in i])
               + i * math.log(p) + (n - i) * math.log1p(-p))
    return float(np.exp(log_pmf).sum())


def _lower_bound(k, n, confidence):
    """One-sided Clopper-Pearson lower confidence bound of a binomial proportion (k successes of n)."""
    if k == 0:
        return 0.0
    lo, hi = 0.0, k / n
    for _ in range(60):  # bisection: P(B >= k | p) grows with p
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _binomial_sf(k, n, mid) < 1 - confidence else (lo, mid)
    return lo


def accuracy_drop_bound(n_lost, n_gained, n_clips, confidence=PARITY_CONFIDENCE):
    """Lower confidence bound of the accuracy lost by an exported model (exact McNemar, paired clips).

    Only the discordant clips carry information: ``n_lost`` right before and wrong
    after, ``n_gained`` the other way. Given ``d = n_lost + n_gained``, ``n_lost`` is
    Binomial(d, q) and the drop is ``(2 q - 1) d / n_clips``; its lower bound comes
    from the one-sided Clopper-Pearson bound of ``q``.

    Parameters
    ----------
    n_lost, n_gained, n_clips : int
    confidence : float, default=0.95

    Returns
    -------
    bound : float
        As a fraction (0.005 = 0.5 points); negative or 0 when no drop is resolved.
    """
    d = int(n_lost) + int(n_gained)
    if d == 0:
        return 0.0
    return (2 * _lower_bound(int(n_lost), d, confidence) - 1) * d / int(n_clips)


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
    axis = (1,) if multilabel else ()
    right_before = np.all(np.asarray(original) == labels, axis=axis) if axis else np.asarray(original) == labels
    right_after = np.all(np.asarray(exported) == labels, axis=axis) if axis else np.asarray(exported) == labels
    n_lost, n_gained = int(np.sum(right_before & ~right_after)), int(np.sum(~right_before & right_after))
    bound = accuracy_drop_bound(n_lost, n_gained, len(X))
    if quantize == "int8":
        # One-sided: a more accurate export passes; a worse one fails only when the drop's lower
        # 95% bound (exact McNemar on the discordant clips) exceeds the allowed 0.5 points.
        passed = bound <= max_accuracy_change + 1e-12
        criterion = (f"accuracy drop's {100 * PARITY_CONFIDENCE:g}% lower bound (exact McNemar) <= "
                     f"{100 * max_accuracy_change:g} points")
    else:
        passed = agreement >= min_agreement
        criterion = f"identical predictions >= {100 * min_agreement:g}%"
    return {
        "n_clips": int(len(X)), "labels": "given" if y is not None else "original predictions",
        "agreement": agreement, "accuracy_original": acc_original, "accuracy_exported": acc_exported,
        "accuracy_change_points": 100 * change, "n_lost": n_lost, "n_gained": n_gained,
        "drop_lower_bound_points": 100 * bound, "criterion": criterion, "passed": bool(passed),
    }


_PEAK_SCRIPT = """
import sys
def rss(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
import numpy as np
from sklkws.device._compact import _make_interpreter, _one_clip
content = open(sys.argv[1], "rb").read()
before = rss("VmRSS:")
interpreter = _make_interpreter(content, 1)
index, batch, n = _one_clip(interpreter)
interpreter.set_tensor(index, np.zeros((batch, n), dtype=np.float32))
interpreter.invoke()
print(rss("VmHWM:") - before)
"""


def peak_memory(model_path, timeout=120):
    """Resident memory an interpreter adds to load and run the model once, in bytes (Linux).

    Measured in a fresh Python process (numpy and the interpreter already imported):
    the peak resident set after loading the model, allocating its tensors (the
    interpreter's arena) and one run, minus the resident set before loading. It
    includes the model's bytes and the weights the XNNPACK delegate repacks.

    Parameters
    ----------
    model_path : str or path-like
    timeout : float, default=120

    Returns
    -------
    bytes : int or None
        None where ``/proc/self/status`` is missing (not Linux) or the run failed.
    """
    if not Path("/proc/self/status").is_file():
        return None
    # The interpreter imported first: its own code is not the model's memory.
    script = _PEAK_SCRIPT.replace("before = rss", "from sklkws.device._compact import _interpreter_class\n"
                                  "_interpreter_class()\nbefore = rss")
    try:
        result = subprocess.run([sys.executable, "-c", script, str(model_path)], capture_output=True, text=True,
                                timeout=timeout)
        return int(result.stdout.strip().splitlines()[-1]) if result.returncode == 0 else None
    except (subprocess.TimeoutExpired, ValueError, IndexError):
        return None


def compact_report(
    model_path, *, estimator=None, X=None, y=None, n_runs=100, num_threads=1, budget="pi", device=None,
    max_size_bytes=None, max_device_latency_ms=None,
    min_agreement=MIN_AGREEMENT, max_accuracy_change=MAX_ACCURACY_CHANGE, memory=True,
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
    budget : {"pi", "micro"}, default="pi"
        The named limits of :data:`BUDGETS`: ``"pi"`` (< 5,000,000 bytes, < 200 ms
        estimated on a Pi 3, one thread) or ``"micro"`` (<= 250,000 bytes of int8,
        <= 20 ms). The three arguments below override single limits.
    device : str, default=None
        Device (key of :data:`~sklkws.export.DEVICE_MODELS`) whose estimated latency
        is checked; the budget's (``"pi3b"``) when None. Every device is reported.
    max_size_bytes : int, default=None
    max_device_latency_ms : float, default=None
    min_agreement : float, default=0.99
        Float / float16 exports: share of identical predictions.
    max_accuracy_change : float, default=0.005
        int8 exports fail when the accuracy drop's lower 95% confidence bound (exact
        McNemar test on the clips where the two models differ, see
        :func:`accuracy_drop_bound`) exceeds this (0.005 = 0.5 points): a more
        accurate export always passes, and a few hundred clips cannot fail it on one
        clip's change.
    memory : bool, default=True
        Measure ``peak_memory_bytes`` (:func:`peak_memory`, a fresh process).

    Returns
    -------
    report : dict
        ``size_bytes``, ``latency_ms`` (measured here, median), ``macs``,
        ``estimated_latency_ms`` (per device, an estimate), ``peak_memory_bytes``,
        ``parity`` (or None), ``failures`` (list of str) and ``passed``, plus the
        budget and limits used.
    """
    if budget not in BUDGETS:
        raise ValueError(f"budget must be one of {sorted(BUDGETS)}, got {budget!r}.")
    limits = BUDGETS[budget]
    device = limits["device"] if device is None else device
    max_size_bytes = limits["max_size_bytes"] if max_size_bytes is None else max_size_bytes
    max_device_latency_ms = limits["max_device_latency_ms"] if max_device_latency_ms is None else max_device_latency_ms
    inclusive = limits["inclusive"]
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
        "budget": budget,
        "max_device_latency_ms": float(max_device_latency_ms),
        "peak_memory_bytes": peak_memory(path) if memory else None,
        "parity": None,
    }
    report["streaming"] = _streaming_report(compact, device)
    if estimator is not None and X is not None:
        report["parity"] = _parity(compact, estimator, X, y, quantize, min_agreement, max_accuracy_change)
    failures = []
    over = (lambda value, limit: value > limit) if inclusive else (lambda value, limit: value >= limit)
    bound = "<=" if inclusive else "<"
    if over(report["size_bytes"], max_size_bytes):
        failures.append(f"size {report['size_bytes']:,} bytes, budget {budget!r} needs {bound} {int(max_size_bytes):,}")
    estimate = estimate_device_latency(macs, device)
    if over(estimate, max_device_latency_ms):
        failures.append(f"estimated {device} latency {estimate:.1f} ms, budget {budget!r} needs {bound} "
                        f"{max_device_latency_ms:g} ms")
    if limits["quantize"] is not None and quantize != limits["quantize"]:
        failures.append(f"budget {budget!r} is for {limits['quantize']} models; this one is {quantize or 'float32'}")
    if report["parity"] is not None and not report["parity"]["passed"]:
        p = report["parity"]
        failures.append(f"parity failed ({p['criterion']}): agreement {100 * p['agreement']:.2f}%, accuracy "
                        f"{100 * p['accuracy_original']:.2f}% -> {100 * p['accuracy_exported']:.2f}%")
    report["failures"] = failures
    report["passed"] = not failures
    return report


def _streaming_report(compact, device):
    """What the file streams with: None, the pair alone (and why no step graph), or the step graph's cost."""
    metadata = compact.metadata_
    if "streaming" not in metadata:
        return None
    stateful = metadata.get("stateful") or {}
    if "hop_frames" not in stateful:
        return {"form": "pair", "refused": stateful.get("refused")}
    from ._stream import StatefulModel

    macs = StatefulModel(compact).macs_per_hop()
    hop_s = stateful["hop_samples"] / metadata["sample_rate"]
    return {"form": "step", "hop_seconds": hop_s, "macs_per_hop": macs,
            "estimated_rtf": estimate_device_latency(macs, device) / 1000.0 / hop_s}


def format_report(report):
    """The report as a few lines of text."""
    est = ", ".join(f"{name} {ms:.1f} ms" for name, ms in report["estimated_latency_ms"].items())
    memory = report.get("peak_memory_bytes")
    lines = [
        f"compact model {report['path']} ({report['quantize'] or 'float32'}), budget {report.get('budget', 'pi')!r}",
        f"  size           {report['size_bytes']:,} bytes (limit {report['max_size_bytes']:,})",
        f"  latency here   {report['latency_ms']:.3f} ms per clip (median of {report['latency_runs']}, "
        f"{report['num_threads']} thread)",
        f"  MACs           {report['macs']:,}",
        f"  estimated      {est} (estimate from published throughput; limit "
        f"{report['max_device_latency_ms']:g} ms on {report['device']})",
        "  peak memory    " + ("not measured" if memory is None else
                               f"{memory / 1e6:.2f} MB (resident memory the interpreter adds: arena, model, "
                               "packed weights)"),
    ]
    p = report["parity"]
    if p is not None:
        lines.append(
            f"  parity         {p['n_clips']} clips: {100 * p['agreement']:.2f}% identical, accuracy "
            f"{100 * p['accuracy_original']:.2f}% -> {100 * p['accuracy_exported']:.2f}% "
            f"({p['n_lost']} clips lost, {p['n_gained']} gained; drop >= {p['drop_lower_bound_points']:.2f} "
            f"points at {100 * PARITY_CONFIDENCE:g}%) "
            f"(labels: {p['labels']}; {p['criterion']}): {'ok' if p['passed'] else 'FAILED'}"
        )
    else:
        lines.append("  parity         not checked (no clips given)")
    stream = report.get("streaming")
    if stream is not None and stream["form"] == "step":
        lines.append(f"  streaming      step graph: {stream['macs_per_hop']:,} MACs per {stream['hop_seconds']:g} s hop, "
                     f"estimated real-time factor {stream['estimated_rtf']:.3f} on {report['device']}")
    elif stream is not None:
        lines.append(f"  streaming      pair only (no step graph: {stream['refused']})")
    lines.append("  result         " + ("PASSED" if report["passed"] else "FAILED: " + "; ".join(report["failures"])))
    return "\n".join(lines)
