"""``nncore.plot``: loss curves and decision regions, drawn with matplotlib's Agg backend."""

from __future__ import annotations

import sys
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
    with pytest.raises(TypeError, match="History or an MLP"):
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
