"""Pictures of training with matplotlib: the loss curves and a 2-D classifier's decision regions.

matplotlib is optional (``pip install "nncore[plot]"``); it is imported when a function is
called, and a missing matplotlib raises ``ImportError`` with that hint. Every function draws into
the given matplotlib ``Axes`` (a new figure's when ``ax`` is None) and returns the axes. The
functions take an ``nncore.MLP`` or a fitted ``nncore.sklearn`` estimator.
"""

from __future__ import annotations

import sys
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
        import matplotlib.colors  # type: ignore[import-not-found, unused-ignore]
        import matplotlib.patches  # type: ignore[import-not-found, unused-ignore]
    except ImportError as error:
        raise ImportError(f"nncore.plot needs matplotlib: {INSTALL_HINT}") from error
    return matplotlib


def require_matplotlib() -> None:
    """Raise ``ImportError`` (with the install hint) unless matplotlib can be imported."""
    _matplotlib()


def _network(model: Any, name: str) -> tuple[MLP, Any]:
    """The ``nncore.MLP`` behind ``model`` — an MLP, or a fitted ``nncore.sklearn`` estimator,
    whose network is its ``model_`` — and the estimator's class labels (None for an MLP)."""
    if isinstance(model, MLP):
        return model, None
    estimators = sys.modules.get("nncore.sklearn")  # an estimator exists only once it is imported
    if estimators is not None and isinstance(
        model, (estimators.MLPClassifier, estimators.MLPRegressor)
    ):
        if not isinstance(getattr(model, "model_", None), MLP):
            raise ValueError(f"the {type(model).__name__} is not fitted: call its fit first")
        return model.model_, getattr(model, "classes_", None)
    raise TypeError(
        f"{name} must be an nncore.MLP or a fitted nncore.sklearn estimator, got "
        f"{type(model).__name__}"
    )


def plot_history(history: Any, ax: Any = None) -> Any:
    """The training loss per epoch (and the validation loss, and the epoch early stopping went
    back to) of a ``History``, or of the last ``fit`` of a model (``model.history``): an
    ``nncore.MLP`` or a fitted ``nncore.sklearn`` estimator."""
    if not isinstance(history, History):
        try:
            network, _ = _network(history, "history")
        except TypeError:
            raise TypeError(
                "history must be a History, an MLP or a fitted nncore.sklearn estimator, got "
                f"{type(history).__name__}"
            ) from None
        if network.history is None:
            raise ValueError("the model has no history: it has not been trained by fit")
        history = network.history
    if ax is None:
        _, ax = _pyplot().subplots()
    result = history.plot(ax=ax)
    ax.set_title("loss per epoch")
    return result


def _class_codes(labels: Any, classes: Any, n_classes: int) -> tuple[Any, list[str]]:
    """The class index of each label, and each class's name for the legend.

    ``classes`` names the classes in index order; None means: ``labels`` are the class indices
    when they all are integers in ``0..n_classes-1``, else the sorted distinct labels are the
    classes 0, 1, ... (as scikit-learn's ``LabelEncoder`` numbers them)."""
    if classes is None:
        indices = labels.dtype.kind in "biu" or (
            labels.dtype.kind == "f" and np.array_equal(labels, np.round(labels))
        )
        if indices and labels.min() >= 0 and labels.max() < n_classes:
            return labels.astype(np.intp), [str(k) for k in range(n_classes)]
        classes = np.unique(labels)
    names = list(np.asarray(classes).tolist())
    if len(names) > n_classes:
        raise ValueError(
            f"y has {len(names)} distinct labels but the model has {n_classes} classes; pass "
            "classes=[...] with the label of each class index"
        )
    position = {name: k for k, name in enumerate(names)}
    unknown = [label for label in labels.tolist() if label not in position]
    if unknown:
        raise ValueError(f"y holds {unknown[0]!r}, which is not one of the classes {names}")
    return np.array([position[label] for label in labels.tolist()]), [str(n) for n in names]


