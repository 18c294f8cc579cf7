"""The training toolkit of ``MLP.fit``: dropout, validation, metrics, early stopping, learning-rate
schedules, callbacks, progress output, gradient norms, ``History`` export, Ctrl-C with early
stopping, and sample-weight checks."""

from __future__ import annotations

import io
import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
import zlib
from typing import Any, ClassVar

import numpy as np
import pytest

import nncore
from nncore import schedules
from nncore.reference import numpy_reference as nref

# --------------------------------------------------------------------------------------------
# Tolerances
# --------------------------------------------------------------------------------------------

# Dropout statistics: the mean of N independent epoch losses (lr = 0, fresh masks each epoch) is
# compared to its exact expectation. Its standard error is estimated from the same N losses;
# 6 standard errors give a false-alarm rate of ~2e-9 (the CLT is excellent for N = 4000 sums of
# bounded terms) while the alternatives (no dropout, dropout without 1/(1-p) rescaling, the mask
# on the wrong layer) are > 20 standard errors away (asserted in the test).
DROPOUT_EPOCHS = 4000
DROPOUT_SIGMAS = 6.0
DROPOUT_POWER_SIGMAS = 20.0
# Learning rates of the schedules vs the documented formulas, evaluated independently here.
SCHEDULE_RTOL = 1e-15
# A fit vs numpy_reference.fit (float64, a few full-batch steps): rounding differences only.
FIT_RTOL = 1e-10
# R² computed by NumPy/scikit-learn vs the core's (float64 sums in another order).
METRIC_RTOL = 1e-12
# ‖gradient‖ of the fit vs the norm of model.backward (same computation, another summation).
NORM_RTOL = 1e-12
# Ctrl-C in a subprocess: how long to wait for the child at most (it normally takes ~1 s).
CHILD_TIMEOUT = 60.0
# Pause between the child's "epoch 2 done" message and the SIGINT, so that the signal arrives
# during native work rather than while the child's epoch-end Python code is still running.
CHILD_PAUSE = 0.03


def stable_seed(*parts: Any) -> int:
    return zlib.crc32(repr(parts).encode())


def regression_data(seed: int, n: int = 40, n_features: int = 3, n_outputs: int = 1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features))
    y = np.tanh(X @ rng.normal(size=(n_features, n_outputs))) + 0.1 * rng.normal(
        size=(n, n_outputs)
    )
    return X, y


def flat(model: nncore.MLP) -> np.ndarray:
    """A copy of all the model's parameters in one vector."""
    weights, biases = model.get_parameters()
    return np.concatenate([a.ravel() for a in [*weights, *biases]])


def bias_model() -> nncore.MLP:
    """``[1, 1]`` identity model whose only moving parameter is the bias (the inputs are 0)."""
    model = nncore.MLP([1, 1], "identity", dtype="float64", seed=0)
    model.set_parameters([np.array([[0.3]])], [np.array([0.0])])
    return model


# With X = 0, targets 1, MSE and SGD at rate η the bias follows b_t = 1 − (1 − 2η)^t exactly;
# the validation loss against targets 0.5 is (b_t − 0.5)²: it falls until b_t passes 0.5, then
# rises — a deterministic, platform-independent early-stopping scenario.
BIAS_X = np.zeros((4, 1))
BIAS_Y = np.ones((4, 1))
BIAS_XV = np.zeros((3, 1))
BIAS_YV = np.full((3, 1), 0.5)
BIAS_LR = 0.05


def bias_validation_losses(epochs: int) -> list[float]:
    return [(1.0 - (1.0 - 2 * BIAS_LR) ** t - 0.5) ** 2 for t in range(1, epochs + 1)]


# --------------------------------------------------------------------------------------------
# 1. Dropout
# --------------------------------------------------------------------------------------------


def test_dropout_is_off_at_inference():
    X, y = regression_data(1)
    model = nncore.MLP([3, 16, 16, 1], "tanh", dtype="float64", seed=3, dropout=0.5)
    plain = nncore.MLP([3, 16, 16, 1], "tanh", dtype="float64", seed=99)
    plain.set_parameters(*model.get_parameters())
    assert model.dropout == (0.5, 0.5)
    assert plain.dropout == (0.0, 0.0)
    first = model.forward(X)
    np.testing.assert_array_equal(model.forward(X), first)
    np.testing.assert_array_equal(plain.forward(X), first)
    np.testing.assert_array_equal(model.predict(X), plain.predict(X))
    assert model.loss(X, y) == plain.loss(X, y)
    for (dW, db), (pdW, pdb) in zip(model.backward(X, y), plain.backward(X, y), strict=True):
        np.testing.assert_array_equal(dW, pdW)
        np.testing.assert_array_equal(db, pdb)
    # ... and after training with dropout, still deterministic
    model.fit(X, y, epochs=3, learning_rate=0.01)
    np.testing.assert_array_equal(model.forward(X), model.forward(X))


def dropout_expectation(model: nncore.MLP, X: np.ndarray, y: np.ndarray, layer: int, p: float):
    """E over masks of the mse of a linear (identity) network with single output and inverted
    dropout of rate ``p`` after hidden layer ``layer`` only.

    With A the (deterministic) activations of that layer and c = W_{layer+1} ··· W_L (a column,
    biases after the layer are constants), the output is o₀ + Σ_j A_j c_j (m_j/(1−p) − 1) with
    m_j ~ Bernoulli(1−p) independent, so E[o] = o₀ and Var[o] = p/(1−p) Σ_j (A_j c_j)². Hence
    E[(o − y)²] = (o₀ − y)² + p/(1−p) Σ_j (A_j c_j)².
    """
    weights, biases = model.get_parameters()
    A = X
    for W, b in zip(weights[: layer + 1], biases[: layer + 1], strict=True):
        A = A @ W + b
    c = np.eye(weights[layer + 1].shape[0])
    for W in weights[layer + 1 :]:
        c = c @ W
    o0 = model.forward(X)
    variance = p / (1 - p) * np.sum((A * c[:, 0]) ** 2, axis=1, keepdims=True)
    return float(np.mean((o0 - y) ** 2 + variance)), float(np.mean((o0 - y) ** 2)), A, c


