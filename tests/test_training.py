"""``MLP.step`` and ``MLP.fit`` against ``nncore.reference.numpy_reference``; determinism and
initialisation; learning on the bundled data sets; stopping rules, divergence and Ctrl-C."""

from __future__ import annotations

import contextlib
import math
import os
import re
import signal
import sys
import threading
import time
import zlib
from typing import Any

import numpy as np
import pytest

import nncore
from conftest import (
    all_finite,
    assert_close_scaled,
    random_problem,
    reference_gradients,
    reference_parameters,
)
from nncore.reference import numpy_reference as nref

# --------------------------------------------------------------------------------------------
# Tolerances and thresholds
# --------------------------------------------------------------------------------------------

# One float64 SGD update θ − lr·g: one multiply and one subtract (the core may fuse them), so
# at most an ulp or two from the reference.
STEP_RTOL = 1e-12
# float32 update vs the same update computed in float32 by NumPy: an ulp or two of float32.
STEP32_RTOL = 1e-6
# fit vs numpy_reference.fit, float64: a few epochs of small-batch SGD on small problems; the
# per-step rounding differences (~1e-16) grow only mildly over ~100 steps.
FIT_RTOL = 1e-9
# Absolute floor (times the array's largest entry) for entries that are ~0 by cancellation.
FIT_ATOL_SCALE = FIT_RTOL
# Initialisation: the sample std of N weights has relative standard error ~1/sqrt(2N) ≈ 0.1%
# for N = 240,000 (600x400), so 2% is ~15 standard errors: never flaky, still catches a wrong
# formula (e.g. fan_in vs fan_in+fan_out is a factor >= 1.2).
INIT_STD_RTOL = 0.02
# |sample mean| below this many standard errors of the mean.
INIT_MEAN_SIGMAS = 6.0
# Learning: thresholds measured over 8-12 seeds each with a margin (see each test).
XOR_SEEDS = [0, 1, 2, 3, 4]
# [1,16,16,1] tanh, lr 0.1, batch 8, 1000 epochs on make_sine(256): the MSE reached over seeds
# 0..11 was 8e-6 .. 2.4e-4 (float32 and float64 alike); 1e-3 leaves a 4x margin.
SINE_MSE = 1e-3
# [2,32,32,3] tanh/softmax, lr 0.1, batch 32, 300 epochs on make_spirals(): accuracy 1.0 for
# seeds 0..7 in both dtypes (0.998 already after 200 epochs); 0.97 leaves a margin.
SPIRALS_ACCURACY = 0.97
# Ctrl-C: the loop polls for signals every 50 ms between batches; allow generous scheduling slack.
INTERRUPT_DELAY = 0.5
INTERRUPT_SLACK = 2.0


def stable_seed(*parts: Any) -> int:
    return zlib.crc32(repr(parts).encode())


def assert_parameters_close(model, weights, biases, rtol, atol_scale):
    got_w, got_b = reference_parameters(model)
    for layer, (a, e) in enumerate(zip(got_w, weights, strict=True)):
        assert_close_scaled(a, e, rtol, atol_scale, f"W[{layer}]")
    if biases is None:
        assert got_b is None
    else:
        for layer, (a, e) in enumerate(zip(got_b, biases, strict=True)):
            assert_close_scaled(a, e, rtol, atol_scale, f"b[{layer}]")


def flat_parameters(model) -> np.ndarray:
    weights, biases = model.get_parameters()
    return np.concatenate([a.ravel() for a in [*weights, *biases]])


# --------------------------------------------------------------------------------------------
# 1. one step
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("learning_rate", [0.0, 0.1, 3.7])
def test_step_matches_reference_sgd_step(learning_rate, use_bias):
    rng = np.random.default_rng(stable_seed("step", learning_rate, use_bias))
    model, X, y, _ = random_problem(
        rng, [4, 7, 5, 3], "tanh", "softmax", "cce", n=11, use_bias=use_bias
    )
    weights, biases = reference_parameters(model)
    gradients = model.backward(X, y)
    dWs, dbs = reference_gradients(gradients)
    expected_w, expected_b = nref.sgd_step(weights, biases, dWs, dbs, learning_rate)
    model.step(gradients, learning_rate)
    assert_parameters_close(model, expected_w, expected_b, STEP_RTOL, 0.0)


