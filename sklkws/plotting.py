"""Plots for judging a classifier: confusion matrices, learning curves, DET curves and detection timelines, as PNG.

Matplotlib is imported inside the functions. When a ``path`` is given and no
``ax``, the figure is a standalone :class:`matplotlib.figure.Figure` rendered
by Agg: no pyplot state, no window, no backend to configure, so benchmarks and
CI on headless machines just work and no figure is left open. Without a
``path`` (interactive use) the figure comes from pyplot, so ``plt.show()`` and
notebooks display it.
"""

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

__all__ = ["plot_confusion_matrix", "plot_det", "plot_detection_timeline", "plot_learning_curves"]

_LOG_SCALE_KEYS = ("lr", "learning_rate")


def _new_figure(path, figsize, ncols=1):
    """A figure with ``ncols`` axes: standalone when saving, pyplot otherwise."""
    if path is None:
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, ncols, figsize=figsize, layout="constrained", squeeze=False)
    else:
        from matplotlib.figure import Figure

        fig = Figure(figsize=figsize, layout="constrained")
        axes = fig.subplots(1, ncols, squeeze=False)
    return fig, list(axes.ravel())


def _save(fig, path, dpi):
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=dpi, format="png", bbox_inches="tight")


def plot_confusion_matrix(
    estimator_or_y_true,
    X_or_y_pred,
    y=None,
    *,
    labels=None,
    display_labels=None,
    normalize=None,
    sample_weight=None,
    include_values=None,
    values_format=None,
    cmap="Blues",
    xticks_rotation=45,
    title=None,
    path=None,
    ax=None,
    dpi=150,
):
    """Plot (and optionally save as PNG) a confusion matrix.

    Thin wrapper over :class:`sklearn.metrics.ConfusionMatrixDisplay`: called
    with a fitted classifier (or Pipeline), ``X`` and ``y`` it uses
    ``from_estimator``; called with true and predicted labels it uses
    ``from_predictions``. The figure grows with the number of classes.

    Parameters
    ----------
    estimator_or_y_true : estimator or array-like of shape (n_samples,)
        A fitted classifier, or the true labels.
    X_or_y_pred : array-like
        Input of shape (n_samples, ...) for the estimator, or the predicted
        labels of shape (n_samples,).
    y : array-like of shape (n_samples,), default=None
        True labels; required with an estimator, not allowed otherwise.
    labels : array-like of shape (n_classes,), default=None
        Classes to show, in this order; default: all labels seen, sorted.
    display_labels : array-like of shape (n_classes,), default=None
        Tick labels; default: ``labels``.
    normalize : {"true", "pred", "all"}, default=None
        Normalise counts over the true rows, predicted columns or everything.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights.
    include_values : bool, default=None
        Write the value in each cell; default: only up to 20 classes.
    values_format : str, default=None
        Format of the cell values; default: integers for counts, ``".2f"``
        when normalised.
    cmap : str or matplotlib Colormap, default="Blues"
        Colour map.
    xticks_rotation : {"vertical", "horizontal"} or float, default=45
        Rotation of the predicted-label tick labels.
    title : str, default=None
        Axes title.
    path : str or path-like, default=None
        Write the figure there as PNG (parent folders are created).
    ax : matplotlib Axes, default=None
        Draw there instead of on a new figure.
    dpi : int, default=150
        Resolution of the saved PNG.

    Returns
    -------
    display : sklearn.metrics.ConfusionMatrixDisplay
        With ``confusion_matrix`` of shape (n_classes, n_classes), ``ax_`` and
        ``figure_``.

    Raises
    ------
    ValueError
        If an estimator is given without ``y``, or ``y`` is given with label
        arrays.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklkws.plotting import plot_confusion_matrix
    >>> path = os.path.join(tempfile.mkdtemp(), "confusion.png")
    >>> y_true = ["yes", "no", "yes", "up"]
    >>> y_pred = ["yes", "no", "no", "up"]
    >>> disp = plot_confusion_matrix(y_true, y_pred, path=path)
    >>> disp.confusion_matrix.tolist()
    [[1, 0, 0], [0, 1, 0], [1, 0, 1]]
    """
    is_estimator = hasattr(estimator_or_y_true, "predict") and hasattr(estimator_or_y_true, "fit")
    if is_estimator and y is None:
        raise ValueError(
            "y (the true labels) is required when the first argument is an estimator: "
            "plot_confusion_matrix(estimator, X, y)."
        )
    if not is_estimator and y is not None:
        raise ValueError(
            "y is only used with an estimator; with label arrays call "
            "plot_confusion_matrix(y_true, y_pred)."
        )
    from sklearn.metrics import ConfusionMatrixDisplay
    from sklearn.utils.multiclass import unique_labels

    if labels is not None:
        n_classes = len(labels)
    elif is_estimator:
        n_classes = len(getattr(estimator_or_y_true, "classes_", np.unique(y)))
    else:
        n_classes = len(unique_labels(estimator_or_y_true, X_or_y_pred))
    if include_values is None:
        include_values = n_classes <= 20
    if values_format is None and normalize is not None:
        values_format = ".2f"
    if ax is None:
        side = 2.5 + 0.55 * n_classes
        _, (ax,) = _new_figure(path, (side + 1.2, side))
    kwargs = dict(
        labels=labels,
        sample_weight=sample_weight,
        normalize=normalize,
        display_labels=display_labels,
        include_values=include_values,
        values_format=values_format,
        cmap=cmap,
        xticks_rotation=xticks_rotation,
        ax=ax,
    )
    if is_estimator:
        display = ConfusionMatrixDisplay.from_estimator(estimator_or_y_true, X_or_y_pred, y, **kwargs)
    else:
        display = ConfusionMatrixDisplay.from_predictions(estimator_or_y_true, X_or_y_pred, **kwargs)
    if normalize is not None:
        display.im_.set_clim(0.0, 1.0)  # shares of 1: comparable across plots
    if isinstance(xticks_rotation, (int, float)) and xticks_rotation % 180:
        # Anchor slanted labels at their end so each sits under its column.
        for tick in ax.get_xticklabels():
            tick.set(ha="right", rotation_mode="anchor")
    if title is not None:
        ax.set_title(title)
    _save(display.figure_, path, dpi)
    return display