@pytest.mark.parametrize(("rates", "layer"), [([0.5, 0.0], 0), ([0.0, 0.3], 1), (0.4, None)])
def test_dropout_keeps_the_expected_activation(rates, layer):
    """A linear network, lr = 0 (the parameters never change), fresh masks every epoch: the mean
    epoch loss converges to its exact expectation under inverted dropout."""
    rng = np.random.default_rng(stable_seed("dropout", rates))
    X, y = rng.normal(size=(16, 3)), rng.normal(size=(16, 1))
    model = nncore.MLP([3, 10, 3, 1], "identity", dtype="float64", seed=5, dropout=rates)
    for bias in model.biases:
        bias[...] = rng.normal(size=bias.shape)
    before = flat(model)
    history = model.fit(
        X, y, learning_rate=0.0, epochs=DROPOUT_EPOCHS, batch_size=16, n_iter_no_change=None
    )
    np.testing.assert_array_equal(flat(model), before)  # lr = 0: nothing moved
    losses = np.array(history.loss)
    mean, stderr = losses.mean(), losses.std(ddof=1) / math.sqrt(len(losses))
    assert len(set(history.loss)) > DROPOUT_EPOCHS // 2  # masks change every epoch
    if layer is None:
        # Both layers dropped (rate 0.4): no closed form here, but the loss is above the
        # deterministic loss (dropout adds variance) and the per-layer cases pin the formula.
        assert mean > model.loss(X, y) + DROPOUT_POWER_SIGMAS * stderr
        return
    p = rates[layer]
    expected, no_dropout, A, c = dropout_expectation(model, X, y, layer, p)
    assert abs(mean - expected) < DROPOUT_SIGMAS * stderr, (mean, expected, stderr)
    # The test has power: the alternatives are far away.
    assert abs(no_dropout - expected) > DROPOUT_POWER_SIGMAS * stderr
    other = 1 - layer  # the same rate on the other hidden layer would give another expectation
    expected_other, *_ = dropout_expectation(model, X, y, other, p)
    assert abs(expected_other - expected) > DROPOUT_POWER_SIGMAS * stderr
    # Without the 1/(1−p) rescaling E[o] = o₀ − p Σ A_j c_j and Var = p(1−p) Σ (A_j c_j)².
    contribution = A * c[:, 0]
    o0 = model.forward(X)
    unscaled = np.mean(
        (o0 - p * contribution.sum(axis=1, keepdims=True) - y) ** 2
        + p * (1 - p) * np.sum(contribution**2, axis=1, keepdims=True)
    )
    assert abs(unscaled - expected) > DROPOUT_POWER_SIGMAS * stderr


def test_dropout_masks_follow_the_seed():
    X, y = regression_data(2)

    def run(seed: int, dropout: float, parameters: Any) -> list[float]:
        model = nncore.MLP([3, 8, 8, 1], "tanh", dtype="float64", seed=seed, dropout=dropout)
        model.set_parameters(*parameters)
        return model.fit(X, y, epochs=5, batch_size=7, shuffle=False, n_iter_no_change=None).loss

    parameters = nncore.MLP([3, 8, 8, 1], "tanh", dtype="float64", seed=0).get_parameters()
    assert run(11, 0.5, parameters) == run(11, 0.5, parameters)  # same seed: same masks
    assert run(11, 0.5, parameters) != run(12, 0.5, parameters)  # other seed: other masks
    # control: without dropout (and without shuffling) the seed does not matter
    assert run(11, 0.0, parameters) == run(12, 0.0, parameters)
    # a list of rates, one per hidden layer; all-zero rates equal no dropout
    model = nncore.MLP([3, 8, 8, 1], "tanh", dtype="float64", seed=1, dropout=[0.0, 0.25])
    assert model.dropout == (0.0, 0.25)
    zero = nncore.MLP([3, 8, 8, 1], "tanh", dtype="float64", seed=1, dropout=[0.0, 0.0])
    zero.set_parameters(*parameters)
    assert zero.fit(X, y, epochs=5, batch_size=7, shuffle=False, n_iter_no_change=None).loss == (
        run(11, 0.0, parameters)
    )


@pytest.mark.parametrize(
    "dropout", [1.0, -0.1, 1.5, [0.5], [0.1, 0.2, 0.3], [0.2, 1.0], float("nan")]
)
def test_bad_dropout_rates_raise(dropout):
    with pytest.raises(ValueError):
        nncore.MLP([3, 8, 8, 1], "tanh", dropout=dropout)


# --------------------------------------------------------------------------------------------
# 2. Validation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True])
def test_validation_loss_is_the_loss_after_each_epoch(weighted):
    X, y = regression_data(3, n=50)
    Xv, yv = regression_data(4, n=17)
    wv = np.random.default_rng(5).uniform(0.5, 2.0, size=17) if weighted else None
    model = nncore.MLP([3, 8, 1], "tanh", dtype="float64", seed=4, dropout=0.2)
    seen: list[tuple[float, float]] = []

    def check(record: dict[str, Any]) -> None:  # the model holds this epoch's weights here
        seen.append((record["validation_loss"], model.loss(Xv, yv, sample_weight=wv)))

    data = (Xv, yv, wv) if weighted else (Xv, yv)
    history = model.fit(X, y, epochs=6, validation_data=data, early_stopping=False, callbacks=check)
    assert history.stop_reason == "max_epochs"
    assert len(history.validation_loss) == len(history.validation_metric) == 6
    assert [v for v, _ in seen] == history.validation_loss
    for reported, actual in seen:
        assert reported == pytest.approx(actual, rel=1e-12)
    # after fit (no early stopping: the last weights), without dropout
    assert history.validation_loss[-1] == pytest.approx(
        model.loss(Xv, yv, sample_weight=wv), rel=1e-12
    )
    if weighted:  # the validation weights are used
        assert model.loss(Xv, yv, sample_weight=wv) != pytest.approx(model.loss(Xv, yv), rel=1e-6)


def test_no_validation_gives_empty_series():
    X, y = regression_data(5)
    history = nncore.MLP([3, 4, 1], seed=0).fit(X, y, epochs=2)
    assert history.validation_loss == [] and history.validation_metric == []
    assert history.best_epoch is None


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_validation_split_holds_out_the_last_rows(shuffle, weighted):
    n = 23
    n_validation = math.ceil(0.2 * 23)  # 4.6 -> 5
    n_train = n - n_validation
    X, y = regression_data(6, n=n)
    w = np.random.default_rng(6).uniform(0.5, 2.0, size=n) if weighted else None
    options = {"learning_rate": 0.05, "epochs": 4, "batch_size": 5, "shuffle": shuffle}
    options["n_iter_no_change"] = None
    split = nncore.MLP([3, 8, 1], "tanh", dtype="float64", seed=7)
    history = split.fit(
        X, y, validation_split=0.2, early_stopping=False, sample_weight=w, **options
    )
    alone = nncore.MLP([3, 8, 1], "tanh", dtype="float64", seed=7)
    w_train = None if w is None else w[:n_train]
    history_alone = alone.fit(X[:n_train], y[:n_train], sample_weight=w_train, **options)
    # training used exactly the first rows (in the same order, with the same shuffles)
    np.testing.assert_array_equal(flat(split), flat(alone))
    assert history.loss == history_alone.loss
    # and validation exactly the last ones
    w_val = None if w is None else w[n_train:]
    assert history.validation_loss[-1] == pytest.approx(
        split.loss(X[n_train:], y[n_train:], sample_weight=w_val), rel=1e-12
    )
    assert history.validation_loss[-1] != pytest.approx(
        split.loss(X[n_train - 1 :], y[n_train - 1 :], sample_weight=None), rel=1e-6
    )


@pytest.mark.parametrize(
    ("fraction", "n"),
    [(0.25, 8), (0.2, 23), (0.5, 9), (0.1, 30), (0.07, 100), (0.55, 100)],
)
def test_validation_split_size_is_ceil_of_the_exact_fraction(fraction, n):
    """``ceil(f·n)`` rows of the exact fraction: 7% of 100 rows is 7 rows. (Bug: the core
    computes ceil(0.07 * 100) in floating point = ceil(7.000000000000001) = 8.)"""
    from fractions import Fraction

    n_validation = math.ceil(Fraction(str(fraction)) * n)
    n_train = n - n_validation
    X, y = regression_data(8, n=n)
    model = nncore.MLP([3, 4, 1], "tanh", dtype="float64", seed=8)
    history = model.fit(X, y, epochs=1, validation_split=fraction, early_stopping=False)
    assert history.validation_loss[-1] == pytest.approx(
        model.loss(X[n_train:], y[n_train:]), rel=1e-12
    ), f"validation_split={fraction} of {n} rows should hold out {n_validation} rows"