def test_step_float32_matches_reference_sgd_step():
    rng = np.random.default_rng(stable_seed("step32"))
    model, X, y, _ = random_problem(rng, [3, 6, 2], "relu", "identity", "mse", 9, "float32")
    weights, biases = model.get_parameters()  # float32: the reference then works in float32
    gradients = model.backward(X, y)
    expected_w, expected_b = nref.sgd_step(weights, biases, *reference_gradients(gradients), 0.3)
    assert expected_w[0].dtype == np.float32
    model.step(gradients, 0.3)
    assert_parameters_close(model, expected_w, expected_b, STEP32_RTOL, 0.0)


def test_step_accepts_arbitrary_gradients():
    """``step`` takes any list of (dW, db) pairs shaped like the parameters (nested lists too)."""
    model = nncore.MLP([2, 3, 1], dtype="float64", seed=5)
    weights, biases = reference_parameters(model)
    dWs = [np.full((2, 3), 0.5), np.arange(3.0).reshape(3, 1)]
    dbs = [np.array([1.0, -1.0, 2.0]), np.array([4.0])]
    expected_w, expected_b = nref.sgd_step(weights, biases, dWs, dbs, 0.25)
    model.step([(dWs[0].tolist(), dbs[0].tolist()), (dWs[1], dbs[1])], 0.25)
    assert_parameters_close(model, expected_w, expected_b, STEP_RTOL, 0.0)


# --------------------------------------------------------------------------------------------
# 2. whole fits vs the reference
# --------------------------------------------------------------------------------------------

FIT_CASES = [
    # (hidden activation, output activation, loss, layer sizes)
    ("tanh", "identity", "mean_squared_error", [3, 8, 2]),
    ("relu", "identity", "mean_squared_error", [3, 8, 6, 1]),
    ("leaky_relu", "tanh", "mean_squared_error", [3, 5, 2]),
    ("sigmoid", "sigmoid", "binary_cross_entropy", [3, 8, 2]),
    ("tanh", "softmax", "categorical_cross_entropy", [3, 8, 4]),
    ("leaky_relu", "softmax", "categorical_cross_entropy", [3, 6, 5, 3]),
]
N_FIT = 23
FIT_EPOCHS = 6


@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "nobias"])
# 23 rows: batches of 1, of 5 (last has 3), of 23 (one full batch) and of 64 (> n: one batch).
@pytest.mark.parametrize("batch_size", [1, 5, 23, 64])
@pytest.mark.parametrize(
    ("activation", "output_activation", "loss", "sizes"),
    [pytest.param(*case, id=f"{case[0]}-{case[1]}-{case[2]}") for case in FIT_CASES],
)
def test_fit_matches_reference(activation, output_activation, loss, sizes, batch_size, use_bias):
    rng = np.random.default_rng(stable_seed("fit", activation, loss, batch_size, use_bias))
    model, X, y, Y = random_problem(
        rng, sizes, activation, output_activation, loss, n=N_FIT, use_bias=use_bias
    )
    weights, biases = reference_parameters(model)
    learning_rate = 0.05
    expected_w, expected_b, expected_losses = nref.fit(
        weights, biases, X, Y, model.activations, loss, learning_rate, FIT_EPOCHS, batch_size
    )
    history = model.fit(
        X,
        y,
        loss,
        learning_rate=learning_rate,
        epochs=FIT_EPOCHS,
        batch_size=batch_size,
        shuffle=False,
        n_iter_no_change=None,
    )
    assert history.stop_reason == "max_epochs"
    assert len(history.loss) == history.epochs == FIT_EPOCHS
    np.testing.assert_allclose(history.loss, expected_losses, rtol=FIT_RTOL, atol=0)
    assert_parameters_close(model, expected_w, expected_b, FIT_RTOL, FIT_ATOL_SCALE)
    # The training actually moved the parameters (the comparison is not vacuous).
    assert not np.allclose(expected_w[0], weights[0])


def test_fit_with_one_hot_targets_equals_fit_with_labels():
    rng = np.random.default_rng(stable_seed("one-hot fit"))
    model, X, y, Y = random_problem(rng, [3, 8, 4], "tanh", "softmax", "cce", n=N_FIT)
    twin = nncore.MLP([3, 8, 4], "tanh", "softmax", dtype="float64", seed=model.seed)
    twin.set_parameters(*model.get_parameters())
    h1 = model.fit(X, y, epochs=4, batch_size=5, learning_rate=0.1)
    h2 = twin.fit(X, Y, epochs=4, batch_size=5, learning_rate=0.1)
    assert h1.loss == h2.loss
    np.testing.assert_array_equal(flat_parameters(model), flat_parameters(twin))


