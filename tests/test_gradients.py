"""The native forward, loss and backward propagation against ``nncore.reference.numpy_reference``
and against central finite differences, for every valid activation × loss combination."""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import pytest

import nncore
from conftest import (
    assert_close_scaled,
    random_problem,
    reference_gradients,
    reference_parameters,
)
from nncore.reference import numpy_reference as nref

# --------------------------------------------------------------------------------------------
# Tolerances
# --------------------------------------------------------------------------------------------

# float64 backward vs the float64 reference: the same formulas, summed in a different order
# (Eigen's blocked/vectorised products vs BLAS), so they differ by a few ulps times the depth.
GRAD_RTOL = 1e-10
# Entries produced by cancellation (a sum of terms much larger than the result) have a large
# relative rounding error; allow an absolute error of GRAD_RTOL times the array's largest entry.
GRAD_ATOL_SCALE = GRAD_RTOL
# float32 backward vs the float64 reference of the same (float32) weights and inputs: float32
# rounding (eps ≈ 6e-8) accumulated over products of width <= 64 and up to 4 layers.
GRAD32_RTOL = 1e-4
GRAD32_ATOL_SCALE = GRAD32_RTOL
# forward / loss in float64: a few matrix products, no long chains, so rounding stays ~1e-15;
# 1e-12 still catches any formula difference.
FORWARD_RTOL = 1e-12
FORWARD_ATOL_SCALE = FORWARD_RTOL
LOSS_RTOL = 1e-12
# Central differences of the float64 loss: truncation ~h²·L'''/6 ≈ 1e-12, rounding
# ~eps·|L|/h ≈ 1e-10, so 1e-6 relative is far above the noise and far below a real bug.
FD_STEP = 1e-6
FD_RTOL = 1e-6
# Absolute floor for gradient entries that are (nearly) zero, where relative error is meaningless.
FD_ATOL = 1e-8
# relu / leaky_relu pre-activations must be this far from the kink at 0 for the finite
# difference to be valid (a step of FD_STEP moves a pre-activation by ~1e-5 at most here).
KINK_MARGIN = 1e-3
# Stability: with logits of ±1000 the stable formulas give the exact answers up to rounding
# (log1p(e^-1000) underflows to exactly 0, softmax to exactly one-hot).
STABLE_RTOL = 1e-12

# --------------------------------------------------------------------------------------------
# Combinations
# --------------------------------------------------------------------------------------------

HIDDEN_ACTIVATIONS = ["identity", "sigmoid", "tanh", "relu", "leaky_relu"]
# (output activation, loss, cce targets as one-hot rows instead of class indices)
OUTPUT_LOSS = [
    *[(out, "mean_squared_error", False) for out in [*HIDDEN_ACTIVATIONS, "softmax"]],
    ("sigmoid", "binary_cross_entropy", False),
    ("softmax", "categorical_cross_entropy", False),
    ("softmax", "categorical_cross_entropy", True),
]
OUTPUT_LOSS_PARAMS = [
    pytest.param(out, loss, one_hot, id=f"{out}-{loss}{'-onehot' if one_hot else ''}")
    for out, loss, one_hot in OUTPUT_LOSS
]
KINKED = ("relu", "leaky_relu")
DEFAULT_SLOPE = 0.01  # MLP's default leaky_relu_slope, used by random_problem unless told


def stable_seed(*parts: Any) -> int:
    """A seed that depends only on the test's parameters (``hash`` is salted per process)."""
    return zlib.crc32(repr(parts).encode())


def random_sizes(rng: np.random.Generator, depth: int, output_activation: str) -> list[int]:
    """``depth`` layers of random widths in 1..64 (softmax gets >= 2 outputs to be non-trivial)."""
    sizes = [int(w) for w in rng.integers(1, 65, size=depth + 1)]
    if output_activation == "softmax":
        sizes[-1] = int(rng.integers(2, 11))
    return sizes


def assert_gradients_match(model, X, y, Y, loss, rtol, atol_scale, slope=DEFAULT_SLOPE):
    """``model.backward`` vs ``numpy_reference.backward`` computed in float64."""
    weights, biases = reference_parameters(model, np.float64)
    dWs, dbs = nref.backward(
        weights,
        biases,
        np.asarray(X, dtype=np.float64),
        Y,
        model.activations,
        loss,
        slope,
    )
    gradients = model.backward(X, y, loss)
    assert len(gradients) == model.n_layers
    for layer, (dW, db) in enumerate(gradients):
        assert dW.dtype == model.dtype
        assert_close_scaled(dW, dWs[layer], rtol, atol_scale, f"dW[{layer}] {model}")
        if dbs is None:
            assert db is None
        else:
            assert db.dtype == model.dtype
            assert_close_scaled(db, dbs[layer], rtol, atol_scale, f"db[{layer}] {model}")