def test_validation_argument_errors():
    X, y = regression_data(9)
    model = nncore.MLP([3, 4, 1], dtype="float64", seed=0)
    before = flat(model)
    with pytest.raises(ValueError, match="not both"):
        model.fit(X, y, validation_data=(X, y), validation_split=0.2)
    for split in (1.0, 1.5, -0.1):
        with pytest.raises(ValueError):
            model.fit(X, y, validation_split=split)
    with pytest.raises(ValueError):  # no training row left
        model.fit(X[:3], y[:3], validation_split=0.9)
    with pytest.raises(ValueError):  # wrong number of features
        model.fit(X, y, validation_data=(X[:, :2], y))
    with pytest.raises(TypeError):
        model.fit(X, y, validation_data=(X,))
    np.testing.assert_array_equal(flat(model), before)
    assert model.optimizer is None


def test_validation_split_whose_weights_are_all_zero_is_rejected():
    """validation_data=(Xv, yv, zeros) raises ValueError; a validation_split whose held-out
    weights are all zero must too. (Bug: it is accepted, the validation loss is 0.0 at every
    epoch, and early stopping silently restores the weights of epoch 1.)"""
    X, y = regression_data(10, n=20)
    w = np.ones(20)
    w[16:] = 0.0
    model = nncore.MLP([3, 4, 1], "tanh", dtype="float64", seed=0)
    with pytest.raises(ValueError, match="sample_weight_val"):
        model.fit(X[:16], y[:16], validation_data=(X[16:], y[16:], w[16:]))
    before = flat(model)
    with pytest.raises(ValueError):
        model.fit(X, y, sample_weight=w, validation_split=0.2, epochs=20)
    np.testing.assert_array_equal(flat(model), before)


# --------------------------------------------------------------------------------------------
# 3. Metrics
# --------------------------------------------------------------------------------------------


def r2_uniform(y_true: np.ndarray, y_pred: np.ndarray, w: np.ndarray | None = None) -> float:
    """Coefficient of determination per output, averaged uniformly (sklearn's r2_score)."""
    w = np.ones(len(y_true)) if w is None else w
    mean = np.average(y_true, axis=0, weights=w)
    residual = np.sum(w[:, None] * (y_true - y_pred) ** 2, axis=0)
    total = np.sum(w[:, None] * (y_true - mean) ** 2, axis=0)
    return float(np.mean(1 - residual / total))


CLASSIFIERS = [
    ("sigmoid", 1),  # binary
    ("sigmoid", 3),  # multi-label: a sample is right when every label is
    ("softmax", 4),
]


def classification_data(seed: int, output: str, k: int, n: int):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    if output == "softmax":
        return X, rng.integers(0, k, size=n)
    labels = rng.integers(0, 2, size=(n, k))
    return X, (labels[:, 0] if k == 1 else labels)


@pytest.mark.parametrize(("output", "k"), CLASSIFIERS)
def test_validation_accuracy(output, k):
    X, y = classification_data(11, output, k, 60)
    Xv, yv = classification_data(12, output, k, 37)
    model = nncore.MLP([3, 8, k], "tanh", output, dtype="float64", seed=1)
    history = model.fit(
        X, y, epochs=5, learning_rate=0.5, validation_data=(Xv, yv), early_stopping=False
    )
    assert history.metric_name == "accuracy"
    predicted = model.predict(Xv)
    correct = predicted == yv if predicted.ndim == 1 else np.all(predicted == yv, axis=1)
    assert history.validation_metric[-1] == np.mean(correct)
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    assert history.validation_metric[-1] == pytest.approx(
        sklearn_metrics.accuracy_score(yv, predicted), rel=1e-15
    )


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("k", [1, 3])
def test_validation_r2(k, weighted):
    X, y = regression_data(13, n=60, n_outputs=k)
    Xv, yv = regression_data(14, n=31, n_outputs=k)
    wv = np.random.default_rng(15).uniform(0.2, 3.0, size=31) if weighted else None
    model = nncore.MLP([3, 8, k], "tanh", dtype="float64", seed=2)
    data = (Xv, yv, wv) if weighted else (Xv, yv)
    history = model.fit(X, y, epochs=5, validation_data=data, early_stopping=False)
    assert history.metric_name == "r2"
    expected = r2_uniform(yv, model.forward(Xv), wv)
    assert history.validation_metric[-1] == pytest.approx(expected, rel=METRIC_RTOL)
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    assert history.validation_metric[-1] == pytest.approx(
        sklearn_metrics.r2_score(yv, model.forward(Xv), sample_weight=wv), rel=METRIC_RTOL
    )


@pytest.mark.parametrize(("output", "k"), [*CLASSIFIERS, ("identity", 2)])
def test_training_metric_over_the_epoch(output, k):
    """With lr = 0 the batch outputs of an epoch are the model's outputs: the training metric
    is the metric of ``predict``/``forward`` on the training data (batches of 7 over 50 rows)."""
    if output == "identity":
        X, y = regression_data(16, n=50, n_outputs=k)
    else:
        X, y = classification_data(16, output, k, 50)
    model = nncore.MLP([3, 8, k], "tanh", output, dtype="float64", seed=3)
    history = model.fit(X, y, epochs=1, learning_rate=0.0, batch_size=7, shuffle=True)
    if output == "identity":
        assert history.metric[0] == pytest.approx(r2_uniform(y, model.forward(X)), rel=1e-12)
    else:
        predicted = model.predict(X)
        correct = predicted == y if predicted.ndim == 1 else np.all(predicted == y, axis=1)
        assert history.metric[0] == pytest.approx(np.mean(correct), rel=1e-15)


# --------------------------------------------------------------------------------------------
# 4. Early stopping
# --------------------------------------------------------------------------------------------


def best_epoch_by_rule(losses: list[float], min_delta: float) -> int:
    """The documented rule: an epoch improves when its loss < best − min_delta."""
    best, best_epoch = math.inf, 0
    for epoch, loss in enumerate(losses, start=1):
        if loss < best - min_delta:
            best, best_epoch = loss, epoch
    return best_epoch


@pytest.mark.parametrize(("min_delta", "best"), [(0.0, 7), (0.01, 5)])
def test_early_stopping_on_a_known_trajectory(min_delta, best):
    patience = 3
    model = bias_model()
    history = model.fit(
        BIAS_X,
        BIAS_Y,
        learning_rate=BIAS_LR,
        epochs=100,
        batch_size=4,
        shuffle=False,
        validation_data=(BIAS_XV, BIAS_YV),
        patience=patience,
        min_delta=min_delta,
        n_iter_no_change=None,
    )
    expected = bias_validation_losses(history.epochs)
    np.testing.assert_allclose(history.validation_loss, expected, rtol=1e-12)
    assert best_epoch_by_rule(expected, min_delta) == best
    assert history.stop_reason == "early_stopping"
    assert history.best_epoch == best
    assert history.epochs == best + patience  # stops after `patience` epochs without progress
    # the best epoch's weights are back: b = 1 − 0.9^best
    assert model.biases[0][0] == pytest.approx(1 - (1 - 2 * BIAS_LR) ** best, rel=1e-12)
    assert model.loss(BIAS_XV, BIAS_YV) == history.validation_loss[best - 1]