# --------------------------------------------------------------------------------------------
# 3. determinism and initialisation
# --------------------------------------------------------------------------------------------


def spiral_model(seed, dtype="float64", **kwargs):
    return nncore.MLP([2, 16, 16, 3], "relu", "softmax", dtype=dtype, seed=seed, **kwargs)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_same_seed_gives_bit_identical_fit(dtype):
    X, y = nncore.datasets.make_spirals(200)
    runs = []
    for seed in (7, 7, 8):
        model = spiral_model(seed, dtype)
        initial = flat_parameters(model)
        history = model.fit(X, y, learning_rate=0.1, epochs=5, batch_size=16, shuffle=True)
        runs.append((initial, flat_parameters(model), history.loss))
    (init_a, final_a, loss_a), (init_b, final_b, loss_b), (init_c, final_c, _) = runs
    np.testing.assert_array_equal(init_a, init_b)
    np.testing.assert_array_equal(final_a, final_b)
    assert loss_a == loss_b
    assert not np.array_equal(init_a, init_c)
    assert not np.array_equal(final_a, final_c)


def test_shuffle_uses_the_seed_and_changes_the_order():
    """Same initial weights, different shuffling seeds (via a reseeded twin) give different fits;
    shuffle=False gives the reference's in-order fit."""
    X, y = nncore.datasets.make_spirals(200)
    base = spiral_model(1)
    params = base.get_parameters()
    finals = {}
    for name, seed, shuffle in [("a", 1, True), ("b", 2, True), ("in order", 1, False)]:
        model = spiral_model(seed)
        model.set_parameters(*params)
        model.fit(X, y, learning_rate=0.1, epochs=2, batch_size=16, shuffle=shuffle)
        finals[name] = flat_parameters(model)
    assert not np.array_equal(finals["a"], finals["b"])
    assert not np.array_equal(finals["a"], finals["in order"])


def test_consecutive_fits_continue_the_generator():
    """A second fit continues from the model's generator: it does not replay the first order."""
    X, y = nncore.datasets.make_spirals(200)
    one, two = spiral_model(3), spiral_model(3)
    one.fit(X, y, epochs=1, batch_size=16, learning_rate=0.0)
    one.fit(X, y, epochs=1, batch_size=16, learning_rate=0.1)
    two.fit(X, y, epochs=1, batch_size=16, learning_rate=0.1)
    assert not np.array_equal(flat_parameters(one), flat_parameters(two))


