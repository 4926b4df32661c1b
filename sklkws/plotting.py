"""Plots for judging a classifier: confusion matrices and learning curves, as PNG.

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

__all__ = ["plot_confusion_matrix", "plot_learning_curves"]

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