def test_early_stopping_restores_the_best_weights_of_an_overfitting_net():
    rng = np.random.default_rng(17)
    x = np.linspace(-1, 1, 8)[:, None]
    t = np.sin(3 * x) + rng.normal(scale=0.3, size=x.shape)
    xv = np.linspace(-1, 1, 40)[:, None]
    tv = np.sin(3 * xv)
    model = nncore.MLP([1, 64, 64, 1], "tanh", dtype="float64", seed=0)
    history = model.fit(
        x,
        t,
        learning_rate=0.05,
        epochs=5000,
        batch_size=8,
        validation_data=(xv, tv),
        patience=30,
        n_iter_no_change=None,
    )
    assert history.stop_reason == "early_stopping"
    assert history.epochs < 5000
    assert history.best_epoch == int(np.argmin(history.validation_loss)) + 1
    assert history.best_epoch == history.epochs - 30
    assert model.loss(xv, tv) == min(history.validation_loss)
    assert min(history.validation_loss) < history.validation_loss[-1]


def test_restore_best_weights_false_keeps_the_last_weights():
    model = bias_model()
    history = model.fit(
        BIAS_X,
        BIAS_Y,
        learning_rate=BIAS_LR,
        epochs=100,
        batch_size=4,
        validation_data=(BIAS_XV, BIAS_YV),
        patience=3,
        restore_best_weights=False,
        n_iter_no_change=None,
    )
    assert history.stop_reason == "early_stopping"
    assert history.epochs == 10
    assert history.best_epoch is None
    assert model.loss(BIAS_XV, BIAS_YV) == history.validation_loss[-1]
    assert model.loss(BIAS_XV, BIAS_YV) > min(history.validation_loss)


def test_early_stopping_off_runs_every_epoch():
    model = bias_model()
    history = model.fit(
        BIAS_X,
        BIAS_Y,
        learning_rate=BIAS_LR,
        epochs=40,
        batch_size=4,
        validation_data=(BIAS_XV, BIAS_YV),
        patience=3,
        early_stopping=False,
        n_iter_no_change=None,
    )
    assert history.stop_reason == "max_epochs"
    assert history.epochs == 40 and len(history.validation_loss) == 40
    assert history.best_epoch is None
    assert model.loss(BIAS_XV, BIAS_YV) == history.validation_loss[-1]


def test_early_stopping_without_validation_data_is_a_value_error():
    """early_stopping=True with nothing to monitor is refused (it used to monitor the training
    loss, which users took for being ignored), before the model changes."""
    X, y = regression_data(30)
    model = nncore.MLP([3, 4, 1], seed=0)
    before = model.get_parameters()
    with pytest.raises(ValueError, match=r"validation_data=.*or validation_split"):
        model.fit(X, y, epochs=3, early_stopping=True)
    assert model.history is None and model.optimizer is None
    for got, expected in zip(model.get_parameters(), before, strict=True):
        for a, b in zip(got, expected, strict=True):
            assert a.tobytes() == b.tobytes()
    # with validation data it runs; early_stopping=False without validation data too
    assert model.fit(X, y, epochs=2, early_stopping=True, validation_split=0.2).epochs >= 1
    assert model.fit(X, y, epochs=2, early_stopping=False).epochs == 2


def test_training_loss_rule_gives_way_to_early_stopping_on_validation_data():
    """n_iter_no_change="auto" (the default) is 10 epochs on the training loss, except with early
    stopping on validation data, which then decides alone; an explicit n_iter_no_change keeps
    both rules. With learning_rate=0 no loss improves after epoch 1 by more than rounding (the
    training loss is summed in float32 in each epoch's shuffled order, so it moves in its last
    bits, by at most ~33 ulp here; tol=1e-5 is above that and below any real change), so each
    rule stops at a known epoch: 1 + 10 for the training loss, 1 + patience for the validation
    loss."""
    X, y = regression_data(33)

    def fit(**options: Any) -> tuple[int, str]:
        model = nncore.MLP([3, 4, 1], seed=0)
        history = model.fit(X, y, epochs=100, learning_rate=0.0, tol=1e-5, **options)
        return history.epochs, history.stop_reason

    assert fit(validation_split=0.2, patience=30) == (31, "early_stopping")
    assert fit(validation_data=(X[:5], y[:5]), patience=30) == (31, "early_stopping")
    assert fit(validation_split=0.2, patience=30, n_iter_no_change=10) == (11, "no_improvement")
    assert fit() == (11, "no_improvement")
    assert fit(validation_split=0.2, early_stopping=False) == (11, "no_improvement")
    assert fit(n_iter_no_change=None) == (100, "max_epochs")
    for bad, error in (("always", TypeError), (0, ValueError), (2.5, TypeError)):
        with pytest.raises(error, match="n_iter_no_change"):
            fit(n_iter_no_change=bad)


def test_fit_from_a_callback_of_the_same_fit_is_refused_as_re_entrant():
    """Not "already running in another thread": the same thread, from inside the callback."""
    X, y = regression_data(34)
    model = nncore.MLP([3, 4, 1], seed=0)
    seen: list[str] = []

    def callback(record: dict[str, Any]) -> None:
        try:
            model.fit(X, y, epochs=1)
        except RuntimeError as error:
            seen.append(str(error))
            raise

    with pytest.raises(RuntimeError, match="re-entrant") as info:
        model.fit(X, y, epochs=3, callbacks=callback)
    assert "callback" in str(info.value) and "another thread" not in str(info.value)
    assert seen == [str(info.value)]
    assert model.fit(X, y, epochs=2).epochs == 2  # the lock is free again


# --------------------------------------------------------------------------------------------
# 5. Learning-rate schedules
# --------------------------------------------------------------------------------------------

ETA0 = 0.05
EPOCHS = 14


def cosine(e: int, T_max: int, eta_min: float, warmup: int) -> float:
    if e <= warmup:
        return ETA0 * e / (warmup + 1)
    t, T = e - 1 - warmup, T_max - warmup
    if t >= T:
        return eta_min
    return eta_min + 0.5 * (ETA0 - eta_min) * (1 + math.cos(math.pi * t / T))