def plot_decision_boundary(
    model: Any, X: Any, y: Any, ax: Any = None, resolution: int = 200, classes: Any = None
) -> Any:
    """The classes a 2-feature classifier predicts over the plane, with the points on top.

    ``model`` is an ``nncore.MLP`` with a sigmoid (one output) or softmax output, or a fitted
    ``nncore.sklearn.MLPClassifier``. The grid spans the points' bounding box plus a 10 %
    margin, ``resolution`` cells a side; it is coloured by the predicted class (``contourf``)
    and the points ``X`` (``(n, 2)``) by their labels ``y`` (``(n,)``), in the same colours,
    with a legend of the class names. ``y`` holds the estimator's class labels, class indices,
    or any labels (strings too): ``classes`` names the class of each index, by default the
    sorted distinct labels of ``y`` (see ``_class_codes``).

    Raises ``ValueError`` when the model does not take 2 features or is not a classifier
    (sigmoid or softmax output), when ``X``/``y`` have the wrong shapes, or ``y`` holds a label
    that is not a class; ``TypeError`` for a model of another kind.
    """
    network, estimator_classes = _network(model, "model")
    if network.n_features != 2:
        raise ValueError(
            f"plot_decision_boundary needs a model with 2 input features, this one has "
            f"{network.n_features}"
        )
    if not network.is_classifier:
        raise ValueError(
            "plot_decision_boundary needs a classifier (sigmoid or softmax output); this model's "
            f"output activation is {network.activations[-1]!r}"
        )
    if network.activations[-1] == "sigmoid" and network.n_outputs != 1:
        raise ValueError("plot_decision_boundary needs one class label per point (not multi-label)")
    points = np.asarray(X, dtype=np.float64)
    labels = np.asarray(y).reshape(-1)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"X must have shape (n_samples, 2), got {points.shape}")
    if labels.shape[0] != points.shape[0]:
        raise ValueError(f"y must have {points.shape[0]} labels, got {labels.shape[0]}")
    if not isinstance(resolution, (int, np.integer)) or resolution < 2:
        raise ValueError(f"resolution must be an integer >= 2, got {resolution!r}")
    n_classes = max(network.n_outputs, 2)
    codes, names = _class_codes(
        labels, estimator_classes if classes is None else classes, n_classes
    )
    matplotlib = _matplotlib()
    if ax is None:
        _, ax = _pyplot().subplots()

    low, high = points.min(axis=0), points.max(axis=0)
    margin = 0.1 * np.where(high > low, high - low, 1.0)
    xs = np.linspace(low[0] - margin[0], high[0] + margin[0], resolution)
    ys = np.linspace(low[1] - margin[1], high[1] + margin[1], resolution)
    grid_x, grid_y = np.meshgrid(xs, ys)
    grid = np.column_stack([grid_x.ravel(), grid_y.ravel()])
    regions = np.asarray(network.predict(grid)).reshape(grid_x.shape)

    colours = matplotlib.colormaps["tab10" if n_classes <= 10 else "tab20"]
    levels = np.arange(n_classes + 1) - 0.5
    vmax = max(colours.N, n_classes) - 0.5  # class k has colour k in both layers
    ax.contourf(
        grid_x, grid_y, regions, levels=levels, cmap=colours, vmin=-0.5, vmax=vmax, alpha=0.35
    )
    ax.scatter(
        points[:, 0],
        points[:, 1],
        c=codes,
        cmap=colours,
        vmin=-0.5,
        vmax=vmax,
        s=12,
        edgecolors="k",
        linewidths=0.3,
    )
    colour_of = matplotlib.colors.Normalize(vmin=-0.5, vmax=vmax)
    handles = [
        matplotlib.patches.Patch(color=colours(colour_of(k)), label=name)
        for k, name in enumerate(names)
    ]
    ax.legend(handles=handles, title="class", fontsize="small")
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])
    ax.set_title("decision regions")
    return ax