INIT_FORMULAS = {
    # name: (uniform?, scale as a function of (n_in, n_out)): the limit or the std
    "glorot_uniform": (True, lambda n_in, n_out: math.sqrt(6 / (n_in + n_out))),
    "glorot_normal": (False, lambda n_in, n_out: math.sqrt(2 / (n_in + n_out))),
    "he_uniform": (True, lambda n_in, n_out: math.sqrt(6 / n_in)),
    "he_normal": (False, lambda n_in, n_out: math.sqrt(2 / n_in)),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("init", list(INIT_FORMULAS))
def test_initialisation_scale(init, dtype):
    uniform, formula = INIT_FORMULAS[init]
    sizes = [600, 400, 300]
    model = nncore.MLP(sizes, "relu", dtype=dtype, seed=11, init=init)
    for layer, (W, b) in enumerate(zip(model.weights, model.biases, strict=True)):
        n_in, n_out = sizes[layer], sizes[layer + 1]
        scale = formula(n_in, n_out)
        std = scale / math.sqrt(3) if uniform else scale  # U(−a, a) has std a/√3
        values = W.astype(np.float64).ravel()
        assert values.std() == pytest.approx(std, rel=INIT_STD_RTOL), f"layer {layer}"
        assert abs(values.mean()) < INIT_MEAN_SIGMAS * std / math.sqrt(values.size)
        if uniform:
            assert np.abs(values).max() <= scale
            assert np.abs(values).max() > 0.99 * scale  # the whole interval is used
        else:
            # About 0.27% of normal draws lie beyond 3σ; a uniform would have none.
            beyond = np.mean(np.abs(values) > 3 * std)
            assert 0.001 < beyond < 0.005
        np.testing.assert_array_equal(b, 0.0)


@pytest.mark.parametrize(
    ("activation", "sizes", "expected"),
    [
        ("relu", [5, 7, 3], "he_uniform"),
        ("leaky_relu", [5, 7, 3], "he_uniform"),
        ("tanh", [5, 7, 3], "glorot_uniform"),
        ("sigmoid", [5, 7, 3], "glorot_uniform"),
        ("relu", [5, 3], "glorot_uniform"),  # no hidden layer: nothing is relu
    ],
)
def test_auto_init_picks_he_for_relu_and_glorot_otherwise(activation, sizes, expected):
    auto = nncore.MLP(sizes, activation, seed=4, init="auto")
    explicit = nncore.MLP(sizes, activation, seed=4, init=expected)
    np.testing.assert_array_equal(flat_parameters(auto), flat_parameters(explicit))


# --------------------------------------------------------------------------------------------
# 4. learning works
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("seed", XOR_SEEDS)
def test_xor_is_learned(seed, dtype):
    X, y = nncore.datasets.make_xor()
    model = nncore.MLP([2, 16, 1], "tanh", "sigmoid", dtype=dtype, seed=seed)
    history = model.fit(X, y, learning_rate=0.5, epochs=500, batch_size=4)
    np.testing.assert_array_equal(model.predict(X), y)
    assert history.loss[-1] < history.loss[0]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sine_regression_is_learned(seed, dtype):
    X, y = nncore.datasets.make_sine(256)
    model = nncore.MLP([1, 16, 16, 1], "tanh", dtype=dtype, seed=seed)
    model.fit(X, y, learning_rate=0.1, epochs=1000, batch_size=8, n_iter_no_change=None)
    prediction = model.predict(X)
    assert prediction.dtype == np.dtype(dtype)
    mse = float(np.mean((prediction - y) ** 2))
    assert mse < SINE_MSE
    assert model.loss(X, y) == pytest.approx(mse, rel=1e-3 if dtype == "float32" else 1e-9)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("seed", [0, 1])
def test_spirals_are_learned(seed, dtype):
    X, y = nncore.datasets.make_spirals()
    model = nncore.MLP([2, 32, 32, 3], "tanh", "softmax", dtype=dtype, seed=seed)
    model.fit(X, y, "cce", learning_rate=0.1, epochs=300, batch_size=32, n_iter_no_change=None)
    accuracy = float(np.mean(model.predict(X) == y))
    assert accuracy >= SPIRALS_ACCURACY
    np.testing.assert_allclose(model.predict_proba(X).sum(axis=1), 1.0, rtol=1e-5)


# --------------------------------------------------------------------------------------------
# 5. stopping rules, callbacks, verbose
# --------------------------------------------------------------------------------------------


def xor_model(seed=0, dtype="float64"):
    return nncore.MLP([2, 16, 1], "tanh", "sigmoid", dtype=dtype, seed=seed)


def test_target_loss_stops_early():
    X, y = nncore.datasets.make_xor()
    target = 0.1
    history = xor_model().fit(X, y, learning_rate=0.5, epochs=2000, target_loss=target)
    assert history.stop_reason == "target_loss"
    assert history.loss[-1] <= target
    assert all(value > target for value in history.loss[:-1])  # stopped at the first such epoch
    assert len(history.loss) < 2000


def test_target_loss_never_reached_runs_all_epochs():
    X, y = nncore.datasets.make_xor()
    history = xor_model().fit(X, y, learning_rate=0.5, epochs=30, target_loss=1e-9)
    assert history.stop_reason == "max_epochs"
    assert len(history.loss) == 30


def expected_stop_epoch(losses: list[float], patience: int, tol: float) -> int | None:
    """The documented rule: an epoch improves when loss < best − tol; stop after ``patience``
    consecutive epochs without improvement. Returns the 1-based stopping epoch (or None)."""
    best, without = math.inf, 0
    for epoch, value in enumerate(losses, start=1):
        without = 0 if value < best - tol else without + 1
        best = min(best, value)
        if without >= patience:
            return epoch
    return None


@pytest.mark.parametrize("patience", [1, 2, 5])
def test_no_improvement_with_zero_learning_rate(patience):
    # lr = 0 and a fixed order: every epoch has exactly the same loss, so only the first epoch
    # improves (on +inf) and training stops after 1 + n_iter_no_change epochs.
    X, y = nncore.datasets.make_xor()
    model = xor_model()
    before = flat_parameters(model)
    history = model.fit(
        X, y, learning_rate=0.0, epochs=100, shuffle=False, n_iter_no_change=patience
    )
    assert history.stop_reason == "no_improvement"
    assert len(history.loss) == patience + 1
    assert len(set(history.loss)) == 1
    np.testing.assert_array_equal(flat_parameters(model), before)


@pytest.mark.parametrize(("patience", "tol"), [(3, 1e-3), (2, 1e-4), (4, 10.0)])
def test_no_improvement_follows_the_documented_rule(patience, tol):
    """Run once without early stopping, apply the documented rule to the recorded losses, and
    check that a fit with early stopping stops exactly there, with the same losses."""
    X, y = nncore.datasets.make_sine(64)
    kwargs = {"learning_rate": 0.05, "epochs": 300, "batch_size": 16, "shuffle": False}
    free = nncore.MLP([1, 8, 1], "tanh", dtype="float64", seed=2)
    full = free.fit(X, y, n_iter_no_change=None, **kwargs).loss
    stop = expected_stop_epoch(full, patience, tol)
    assert stop is not None and stop < len(full)
    history = nncore.MLP([1, 8, 1], "tanh", dtype="float64", seed=2).fit(
        X, y, n_iter_no_change=patience, tol=tol, **kwargs
    )
    assert history.stop_reason == "no_improvement"
    assert history.loss == full[:stop]


def test_default_n_iter_no_change_is_ten():
    X, y = nncore.datasets.make_xor()
    history = xor_model().fit(X, y, learning_rate=0.0, epochs=100, shuffle=False)
    assert history.stop_reason == "no_improvement"
    assert len(history.loss) == 11


@pytest.mark.parametrize("stop_at", [1, 3])
def test_callback_stops_training(stop_at):
    X, y = nncore.datasets.make_xor()
    records: list[dict[str, Any]] = []

    def callback(record):
        records.append(dict(record))
        return record["epoch"] == stop_at

    history = xor_model().fit(X, y, learning_rate=0.5, epochs=50, callbacks=[callback])
    assert history.stop_reason == "callback"
    assert len(history.loss) == stop_at
    assert [r["epoch"] for r in records] == list(range(1, stop_at + 1))
    assert [r["loss"] for r in records] == history.loss


def test_every_callback_is_called_and_falsy_returns_continue():
    X, y = nncore.datasets.make_xor()
    calls: dict[str, int] = {"a": 0, "b": 0}

    def a(record):
        calls["a"] += 1
        return None

    def b(record):
        calls["b"] += 1
        return 0

    history = xor_model().fit(X, y, epochs=7, n_iter_no_change=None, callbacks=[a, b])
    assert history.stop_reason == "max_epochs"
    assert calls == {"a": 7, "b": 7}


def test_exception_in_callback_propagates():
    X, y = nncore.datasets.make_xor()

    def callback(record):
        if record["epoch"] == 2:
            raise ZeroDivisionError("from the callback")

    with pytest.raises(ZeroDivisionError, match="from the callback"):
        xor_model().fit(X, y, epochs=10, callbacks=[callback])


def test_verbose_prints_one_line_per_epoch(capsys):
    # verbose=2: one line per epoch on stdout. (verbose=1 is a progress bar on a terminal.)
    X, y = nncore.datasets.make_xor()
    history = xor_model().fit(X, y, epochs=12, n_iter_no_change=None, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(history.loss) == 12
    for epoch, line in enumerate(lines, start=1):
        # The exact format is free; each line names its epoch (of 12) and the loss.
        assert re.search(rf"\b{epoch}\s*/\s*12\b", line), line
        assert "loss" in line.lower(), line


def test_verbose_zero_prints_nothing(capsys):
    X, y = nncore.datasets.make_xor()
    xor_model().fit(X, y, epochs=5)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


# --------------------------------------------------------------------------------------------
# 6. divergence
# --------------------------------------------------------------------------------------------


def diverging_problem(dtype):
    """A linear regression whose SGD iteration is unstable at lr = 1: it blows up geometrically."""
    X, y = nncore.datasets.make_sine(64)
    model = nncore.MLP([1, 8, 1], "identity", dtype=dtype, seed=0)
    return model, 10 * X, y


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_divergence_raises_and_keeps_finite_weights(dtype):
    model, X, y = diverging_problem(dtype)
    with pytest.raises(nncore.DivergenceError) as info:
        model.fit(X, y, learning_rate=1.0, epochs=1000, batch_size=16, shuffle=False)
    assert isinstance(info.value, FloatingPointError)
    match = re.search(r"epoch (\d+), batch (\d+)", str(info.value))
    assert match, str(info.value)
    epoch, batch = int(match[1]), int(match[2])
    assert 1 <= epoch <= 1000 and 1 <= batch <= 4
    assert all_finite(model)
    # "The model keeps the weights from before that batch": replay the same batches with the
    # step API (the same native code) up to the failing one.
    replay, _, _ = diverging_problem(dtype)
    for _ in range(epoch - 1):
        for start in range(0, 64, 16):
            replay.step(replay.backward(X[start : start + 16], y[start : start + 16]), 1.0)
    for start in range(0, 16 * (batch - 1), 16):
        replay.step(replay.backward(X[start : start + 16], y[start : start + 16]), 1.0)
    np.testing.assert_array_equal(flat_parameters(model), flat_parameters(replay))


@pytest.mark.parametrize(
    ("dtype", "learning_rate", "epochs"),
    [
        # θ − lr·g overflows to ±inf in the update itself (g and the loss are finite), in the
        # last batch of the last epoch: nothing checks the result.
        ("float64", 1e300, 1),
        ("float32", 1e30, 1),
        # ... and in an earlier batch: the next batch's loss is non-finite, DivergenceError says
        # "the model keeps the weights from before this batch", but those are already ±inf.
        ("float64", 1e300, 3),
        # A learning rate that is finite as a Python float but overflows float32.
        ("float32", 1e39, 3),
    ],
)
def test_fit_never_leaves_non_finite_parameters(dtype, learning_rate, epochs):
    X = np.array([[1.0], [2.0]])
    y = np.array([1e10, 2e10])
    model = nncore.MLP([1, 1], dtype=dtype, seed=0)
    with contextlib.suppress(nncore.DivergenceError, ValueError):
        model.fit(X, y, learning_rate=learning_rate, epochs=epochs, batch_size=2)
    assert all_finite(model), model.get_parameters()


@pytest.mark.parametrize(
    ("dtype", "learning_rate"),
    [
        ("float64", 1e300),  # lr·g overflows
        ("float32", 1e39),  # lr itself is not representable in float32
    ],
)
def test_step_never_leaves_non_finite_parameters(dtype, learning_rate):
    """``step`` is "the same native update as fit": it must not silently make the model
    non-finite either (raise and leave the model unchanged, or stay finite)."""
    X = np.array([[1.0], [2.0]])
    y = np.array([1e10, 2e10])
    model = nncore.MLP([1, 1], dtype=dtype, seed=0)
    gradients = model.backward(X, y)
    before = flat_parameters(model)
    try:
        model.step(gradients, learning_rate)
    except (FloatingPointError, ValueError):
        np.testing.assert_array_equal(flat_parameters(model), before)
    assert all_finite(model), model.get_parameters()


# --------------------------------------------------------------------------------------------
# 7. Ctrl-C
# --------------------------------------------------------------------------------------------


def interrupt_problem(dtype="float64"):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 10))
    y = rng.normal(size=(2000, 1))
    return nncore.MLP([10, 64, 64, 1], "tanh", dtype=dtype, seed=0), X, y


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="signals need the main thread"
)
def test_ctrl_c_interrupts_fit_in_process():
    model, X, y = interrupt_problem()
    # Size the fit to take ~30 s uninterrupted, so that the signal surely arrives during it
    # (and a broken interrupt makes the test fail slowly instead of hang).
    start = time.perf_counter()
    model.fit(X, y, epochs=2, n_iter_no_change=None)
    per_epoch = max((time.perf_counter() - start) / 2, 1e-4)
    epochs = max(int(30 / per_epoch), 100)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(INTERRUPT_DELAY, os.kill, (os.getpid(), signal.SIGINT))
    try:
        start = time.perf_counter()
        timer.start()
        history = model.fit(X, y, epochs=epochs, n_iter_no_change=None)
        elapsed = time.perf_counter() - start
        timer.join()  # if fit ended before the signal, the KeyboardInterrupt comes here
        time.sleep(0.01)
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C escaped as KeyboardInterrupt instead of stopping fit")
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    assert history.stop_reason == "interrupted"
    assert elapsed < INTERRUPT_DELAY + INTERRUPT_SLACK
    assert 0 < len(history.loss) < epochs
    assert all(np.isfinite(history.loss))
    assert all_finite(model)
    assert np.isfinite(model.loss(X, y))
    # The model is usable afterwards: fit again normally.
    assert model.fit(X, y, epochs=1).stop_reason == "max_epochs"