# name -> (a fresh schedule, its documented formula for η₀ = ETA0 over EPOCHS epochs)
SCHEDULES = {
    "constant": (lambda: schedules.Constant(), lambda e: ETA0),
    "step": (
        lambda: schedules.StepDecay(step_size=3, gamma=0.5),
        lambda e: ETA0 * 0.5 ** ((e - 1) // 3),
    ),
    "exponential": (lambda: schedules.ExponentialDecay(gamma=0.8), lambda e: ETA0 * 0.8 ** (e - 1)),
    "cosine": (lambda: schedules.CosineAnnealing(), lambda e: cosine(e, EPOCHS, 0.0, 0)),
    "cosine-eta-min-tmax": (
        lambda: schedules.CosineAnnealing(T_max=9, eta_min=0.001),
        lambda e: cosine(e, 9, 0.001, 0),
    ),
    "cosine-warmup": (
        lambda: schedules.CosineAnnealing(eta_min=0.002, warmup_epochs=3),
        lambda e: cosine(e, EPOCHS, 0.002, 3),
    ),
    "inverse-scaling": (lambda: schedules.InverseScaling(power_t=0.7), lambda e: ETA0 / e**0.7),
}
# What the names give: the documented defaults.
NAMED = {
    "constant": lambda e: ETA0,
    "step": lambda e: ETA0 * 0.1 ** ((e - 1) // 10),
    "exponential": lambda e: ETA0 * 0.95 ** (e - 1),
    "cosine": lambda e: cosine(e, EPOCHS, 0.0, 0),
    "inverse_scaling": lambda e: ETA0 / e**0.5,
}


def fit_with_schedule(schedule: Any, dtype: str = "float64"):
    X, y = regression_data(18, n=24)
    model = nncore.MLP([3, 6, 1], "tanh", dtype=dtype, seed=4)
    history = model.fit(
        X,
        y,
        learning_rate=ETA0,
        epochs=EPOCHS,
        batch_size=24,
        shuffle=False,
        lr_schedule=schedule,
        n_iter_no_change=None,
    )
    assert history.epochs == EPOCHS
    return model, history, X, y


def assert_rates(actual: list[float], formula: Any) -> None:
    expected = [formula(e) for e in range(1, len(actual) + 1)]
    np.testing.assert_allclose(actual, expected, rtol=SCHEDULE_RTOL, atol=0)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", list(SCHEDULES))
def test_schedule_rates_follow_the_formula(name, dtype):
    make_schedule, formula = SCHEDULES[name]
    _, history, _, _ = fit_with_schedule(make_schedule(), dtype)
    assert_rates(history.learning_rate, formula)
    if name != "constant":
        assert len(set(history.learning_rate)) > 1


@pytest.mark.parametrize("name", list(NAMED))
def test_schedule_names(name):
    _, history, _, _ = fit_with_schedule(name)
    assert_rates(history.learning_rate, NAMED[name])


def test_unknown_schedule_name_raises():
    X, y = regression_data(19)
    with pytest.raises(ValueError, match="lr_schedule"):
        nncore.MLP([3, 2, 1], seed=0).fit(X, y, lr_schedule="linear")


def test_scheduled_rates_are_the_rates_used():
    """A full-batch fit with ExponentialDecay equals the reference taking one step per epoch
    at the scheduled rate."""
    X, y = regression_data(18, n=24)
    twin = nncore.MLP([3, 6, 1], "tanh", dtype="float64", seed=4)
    Ws, bs = twin.get_parameters()
    model, _, _, _ = fit_with_schedule(schedules.ExponentialDecay(gamma=0.8))
    for epoch in range(1, EPOCHS + 1):
        Ws, bs, _ = nref.fit(
            Ws,
            bs,
            X,
            y,
            ["tanh", "identity"],
            "mean_squared_error",
            ETA0 * 0.8 ** (epoch - 1),
            1,
            24,
        )
    weights, biases = model.get_parameters()
    for a, b in zip([*weights, *biases], [*Ws, *bs], strict=True):
        np.testing.assert_allclose(a, b, rtol=FIT_RTOL, atol=FIT_RTOL * np.abs(b).max())


def test_a_schedule_does_not_leave_an_unused_rate_on_the_optimizer():
    """After a fit with a schedule, the optimizer (kept for warm starts) must not be left at the
    rate of the epoch after the last one, which no epoch used. (Bug: after
    ``fit(learning_rate=0.1, lr_schedule="cosine")`` it is left at eta_min = 0.0, so every later
    ``fit`` without ``learning_rate`` silently trains at rate 0.)"""
    X, y = regression_data(40, n=16)
    model = nncore.MLP([3, 8, 1], "tanh", dtype="float64", seed=0)
    first = model.fit(
        X, y, learning_rate=0.1, epochs=5, lr_schedule="cosine", n_iter_no_change=None
    )
    assert first.learning_rate[-1] > 0
    assert model.optimizer is not None
    assert model.optimizer.learning_rate in (0.1, first.learning_rate[-1])
    second = model.fit(X, y, epochs=3, n_iter_no_change=None)  # a warm start
    assert second.learning_rate[0] > 0
    assert second.loss[-1] < second.loss[0]


def reduce_on_plateau_trace(schedule: schedules.ReduceOnPlateau, lr: float, losses: list[float]):
    """The rate of every epoch when the monitored losses are ``losses``."""
    schedule.start(lr, len(losses))
    rates = []
    for epoch, loss in enumerate(losses, start=1):
        rates.append(schedule.learning_rate(epoch))
        schedule.observe(epoch, loss)
    return rates


def test_reduce_on_plateau_hand_trace():
    """factor 0.5, patience 1, threshold 1%, cooldown 1, min_lr 0.01, from 0.1.

    epoch 1 sets best = 1; epochs 2, 3 are bad (1 is not < 0.99): after the second bad epoch
    (> patience) the rate halves for epoch 4 and a cooldown of 1 epoch starts (epoch 4 is not
    counted). Epoch 5 improves (0.5); epochs 6, 7 are bad → halve for epoch 8; cooldown at 8;
    9, 10 bad → 0.0125 from epoch 11; 12, 13 bad → max(0.00625, 0.01) = 0.01 from epoch 14;
    15, 16 bad → stays at min_lr.
    """
    schedule = schedules.ReduceOnPlateau(
        factor=0.5, patience=1, threshold=0.01, cooldown=1, min_lr=0.01
    )
    losses = [1.0] * 4 + [0.5] * 13
    expected = [0.1] * 3 + [0.05] * 4 + [0.025] * 3 + [0.0125] * 3 + [0.01] * 4
    assert reduce_on_plateau_trace(schedule, 0.1, losses) == expected


def reduce_on_plateau_cases():
    rng = np.random.default_rng(20)
    cases = []
    settings = [
        {"factor": 0.1, "patience": 10, "threshold": 1e-4, "cooldown": 0, "min_lr": 0.0},
        {"factor": 0.5, "patience": 0, "threshold": 0.0, "cooldown": 0, "min_lr": 0.0},
        {"factor": 0.5, "patience": 2, "threshold": 0.05, "cooldown": 3, "min_lr": 1e-3},
        {"factor": 0.3, "patience": 1, "threshold": 0.01, "cooldown": 1, "min_lr": 0.002},
    ]
    for setting in settings:
        # noisy decreasing curves with plateaus, repeats and ties
        steps = rng.choice([-0.05, -0.001, 0.0, 0.0, 0.02], size=60)
        losses = list(np.round(1.0 + np.cumsum(steps), 4))
        cases.append((setting, losses))
    return cases


@pytest.mark.parametrize(("setting", "losses"), reduce_on_plateau_cases())
def test_reduce_on_plateau_matches_torch(setting, losses):
    torch = pytest.importorskip("torch")
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=0.1)
    # eps=0: PyTorch by default ignores reductions smaller than eps=1e-8; nncore documents no
    # such floor (setting1 reduces down to ~1e-9, where the two would otherwise differ).
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", threshold_mode="rel", eps=0.0, **setting
    )
    expected = []
    for loss in losses:
        expected.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step(loss)
    actual = reduce_on_plateau_trace(schedules.ReduceOnPlateau(**setting), 0.1, losses)
    assert len(set(expected)) > 1  # the case does reduce
    np.testing.assert_allclose(actual, expected, rtol=1e-15, atol=0)