def _history_dict(history):
    """A ``{name: 1-D float array}`` dict from a dict, Keras History or estimator."""
    if hasattr(history, "history_"):
        history = history.history_
    elif hasattr(history, "history") and isinstance(history.history, Mapping):
        history = history.history  # keras.callbacks.History
    elif hasattr(history, "fit") and not isinstance(history, Mapping):
        from sklearn.exceptions import NotFittedError

        raise NotFittedError(
            f"{type(history).__name__} has no history_: fit it before plotting learning curves."
        )
    if not isinstance(history, Mapping):
        raise ValueError(
            "history must be a dict of per-epoch lists, a keras History or an estimator "
            f"with history_, got {type(history).__name__}."
        )
    curves = {}
    for name, values in history.items():
        values = np.asarray(values, dtype=float)
        if values.ndim != 1:
            raise ValueError(
                f"history[{name!r}] must be a 1-D list of per-epoch values, got shape {values.shape}."
            )
        curves[str(name)] = values
    return curves


def plot_learning_curves(
    history, path=None, metrics=("loss", "accuracy"), *, title=None, ax=None, dpi=150
):
    """Plot per-epoch training curves, with validation curves when logged.

    One panel per metric: ``metric`` against the epoch, plus ``val_<metric>``
    (dashed) when the history has it. Learning rates (``lr`` /
    ``learning_rate``) get a log scale.

    Parameters
    ----------
    history : dict, keras History or estimator
        A Keras-style history ``{name: list of per-epoch values}``, a
        ``keras.callbacks.History``, or a fitted estimator with ``history_``
        (e.g. the sklkws Keras classifiers).
    path : str or path-like, default=None
        Write the figure there as PNG (parent folders are created).
    metrics : str or sequence of str, default=("loss", "accuracy")
        Metrics to plot, one panel each; each must be in the history.
    title : str, default=None
        Figure title.
    ax : matplotlib Axes or sequence of Axes, default=None
        One Axes per metric to draw on instead of a new figure.
    dpi : int, default=150
        Resolution of the saved PNG.

    Returns
    -------
    figure : matplotlib.figure.Figure
        The figure holding the panels (``figure.axes``).

    Raises
    ------
    ValueError
        If a metric is missing from the history (the message lists those
        present), the history is empty, a validation curve has a different
        number of epochs from its training curve, or ``ax`` has the wrong
        length.
    sklearn.exceptions.NotFittedError
        If an estimator without ``history_`` is given.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklkws.plotting import plot_learning_curves
    >>> path = os.path.join(tempfile.mkdtemp(), "curves.png")
    >>> history = {"loss": [1.2, 0.8, 0.6], "val_loss": [1.3, 1.0, 0.9],
    ...            "accuracy": [0.5, 0.7, 0.8], "val_accuracy": [0.45, 0.6, 0.65]}
    >>> fig = plot_learning_curves(history, path=path)
    >>> len(fig.axes)
    2
    """
    curves = _history_dict(history)
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    if not metrics:
        raise ValueError("metrics is empty: name at least one metric to plot.")
    missing = [m for m in metrics if m not in curves]
    if missing:
        raise ValueError(
            f"Metric(s) {missing} not in the history; it has {sorted(curves)}."
        )
    for name in metrics:
        if len(curves[name]) == 0:
            raise ValueError(f"history[{name!r}] is empty: nothing to plot (was the model trained?).")
        val = curves.get(f"val_{name}")
        if val is not None and len(val) != len(curves[name]):
            raise ValueError(
                f"val_{name} has {len(val)} values but {name} has {len(curves[name])}: learning "
                "curves need one validation value per epoch (Keras validation_freq=1)."
            )
    if ax is None:
        fig, axes = _new_figure(path, (4.5 * len(metrics), 3.5), ncols=len(metrics))
    else:
        axes = [ax] if not isinstance(ax, (Sequence, np.ndarray)) else list(np.ravel(ax))
        if len(axes) != len(metrics):
            raise ValueError(f"ax has {len(axes)} Axes for {len(metrics)} metric(s); pass one per metric.")
        fig = axes[0].figure

    from matplotlib.ticker import MaxNLocator

    for panel, name in zip(axes, metrics):
        epochs = np.arange(1, len(curves[name]) + 1)
        label = "validation" if name.startswith("val_") else "train"
        panel.plot(epochs, curves[name], marker="o", markersize=3, label=label)
        if f"val_{name}" in curves:
            panel.plot(epochs, curves[f"val_{name}"], "--", marker="o", markersize=3, label="validation")
        if name in _LOG_SCALE_KEYS:
            panel.set_yscale("log")
        panel.set(title=name, xlabel="epoch", ylabel=name)
        panel.xaxis.set_major_locator(MaxNLocator(integer=True))
        panel.grid(alpha=0.3)
        panel.legend()
    if title is not None:
        fig.suptitle(title)
    _save(fig, path, dpi)
    return fig


