"""``nncore.metrics`` against ``sklearn.metrics`` (the definitions it follows) and against
brute-force loops written here, and ``MLP.evaluate``, which reports them."""

from __future__ import annotations

import inspect
import itertools
import warnings
from typing import Any

import numpy as np
import pytest

import nncore
from nncore import metrics

# Both sides compute in float64 with sums in a different order: rounding differences only.
RTOL = 1e-12
# float32 probabilities: scikit-learn takes the logarithm in float32, nncore in float64.
RTOL_FLOAT32 = 1e-6
SEEDS = range(12)


def sk() -> Any:
    return pytest.importorskip("sklearn.metrics", reason="the reference is scikit-learn's")


def sk_log_loss(y: Any, p: Any, **kwargs: Any) -> float:
    """``sklearn.metrics.log_loss`` whatever the version (1.9 renamed ``y_pred`` ``y_proba``)."""
    log_loss = sk().log_loss
    if "y_proba" in inspect.signature(log_loss).parameters:
        return float(log_loss(y, y_proba=p, **kwargs))
    return float(log_loss(y, p, **kwargs))


def quietly(function: Any, *args: Any, **kwargs: Any) -> Any:
    """scikit-learn warns where a metric is undefined or drops a class; the value is compared."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


def classification_case(seed: int) -> tuple[Any, Any, Any, Any, int]:
    """Labels, predicted labels, probabilities with ties (rounded logits) and weights."""
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(5, 60)), int(rng.integers(2, 6))
    y = rng.integers(0, k, size=n)
    y_pred = np.where(rng.random(n) < 0.6, y, rng.integers(0, k, size=n))
    logits = np.round(rng.normal(size=(n, k)), 1)  # many equal scores
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    weights = rng.uniform(0.1, 3.0, size=n) if seed % 2 else None
    return y, y_pred, p, weights, k


def regression_case(seed: int) -> tuple[Any, Any, Any]:
    rng = np.random.default_rng(100 + seed)
    n, m = int(rng.integers(2, 50)), int(rng.integers(1, 4))
    y = rng.normal(size=(n, m)) * rng.uniform(0.1, 100, size=m)
    y_pred = y + rng.normal(size=(n, m))
    weights = rng.uniform(0.0, 2.0, size=n) if seed % 2 else None
    return (y[:, 0], y_pred[:, 0], weights) if m == 1 else (y, y_pred, weights)


# --------------------------------------------------------------------------------------------
# Each metric against scikit-learn
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_label_metrics_match_sklearn(seed: int) -> None:
    m = sk()
    y, y_pred, _, w, k = classification_case(seed)
    assert metrics.accuracy(y, y_pred, w) == pytest.approx(
        m.accuracy_score(y, y_pred, sample_weight=w), rel=RTOL
    )
    assert metrics.balanced_accuracy(y, y_pred, w) == pytest.approx(
        quietly(m.balanced_accuracy_score, y, y_pred, sample_weight=w), rel=RTOL
    )
    assert metrics.f1_macro(y, y_pred, w) == pytest.approx(
        quietly(m.f1_score, y, y_pred, average="macro", sample_weight=w), rel=RTOL
    )
    expected = m.confusion_matrix(y, y_pred, labels=range(k), sample_weight=w)
    got = metrics.confusion_matrix(y, y_pred, w, n_classes=k)
    np.testing.assert_allclose(got, expected, rtol=RTOL)
    assert got.dtype == (np.int64 if w is None else np.float64)


@pytest.mark.parametrize("seed", SEEDS)
def test_probability_metrics_match_sklearn(seed: int) -> None:
    m = sk()
    y, _, p, w, k = classification_case(seed)
    assert metrics.log_loss(y, p, w) == pytest.approx(
        sk_log_loss(y, p, labels=range(k), sample_weight=w), rel=RTOL
    )
    if len(np.unique(y)) == k:  # scikit-learn needs every class in y_true
        score = p[:, 1] if k == 2 else p
        expected = m.roc_auc_score(y, score, multi_class="ovr", sample_weight=w)
        assert metrics.roc_auc(y, p, w) == pytest.approx(expected, rel=RTOL)


@pytest.mark.parametrize("seed", SEEDS)
def test_regression_metrics_match_sklearn(seed: int) -> None:
    m = sk()
    y, y_pred, w = regression_case(seed)
    assert metrics.r2(y, y_pred, w) == pytest.approx(
        m.r2_score(y, y_pred, sample_weight=w), rel=RTOL
    )
    assert metrics.mean_absolute_error(y, y_pred, w) == pytest.approx(
        m.mean_absolute_error(y, y_pred, sample_weight=w), rel=RTOL
    )
    assert metrics.root_mean_squared_error(y, y_pred, w) == pytest.approx(
        m.root_mean_squared_error(y, y_pred, sample_weight=w), rel=RTOL
    )


def test_log_loss_clips_with_the_epsilon_of_the_dtype() -> None:
    y = np.array([0, 1, 1, 0])
    for dtype, rtol in ((np.float32, RTOL_FLOAT32), (np.float64, RTOL)):
        p = np.array([[1.0, 0.0], [1.0, 0.0], [0.25, 0.75], [0.0, 1.0]], dtype=dtype)  # 2 p = 0
        expected = sk_log_loss(y, p)
        assert metrics.log_loss(y, p) == pytest.approx(expected, rel=rtol)
        eps = np.finfo(dtype).eps
        independent = -(np.log(1 - eps) + 2 * np.log(eps) + np.log(0.75)) / 4
        assert metrics.log_loss(y, p) == pytest.approx(independent, rel=rtol)


# --------------------------------------------------------------------------------------------
# Edge cases: ties, one class, constant targets, zero weights
# --------------------------------------------------------------------------------------------


def brute_force_auc(positive: Any, score: Any, weights: Any) -> float:
    """Every (positive, negative) pair: 1 when the positive scores higher, 1/2 for a tie."""
    total = area = 0.0
    for i, j in itertools.product(range(len(score)), repeat=2):
        if positive[i] and not positive[j]:
            pair = weights[i] * weights[j]
            total += pair
            area += pair * (1.0 if score[i] > score[j] else 0.5 if score[i] == score[j] else 0.0)
    return area / total


@pytest.mark.parametrize("seed", SEEDS)
def test_roc_auc_counts_ties_as_half_pairs(seed: int) -> None:
    """Independent of scikit-learn: the pairwise definition, on heavily tied scores."""
    y, _, p, w, k = classification_case(seed)
    weights = np.ones(len(y)) if w is None else w
    present = [c for c in range(k) if 0 < np.sum(y == c) < len(y)]
    areas = [brute_force_auc(y == c, p[:, c], weights) for c in present]
    expected = brute_force_auc(y == 1, p[:, 1], weights) if k == 2 else np.mean(areas)
    assert metrics.roc_auc(y, p, w) == pytest.approx(expected, rel=RTOL)
    all_tied = np.full((len(y), k), 1.0 / k)
    assert metrics.roc_auc(np.arange(len(y)) % 2, all_tied[:, :2] * k / 2) == 0.5


def test_one_class_in_y_true() -> None:
    m = sk()
    y = np.zeros(6, dtype=int)
    y_pred = np.array([0, 0, 1, 0, 2, 0])
    p = np.full((6, 3), 1 / 3)
    assert metrics.accuracy(y, y_pred) == pytest.approx(4 / 6)
    # the recall of class 0 only (the classes only predicted are left out, as scikit-learn)
    assert metrics.balanced_accuracy(y, y_pred) == pytest.approx(
        quietly(m.balanced_accuracy_score, y, y_pred)
    )
    assert metrics.f1_macro(y, y_pred) == pytest.approx(
        quietly(m.f1_score, y, y_pred, average="macro")
    )
    assert np.isnan(metrics.roc_auc(y, p))  # undefined; scikit-learn gives NaN (or refuses)
    assert np.isnan(metrics.roc_auc(y, p[:, :2] * 1.5))
    assert metrics.log_loss(y, p) == pytest.approx(np.log(3))
    np.testing.assert_array_equal(
        metrics.confusion_matrix(y, y_pred, n_classes=3), [[4, 1, 1], [0, 0, 0], [0, 0, 0]]
    )


def test_roc_auc_leaves_out_classes_absent_from_y_true() -> None:
    """Where scikit-learn refuses (a class of the model absent from y_true), the mean runs
    over the classes that have positives and negatives."""
    m = sk()
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, size=30) * 2  # classes 0 and 2 of 0, 1, 2
    p = rng.dirichlet(np.ones(3), size=30)
    expected = np.mean([m.roc_auc_score(y == c, p[:, c]) for c in (0, 2)])
    assert metrics.roc_auc(y, p) == pytest.approx(expected, rel=RTOL)


def test_r2_of_constant_targets_and_single_samples() -> None:
    m = sk()
    y = np.array([2.0, 2.0, 2.0])
    for y_pred in (y, y + np.array([0.0, 1.0, 0.0])):  # 1 when exact, 0 otherwise
        assert metrics.r2(y, y_pred) == m.r2_score(y, y_pred)
    assert np.isnan(metrics.r2([1.0], [2.0]))  # scikit-learn: NaN (with a warning)
    assert np.isnan(quietly(m.r2_score, [1.0], [2.0]))


def test_zero_weights_leave_samples_out() -> None:
    rng = np.random.default_rng(9)
    y, y_pred = rng.integers(0, 3, size=20), rng.integers(0, 3, size=20)
    p = rng.dirichlet(np.ones(3), size=20)
    w = rng.integers(0, 2, size=20).astype(float)
    w[:2] = 1.0
    kept = w > 0
    for name in ("accuracy", "balanced_accuracy"):
        function = metrics.METRICS[name].function
        assert function(y, y_pred, w) == pytest.approx(function(y[kept], y_pred[kept]))
    assert metrics.log_loss(y, p, w) == pytest.approx(metrics.log_loss(y[kept], p[kept]))
    t, t_pred = rng.normal(size=20), rng.normal(size=20)
    for name in ("r2", "mean_absolute_error", "root_mean_squared_error"):
        function = metrics.METRICS[name].function
        assert function(t, t_pred, w) == pytest.approx(function(t[kept], t_pred[kept]))


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------

BAD_INPUT = [
    ("accuracy", ([0, 1], [0, 1, 1]), ValueError, "y_pred"),
    ("accuracy", ([0, -1], [0, 1]), ValueError, "y_true"),
    ("accuracy", ([0, 0.5], [0, 1]), ValueError, "y_true"),
    ("accuracy", (["a", "b"], [0, 1]), TypeError, "y_true"),
    ("accuracy", ([[0, 1], [1]], [0, 1]), ValueError, "y_true"),
    ("accuracy", (0, [0, 1]), ValueError, "y_true"),
    ("accuracy", ([0, 1], [0, 1], [1.0, -1.0]), ValueError, "sample_weight"),
    ("accuracy", ([0, 1], [0, 1], [0.0, 0.0]), ValueError, "sample_weight"),
    ("log_loss", ([0, 1], [[0.5, 0.5], [0.7, 0.7]]), ValueError, "sum to 1"),
    ("log_loss", ([0, 1], [[1.5, -0.5], [0.5, 0.5]]), ValueError, "probabilities"),
    ("log_loss", ([0, 2], [[0.5, 0.5], [0.5, 0.5]]), ValueError, "class 2"),
    ("roc_auc", ([0, 1], [0.2, 0.8]), ValueError, "probabilities"),
    ("roc_auc", ([0, 1], [[1, 0], [0, 1]] * 2), ValueError, "rows"),
    ("r2", ([1.0, 2.0], [1.0, np.nan]), ValueError, "y_pred"),
    ("r2", ([1.0, 2.0], [[1.0, 2.0]]), ValueError, "shape"),
]


@pytest.mark.parametrize(("name", "args", "error", "word"), BAD_INPUT)
def test_bad_input_names_the_argument(
    name: str, args: tuple[Any, ...], error: type[Exception], word: str
) -> None:
    with pytest.raises(error, match=word):
        metrics.METRICS[name].function(*args)


# --------------------------------------------------------------------------------------------
# The registry
# --------------------------------------------------------------------------------------------


def test_the_registry_is_the_one_list_of_names() -> None:
    assert set(metrics.metric_names("classify")) | set(metrics.metric_names("regress")) == set(
        metrics.METRICS
    )
    assert not set(metrics.metric_names("classify")) & set(metrics.metric_names("regress"))
    for name, metric in metrics.METRICS.items():
        assert metric.function.__name__ == name  # the function is the metric's name
        assert getattr(metrics, name) is metric.function
        assert "sklearn.metrics." in (metric.function.__doc__ or "")  # the definition it follows
        assert metric.scores in ("labels", "probabilities", "values")
    with pytest.raises(ValueError, match="unknown task"):
        metrics.metric_names("cluster")


def test_check_metrics() -> None:
    assert metrics.check_metrics(None, "regress") == metrics.metric_names("regress")
    assert metrics.check_metrics("r2", "regress") == ("r2",)
    assert metrics.check_metrics(["accuracy", "accuracy"], "classify") == ("accuracy",)
    with pytest.raises(ValueError, match="unknown metric 'precision'"):
        metrics.check_metrics(["precision"], "classify")
    with pytest.raises(ValueError, match="'r2' is a metric for the task 'regress'"):
        metrics.check_metrics(["accuracy", "r2"], "classify")
    with pytest.raises(ValueError, match="at least one"):
        metrics.check_metrics([], "classify")
    with pytest.raises(TypeError, match="metrics"):
        metrics.check_metrics([len], "classify")


# --------------------------------------------------------------------------------------------
# MLP.evaluate
# --------------------------------------------------------------------------------------------


def trained(layer_sizes: list[int], output: str, y: Any, seed: int = 0) -> tuple[Any, Any]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(80, layer_sizes[0]))
    model = nncore.MLP(layer_sizes, "tanh", output, dtype="float64", seed=seed)
    model.fit(X, y(X), epochs=5, learning_rate=0.1, optimizer="adam")
    return model, X


def test_evaluate_a_softmax_classifier_matches_sklearn() -> None:
    m = sk()
    label = lambda X: (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)  # noqa: E731
    model, X = trained([3, 8, 3], "softmax", label)
    y = label(X)
    w = np.linspace(0.5, 2.0, len(y))
    scores = model.evaluate(X, y, sample_weight=w)
    assert list(scores) == list(metrics.metric_names("classify"))
    p, predicted = model.predict_proba(X), model.predict(X)
    assert scores["accuracy"] == pytest.approx(m.accuracy_score(y, predicted, sample_weight=w))
    assert scores["f1_macro"] == pytest.approx(
        quietly(m.f1_score, y, predicted, average="macro", sample_weight=w)
    )
    assert scores["roc_auc"] == pytest.approx(
        m.roc_auc_score(y, p, multi_class="ovr", sample_weight=w)
    )
    assert scores["log_loss"] == pytest.approx(sk_log_loss(y, p, sample_weight=w))
    # log loss is the model's own categorical cross-entropy (no probability needs clipping)
    assert scores["log_loss"] == pytest.approx(model.loss(X, y, sample_weight=w), rel=1e-10)
    np.testing.assert_allclose(
        scores["confusion_matrix"],
        m.confusion_matrix(y, predicted, labels=range(3), sample_weight=w),
    )
    assert all(isinstance(scores[name], float) for name in scores if name != "confusion_matrix")


def test_evaluate_a_sigmoid_classifier_and_a_regressor() -> None:
    m = sk()
    label = lambda X: (X[:, 0] + X[:, 1] > 0).astype(int)  # noqa: E731
    model, X = trained([2, 6, 1], "sigmoid", label)
    y = label(X)
    scores = model.evaluate(X, y, metrics=["roc_auc", "confusion_matrix"])
    assert list(scores) == ["roc_auc", "confusion_matrix"]
    assert scores["roc_auc"] == pytest.approx(m.roc_auc_score(y, model.forward(X)[:, 0]))
    assert scores["confusion_matrix"].shape == (2, 2)
    assert scores["confusion_matrix"].sum() == len(y)

    target = lambda X: np.column_stack([X[:, 0] - X[:, 1], 2 * X[:, 2]])  # noqa: E731
    regressor, X = trained([3, 6, 2], "identity", target)
    scores = regressor.evaluate(X, target(X))
    assert list(scores) == list(metrics.metric_names("regress"))
    predicted = regressor.predict(X)
    assert scores["r2"] == pytest.approx(m.r2_score(target(X), predicted), rel=RTOL)
    assert scores["root_mean_squared_error"] == pytest.approx(
        m.root_mean_squared_error(target(X), predicted), rel=RTOL
    )


def test_evaluate_refuses_bad_requests_and_changes_nothing() -> None:
    label = lambda X: (X[:, 0] > 0).astype(int)  # noqa: E731
    model, X = trained([3, 4, 2], "softmax", label)
    y = label(X)
    before = model.get_parameters()[0][0].copy()
    with pytest.raises(ValueError, match="unknown metric 'auc'"):
        model.evaluate(X, y, metrics=["auc"])
    with pytest.raises(ValueError, match="'r2' is a metric for the task 'regress'"):
        model.evaluate(X, y, metrics="r2")
    with pytest.raises(ValueError, match=r"classes are 0\.\.1"):
        model.evaluate(X, y + 1)
    with pytest.raises(ValueError, match="y has 79 labels"):
        model.evaluate(X, y[1:])
    with pytest.raises(ValueError, match="X must have 3 features"):
        model.evaluate(X[:, :2], y)
    with pytest.raises(ValueError, match="sample_weight"):
        model.evaluate(X, y, sample_weight=-np.ones(len(y)))
    multi_label = nncore.MLP([3, 2], output_activation="sigmoid", seed=0)
    with pytest.raises(ValueError, match="multi-label"):
        multi_label.evaluate(X, np.zeros((len(X), 2)))
    sigmoid = nncore.MLP([3, 1], output_activation="sigmoid", seed=0)
    with pytest.raises(ValueError, match="class indices"):
        sigmoid.evaluate(X, np.full(len(X), 0.5))
    assert model.get_parameters()[0][0].tobytes() == before.tobytes()