# --------------------------------------------------------------------------------------------
# 1-2. backward vs the reference, every combination, random shapes, float64 and float32
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(("output_activation", "loss", "one_hot"), OUTPUT_LOSS_PARAMS)
@pytest.mark.parametrize("activation", HIDDEN_ACTIVATIONS)
def test_backward_matches_reference(activation, output_activation, loss, one_hot, dtype):
    rtol, atol_scale = (
        (GRAD_RTOL, GRAD_ATOL_SCALE) if dtype == "float64" else (GRAD32_RTOL, GRAD32_ATOL_SCALE)
    )
    rng = np.random.default_rng(stable_seed(activation, output_activation, loss, one_hot, dtype))
    # Depths 1..4, each once with and once without bias; batch sizes 1..50 (1 included).
    for depth in (1, 2, 3, 4):
        for use_bias in (True, False):
            n = 1 if (depth, use_bias) == (2, False) else int(rng.integers(1, 51))
            model, X, y, Y = random_problem(
                rng,
                random_sizes(rng, depth, output_activation),
                activation,
                output_activation,
                loss,
                n=n,
                dtype=dtype,
                use_bias=use_bias,
                one_hot=one_hot,
            )
            assert_gradients_match(model, X, y, Y, loss, rtol, atol_scale)


@pytest.mark.parametrize("slope", [0.0, 0.2, 1.5])
@pytest.mark.parametrize("output_activation", ["leaky_relu", "identity", "softmax"])
def test_backward_leaky_relu_slope(slope, output_activation):
    loss = "categorical_cross_entropy" if output_activation == "softmax" else "mean_squared_error"
    rng = np.random.default_rng(stable_seed("slope", slope, output_activation))
    for depth in (1, 2, 3):
        model, X, y, Y = random_problem(
            rng,
            random_sizes(rng, depth, output_activation),
            "leaky_relu",
            output_activation,
            loss,
            n=int(rng.integers(1, 51)),
            leaky_relu_slope=slope,
        )
        assert_gradients_match(model, X, y, Y, loss, GRAD_RTOL, GRAD_ATOL_SCALE, slope)


@pytest.mark.parametrize("loss", ["mse", "bce", "cce", None])
def test_backward_accepts_loss_aliases_and_default(loss):
    output = {"bce": "sigmoid", "cce": "softmax"}.get(loss or "", "softmax")
    full = {"mse": "mean_squared_error", "bce": "binary_cross_entropy"}.get(
        loss or "", "categorical_cross_entropy"
    )
    rng = np.random.default_rng(stable_seed("alias", loss))
    model, X, y, _ = random_problem(rng, [3, 5, 4], "tanh", output, full, n=7)
    expected = model.backward(X, y, full)
    for (dW, db), (eW, eb) in zip(model.backward(X, y, loss), expected, strict=True):
        np.testing.assert_array_equal(dW, eW)
        np.testing.assert_array_equal(db, eb)


# --------------------------------------------------------------------------------------------
# 3. backward vs central finite differences of model.loss
# --------------------------------------------------------------------------------------------


def far_from_kinks(model, X) -> bool:
    """No relu/leaky_relu pre-activation within KINK_MARGIN of 0 (reference forward pass)."""
    weights, biases = reference_parameters(model)
    Zs, _ = nref.forward(weights, biases, X, model.activations, DEFAULT_SLOPE)
    return all(
        np.min(np.abs(Z)) >= KINK_MARGIN
        for Z, name in zip(Zs, model.activations, strict=True)
        if name in KINKED
    )


def finite_difference_gradients(model, X, y, loss) -> list[tuple[np.ndarray, Any]]:
    """Central differences (L(θ+h) − L(θ−h)) / 2h of ``model.loss`` for every parameter."""
    result = []
    for layer in range(model.n_layers):
        views = [model.weights[layer]] + ([model.biases[layer]] if model.use_bias else [])
        estimates = []
        for view in views:
            estimate = np.empty_like(view)
            for index in np.ndindex(view.shape):
                original = view[index]
                view[index] = original + FD_STEP
                plus = model.loss(X, y, loss)
                view[index] = original - FD_STEP
                minus = model.loss(X, y, loss)
                view[index] = original
                estimate[index] = (plus - minus) / (2 * FD_STEP)
            estimates.append(estimate)
        result.append((estimates[0], estimates[1] if model.use_bias else None))
    return result


