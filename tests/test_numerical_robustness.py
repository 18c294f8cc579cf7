"""Extreme but finite inputs either train or fail with a clear message; never a silent NaN.

Cases: features of ±1e30, logits of ±1e4 through the fused sigmoid and softmax cross-entropies,
all-equal targets, a single sample, a single feature, 1,000 classes. After every ``fit`` that
returns, all parameters are finite; a ``fit`` that cannot go on raises ``DivergenceError`` (and
still leaves finite weights) or a ``ValueError`` naming the argument.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import nncore
from nncore.reference import numpy_reference as ref


def _fit_or_clear_error(model: nncore.MLP, X: Any, y: Any, **kwargs: Any) -> str:
    try:
        history = model.fit(X, y, **kwargs)
    except nncore.DivergenceError as error:
        assert "diverged" in str(error) or "non-finite" in str(error)
        outcome = "diverged"
    else:
        assert np.isfinite(history.loss).all()
        outcome = "trained"
    assert np.isfinite(model._network.parameters).all(), "NaN/inf in the weights"
    return outcome


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("scale", [1e30, -1e30])
@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_features_of_1e30(dtype: str, scale: float, activation: str) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 3)) * scale
    y = rng.normal(size=(20, 1))
    model = nncore.MLP([3, 4, 1], activation=activation, dtype=dtype, seed=0)
    outcome = _fit_or_clear_error(model, X, y, epochs=3, learning_rate=1e-3)
    if outcome == "trained":
        assert np.isfinite(model.forward(X)).all()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("output", ["sigmoid", "softmax"])
def test_logits_of_1e4_give_finite_loss_and_gradient(dtype: str, output: str) -> None:
    """A layer-free network (identity weights) so that the logits are exactly ±1e4."""
    model = nncore.MLP([2, 2], output_activation=output, dtype=dtype, seed=0)
    model.set_parameters([np.eye(2)], [np.zeros(2)])
    X = np.array([[1e4, -1e4], [-1e4, 1e4]])
    y = np.array([[1.0, 0.0], [1.0, 0.0]]) if output == "sigmoid" else np.array([0, 0])
    loss = model.loss(X, y)
    Y = y if output == "sigmoid" else np.eye(2)[y]
    name = {"sigmoid": "binary_cross_entropy", "softmax": "categorical_cross_entropy"}[output]
    expected = ref.loss([np.eye(2)], [np.zeros(2)], X, Y, [output], name)
    assert np.isfinite(loss) and loss == pytest.approx(expected, rel=1e-6)
    gradients = model.backward(X, y)
    assert all(np.isfinite(dW).all() and np.isfinite(db).all() for dW, db in gradients)
    _fit_or_clear_error(model, X, y, epochs=5, learning_rate=1e-3)


@pytest.mark.parametrize("loss", ["mse", "mae", "huber"])
def test_all_equal_targets(loss: str) -> None:
    X = np.random.default_rng(0).normal(size=(30, 4))
    model = nncore.MLP([4, 8, 1], dtype="float64", seed=0)
    assert _fit_or_clear_error(model, X, np.full(30, 7.0), loss=loss, epochs=20) == "trained"


def test_all_equal_class_labels() -> None:
    X = np.random.default_rng(0).normal(size=(30, 4))
    for output, y in (("sigmoid", np.ones(30)), ("softmax", np.zeros(30, dtype=int))):
        model = nncore.MLP(
            [4, 8, 3 if output == "softmax" else 1], output_activation=output, seed=0
        )
        assert _fit_or_clear_error(model, X, y, epochs=20, learning_rate=0.5) == "trained"
        assert (model.predict(X) == y).all()


@pytest.mark.parametrize("optimizer", list(nncore.optim.OPTIMIZERS))
def test_a_single_sample(optimizer: str) -> None:
    model = nncore.MLP([3, 4, 1], dtype="float64", seed=0)
    X, y = np.array([[0.5, -1.0, 2.0]]), np.array([1.5])
    assert _fit_or_clear_error(model, X, y, epochs=50, optimizer=optimizer) == "trained"
    with pytest.raises(ValueError, match="validation_split"):  # nothing left to train on
        model.fit(X, y, validation_split=0.5)


def test_a_single_feature() -> None:
    X = np.linspace(-1, 1, 50).reshape(-1, 1)
    model = nncore.MLP([1, 8, 1], activation="tanh", dtype="float64", seed=0)
    history = model.fit(X, X[:, 0] ** 2, epochs=200, optimizer="adam", learning_rate=0.01)
    assert history.loss[-1] < history.loss[0]
    assert np.isfinite(model._network.parameters).all()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_thousand_classes(dtype: str) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 16))
    y = np.arange(2000) % 1000
    model = nncore.MLP([16, 32, 1000], output_activation="softmax", dtype=dtype, seed=0)
    assert _fit_or_clear_error(model, X, y, epochs=2, optimizer="adam") == "trained"
    probabilities = model.predict_proba(X[:5])
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)


def test_a_learning_rate_that_explodes_keeps_the_last_finite_weights() -> None:
    X = np.random.default_rng(0).normal(size=(64, 4)) * 1e3
    model = nncore.MLP([4, 16, 1], activation="relu", dtype="float32", seed=0)
    assert _fit_or_clear_error(model, X, X[:, 0] * 1e3, epochs=50, learning_rate=1e3) == "diverged"
    assert np.isfinite(model.forward(X)).all()
