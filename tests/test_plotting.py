"""Confusion-matrix and learning-curve plots: PNGs written, values right, no state left."""

import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklkws.plotting import plot_confusion_matrix, plot_learning_curves

WORDS = np.array(["yes", "no", "up", "down", "_silence_", "_unknown_"])


def read_png(path):
    """The saved image as an (h, w, channels) array, after checking the PNG signature."""
    import matplotlib.image as mpimg

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return mpimg.imread(path)


def assert_drawn(path):
    image = read_png(path)
    assert image.shape[0] > 100 and image.shape[1] > 100
    # Something is drawn: many distinct colours, not a blank canvas.
    assert len(np.unique(image.reshape(-1, image.shape[-1]), axis=0)) > 20


@pytest.fixture
def predictions(rng):
    y_true = rng.choice(WORDS, 300)
    y_pred = np.where(rng.random(300) < 0.7, y_true, rng.choice(WORDS, 300))
    return y_true, y_pred


@pytest.fixture
def no_new_pyplot_figures():
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())
    yield
    assert set(plt.get_fignums()) == before, "a pyplot figure was left open"


# --- confusion matrix ------------------------------------------------------------


def test_confusion_matrix_from_predictions_png(tmp_path, predictions, no_new_pyplot_figures):
    y_true, y_pred = predictions
    path = tmp_path / "sub" / "cm.png"  # parent folder created
    display = plot_confusion_matrix(y_true, y_pred, labels=WORDS, path=path, title="six words", dpi=50)
    np.testing.assert_array_equal(display.confusion_matrix, confusion_matrix(y_true, y_pred, labels=WORDS))
    assert [t.get_text() for t in display.ax_.get_xticklabels()] == list(WORDS)
    assert display.ax_.get_title() == "six words"
    assert_drawn(path)


def test_confusion_matrix_from_estimator(tmp_path, rng, no_new_pyplot_figures):
    X = rng.normal(size=(120, 4))
    y = np.array(["left", "right", "stop"])[(X[:, 0] > 0).astype(int) + (X[:, 1] > 1)]
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    display = plot_confusion_matrix(model, X, y, path=tmp_path / "cm.png", dpi=50)
    np.testing.assert_array_equal(display.confusion_matrix, confusion_matrix(y, model.predict(X)))
    assert display.confusion_matrix.shape == (3, 3)
    assert_drawn(tmp_path / "cm.png")


@pytest.mark.parametrize("normalize, axis", [("true", 1), ("pred", 0)])
def test_confusion_matrix_normalized(predictions, normalize, axis):
    from matplotlib.figure import Figure

    y_true, y_pred = predictions
    ax = Figure().subplots()
    display = plot_confusion_matrix(y_true, y_pred, normalize=normalize, ax=ax)
    assert display.ax_ is ax
    np.testing.assert_allclose(display.confusion_matrix.sum(axis=axis), 1.0)
    np.testing.assert_allclose(
        display.confusion_matrix, confusion_matrix(y_true, y_pred, normalize=normalize)
    )
    # Shares shown with two decimals on a fixed 0-1 colour scale.
    assert display.text_[0, 0].get_text() == f"{display.confusion_matrix[0, 0]:.2f}"
    assert display.im_.get_clim() == (0.0, 1.0)


def test_confusion_matrix_label_subset_and_weights(predictions):
    from matplotlib.figure import Figure

    y_true, y_pred = predictions
    w = np.arange(len(y_true)) % 3
    labels = ["no", "yes"]
    display = plot_confusion_matrix(y_true, y_pred, labels=labels, sample_weight=w, ax=Figure().subplots())
    np.testing.assert_array_equal(
        display.confusion_matrix, confusion_matrix(y_true, y_pred, labels=labels, sample_weight=w)
    )


def test_confusion_matrix_many_classes_hide_values(rng):
    from matplotlib.figure import Figure

    y = rng.integers(0, 25, 200)
    display = plot_confusion_matrix(y, y, ax=Figure().subplots())
    assert display.text_ is None  # 25 classes: numbers would be clutter
    display = plot_confusion_matrix(y, y, include_values=True, ax=Figure().subplots())
    assert display.text_.shape == (25, 25)


def test_confusion_matrix_interactive_uses_pyplot(predictions):
    import matplotlib.pyplot as plt

    y_true, y_pred = predictions
    display = plot_confusion_matrix(y_true, y_pred)
    try:
        assert display.figure_.number in plt.get_fignums()  # plt.show() would show it
    finally:
        plt.close(display.figure_)


