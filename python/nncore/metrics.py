"""Scores of predictions against the truth, with scikit-learn's definitions, computed in NumPy
(scikit-learn is not needed): what ``MLP.evaluate`` and ``nncore evaluate`` report.

Classification metrics take the true classes ``y_true`` as class indices ``(n_samples,)`` (0, 1,
...) and either the predicted classes ``y_pred`` ``(n_samples,)`` or the predicted probabilities
``(n_samples, n_classes)`` (rows in [0, 1] summing to 1; column ``k`` is class ``k``). Regression
metrics take ``y_true`` and ``y_pred`` of shape ``(n_samples,)`` or ``(n_samples, n_outputs)``
and average over the outputs with equal weights (scikit-learn's
``multioutput="uniform_average"``). Every metric takes ``sample_weight`` ``(n_samples,)``
(non-negative, not summing to 0; None for equal weights) and computes in float64.

``METRICS`` is the one list of the metrics' names; ``MLP.evaluate``, the command line and the
documentation read it. Bad input raises ``ValueError``/``TypeError`` naming the argument.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ._validation import as_float_array, as_sample_weight

Array = npt.NDArray[Any]

#: The tasks a metric belongs to (as ``nncore train --task`` names them).
TASKS = ("classify", "regress")


# ----------------------------------------------------------------------------- input checks
def _float64(value: Any, name: str) -> Array:
    """``value`` as a float64 array of its own shape (``ValueError``/``TypeError`` naming it)."""
    try:
        ndim = np.ndim(value)
    except (ValueError, TypeError) as error:  # a ragged nesting of lists
        raise ValueError(f"{name} could not be read as a numeric array: {error}") from None
    return as_float_array(value, name, np.dtype(np.float64), ndim=ndim)


def class_indices(y: Any, name: str) -> Array:
    """``y`` as class indices: a 1-D (or ``(n, 1)``) array of integers >= 0, as ``intp``."""
    values = _float64(y, name)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise ValueError(f"{name} must be class indices of shape (n_samples,), got {values.shape}")
    if values.min() < 0 or not np.array_equal(values, np.round(values)):
        raise ValueError(f"{name} must hold class indices (integers 0, 1, ...)")
    return values.astype(np.intp)


def _weights(sample_weight: Any, n_samples: int) -> Array:
    """The weights as float64 ``(n_samples,)`` (ones for None)."""
    if sample_weight is None:
        return np.ones(n_samples)
    return as_sample_weight(sample_weight, n_samples, np.dtype(np.float64))


def _labels(y_true: Any, y_pred: Any, sample_weight: Any) -> tuple[Array, Array, Array]:
    truth = class_indices(y_true, "y_true")
    predicted = class_indices(y_pred, "y_pred")
    if predicted.shape != truth.shape:
        raise ValueError(f"y_pred has {predicted.shape[0]} samples but y_true has {truth.shape[0]}")
    return truth, predicted, _weights(sample_weight, truth.shape[0])


def _probabilities(
    y_true: Any, probabilities: Any, sample_weight: Any
) -> tuple[Array, Array, Array]:
    truth = class_indices(y_true, "y_true")
    # float32 stays float32, whose epsilon log_loss clips with (as scikit-learn does)
    given = getattr(probabilities, "dtype", None)
    dtype = np.dtype(np.float32) if given == np.float32 else np.dtype(np.float64)
    p = as_float_array(probabilities, "probabilities", dtype, ndim=2)
    if p.shape[0] != truth.shape[0]:
        raise ValueError(f"probabilities has {p.shape[0]} rows but y_true has {truth.shape[0]}")
    if p.shape[1] < 2:
        raise ValueError(
            f"probabilities needs a column per class (at least 2), got shape {p.shape}; for one "
            "sigmoid output p pass np.column_stack([1 - p, p])"
        )
    if truth.max() >= p.shape[1]:
        raise ValueError(
            f"y_true holds class {truth.max()} but probabilities has {p.shape[1]} classes"
        )
    if p.min() < 0 or p.max() > 1:
        raise ValueError("probabilities must be in [0, 1]")
    if not np.allclose(
        p.sum(axis=1, dtype=np.float64), 1.0, rtol=0, atol=np.sqrt(np.finfo(dtype).eps)
    ):
        raise ValueError("the rows of probabilities must sum to 1")
    return truth, p, _weights(sample_weight, truth.shape[0])


def _values(y_true: Any, y_pred: Any, sample_weight: Any) -> tuple[Array, Array, Array]:
    """Targets and predictions as float64 ``(n_samples, n_outputs)``, and the weights."""
    arrays = []
    for value, name in ((y_true, "y_true"), (y_pred, "y_pred")):
        array = _float64(value, name)
        if array.ndim not in (1, 2):
            raise ValueError(f"{name} must be 1-D or 2-D, got shape {array.shape}")
        arrays.append(array.reshape(array.shape[0], -1))
    truth, predicted = arrays
    if predicted.shape != truth.shape:
        raise ValueError(f"y_pred has shape {predicted.shape} but y_true has {truth.shape}")
    return truth, predicted, _weights(sample_weight, truth.shape[0])


# ----------------------------------------------------------------------------- classification
def accuracy(y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:
    """The (weighted) fraction of correct predictions: ``Σ w_i [ŷ_i = y_i] / Σ w_i``
    (``sklearn.metrics.accuracy_score``)."""
    truth, predicted, w = _labels(y_true, y_pred, sample_weight)
    return float(np.sum(w * (truth == predicted)) / np.sum(w))


def confusion_matrix(
    y_true: Any, y_pred: Any, sample_weight: Any = None, n_classes: int | None = None
) -> Array:
    """``C[a, b] = Σ w_i`` over the samples of true class ``a`` predicted as ``b``, shape
    ``(n_classes, n_classes)`` for the classes ``0..n_classes-1`` (default: up to the largest
    index seen): ``sklearn.metrics.confusion_matrix(..., labels=range(n_classes))``. Counts
    (``int64``) without ``sample_weight``, weighted sums (``float64``) with it."""
    truth, predicted, w = _labels(y_true, y_pred, sample_weight)
    largest = int(max(truth.max(), predicted.max())) + 1
    k = largest if n_classes is None else int(n_classes)
    if k < largest:
        raise ValueError(f"n_classes is {n_classes} but the labels go up to {largest - 1}")
    cells = np.bincount(
        truth * k + predicted, weights=None if sample_weight is None else w, minlength=k * k
    )
    matrix: Array = cells.reshape(k, k)
    return matrix.astype(np.int64) if sample_weight is None else matrix


def balanced_accuracy(y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:
    """The mean over the classes ``c`` of ``y_true`` (with weight > 0) of their recall
    ``C[c, c] / Σ_b C[c, b]`` (``sklearn.metrics.balanced_accuracy_score``)."""
    C = confusion_matrix(y_true, y_pred, sample_weight)
    support = C.sum(axis=1)
    present = support > 0
    return float(np.mean(np.diag(C)[present] / support[present]))


def f1_macro(y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:
    """The mean over the classes that occur in ``y_true`` or ``y_pred`` of
    ``F1_c = 2·TP_c / (2·TP_c + FP_c + FN_c)`` (0 where that is 0/0), the harmonic mean of
    precision and recall (``sklearn.metrics.f1_score(average="macro")``)."""
    truth, predicted, w = _labels(y_true, y_pred, sample_weight)
    C = confusion_matrix(truth, predicted, w)
    classes = np.union1d(truth, predicted)
    tp = np.diag(C)[classes]
    fp = C.sum(axis=0)[classes] - tp
    fn = C.sum(axis=1)[classes] - tp
    denominator = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
    return float(np.mean(f1))


def _binary_auc(positive: Array, score: Array, w: Array) -> float:
    """``Σ_{i∈P, j∈N} w_i w_j ([s_i > s_j] + ½[s_i = s_j]) / (W_P · W_N)``: the area under the
    ROC curve (trapezoidal, ties count half); NaN without positive or negative weight."""
    w_positive, w_negative = np.where(positive, w, 0.0), np.where(positive, 0.0, w)
    total_positive, total_negative = w_positive.sum(), w_negative.sum()
    if not (total_positive > 0 and total_negative > 0):
        return float("nan")
    _, group = np.unique(score, return_inverse=True)  # groups of equal scores, in rising order
    positive_per_group = np.bincount(group, weights=w_positive)
    negative_per_group = np.bincount(group, weights=w_negative)
    negative_below = np.cumsum(negative_per_group) - negative_per_group
    area = np.sum(positive_per_group * (negative_below + 0.5 * negative_per_group))
    return float(area / (total_positive * total_negative))


def roc_auc(y_true: Any, probabilities: Any, sample_weight: Any = None) -> float:
    """The area under the ROC curve (``sklearn.metrics.roc_auc_score``): for two classes, that of
    the probability of class 1 (see ``_binary_auc``: ties count half); for more, the mean over
    the classes of the one-vs-rest areas (``multi_class="ovr", average="macro"``), leaving out
    the classes without positive or negative weight (scikit-learn refuses such data). NaN when
    no area is defined (a single class in ``y_true``, where scikit-learn also gives NaN)."""
    truth, p, w = _probabilities(y_true, probabilities, sample_weight)
    scores = p.astype(np.float64)
    if p.shape[1] == 2:
        return _binary_auc(truth == 1, scores[:, 1], w)
    areas = [_binary_auc(truth == c, scores[:, c], w) for c in range(p.shape[1])]
    defined = [area for area in areas if not np.isnan(area)]
    return float(np.mean(defined)) if defined else float("nan")


def log_loss(y_true: Any, probabilities: Any, sample_weight: Any = None) -> float:
    """The (weighted) mean negative log-likelihood of the true class,
    ``−Σ w_i log(clip(p_{i, y_i}, ε, 1 − ε)) / Σ w_i`` with ``ε`` the machine epsilon of the
    probabilities' dtype (``sklearn.metrics.log_loss``)."""
    truth, p, w = _probabilities(y_true, probabilities, sample_weight)
    eps = np.finfo(p.dtype).eps
    true_class = np.clip(p[np.arange(truth.shape[0]), truth], eps, 1 - eps).astype(np.float64)
    return float(-np.sum(w * np.log(true_class)) / np.sum(w))