class _InterruptingStream:
    """A stdout that receives Ctrl-C (SIGINT) while the line of epoch ``at_epoch`` is written,
    as when a user presses Ctrl-C while ``verbose=2`` prints."""

    def __init__(self, at_epoch: int) -> None:
        self.at_epoch, self.lines, self.sent = at_epoch, 0, False

    def write(self, text: str) -> int:
        self.lines += text.count("\n")
        if not self.sent and self.lines >= self.at_epoch:
            self.sent = True
            os.kill(os.getpid(), signal.SIGINT)
            self._keep_writing()  # more Python code runs: Python raises KeyboardInterrupt here
        return len(text)

    def _keep_writing(self) -> None:
        pass

    def flush(self) -> None:
        pass


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="signals need the main thread"
)
def test_ctrl_c_while_printing_progress_returns_interrupted(monkeypatch):
    """Ctrl-C that arrives while Python code runs at an epoch end (here: the verbose=2 line),
    where Python raises the KeyboardInterrupt, must still end fit normally with "interrupted"."""
    X, y = nncore.datasets.make_xor()
    model = xor_model()
    stream = _InterruptingStream(at_epoch=3)
    monkeypatch.setattr(sys, "stdout", stream)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        history = model.fit(X, y, epochs=1000, n_iter_no_change=None, verbose=2)
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C during the epoch-end output escaped fit as KeyboardInterrupt")
    finally:
        signal.signal(signal.SIGINT, previous)
    assert stream.sent
    assert history.stop_reason == "interrupted"
    assert 3 <= len(history.loss) < 1000
    assert all_finite(model)


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="signals need the main thread"
)
@pytest.mark.parametrize(
    "fit_kwargs",
    [
        pytest.param({"callbacks": [lambda record: False]}, id="callback"),
        pytest.param({"validation_data": "train"}, id="validation_data"),
    ],
)
def test_ctrl_c_with_epoch_end_python_code_returns_interrupted(fit_kwargs):
    """With anything that runs Python at epoch ends (a callback; validation/early stopping), a
    Ctrl-C that arrives while the native loop runs is delivered by Python when the epoch-end
    code is entered. fit must still return normally with "interrupted"."""
    X, y = nncore.datasets.make_xor()
    if fit_kwargs.get("validation_data") == "train":
        fit_kwargs = {"validation_data": (X, y)}
    model = xor_model()
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(INTERRUPT_DELAY, os.kill, (os.getpid(), signal.SIGINT))
    try:
        timer.start()
        # Tiny epochs: ~1e5 per second; 10**9 of them never finish before the signal.
        history = model.fit(X, y, epochs=10**9, n_iter_no_change=None, **fit_kwargs)
        timer.join()
        time.sleep(0.01)
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C escaped fit as KeyboardInterrupt instead of stopping it")
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    assert history.stop_reason == "interrupted"
    assert all_finite(model)