def test_reduce_on_plateau_in_fit_on_a_constant_loss():
    """Zero inputs and no bias: the gradient is 0 and the training loss is constant, so every
    epoch after the first is bad; with patience 2 the rate halves after epochs 4, 7, 10."""
    model = nncore.MLP([2, 1], "identity", dtype="float64", seed=0, use_bias=False)
    history = model.fit(
        np.zeros((6, 2)),
        np.full(6, 2.0),
        learning_rate=0.1,
        epochs=12,
        lr_schedule=schedules.ReduceOnPlateau(factor=0.5, patience=2),
        n_iter_no_change=None,
    )
    assert history.loss == [4.0] * 12
    assert history.learning_rate == [0.1] * 4 + [0.05] * 3 + [0.025] * 3 + [0.0125] * 2


def test_reduce_on_plateau_by_name_uses_the_defaults():
    """ "reduce_on_plateau": factor 0.1, patience 10. On a constant loss epochs 2..12 are bad
    (11 > 10), so the rate drops tenfold from epoch 13."""
    model = nncore.MLP([2, 1], "identity", dtype="float64", seed=0, use_bias=False)
    history = model.fit(
        np.zeros((6, 2)),
        np.full(6, 2.0),
        learning_rate=0.1,
        epochs=14,
        lr_schedule="reduce_on_plateau",
        n_iter_no_change=None,
    )
    assert history.learning_rate == pytest.approx([0.1] * 12 + [0.01] * 2, rel=1e-15)


def test_reduce_on_plateau_monitors_the_validation_loss():
    """Training towards 1 while validating against −1: the training loss keeps improving, the
    validation loss keeps getting worse after epoch 1, so the rate drops as in the constant case
    — and stays constant when there is no validation data."""
    yv = np.full((3, 1), -1.0)
    options = {
        "learning_rate": BIAS_LR,
        "epochs": 12,
        "batch_size": 4,
        "n_iter_no_change": None,
    }
    model = bias_model()
    history = model.fit(
        BIAS_X,
        BIAS_Y,
        validation_data=(BIAS_XV, yv),
        early_stopping=False,
        lr_schedule=schedules.ReduceOnPlateau(factor=0.5, patience=2),
        **options,
    )
    assert np.all(np.diff(history.loss) < 0)
    assert np.all(np.diff(history.validation_loss) > 0)
    rate = BIAS_LR
    assert history.learning_rate == [rate] * 4 + [rate / 2] * 3 + [rate / 4] * 3 + [rate / 8] * 2
    plain = bias_model().fit(
        BIAS_X, BIAS_Y, lr_schedule=schedules.ReduceOnPlateau(factor=0.5, patience=2), **options
    )
    assert plain.learning_rate == [rate] * 12


# --------------------------------------------------------------------------------------------
# 6. Callbacks
# --------------------------------------------------------------------------------------------

RECORD_KEYS = {"epoch", "loss", "metric", "gradient_norm", "learning_rate"}


def test_single_callable_is_accepted():
    X, y = regression_data(21)
    records: list[dict[str, Any]] = []
    history = nncore.MLP([3, 4, 1], seed=0).fit(X, y, epochs=4, callbacks=records.append)
    assert [r["epoch"] for r in records] == [1, 2, 3, 4]
    assert all(set(r) == RECORD_KEYS for r in records)
    assert [r["loss"] for r in records] == history.loss
    assert [r["metric"] for r in records] == history.metric
    assert [r["gradient_norm"] for r in records] == history.gradient_norm
    assert [r["learning_rate"] for r in records] == history.learning_rate


def test_callbacks_are_called_in_order_once_per_epoch_with_validation_entries():
    X, y = regression_data(22)
    calls: list[tuple[str, int]] = []
    seen: list[dict[str, Any]] = []

    def first(record: dict[str, Any]) -> None:
        calls.append(("first", record["epoch"]))
        seen.append(record)
        record["loss"] = -1.0  # a callback's changes do not reach the history or the others

    def second(record: dict[str, Any]) -> bool:
        calls.append(("second", record["epoch"]))
        assert record["loss"] != -1.0
        return False

    history = nncore.MLP([3, 4, 1], seed=0).fit(
        X, y, epochs=3, callbacks=[first, second], validation_split=0.25, early_stopping=False
    )
    assert calls == [(name, e) for e in (1, 2, 3) for name in ("first", "second")]
    assert all(set(r) == RECORD_KEYS | {"validation_loss", "validation_metric"} for r in seen)
    assert [r["validation_loss"] for r in seen] == history.validation_loss
    assert [r["validation_metric"] for r in seen] == history.validation_metric
    assert all(loss != -1.0 for loss in history.loss)


@pytest.mark.parametrize("stop_value", [True, 1, "yes"])
def test_callback_returning_true_stops_at_that_epoch(stop_value):
    X, y = regression_data(23)
    later: list[int] = []
    history = nncore.MLP([3, 4, 1], seed=0).fit(
        X,
        y,
        epochs=50,
        n_iter_no_change=None,
        callbacks=[lambda r: stop_value if r["epoch"] == 3 else None, lambda r: later.append(1)],
    )
    assert history.stop_reason == "callback"
    assert history.epochs == 3
    assert len(later) == 3  # every callback still ran at the stopping epoch


class CallbackError(Exception):
    pass


def test_callback_exception_propagates_and_the_model_stays_usable():
    X, y = regression_data(24)

    def explode(record: dict[str, Any]) -> None:
        if record["epoch"] == 3:
            raise CallbackError("boom")

    model = nncore.MLP([3, 8, 1], "tanh", dtype="float64", seed=6)
    with pytest.raises(CallbackError, match="boom"):
        model.fit(X, y, epochs=20, callbacks=explode, n_iter_no_change=None)
    twin = nncore.MLP([3, 8, 1], "tanh", dtype="float64", seed=6)
    twin.fit(X, y, epochs=3, n_iter_no_change=None)
    np.testing.assert_array_equal(flat(model), flat(twin))  # the weights of epoch 3
    assert np.isfinite(model.loss(X, y))
    assert model.fit(X, y, epochs=2).stop_reason == "max_epochs"  # fit works again


def test_bad_callbacks_raise_type_error():
    X, y = regression_data(25)
    model = nncore.MLP([3, 4, 1], seed=0)
    for bad in (42, [print, 42], "print"):
        with pytest.raises(TypeError):
            model.fit(X, y, callbacks=bad)


# --------------------------------------------------------------------------------------------
# 7. verbose
# --------------------------------------------------------------------------------------------


def test_verbose_2_prints_one_line_per_epoch(capsys):
    X, y = regression_data(26)
    nncore.MLP([3, 4, 1], seed=0).fit(X, y, epochs=5, verbose=2, validation_split=0.2)
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 5
    for epoch, line in enumerate(lines, start=1):
        assert line.startswith(f"epoch {epoch}/5")
        assert "loss" in line and "val_loss" in line and "r2" in line
    assert err == ""


def epoch_numbers(text: str) -> list[int]:
    """The epochs of the progress lines ``epoch k/N  ...`` in ``text``."""
    return [int(line.split()[1].split("/")[0]) for line in text.splitlines()]