# ----------------------------------------------------------------------------- regression
def r2(y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:
    """The coefficient of determination ``R² = 1 − Σ w (y − ŷ)² / Σ w (y − ȳ)²`` (``ȳ`` the
    weighted mean) of each output, averaged (``sklearn.metrics.r2_score``): an output whose
    ``y`` is constant scores 1 when predicted exactly and 0 otherwise; NaN for fewer than two
    samples."""
    truth, predicted, w = _values(y_true, y_pred, sample_weight)
    if truth.shape[0] < 2:
        return float("nan")
    residual = np.sum(w[:, None] * (truth - predicted) ** 2, axis=0)
    total = np.sum(w[:, None] * (truth - np.average(truth, axis=0, weights=w)) ** 2, axis=0)
    varies = total > 0
    scores = np.where(varies, 1.0 - residual / np.where(varies, total, 1.0), residual == 0)
    return float(np.mean(scores))


def mean_absolute_error(y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:
    """``Σ w |y − ŷ| / Σ w`` of each output, averaged (``sklearn.metrics.mean_absolute_error``)."""
    truth, predicted, w = _values(y_true, y_pred, sample_weight)
    return float(np.mean(np.average(np.abs(truth - predicted), axis=0, weights=w)))


def root_mean_squared_error(y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:
    """``sqrt(Σ w (y − ŷ)² / Σ w)`` of each output, averaged
    (``sklearn.metrics.root_mean_squared_error``)."""
    truth, predicted, w = _values(y_true, y_pred, sample_weight)
    return float(np.mean(np.sqrt(np.average((truth - predicted) ** 2, axis=0, weights=w))))


# ----------------------------------------------------------------------------- the registry
@dataclass(frozen=True)
class Metric:
    """A metric's function, its task, what it scores (predicted ``"labels"``, predicted
    ``"probabilities"`` (classification) or predicted ``"values"`` (regression)), and whether a
    greater value is better (``fit(mode="auto")`` reads it; None for the confusion matrix, which
    is not one number)."""

    function: Callable[..., Any]
    task: str
    scores: str
    greater_is_better: bool | None


#: Every metric by name, in the order reports list them; for each task, all of its metrics are
#: the default set of ``evaluate``.
METRICS: dict[str, Metric] = {
    "accuracy": Metric(accuracy, "classify", "labels", True),
    "balanced_accuracy": Metric(balanced_accuracy, "classify", "labels", True),
    "f1_macro": Metric(f1_macro, "classify", "labels", True),
    "roc_auc": Metric(roc_auc, "classify", "probabilities", True),
    "log_loss": Metric(log_loss, "classify", "probabilities", False),
    "confusion_matrix": Metric(confusion_matrix, "classify", "labels", None),
    "r2": Metric(r2, "regress", "values", True),
    "mean_absolute_error": Metric(mean_absolute_error, "regress", "values", False),
    "root_mean_squared_error": Metric(root_mean_squared_error, "regress", "values", False),
}


def metric_names(task: str) -> tuple[str, ...]:
    """The names of the metrics of ``task`` (``"classify"`` or ``"regress"``), in order."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    return tuple(name for name, metric in METRICS.items() if metric.task == task)


def check_metrics(metrics: Any, task: str) -> tuple[str, ...]:
    """The metric names ``metrics`` asks for: None gives every metric of ``task``; else a name or
    a list of names, each a metric of ``task``. ``ValueError`` for an unknown name or one of the
    other task, ``TypeError`` for anything but strings."""
    allowed = metric_names(task)
    if metrics is None:
        return allowed
    names = [metrics] if isinstance(metrics, str) else metrics
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise TypeError(f"metrics must be None, a metric name or a list of names; got {metrics!r}")
    if not names:
        raise ValueError(f"metrics must name at least one metric: {', '.join(allowed)}")
    for name in names:
        if name not in METRICS:
            raise ValueError(f"unknown metric {name!r}; expected one of {', '.join(allowed)}")
        if name not in allowed:
            raise ValueError(
                f"{name!r} is a metric for the task {METRICS[name].task!r}, this one is "
                f"{task!r}: use {', '.join(allowed)}"
            )
    return tuple(dict.fromkeys(names))


def evaluate(
    task: str,
    y_true: Any,
    y_pred: Any,
    probabilities: Any = None,
    metrics: Any = None,
    sample_weight: Any = None,
) -> dict[str, Any]:
    """The metrics ``metrics`` (see ``check_metrics``; None: every metric of ``task``) of the
    predictions ``y_pred`` — class indices for ``"classify"``, values for ``"regress"`` — and,
    for the probability metrics, of ``probabilities`` ``(n_samples, n_classes)``, which also
    sets the confusion matrix's number of classes.

    Returns ``{name: float}``, with the confusion matrix as an array (see ``confusion_matrix``).
    Raises ``ValueError``/``TypeError`` as the metrics do, and ``ValueError`` when a probability
    metric is asked for without ``probabilities``.
    """
    names = check_metrics(metrics, task)
    if probabilities is None and any(METRICS[n].scores == "probabilities" for n in names):
        raise ValueError("the probability metrics (roc_auc, log_loss) need probabilities")
    results: dict[str, Any] = {}
    for name in names:
        metric = METRICS[name]
        if name == "confusion_matrix":
            n_classes = None if probabilities is None else np.shape(probabilities)[1]
            results[name] = confusion_matrix(y_true, y_pred, sample_weight, n_classes)
        else:
            scored = probabilities if metric.scores == "probabilities" else y_pred
            results[name] = metric.function(y_true, scored, sample_weight)
    return results