def _at_offset(a: np.ndarray, offset: int) -> np.ndarray:
    """A copy of ``a`` starting ``offset`` elements past a 64-byte boundary."""
    buffer = np.empty(a.size + 64, dtype=a.dtype)
    start = (-buffer.ctypes.data % 64) // a.itemsize + offset
    view = buffer[start : start + a.size].reshape(a.shape)
    view[...] = a
    return view


@pytest.mark.parametrize("threads", [1, 2])
def test_fit_does_not_depend_on_where_the_arrays_start(threads: int) -> None:
    """Every sum that reaches the gradients runs in a fixed order (a vectorised sum's order
    depends on the alignment of its first element): the same data at other addresses train to
    the same bits. The network is large enough for batches to be split into row blocks."""
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((100, 64)), rng.standard_normal((100, 10))
    w = rng.uniform(0.2, 2.0, 100)
    before = nncore.get_num_threads()
    nncore.set_num_threads(threads)
    try:
        results = []
        for offset in range(8):  # every 8-byte offset within a 64-byte line
            model = nncore.MLP([64, 128, 128, 10], activation="tanh", dtype="float64", seed=5)
            model.fit(
                _at_offset(X, offset),
                _at_offset(Y, offset),
                sample_weight=_at_offset(w, offset),
                loss="mse",
                epochs=1,
                batch_size=32,
                shuffle=False,
                n_iter_no_change=None,
            )
            results.append(model._network.parameters.copy())
    finally:
        nncore.set_num_threads(before)
    for result in results[1:]:
        np.testing.assert_array_equal(result, results[0])


