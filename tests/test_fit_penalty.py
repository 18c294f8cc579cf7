"""The native loop's ``FitOptions.penalty`` and ``epoch_loss`` (what nncore.sklearn trains with),
step by step against the NumPy reference: every batch B's gradient is the reference's weighted-
mean gradient plus ``λ ⊙ θ · W/W_B``, and the epoch records the batches' weighted means (and
penalties ``½Σλθ²·W/W_B``, before each update) averaged over the rows, or by weight."""

from __future__ import annotations

import numpy as np
import pytest

import nncore
from nncore import _core
from nncore.reference import numpy_reference as nref

# float64 steps of the same formulas in another summation order: a few ulps per step.
RTOL = 1e-11


def _flat(model: nncore.MLP, dWs: list[np.ndarray], dbs: list[np.ndarray]) -> np.ndarray:
    flat = np.empty(model.n_parameters)
    for name, shape, offset in model.layout:
        layer, kind = int(name.split(".")[0]), name.split(".")[1]
        part = dWs[layer] if kind == "W" else dbs[layer]
        flat[offset : offset + int(np.prod(shape))] = part.ravel()
    return flat


def _unflat(model: nncore.MLP, theta: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    weights, biases = [], []
    for name, shape, offset in model.layout:
        part = theta[offset : offset + int(np.prod(shape))].reshape(shape)
        (weights if name.endswith(".W") else biases).append(part)
    return weights, biases


def _expected(model, theta, X, Y, w, penalty, batch_size, epochs, lr, batch_mean):
    """Plain SGD by hand: (θ after the epochs, each epoch's (loss, penalty) record)."""
    activations = list(model.activations)
    n, total = len(X), float(np.sum(w))
    records = []
    for _ in range(epochs):
        loss_sum = penalty_sum = 0.0
        for start in range(0, n, batch_size):
            rows = slice(start, start + batch_size)
            m, weight = len(X[rows]), float(np.sum(w[rows]))
            Ws, bs = _unflat(model, theta)
            mean = nref.loss(
                Ws, bs, X[rows], Y[rows], activations, "mean_squared_error", sample_weight=w[rows]
            )
            dWs, dbs = nref.backward(
                Ws, bs, X[rows], Y[rows], activations, "mean_squared_error", sample_weight=w[rows]
            )
            share = total / weight
            batch_penalty = 0.5 * share * float(np.sum(penalty * theta**2))
            gradient = _flat(model, dWs, dbs) + share * penalty * theta
            theta = theta - lr * gradient
            scale = m if batch_mean else weight
            loss_sum += scale * mean
            penalty_sum += scale * batch_penalty
        count = n if batch_mean else total
        records.append((loss_sum / count, penalty_sum / count))
    return theta, records


@pytest.mark.parametrize("batch_mean", [True, False], ids=["batch_mean", "weighted_mean"])
def test_penalty_and_epoch_loss_step_by_step(batch_mean: bool) -> None:
    rng = np.random.default_rng(5)
    model = nncore.MLP([3, 4, 2], activation="tanh", dtype="float64", seed=2)
    X, Y = rng.normal(size=(11, 3)), rng.normal(size=(11, 2))
    w = rng.uniform(0.2, 3.0, size=11)
    penalty = np.where(rng.uniform(size=model.n_parameters) < 0.6, rng.uniform(0, 0.5), 0.0)
    penalty = penalty * rng.uniform(0.5, 1.5, size=model.n_parameters)
    theta0 = model.parameters.copy()
    lr, batch_size, epochs = 0.05, 4, 3  # batches of 4, 4 and 3 rows
    expected_theta, expected_records = _expected(
        model, theta0, X, Y, w, penalty, batch_size, epochs, lr, batch_mean
    )
    options = _core.FitOptions(
        epochs=epochs,
        batch_size=batch_size,
        shuffle=False,
        penalty=penalty,
        epoch_loss="batch_mean" if batch_mean else "weighted_mean",
    )
    optimizer = nncore.SGD(lr)._native("float64")
    records, reason = _core.fit(model._network, optimizer, model._random, (X, Y, w), None, options)
    assert reason == "max_epochs"
    np.testing.assert_allclose(model.parameters, expected_theta, rtol=RTOL, atol=1e-14)
    for record, (loss, batch_penalty) in zip(records, expected_records, strict=True):
        assert record["loss"] == pytest.approx(loss, rel=RTOL)
        assert record["penalty"] == pytest.approx(batch_penalty, rel=RTOL)


def test_without_a_penalty_records_have_none_and_batch_mean_without_weights_is_the_mean() -> None:
    rng = np.random.default_rng(6)
    X, Y = rng.normal(size=(10, 2)), rng.normal(size=(10, 1))
    losses = []
    for epoch_loss in ("weighted_mean", "batch_mean"):
        model = nncore.MLP([2, 3, 1], dtype="float64", seed=1)
        options = _core.FitOptions(epochs=2, batch_size=4, shuffle=False, epoch_loss=epoch_loss)
        optimizer = nncore.SGD(0.1)._native("float64")
        data = (X, Y, np.empty(0))
        records, _ = _core.fit(model._network, optimizer, model._random, data, None, options)
        assert "penalty" not in records[0]
        losses.append([r["loss"] for r in records])
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-14)