@pytest.mark.parametrize(("output_activation", "loss", "one_hot"), OUTPUT_LOSS_PARAMS)
@pytest.mark.parametrize("activation", HIDDEN_ACTIVATIONS)
def test_backward_matches_finite_differences(activation, output_activation, loss, one_hot):
    rng = np.random.default_rng(stable_seed("fd", activation, output_activation, loss, one_hot))
    n_out = 3 if output_activation == "softmax" else 2
    use_bias = output_activation != "tanh"  # one bias-free case per hidden activation
    for _attempt in range(100):
        model, X, y, _ = random_problem(
            rng,
            [3, 4, 3, n_out],
            activation,
            output_activation,
            loss,
            n=5,
            use_bias=use_bias,
            one_hot=one_hot,
        )
        if far_from_kinks(model, X):
            break
    else:
        pytest.fail("could not draw a problem away from the relu kinks")
    before = model.get_parameters()
    gradients = model.backward(X, y, loss)
    estimates = finite_difference_gradients(model, X, y, loss)
    for layer, ((dW, db), (fW, fb)) in enumerate(zip(gradients, estimates, strict=True)):
        np.testing.assert_allclose(dW, fW, rtol=FD_RTOL, atol=FD_ATOL, err_msg=f"dW[{layer}]")
        if use_bias:
            np.testing.assert_allclose(db, fb, rtol=FD_RTOL, atol=FD_ATOL, err_msg=f"db[{layer}]")
        else:
            assert db is None and fb is None
    # The probing restored every parameter exactly.
    after = model.get_parameters()
    for a, b in zip(before[0] + before[1], after[0] + after[1], strict=True):
        np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------------------------
# 4. forward and loss vs the reference
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("output_activation", "loss", "one_hot"), OUTPUT_LOSS_PARAMS)
@pytest.mark.parametrize("activation", HIDDEN_ACTIVATIONS)
def test_forward_and_loss_match_reference(activation, output_activation, loss, one_hot):
    rng = np.random.default_rng(stable_seed("fwd", activation, output_activation, loss, one_hot))
    for depth, use_bias in [(1, True), (2, False), (3, True), (4, True)]:
        model, X, y, Y = random_problem(
            rng,
            random_sizes(rng, depth, output_activation),
            activation,
            output_activation,
            loss,
            n=int(rng.integers(1, 51)),
            use_bias=use_bias,
            one_hot=one_hot,
        )
        weights, biases = reference_parameters(model)
        slope = DEFAULT_SLOPE
        _, As = nref.forward(weights, biases, X, model.activations, slope)
        output = model.forward(X)
        assert output.dtype == np.float64
        assert_close_scaled(output, As[-1], FORWARD_RTOL, FORWARD_ATOL_SCALE, f"forward {model}")
        expected = nref.loss(weights, biases, X, Y, model.activations, loss, slope)
        assert model.loss(X, y, loss) == pytest.approx(expected, rel=LOSS_RTOL, abs=1e-300)


def test_loss_of_a_large_batch_matches_reference():
    """More rows than the native evaluation chunk, so the loss is summed over several chunks."""
    rng = np.random.default_rng(stable_seed("large batch"))
    model, X, y, Y = random_problem(rng, [4, 16, 3], "tanh", "softmax", "cce", n=1500)
    weights, biases = reference_parameters(model)
    expected = nref.loss(weights, biases, X, Y, model.activations, "categorical_cross_entropy")
    assert model.loss(X, y) == pytest.approx(expected, rel=LOSS_RTOL)
    _, As = nref.forward(weights, biases, X, model.activations)
    assert_close_scaled(model.forward(X), As[-1], FORWARD_RTOL, FORWARD_ATOL_SCALE, "forward")


# --------------------------------------------------------------------------------------------
# 5. numerical stability at logits of ±1000
# --------------------------------------------------------------------------------------------


def check_stable(model, X, y, loss, expected_loss, expected_dWs):
    Y = np.asarray(y, dtype=np.float64)
    if loss == "categorical_cross_entropy":
        Y = np.eye(model.n_outputs)[np.asarray(y)]
    Y = Y.reshape(len(X), model.n_outputs)
    value = model.loss(X, y, loss)
    assert np.isfinite(value)
    assert value == pytest.approx(expected_loss, rel=STABLE_RTOL)
    gradients = model.backward(X, y, loss)
    for dW, db in gradients:
        assert np.isfinite(dW).all() and np.isfinite(db).all()
    # The last layer's gradient is known in closed form.
    np.testing.assert_allclose(gradients[-1][0], expected_dWs, rtol=STABLE_RTOL, atol=0)
    # And the whole of it agrees with the reference.
    weights, biases = reference_parameters(model)
    X64 = np.asarray(X, dtype=np.float64)
    assert nref.loss(weights, biases, X64, Y, model.activations, loss) == pytest.approx(
        expected_loss, rel=STABLE_RTOL
    )
    assert_gradients_match(model, X, y, Y, loss, STABLE_RTOL, STABLE_RTOL)
    output = model.forward(X)
    assert np.isfinite(output).all() and (output >= 0).all() and (output <= 1).all()