def plot_det(results, path=None, *, labels=None, fa_points=(0.5, 1.0, 2.0, 5.0), title=None, ax=None, dpi=150):
    """Plot the detection-error trade-off of one or more spotter evaluations.

    False-reject rate (%) against false alarms per hour (log axis; 0 FA/h drawn
    at the left edge), one line per result, the sweep's thresholds as points,
    and the FA/h points at which FRR is reported as dotted verticals.

    Parameters
    ----------
    results : StreamingResult or sequence of StreamingResult
        From :func:`sklkws.streaming.evaluate_spotter`.
    path : str or path-like, default=None
        Write the figure there as PNG.
    labels : sequence of str, default=None
        Legend entries, one per result.
    fa_points : sequence of float, default=(0.5, 1.0, 2.0, 5.0)
    title : str, default=None
    ax : matplotlib Axes, default=None
    dpi : int, default=150

    Returns
    -------
    figure : matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from sklkws.streaming import StreamingResult
    >>> result = StreamingResult(thresholds=np.array([0.5, 0.9]), frr=np.array([0.05, 0.3]),
    ...                          fa_per_hour=np.array([20.0, 0.0]))
    >>> fig = plot_det(result)  # doctest: +SKIP
    """
    if not isinstance(results, (list, tuple)):
        results = [results]
    if not results:
        raise ValueError("results is empty: pass at least one StreamingResult.")
    labels = [None] * len(results) if labels is None else list(labels)
    if len(labels) != len(results):
        raise ValueError(f"labels has {len(labels)} entries for {len(results)} results.")
    if ax is None:
        fig, (ax,) = _new_figure(path, (6.0, 4.5))
    else:
        fig = ax.figure
    positive = np.concatenate([r.fa_per_hour[r.fa_per_hour > 0] for r in results])
    floor = 10 ** np.floor(np.log10(positive.min() / 2)) if positive.size else 0.1
    for result, label in zip(results, labels):
        order = np.argsort(result.thresholds)
        fa = np.maximum(result.fa_per_hour[order], floor)
        ax.plot(fa, 100 * result.frr[order], marker=".", label=label)
    for point in fa_points:
        ax.axvline(point, color="grey", linestyle=":", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlabel(f"false alarms per hour (0 drawn at {floor:g})")
    ax.set_ylabel("false rejects (%)")
    ax.set_ylim(0, 100)
    ax.grid(True, which="both", alpha=0.3)
    if any(label is not None for label in labels):
        ax.legend()
    ax.set_title(title or "Detection-error trade-off")
    _save(fig, path, dpi)
    return fig


def plot_detection_timeline(spotter, audio, *, truth=None, posteriors=None, threshold=None, start=0.0,
                            duration=None, path=None, title=None, dpi=150):
    """Plot a stretch of a stream: spectrogram, smoothed posteriors, threshold, events and the truth.

    Top: the log spectrogram with the true keyword clips as labelled spans. Bottom:
    each keyword's smoothed posterior at the time the detector assigns to it, the
    threshold, and the events (triangles labelled with the keyword; green when a
    true keyword span of the same word holds it, red otherwise).

    Parameters
    ----------
    spotter : KeywordSpotter
    audio : ndarray of shape (n_samples,)
    truth : list of (start, end, keyword), default=None
        From :func:`sklkws.streaming.make_keyword_stream`.
    posteriors : ndarray of shape (n_windows, n_keywords), default=None
        From ``spotter.window_posteriors(audio)``; computed when None.
    threshold : float, default=None
        None: the spotter's.
    start, duration : float, default=0.0, None
        The stretch to show, in seconds (None: to the end).
    path : str or path-like, default=None
    title : str, default=None
    dpi : int, default=150

    Returns
    -------
    figure : matplotlib.figure.Figure

    Examples
    --------
    >>> fig = plot_detection_timeline(spotter, audio, truth=truth, path="timeline.png")  # doctest: +SKIP
    """
    audio = np.asarray(audio, dtype=np.float32)
    P = spotter.window_posteriors(audio) if posteriors is None else np.asarray(posteriors)
    threshold = spotter.threshold_ if threshold is None else threshold
    smoothed = spotter.smoothed_posteriors(P)
    events = spotter.events_from_posteriors(P, threshold=threshold)
    rate, hop = spotter.sample_rate_, spotter.hop_samples_
    k = max(1, int(round(spotter.smoothing_ / spotter.hop_)))
    times = ((np.arange(len(P)) - (k - 1) / 2) * hop + spotter.window_samples_ / 2) / rate
    end = len(audio) / rate if duration is None else min(len(audio) / rate, start + duration)
    if not 0 <= start < end:
        raise ValueError(f"start={start} s is outside the audio (0 to {len(audio) / rate:.2f} s).")
    segment = audio[int(start * rate): int(end * rate)]
    if path is None:
        import matplotlib.pyplot as plt

        fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 5.5), sharex=True, layout="constrained")
    else:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(12, 5.5), layout="constrained")
        top, bottom = fig.subplots(2, 1, sharex=True)
    if len(segment) >= 512:
        top.specgram(segment, NFFT=512, Fs=rate, noverlap=352, xextent=(start, end), cmap="magma")
    top.set_ylabel("Hz")
    truth = [] if truth is None else list(truth)
    for t_start, t_end, word in truth:
        if t_end >= start and t_start <= end:
            top.axvspan(t_start, t_end, color="cyan", alpha=0.15)
            bottom.axvspan(t_start, t_end, color="grey", alpha=0.12)
            top.text(max(t_start, start), rate / 2 * 0.92, word, color="cyan", fontsize=8, va="top")
    shown = (times >= start) & (times <= end)
    for j, word in enumerate(spotter.keywords_):
        if smoothed[shown, j].max(initial=0) >= 0.05:  # keep the legend to the keywords that move
            bottom.plot(times[shown], smoothed[shown, j], label=str(word), linewidth=1)
    bottom.axhline(threshold, color="black", linestyle="--", linewidth=0.8, label=f"threshold {threshold:g}")
    for event in events:
        if start <= event.time <= end:
            hit = any(s - 0.25 <= event.time <= e + 0.25 and w == event.keyword for s, e, w in truth)
            color = "green" if hit or not truth else "red"
            bottom.plot(event.time, 1.02, marker="v", color=color, clip_on=False)
            bottom.text(event.time, 1.06, event.keyword, color=color, fontsize=7, ha="center")
    bottom.set_ylim(0, 1.12)
    bottom.set_xlim(start, end)
    bottom.set_xlabel("seconds")
    bottom.set_ylabel("smoothed posterior")
    bottom.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=7)  # outside: keeps the events visible
    top.set_title(title or "Detections against the truth")
    _save(fig, path, dpi)
    return fig
