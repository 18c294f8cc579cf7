"""MLPClassifier(class_weight=...): scikit-learn's definitions, checked by equivalence with the
sample weights they stand for (computed here from the formulas, not by the code under test)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="nncore.sklearn needs scikit-learn, an optional extra")

from nncore.sklearn import MLPClassifier


def _data(n_classes: int = 3, n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 4))
    y = np.array(["a", "b", "c", "d"][:n_classes])[rng.integers(0, n_classes, n)]
    y[:n_classes] = np.array(["a", "b", "c", "d"][:n_classes])  # every class present
    return X, y


def _fit(X: np.ndarray, y: Any, **params: Any) -> MLPClassifier:
    sample_weight = params.pop("sample_weight", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning of the short fits
        params = {"max_iter": 15, **params}
        model = MLPClassifier(hidden_layer_sizes=(5,), random_state=1, **params)
        return model.fit(X, y, sample_weight=sample_weight)


def _same(a: MLPClassifier, b: MLPClassifier) -> None:
    for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_, strict=True):
        assert p.tobytes() == q.tobytes()
    assert a.loss_curve_ == b.loss_curve_


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("early_stopping", [False, True])
def test_a_dict_is_the_sample_weights_of_its_classes(n_classes: int, early_stopping: bool) -> None:
    X, y = _data(n_classes)
    weights = {"a": 3.0, "b": 0.5}  # unlisted classes weigh 1
    per_row = np.array([weights.get(label, 1.0) for label in y])
    options = {"early_stopping": early_stopping, "validation_fraction": 0.25}
    _same(_fit(X, y, class_weight=weights, **options), _fit(X, y, sample_weight=per_row, **options))


def test_balanced_is_n_over_k_times_the_class_count() -> None:
    X, y = _data(3)
    labels, counts = np.unique(y, return_counts=True)
    balanced = dict(zip(labels, len(y) / (len(labels) * counts), strict=True))
    per_row = np.array([balanced[label] for label in y])
    _same(_fit(X, y, class_weight="balanced"), _fit(X, y, sample_weight=per_row))
    _same(_fit(X, y, class_weight="balanced"), _fit(X, y, class_weight=balanced))


def test_class_weights_multiply_sample_weights() -> None:
    X, y = _data(3)
    sample_weight = np.linspace(0.5, 2.0, len(y))
    per_row = np.array([{"c": 4.0}.get(label, 1.0) for label in y])
    _same(
        _fit(X, y, class_weight={"c": 4.0}, sample_weight=sample_weight),
        _fit(X, y, sample_weight=sample_weight * per_row),
    )


def test_multilabel_rows_weigh_the_product_over_their_labels() -> None:
    """scikit-learn's compute_sample_weight for multi-output y: the product over the outputs of
    each output's balanced weight (of its 0/1 column)."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 3))
    Y = (rng.random(size=(40, 2)) < [0.3, 0.6]).astype(int)
    per_row = np.ones(40)
    for column in Y.T:
        counts = np.bincount(column, minlength=2)
        per_row *= (len(column) / (2 * counts))[column]
    _same(_fit(X, Y, class_weight="balanced"), _fit(X, Y, sample_weight=per_row))


def test_weighting_a_class_shifts_predictions_towards_it() -> None:
    """On classes the features barely separate, the heavier class takes most predictions."""
    X, y = _data(2, n=200)
    plain = np.mean(_fit(X, y, max_iter=100).predict(X) == "a")
    heavy = np.mean(
        _fit(X, y, max_iter=100, class_weight={"a": 100.0, "b": 0.01}).predict(X) == "a"
    )
    light = np.mean(
        _fit(X, y, max_iter=100, class_weight={"a": 0.01, "b": 100.0}).predict(X) == "a"
    )
    assert heavy > plain + 0.1 and light < plain - 0.1, (plain, heavy, light)


@pytest.mark.parametrize(
    ("class_weight", "message"),
    [("heavy", "class_weight must be"), (3, "class_weight must be"), ({"a": -1.0}, ">= 0")],
)
def test_bad_class_weights_are_refused_and_change_nothing(class_weight: Any, message: str) -> None:
    X, y = _data(3)
    model = _fit(X, y)
    before = [a.copy() for a in model.coefs_]
    curve = list(model.loss_curve_)
    model.set_params(class_weight=class_weight)
    with pytest.raises(ValueError, match=message):
        model.fit(X, y)
    assert model.loss_curve_ == curve
    for a, b in zip(model.coefs_, before, strict=True):
        assert a.tobytes() == b.tobytes()


def test_partial_fit_refuses_balanced_but_takes_a_dict() -> None:
    X, y = _data(3)
    model = MLPClassifier(hidden_layer_sizes=(5,), random_state=0, class_weight="balanced")
    with pytest.raises(ValueError, match="not supported by partial_fit"):
        model.partial_fit(X, y, classes=np.unique(y))
    assert not hasattr(model, "model_")
    model.set_params(class_weight={"a": 2.0})
    model.partial_fit(X, y, classes=np.unique(y))
    assert model.n_iter_ == 1