@pytest.mark.parametrize("magnitude", [1e38, 2e38])
def test_plain_sgd_near_the_float32_limit_is_checked(magnitude: float) -> None:
    """Plain SGD skips the rollback copy and the finiteness check only when max|θ| + η·max|g| is
    below half the largest float. Here W is near the limit and the bias's step decides: a step
    that overflows must raise and restore the weights, one that does not is θ − η·g."""
    X = np.array([[1e-30], [2e-30]], dtype=np.float32)  # W·x ≈ 1e8: the loss stays finite
    y = np.array([1.0, 2.0], dtype=np.float32)
    for learning_rate, overflows in [(1e-3, False), (1e31, True)]:
        model = nncore.MLP([1, 1], dtype="float32", seed=0)
        model._network.parameters[:] = [magnitude, 0.5]  # W, b
        before = model._network.parameters.copy()
        ((dW, db),) = model.backward(X, y, loss="mse")
        if overflows:
            assert abs(learning_rate * float(db[0])) > 3.5e38  # b − η·g_b overflows
            with pytest.raises(
                nncore.DivergenceError,
                match="update made parameters or the optimizer's state non-finite",
            ):
                model.fit(X, y, loss="mse", learning_rate=learning_rate, epochs=1, batch_size=2)
            np.testing.assert_array_equal(model._network.parameters, before)
        else:
            model.fit(X, y, loss="mse", learning_rate=learning_rate, epochs=1, batch_size=2)
            step = np.float32(learning_rate) * np.array([dW[0, 0], db[0]], np.float32)
            np.testing.assert_allclose(model._network.parameters, before - step, rtol=1e-6)