def test_verbose_1_without_a_terminal_prints_about_ten_lines(capsys):
    """A pipe, a CI log: plain lines on stderr — the first epoch, every ceil(N/10)-th, the last
    (also when training stops before N)."""
    X, y = regression_data(27)
    assert not sys.stderr.isatty()
    nncore.MLP([3, 4, 1], seed=0).fit(X, y, epochs=45, verbose=1, n_iter_no_change=None)
    out, err = capsys.readouterr()
    assert out == ""
    assert epoch_numbers(err) == [1, 5, 10, 15, 20, 25, 30, 35, 40, 45]
    assert all(line.startswith("epoch ") and "loss" in line for line in err.splitlines())
    stop_at_13 = lambda record: record["epoch"] == 13  # noqa: E731
    history = nncore.MLP([3, 4, 1], seed=0).fit(
        X, y, epochs=100, verbose=1, callbacks=stop_at_13, n_iter_no_change=None
    )
    assert history.epochs == 13
    assert epoch_numbers(capsys.readouterr().err) == [1, 10, 13]


def test_epoch_lines_print_at_least_every_interval():
    """Slow epochs get a line whenever ``interval`` seconds have passed since the last line."""
    import io

    from nncore.callbacks import EpochLines

    now = [0.0]
    stream = io.StringIO()
    lines = EpochLines(100, "r2", stream, every=50, interval=30.0, clock=lambda: now[0])
    # seconds since the previous line at each epoch's end: 3 (35 s), 6 (exactly 30 s)
    for epoch, seconds in ((1, 10), (2, 10), (3, 25), (4, 10), (5, 19), (6, 1), (7, 1)):
        now[0] += seconds
        lines({"epoch": epoch, "loss": 1.0, "metric": 0.5})
    lines.close()  # training ended at epoch 7: its line comes last
    assert epoch_numbers(stream.getvalue()) == [1, 3, 6, 7]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class NotebookShell:
    kernel = object()  # a Jupyter kernel's shell has one; a terminal IPython's has not
    config: ClassVar[dict[str, Any]] = {}


def test_verbose_1_draws_a_tqdm_bar_on_a_terminal_and_in_a_notebook(capsys, monkeypatch):
    pytest.importorskip("tqdm", reason="the bar is tqdm's")
    X, y = regression_data(31)
    terminal = Terminal()
    with monkeypatch.context() as patch:
        patch.setattr(sys, "stderr", terminal)
        nncore.MLP([3, 4, 1], seed=0).fit(X, y, epochs=5, verbose=1, n_iter_no_change=None)
    assert "5/5" in terminal.getvalue() and "epoch" in terminal.getvalue()
    assert "\n" not in terminal.getvalue().rstrip("\n")  # one line, redrawn
    # a notebook: stderr is no terminal, IPython (imported by the kernel) has a kernel shell
    fake_ipython = type(sys)("IPython")
    fake_ipython.get_ipython = NotebookShell  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", fake_ipython)
    nncore.MLP([3, 4, 1], seed=0).fit(X, y, epochs=5, verbose=1, n_iter_no_change=None)
    err = capsys.readouterr().err
    assert "5/5" in err and "epoch 1/5" not in err  # the bar, not the plain lines


def test_verbose_1_prints_lines_on_a_terminal_without_tqdm(monkeypatch):
    X, y = regression_data(32)
    terminal = Terminal()
    monkeypatch.setitem(sys.modules, "tqdm", None)  # not installed
    monkeypatch.setattr(sys, "stderr", terminal)
    nncore.MLP([3, 4, 1], seed=0).fit(X, y, epochs=20, verbose=1, n_iter_no_change=None)
    assert epoch_numbers(terminal.getvalue()) == [1, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20]


def test_verbose_0_is_silent(capsys):
    X, y = regression_data(28)
    nncore.MLP([3, 4, 1], seed=0).fit(X, y, epochs=3, verbose=0, validation_split=0.2)
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize(
    ("verbose", "error"), [(3, ValueError), (-1, ValueError), (1.5, TypeError)]
)
def test_bad_verbose_raises(verbose, error):
    X, y = regression_data(29)
    with pytest.raises(error):
        nncore.MLP([3, 4, 1], seed=0).fit(X, y, verbose=verbose)


# --------------------------------------------------------------------------------------------
# 8. Gradient norms
# --------------------------------------------------------------------------------------------


def gradient_norm(gradients: list[tuple[np.ndarray, np.ndarray | None]]) -> float:
    parts = [a.ravel() for pair in gradients for a in pair if a is not None]
    return float(np.linalg.norm(np.concatenate(parts)))


@pytest.mark.parametrize("use_bias", [True, False])
def test_gradient_norm_of_a_full_batch_epoch(use_bias):
    X, y = regression_data(30, n=25, n_outputs=2)
    model = nncore.MLP([3, 7, 2], "gelu", dtype="float64", seed=8, use_bias=use_bias)
    expected = gradient_norm(model.backward(X, y))
    history = model.fit(X, y, epochs=1, batch_size=25, shuffle=False, learning_rate=0.1)
    assert history.gradient_norm[0] > 0 and math.isfinite(history.gradient_norm[0])
    assert history.gradient_norm[0] == pytest.approx(expected, rel=NORM_RTOL)


def test_gradient_norm_is_the_mean_over_batches():
    """lr = 0: every batch sees the same parameters; the epoch's value is the mean of the
    per-batch norms of the weighted batch gradients (batches of 6 over 20 rows, the last 2)."""
    X, y = regression_data(31, n=20)
    w = np.random.default_rng(31).uniform(0.1, 2.0, size=20)
    model = nncore.MLP([3, 5, 1], "softplus", dtype="float64", seed=9)
    norms = [
        gradient_norm(model.backward(X[s : s + 6], y[s : s + 6], sample_weight=w[s : s + 6]))
        for s in range(0, 20, 6)
    ]
    history = model.fit(
        X, y, epochs=2, batch_size=6, shuffle=False, learning_rate=0.0, sample_weight=w
    )
    assert history.gradient_norm == pytest.approx([np.mean(norms)] * 2, rel=NORM_RTOL)


# --------------------------------------------------------------------------------------------
# 9. History export and plot
# --------------------------------------------------------------------------------------------


def test_history_to_dict_round_trips_through_json():
    X, y = regression_data(32)
    history = nncore.MLP([3, 4, 1], seed=0).fit(
        X, y, epochs=4, validation_split=0.25, patience=1, lr_schedule="exponential"
    )
    data = history.to_dict()
    assert json.loads(json.dumps(data)) == data
    for name in ("loss", "metric", "validation_loss", "validation_metric"):
        assert data[name] == getattr(history, name)
    assert data["gradient_norm"] == history.gradient_norm
    assert data["learning_rate"] == history.learning_rate
    assert data["stop_reason"] == history.stop_reason
    assert data["best_epoch"] == history.best_epoch
    assert data["epochs"] == history.epochs == len(history)
    assert all(type(v) is float for v in data["loss"] + data["validation_loss"])


def test_history_plot_returns_axes():
    pytest.importorskip("matplotlib", reason="matplotlib is not installed")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    X, y = regression_data(33)
    history = nncore.MLP([3, 4, 1], seed=0).fit(X, y, epochs=4, validation_split=0.25)
    ax = history.plot()
    try:
        assert isinstance(ax, matplotlib.axes.Axes)
        assert len(ax.get_lines()) >= 2
    finally:
        plt.close("all")


def test_history_plot_without_matplotlib_raises_import_error(monkeypatch):
    X, y = regression_data(34)
    history = nncore.MLP([3, 4, 1], seed=0).fit(X, y, epochs=2)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"matplotlib.*pip install"):
        history.plot()


