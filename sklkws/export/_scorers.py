"""The on-device limits as scikit-learn scorers, for cross_val_score, GridSearchCV and Optuna.

Scorers follow scikit-learn's greater-is-better convention: sizes and latencies are
returned negated (``-bytes``, ``-milliseconds``), so the best model has the largest
score, and ``-score`` is the budget figure itself.
"""

from ..device._models import estimate_device_latency
from ..device._report import MAX_DEVICE_LATENCY_MS, MAX_SIZE_BYTES

__all__ = [
    "device_latency_scorer",
    "make_budget_scorer",
    "make_device_latency_scorer",
    "make_size_scorer",
    "model_size_scorer",
]


def _size_bytes(estimator, X, quantize, n_calibration):
    from ._convert import compact_bytes

    calibration = X[:n_calibration] if quantize == "int8" else None
    return len(compact_bytes(estimator, quantize, calibration, n_calibration=n_calibration)[0])


class _BudgetScorer:
    """A picklable scorer ``scorer(estimator, X, y) -> float`` (see the factories below)."""

    def __init__(self, kind, *, quantize="int8", device="pi3b", n_calibration=100, scoring=None,
                 max_size_bytes=MAX_SIZE_BYTES, max_device_latency_ms=MAX_DEVICE_LATENCY_MS):
        self.kind, self.quantize, self.device, self.n_calibration = kind, quantize, device, n_calibration
        self.scoring, self.max_size_bytes, self.max_device_latency_ms = scoring, max_size_bytes, max_device_latency_ms

    def size(self, estimator, X):
        return _size_bytes(estimator, X, self.quantize, self.n_calibration)

    def latency(self, estimator):
        from ._convert import inference_macs

        return estimate_device_latency(inference_macs(estimator), self.device)

    def __call__(self, estimator, X, y=None, **kwargs):
        if self.kind == "size":
            return -float(self.size(estimator, X))
        if self.kind == "latency":
            return -float(self.latency(estimator))
        from sklearn.metrics import check_scoring

        score = float(check_scoring(estimator, scoring=self.scoring)(estimator, X, y, **kwargs))
        within = self.latency(estimator) <= self.max_device_latency_ms
        if within and self.max_size_bytes is not None:
            within = self.size(estimator, X) <= self.max_size_bytes
        return score if within else score - 1.0

    def __repr__(self):
        if self.kind == "size":
            return f"make_size_scorer(quantize={self.quantize!r})"
        if self.kind == "latency":
            return f"make_device_latency_scorer(device={self.device!r})"
        return (f"make_budget_scorer(scoring={self.scoring!r}, max_size_bytes={self.max_size_bytes!r}, "
                f"max_device_latency_ms={self.max_device_latency_ms!r}, device={self.device!r})")


def make_size_scorer(quantize="int8", *, n_calibration=100):
    """Scorer returning ``-bytes`` of the model's compact artifact.

    The fitted estimator is converted as :func:`sklkws.export.export_compact` does
    (int8 calibrated on the first ``n_calibration`` scoring clips) and the bytes it
    would write are counted: exact, at the cost of one conversion (seconds) per call.

    Parameters
    ----------
    quantize : {"int8", "float16"} or None, default="int8"
    n_calibration : int, default=100

    Returns
    -------
    scorer : callable ``scorer(estimator, X, y) -> float``
        Greater is better: ``-size_bytes``.

    Examples
    --------
    >>> from sklearn.model_selection import cross_val_score
    >>> cross_val_score(pipeline, X, y, scoring=make_size_scorer())  # doctest: +SKIP
    array([-61234., -61234., -61234., -61234., -61234.])
    """
    if quantize not in (None, "int8", "float16"):
        raise ValueError(f"quantize must be 'int8', 'float16' or None, got {quantize!r}.")
    return _BudgetScorer("size", quantize=quantize, n_calibration=n_calibration)


def make_device_latency_scorer(device="pi3b"):
    """Scorer returning ``-milliseconds``: the estimated single-thread latency on a device.

    From the multiply-accumulates of the whole inference graph
    (:func:`sklkws.export.inference_macs`, no conversion) and the device model of
    :func:`sklkws.export.estimate_device_latency` (an estimate).

    Parameters
    ----------
    device : str or DeviceModel, default="pi3b"

    Returns
    -------
    scorer : callable ``scorer(estimator, X, y) -> float``
        Greater is better: ``-latency_ms``.
    """
    estimate_device_latency(0, device)  # validates the device now, not in the middle of a search
    return _BudgetScorer("latency", device=device)


def make_budget_scorer(scoring=None, *, max_size_bytes=MAX_SIZE_BYTES, max_device_latency_ms=MAX_DEVICE_LATENCY_MS,
                       device="pi3b", quantize="int8", n_calibration=100):
    """A quality score with the budget as a hard constraint.

    Returns the ``scoring`` score (accuracy by default) when the model fits the
    budget, and that score minus 1 otherwise, so with a score in [0, 1] (accuracy)
    every model within budget ranks above every model over it: a search picks the
    most accurate model that fits the Pi.

    Parameters
    ----------
    scoring : str, callable or None, default=None
        Anything :func:`sklearn.metrics.check_scoring` accepts; None uses the
        estimator's ``score`` (accuracy for classifiers).
    max_size_bytes : int or None, default=5_000_000
        None skips the size check (and its conversion).
    max_device_latency_ms : float, default=200.0
    device : str, default="pi3b"
    quantize : {"int8", "float16"} or None, default="int8"
    n_calibration : int, default=100

    Returns
    -------
    scorer : callable ``scorer(estimator, X, y) -> float``
    """
    estimate_device_latency(0, device)
    return _BudgetScorer("budget", quantize=quantize, device=device, n_calibration=n_calibration, scoring=scoring,
                         max_size_bytes=max_size_bytes, max_device_latency_ms=max_device_latency_ms)


#: ``-bytes`` of the int8 artifact (see :func:`make_size_scorer`).
model_size_scorer = make_size_scorer()
#: ``-ms`` estimated on a Raspberry Pi 3B, one thread (see :func:`make_device_latency_scorer`).
device_latency_scorer = make_device_latency_scorer()