def test_confusion_matrix_bad_arguments(predictions):
    y_true, y_pred = predictions
    model = LogisticRegression()
    with pytest.raises(ValueError, match="y \\(the true labels\\) is required"):
        plot_confusion_matrix(model, np.zeros((3, 2)))
    with pytest.raises(ValueError, match="only used with an estimator"):
        plot_confusion_matrix(y_true, y_pred, y_true)


# --- learning curves ---------------------------------------------------------------

HISTORY = {
    "loss": [1.2, 0.8, 0.6, 0.5],
    "val_loss": [1.3, 1.0, 0.9, 0.95],
    "accuracy": [0.5, 0.7, 0.8, 0.85],
    "val_accuracy": [0.45, 0.6, 0.65, 0.64],
    "learning_rate": [1e-3, 1e-3, 5e-4, 2.5e-4],
}


def test_learning_curves_png_and_data(tmp_path, no_new_pyplot_figures):
    path = tmp_path / "curves.png"
    fig = plot_learning_curves(HISTORY, path=path, title="run 1", dpi=50)
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy"]
    for ax, name in zip(fig.axes, ["loss", "accuracy"]):
        train, val = ax.get_lines()
        np.testing.assert_array_equal(train.get_xdata(), [1, 2, 3, 4])
        np.testing.assert_allclose(train.get_ydata(), HISTORY[name])
        np.testing.assert_allclose(val.get_ydata(), HISTORY[f"val_{name}"])
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train", "validation"]
    assert fig.get_suptitle() == "run 1"
    assert_drawn(path)


@pytest.mark.parametrize(
    "source",
    [
        SimpleNamespace(history_=HISTORY, fit=None),  # a fitted sklkws classifier
        SimpleNamespace(history=HISTORY, epoch=[0, 1, 2, 3]),  # keras.callbacks.History
    ],
    ids=["estimator", "keras-history"],
)
def test_learning_curves_sources(tmp_path, source):
    fig = plot_learning_curves(source, path=tmp_path / "c.png", dpi=50, metrics="loss")
    (ax,) = fig.axes
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), HISTORY["loss"])


def test_learning_curves_train_only_and_log_lr(tmp_path):
    history = {k: v for k, v in HISTORY.items() if not k.startswith("val_")}
    fig = plot_learning_curves(history, path=tmp_path / "c.png", dpi=50, metrics=("loss", "learning_rate"))
    assert [len(ax.get_lines()) for ax in fig.axes] == [1, 1]
    assert [ax.get_yscale() for ax in fig.axes] == ["linear", "log"]


def test_learning_curves_on_given_axes():
    from matplotlib.figure import Figure

    axes = Figure().subplots(1, 3)
    fig = plot_learning_curves(HISTORY, metrics=("loss", "accuracy", "val_loss"), ax=axes)
    assert fig is axes[0].figure
    assert [len(ax.get_lines()) for ax in axes] == [2, 2, 1]
    with pytest.raises(ValueError, match="2 Axes for 3 metric"):
        plot_learning_curves(HISTORY, metrics=("loss", "accuracy", "val_loss"), ax=axes[:2])


@pytest.mark.parametrize(
    "history, metrics, match",
    [
        (HISTORY, ("loss", "auc"), r"\['auc'\] not in the history; it has"),
        ({"loss": []}, ("loss",), "empty"),
        ({"loss": [1.0, 0.5], "val_loss": [1.0]}, ("loss",), "val_loss has 1 values but loss has 2"),
        ({"loss": [[1.0, 0.5]]}, ("loss",), "1-D"),
        (HISTORY, (), "metrics is empty"),
        ([1.0, 0.5], ("loss",), "history must be a dict"),
    ],
)
def test_learning_curves_bad_input(history, metrics, match):
    with pytest.raises(ValueError, match=match):
        plot_learning_curves(history, metrics=metrics)


def test_learning_curves_unfitted_estimator():
    with pytest.raises(NotFittedError, match="fit it before"):
        plot_learning_curves(LogisticRegression())


def test_import_is_light():
    # Importing the module must not pull in pyplot (headless safety) or TensorFlow.
    code = (
        "import sys, sklkws.plotting, sklkws.metrics; "
        "print([m for m in ('matplotlib.pyplot', 'tensorflow', 'keras') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