# --------------------------------------------------------------------------------------------
# 10. Ctrl-C with early stopping (in a subprocess)
# --------------------------------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import json, signal, sys
    import numpy as np
    import nncore

    # Ctrl-C as in a terminal, even if the test process left SIGINT ignored (an ignored signal
    # stays ignored across exec, and Python then installs no KeyboardInterrupt handler).
    signal.signal(signal.SIGINT, signal.default_int_handler)

    rng = np.random.default_rng(0)
    X = rng.normal(size=(6000, 10))
    coefficients = rng.normal(size=(10, 1))
    y = X @ coefficients
    Xv = rng.normal(size=(200, 10))
    yv = -(Xv @ coefficients)  # validation mostly gets worse as training improves
    model = nncore.MLP([10, 128, 128, 1], "tanh", dtype="float64", seed=0)

    def tell(record):
        if record["epoch"] == 2:
            print("ready", flush=True)

    history = model.fit(
        X, y, learning_rate=0.01, epochs=1_000_000, batch_size=8, validation_data=(Xv, yv),
        patience=10**9, n_iter_no_change=None, callbacks=tell,
    )
    print(json.dumps({
        "stop_reason": history.stop_reason,
        "best_epoch": history.best_epoch,
        "validation_loss": history.validation_loss,
        "loss_now": model.loss(Xv, yv),
    }), flush=True)
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child needs POSIX signals")
def test_ctrl_c_with_early_stopping_restores_the_best_weights():
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.strip() == "ready", child.stderr.read() if child.stderr else ""
        # Epoch 2 has ended; after a short pause the child is inside epoch 3's native work
        # (each epoch takes ~0.1 s), where the loop polls for signals between batches.
        time.sleep(CHILD_PAUSE)
        os.kill(child.pid, signal.SIGINT)
        out, err = child.communicate(timeout=CHILD_TIMEOUT)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["stop_reason"] == "interrupted"
    losses = result["validation_loss"]
    assert len(losses) >= 2
    # The best epoch, the restored weights and the history agree. (Validation mostly gets worse
    # as training improves, but not monotonically: the best epoch may be the last one recorded.)
    assert result["best_epoch"] == int(np.argmin(losses)) + 1
    assert result["loss_now"] == min(losses)


# --------------------------------------------------------------------------------------------
# 11. Sample weights through fit
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "weights",
    [
        pytest.param(np.zeros(20), id="all-zero"),
        pytest.param(np.ones(19), id="too-short"),
        pytest.param(np.ones(21), id="too-long"),
        pytest.param(np.r_[np.ones(19), -0.5], id="negative"),
        pytest.param(np.r_[np.ones(19), np.nan], id="nan"),
        pytest.param(np.r_[np.ones(19), np.inf], id="inf"),
        pytest.param(np.ones((20, 1)), id="2-d"),
    ],
)
def test_bad_sample_weights_raise_and_change_nothing(weights):
    X, y = regression_data(35, n=20)
    model = nncore.MLP([3, 4, 1], "tanh", dtype="float64", seed=0, dropout=0.3)
    model.fit(X, y, epochs=1)  # a previous fit: an optimizer is set
    optimizer = model.optimizer
    before = flat(model)
    with pytest.raises(ValueError):
        model.fit(X, y, sample_weight=weights, epochs=3)
    np.testing.assert_array_equal(flat(model), before)
    assert model.optimizer is optimizer
    # the model's generator was not advanced either: the next fit equals a twin's
    twin = nncore.MLP([3, 4, 1], "tanh", dtype="float64", seed=0, dropout=0.3)
    twin.fit(X, y, epochs=1)
    assert model.fit(X, y, epochs=2).loss == twin.fit(X, y, epochs=2).loss


def test_sample_weights_of_the_training_part_of_a_split_must_not_sum_to_zero():
    X, y = regression_data(36, n=20)
    w = np.zeros(20)
    w[16:] = 1.0  # only the held-out rows count
    model = nncore.MLP([3, 4, 1], "tanh", dtype="float64", seed=0)
    before = flat(model)
    with pytest.raises(ValueError):
        model.fit(X, y, sample_weight=w, validation_split=0.2)
    np.testing.assert_array_equal(flat(model), before)
    assert model.optimizer is None


def test_zero_weight_rows_do_not_affect_fit():
    """Rows of weight 0 are ignored: replacing their targets changes nothing."""
    X, y = regression_data(37, n=20)
    w = np.ones(20)
    w[[2, 7, 13]] = 0.0
    y_other = y.copy()
    y_other[[2, 7, 13]] = 100.0
    a = nncore.MLP([3, 4, 1], "tanh", dtype="float64", seed=0)
    b = nncore.MLP([3, 4, 1], "tanh", dtype="float64", seed=0)
    ha = a.fit(X, y, sample_weight=w, epochs=3, batch_size=6)
    hb = b.fit(X, y_other, sample_weight=w, epochs=3, batch_size=6)
    np.testing.assert_array_equal(flat(a), flat(b))
    assert ha.loss == hb.loss


def test_fit_in_two_calls_trains_like_one_call() -> None:
    """Shuffled mini-batches: fit(2 epochs) then fit(3 epochs) == fit(5 epochs), bit for bit
    (each epoch's order depends on the generator only), for SGD with momentum and for Adam."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(37, 3)), rng.normal(size=(37, 1))
    for make in (lambda: nncore.optim.SGD(0.05, momentum=0.9), lambda: nncore.optim.Adam(0.01)):
        once = nncore.MLP([3, 6, 1], activation="tanh", dtype="float64", seed=4)
        twice = nncore.MLP([3, 6, 1], activation="tanh", dtype="float64", seed=4)
        kwargs = {"batch_size": 8, "n_iter_no_change": None}
        once.fit(X, y, optimizer=make(), epochs=5, **kwargs)
        twice.fit(X, y, optimizer=make(), epochs=2, **kwargs)
        twice.fit(X, y, epochs=3, **kwargs)  # optimizer=None: continues with the same one
        for a, b in zip(once.get_parameters()[0], twice.get_parameters()[0], strict=True):
            assert np.array_equal(a, b)


def test_ctrl_c_before_the_stopper_sees_the_last_epoch_keeps_history_and_weights_consistent(
    monkeypatch,
):
    """Ctrl-C can reach Python inside an epoch-end callback, after that epoch's record is kept
    but before early stopping has seen it: the stopper catches up after the loop, so the best
    epoch, the restored weights and the history agree (here the interrupted epoch is the best)."""
    from nncore import _fit_run

    class InterruptedOnce(_fit_run.EarlyStopping):
        interrupted = False

        def __call__(self, epoch, loss):
            if epoch == 3 and not InterruptedOnce.interrupted:
                InterruptedOnce.interrupted = True
                raise KeyboardInterrupt
            return super().__call__(epoch, loss)

    monkeypatch.setattr(_fit_run, "EarlyStopping", InterruptedOnce)
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((64, 3)), rng.standard_normal(64)
    model = nncore.MLP([3, 8, 1], "tanh", dtype="float64", seed=0)
    history = model.fit(
        X,
        y,
        learning_rate=0.05,
        epochs=10,
        batch_size=8,
        validation_data=(X, y),
        patience=100,
        n_iter_no_change=None,
    )
    assert history.stop_reason == "interrupted"
    losses = history.validation_loss
    assert len(losses) == 3
    assert history.best_epoch == int(np.argmin(losses)) + 1 == 3  # training data as validation
    assert model.loss(X, y) == min(losses)
