"""``nncore.plot``: loss curves and decision regions, drawn with matplotlib's Agg backend."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import nncore

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

from nncore.plot import plot_decision_boundary, plot_history  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures() -> Iterator[None]:
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def spiral_model() -> tuple[nncore.MLP, Any, Any]:
    X, y = nncore.datasets.make_spirals(n_samples=150, n_classes=3, seed=0)
    model = nncore.MLP([2, 16, 3], activation="tanh", output_activation="softmax", seed=0)
    model.fit(X, y, learning_rate=0.1, epochs=5, validation_split=0.2)
    return model, X, y


def test_plot_history_draws_both_losses(spiral_model: tuple[nncore.MLP, Any, Any]) -> None:
    model, _, _ = spiral_model
    assert model.history is not None
    ax = plot_history(model.history)
    assert isinstance(ax, Axes)
    labels = [line.get_label() for line in ax.get_lines()]
    assert "training loss" in labels
    assert "validation loss" in labels
    training = next(line for line in ax.get_lines() if line.get_label() == "training loss")
    np.testing.assert_allclose(training.get_ydata(), model.history.loss)


def test_plot_history_of_a_model_into_given_axes(
    spiral_model: tuple[nncore.MLP, Any, Any],
) -> None:
    model, _, _ = spiral_model
    _, ax = plt.subplots()
    assert plot_history(model, ax=ax) is ax
    assert len(ax.get_lines()) >= 1


def test_plot_history_needs_a_history() -> None:
    with pytest.raises(ValueError, match="no history"):
        plot_history(nncore.MLP([2, 1], seed=0))
    with pytest.raises(TypeError, match=r"History, an MLP or a fitted nncore\.sklearn estimator"):
        plot_history({"loss": [1.0]})


def test_plot_decision_boundary(spiral_model: tuple[nncore.MLP, Any, Any]) -> None:
    model, X, y = spiral_model
    ax = plot_decision_boundary(model, X, y, resolution=50)
    assert isinstance(ax, Axes)
    # the filled contours and the scattered points
    assert len(ax.collections) >= 2
    offsets = ax.collections[-1].get_offsets()
    assert len(offsets) == len(X)
    low, high = ax.get_xlim()
    assert low < X[:, 0].min() and high > X[:, 0].max()


def test_plot_decision_boundary_into_given_axes_binary_sigmoid() -> None:
    X, y = nncore.datasets.make_xor()
    model = nncore.MLP([2, 8, 1], activation="tanh", output_activation="sigmoid", seed=0)
    _, ax = plt.subplots()
    assert plot_decision_boundary(model, X, y, ax=ax, resolution=20) is ax
    assert len(ax.collections) >= 2


def test_plot_decision_boundary_rejects_other_feature_counts() -> None:
    X = np.zeros((4, 3))
    model = nncore.MLP([3, 4, 2], output_activation="softmax", seed=0)
    with pytest.raises(ValueError, match="2 input features, this one has 3"):
        plot_decision_boundary(model, X, [0, 1, 0, 1])


def test_plot_decision_boundary_rejects_regressors_and_bad_shapes() -> None:
    X, y = nncore.datasets.make_xor()
    with pytest.raises(ValueError, match="needs a classifier"):
        plot_decision_boundary(nncore.MLP([2, 4, 1], seed=0), X, y)
    model = nncore.MLP([2, 4, 2], output_activation="softmax", seed=0)
    with pytest.raises(ValueError, match="y must have 4 labels"):
        plot_decision_boundary(model, X, [0, 1])
    with pytest.raises(ValueError, match="resolution"):
        plot_decision_boundary(model, X, y, resolution=1)


COLOURS = np.array(["red", "green", "blue"])  # sorted: blue (class 0), green (1), red (2)


def legend_names(ax: Axes) -> list[str]:
    return [text.get_text() for text in ax.get_legend().get_texts()]


def test_plot_decision_boundary_with_string_labels(
    spiral_model: tuple[nncore.MLP, Any, Any],
) -> None:
    """Names are the classes in sorted order (as LabelEncoder numbers them), or as ``classes``
    says; the points get the colours of their classes' regions."""
    model, X, y = spiral_model
    names = np.array(sorted(COLOURS))[y]
    ax = plot_decision_boundary(model, X, names, resolution=20)
    np.testing.assert_array_equal(ax.collections[-1].get_array(), y)
    assert legend_names(ax) == ["blue", "green", "red"]
    ax = plot_decision_boundary(model, X, COLOURS[y], resolution=20, classes=list(COLOURS))
    np.testing.assert_array_equal(ax.collections[-1].get_array(), y)
    assert legend_names(ax) == ["red", "green", "blue"]
    indices = plot_decision_boundary(model, X, y, resolution=20)
    assert legend_names(indices) == ["0", "1", "2"]
    with pytest.raises(ValueError, match="'blue', which is not one of the classes"):
        plot_decision_boundary(model, X, COLOURS[y], classes=["red", "green", "purple"])
    with pytest.raises(ValueError, match="4 distinct labels but the model has 3 classes"):
        plot_decision_boundary(model, X[:4], ["a", "b", "c", "d"])


def test_plot_helpers_take_fitted_sklearn_estimators() -> None:
    pytest.importorskip("sklearn", reason="the estimators need scikit-learn")
    from sklearn.exceptions import ConvergenceWarning

    from nncore.sklearn import MLPClassifier, MLPRegressor

    # a few epochs are enough (pytest restores the warning filters after each test)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)

    X, y = nncore.datasets.make_spirals(n_samples=120, n_classes=3, seed=1)
    labels = COLOURS[y]
    estimator = MLPClassifier(hidden_layer_sizes=(16,), max_iter=20, random_state=0)
    with pytest.raises(ValueError, match="MLPClassifier is not fitted"):
        plot_decision_boundary(estimator, X, labels)
    estimator.fit(X, labels)
    ax = plot_decision_boundary(estimator, X, labels, resolution=30)
    assert legend_names(ax) == list(estimator.classes_)  # blue, green, red
    codes = np.searchsorted(estimator.classes_, labels)
    np.testing.assert_array_equal(ax.collections[-1].get_array(), codes)
    ax = plot_history(estimator)
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), estimator.model_.history.loss)
    binary = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    binary.fit(X, labels == "red")  # a single sigmoid output, classes False and True
    assert legend_names(plot_decision_boundary(binary, X, labels == "red")) == ["False", "True"]
    regressor = MLPRegressor(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="needs a classifier"):
        plot_decision_boundary(regressor, X, y)
    with pytest.raises(TypeError, match=r"fitted nncore\.sklearn estimator"):
        plot_decision_boundary(object(), X, y)


def test_missing_matplotlib_raises_import_error_with_hint(
    monkeypatch: pytest.MonkeyPatch, spiral_model: tuple[nncore.MLP, Any, Any]
) -> None:
    model, X, y = spiral_model
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)  # makes ``import matplotlib`` fail
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r'pip install "nncore\[plot\]"'):
        plot_decision_boundary(model, X, y)
    with pytest.raises(ImportError, match=r'pip install "nncore\[plot\]"'):
        plot_history(model)