def test_plain_sgd_with_a_learning_rate_beyond_float32_is_checked() -> None:
    """η = 1e39 is finite as a Python float but inf in float32, where the update multiplies by
    it: given to fit it is refused at the door (ValueError, nothing changes); reached by a
    schedule (epoch 2 of η₀·1e39^(e−1) from η₀ = 1), however small the gradient, that step is
    checked (raises and restores the weights of epoch 1)."""
    X = np.array([[1e-3], [2e-3]], dtype=np.float32)
    y = np.zeros(2, dtype=np.float32)
    model = nncore.MLP([1, 1], dtype="float32", seed=0)
    model._network.parameters[:] = [0.5, 0.0]
    before = model._network.parameters.copy()
    with pytest.raises(ValueError, match="learning_rate=1e\\+39 overflows float32"):
        model.fit(X, y, loss="mse", learning_rate=1e39, epochs=1, batch_size=2)
    np.testing.assert_array_equal(model._network.parameters, before)
    after_epoch_1: list[np.ndarray] = []
    with pytest.raises(
        nncore.DivergenceError, match="update made parameters or the optimizer's state non-finite"
    ):
        model.fit(
            X,
            y,
            loss="mse",
            learning_rate=1.0,
            lr_schedule=nncore.schedules.ExponentialDecay(gamma=1e39),
            epochs=2,
            batch_size=2,
            callbacks=lambda record: after_epoch_1.append(model._network.parameters.copy()),
        )
    assert len(after_epoch_1) == 1 and not np.array_equal(after_epoch_1[0], before)
    np.testing.assert_array_equal(model._network.parameters, after_epoch_1[0])


def test_weights_changed_by_a_callback_are_bounded_again() -> None:
    """The bound on max|θ| that lets plain SGD skip the check is retaken after every epoch-end
    callback: a callback that sets W to the largest float32 makes the next step checked."""
    X = np.array([[1e-20], [1e-20]], dtype=np.float32)  # W·x ≤ 3.4e18: the loss stays finite
    y = np.array([1e19, 1e19], dtype=np.float32)
    largest = np.finfo(np.float32).max

    def push_to_the_limit(record: Any) -> None:
        if record["epoch"] == 1:
            model._network.parameters[:] = [largest]

    model = nncore.MLP([1, 1], use_bias=False, dtype="float32", seed=0)
    # Epoch 1 moves W by about η·0.2 = 2e32 (finite); in epoch 2, W − η·g_W = largest + 1.3e32
    # overflows, while η·max|g| alone stays far below the limit.
    with pytest.raises(nncore.DivergenceError, match="non-finite at epoch 2, batch 1"):
        model.fit(
            X,
            y,
            loss="mse",
            learning_rate=1e33,
            epochs=2,
            batch_size=2,
            callbacks=push_to_the_limit,
            n_iter_no_change=None,
        )
    np.testing.assert_array_equal(model._network.parameters, [largest])