@pytest.mark.parametrize("hidden", [False, True])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_sigmoid_bce_is_stable_at_huge_logits(dtype, hidden):
    # Logits z = ±1000; rows 1 and 2 are confidently wrong (loss 1000 each), rows 3 and 4
    # confidently right (loss 0): the mean is 1000 · 2/4.
    X = np.array([[1.0], [-1.0], [1.0], [-1.0]], dtype=dtype)
    y = np.array([0, 1, 1, 0])
    sizes = [1, 1, 1] if hidden else [1, 1]
    model = nncore.MLP(sizes, activation="identity", output_activation="sigmoid", dtype=dtype)
    for W in model.weights:
        W[...] = 1.0
    model.weights[-1][...] = 1000.0
    # dL/dz = (σ(z) − y)/4 = [1/4, −1/4, 0, 0]; dL/dW_last = A_prevᵀ·dz = 1/4 + 1/4.
    check_stable(model, X, y, "binary_cross_entropy", 500.0, [[0.5]])


@pytest.mark.parametrize("hidden", [False, True])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_softmax_cce_is_stable_at_huge_logits(dtype, hidden):
    # Logits [1000, 0, -1000] and [0, 1000, 0]; rows 1 and 4 are confidently wrong (loss 1000
    # each), rows 2 and 3 confidently right (loss 0): the mean is 1000 · 2/4.
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]], dtype=dtype)
    y = np.array([1, 1, 0, 0])
    sizes = [2, 2, 3] if hidden else [2, 3]
    model = nncore.MLP(sizes, activation="identity", output_activation="softmax", dtype=dtype)
    if hidden:
        model.weights[0][...] = np.eye(2)
    model.weights[-1][...] = [[1000.0, 0.0, -1000.0], [0.0, 1000.0, 0.0]]
    # dL/dZ = (softmax − onehot)/4: row 1 [1, −1, 0]/4, row 4 [−1, 1, 0]/4, rows 2-3 zero.
    expected_dW = [[0.25, -0.25, 0.0], [-0.25, 0.25, 0.0]]
    check_stable(model, X, y, "categorical_cross_entropy", 500.0, expected_dW)


# --------------------------------------------------------------------------------------------
# 6. backward leaves the model alone
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("use_bias", [True, False])
def test_backward_and_forward_do_not_change_parameters(dtype, use_bias):
    rng = np.random.default_rng(stable_seed("unchanged", dtype, use_bias))
    model, X, y, _ = random_problem(
        rng, [5, 8, 6, 3], "relu", "softmax", "cce", n=9, dtype=dtype, use_bias=use_bias
    )
    weights, biases = model.get_parameters()
    first = model.backward(X, y)
    model.forward(X)
    model.loss(X, y)
    second = model.backward(X, y)
    after_w, after_b = model.get_parameters()
    for a, b in zip(weights + biases, after_w + after_b, strict=True):
        np.testing.assert_array_equal(a, b)
    # backward is a pure function of the parameters and the batch, and returns copies.
    dWs1, dbs1 = reference_gradients(first)
    dWs2, dbs2 = reference_gradients(second)
    for a, b in zip(dWs1 + (dbs1 or []), dWs2 + (dbs2 or []), strict=True):
        np.testing.assert_array_equal(a, b)
    first[0][0][...] = 123.0
    np.testing.assert_array_equal(model.backward(X, y)[0][0], second[0][0])


@pytest.mark.parametrize("n_inputs", [1, 8, 9])
@pytest.mark.parametrize("n", [1, 5, 600])
def test_layers_with_few_inputs_match_reference(n_inputs, n):
    """Narrow first layers, one row (the one-sample path), a few rows and more than one
    evaluation chunk (600 rows)."""
    rng = np.random.default_rng(stable_seed("few inputs", n_inputs, n))
    model, X, _, _ = random_problem(rng, [n_inputs, 8, 5, 3], "tanh", "softmax", "cce", n=n)
    weights, biases = reference_parameters(model)
    _, As = nref.forward(weights, biases, X, model.activations)
    assert_close_scaled(model.forward(X), As[-1], FORWARD_RTOL, FORWARD_ATOL_SCALE, "forward")
    assert_close_scaled(model.predict_proba(X), As[-1], FORWARD_RTOL, FORWARD_ATOL_SCALE, "proba")
