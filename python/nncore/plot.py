"""Pictures of training with matplotlib: the loss curves and a 2-D classifier's decision regions.

matplotlib is optional (``pip install "nncore[plot]"``); it is imported when a function is
called, and a missing matplotlib raises ``ImportError`` with that hint. Every function draws into
the given matplotlib ``Axes`` (a new figure's when ``ax`` is None) and returns the axes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .history import History
from .mlp import MLP

INSTALL_HINT = 'pip install "nncore[plot]"'


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt  # type: ignore[import-not-found, unused-ignore]
    except ImportError as error:
        raise ImportError(f"nncore.plot needs matplotlib: {INSTALL_HINT}") from error
    return plt


def _matplotlib() -> Any:
    try:
        import matplotlib  # type: ignore[import-not-found, unused-ignore]
    except ImportError as error:
        raise ImportError(f"nncore.plot needs matplotlib: {INSTALL_HINT}") from error
    return matplotlib


def require_matplotlib() -> None:
    """Raise ``ImportError`` (with the install hint) unless matplotlib can be imported."""
    _matplotlib()


def plot_history(history: History | MLP, ax: Any = None) -> Any:
    """The training loss per epoch (and the validation loss, and the epoch early stopping went
    back to) of a ``History`` or of a model's last ``fit`` (``model.history``)."""
    if isinstance(history, MLP):
        if history.history is None:
            raise ValueError("the model has no history: it has not been trained by fit")
        history = history.history
    if not isinstance(history, History):
        raise TypeError(f"history must be a History or an MLP, got {type(history).__name__}")
    if ax is None:
        _, ax = _pyplot().subplots()
    result = history.plot(ax=ax)
    ax.set_title("loss per epoch")
    return result


def plot_decision_boundary(
    model: MLP, X: Any, y: Any, ax: Any = None, resolution: int = 200
) -> Any:
    """The classes a 2-feature classifier predicts over the plane, with the points on top.

    The grid spans the points' bounding box plus a 10 % margin, ``resolution`` cells a side; it
    is coloured by ``model.predict`` (``contourf``) and the points ``X`` (``(n, 2)``) by their
    labels ``y`` (class indices, ``(n,)``), in the same colours.

    Raises ``ValueError`` when the model does not take 2 features or is not a classifier
    (sigmoid or softmax output), or when ``X``/``y`` have the wrong shapes.
    """
    if not isinstance(model, MLP):
        raise TypeError(f"model must be an nncore.MLP, got {type(model).__name__}")
    if model.n_features != 2:
        raise ValueError(
            f"plot_decision_boundary needs a model with 2 input features, this one has "
            f"{model.n_features}"
        )
    if not model.is_classifier:
        raise ValueError(
            "plot_decision_boundary needs a classifier (sigmoid or softmax output); this model's "
            f"output activation is {model.activations[-1]!r}"
        )
    if model.activations[-1] == "sigmoid" and model.n_outputs != 1:
        raise ValueError("plot_decision_boundary needs one class label per point (not multi-label)")
    points = np.asarray(X, dtype=np.float64)
    labels = np.asarray(y).reshape(-1)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"X must have shape (n_samples, 2), got {points.shape}")
    if labels.shape[0] != points.shape[0]:
        raise ValueError(f"y must have {points.shape[0]} labels, got {labels.shape[0]}")
    if not isinstance(resolution, (int, np.integer)) or resolution < 2:
        raise ValueError(f"resolution must be an integer >= 2, got {resolution!r}")
    matplotlib = _matplotlib()
    if ax is None:
        _, ax = _pyplot().subplots()

    low, high = points.min(axis=0), points.max(axis=0)
    margin = 0.1 * np.where(high > low, high - low, 1.0)
    xs = np.linspace(low[0] - margin[0], high[0] + margin[0], resolution)
    ys = np.linspace(low[1] - margin[1], high[1] + margin[1], resolution)
    grid_x, grid_y = np.meshgrid(xs, ys)
    grid = np.column_stack([grid_x.ravel(), grid_y.ravel()])
    regions = np.asarray(model.predict(grid)).reshape(grid_x.shape)

    n_classes = max(model.n_outputs, 2)
    colours = matplotlib.colormaps["tab10" if n_classes <= 10 else "tab20"]
    levels = np.arange(n_classes + 1) - 0.5
    vmax = max(colours.N, n_classes) - 0.5  # class k has colour k in both layers
    ax.contourf(
        grid_x, grid_y, regions, levels=levels, cmap=colours, vmin=-0.5, vmax=vmax, alpha=0.35
    )
    ax.scatter(
        points[:, 0],
        points[:, 1],
        c=labels,
        cmap=colours,
        vmin=-0.5,
        vmax=vmax,
        s=12,
        edgecolors="k",
        linewidths=0.3,
    )
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])
    ax.set_title("decision regions")
    return ax
