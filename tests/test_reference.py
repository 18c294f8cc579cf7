"""Tests of ``nncore.reference`` itself: the two references must agree with each other, with finite
differences, with hand-computed values, and must be numerically stable.

These modules are the yardstick the native core is checked against, so they are checked here
against computations that do not share their code (finite differences, closed forms, each other).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from nncore.reference import numpy_reference as nref
from nncore.reference import pure_python as pref

# --------------------------------------------------------------------------------------------
# Tolerances
# --------------------------------------------------------------------------------------------

# pure_python vs numpy_reference: identical formulas in float64; they differ only in the order of
# summation (sequential loops vs BLAS / pairwise sums), i.e. by a few ulps.
AGREE_RTOL = 1e-12
# ... but an entry produced by cancellation (e.g. a gradient that is ~0) has a large *relative*
# rounding error, so we also allow an absolute error of AGREE_RTOL times the array's scale.
AGREE_ATOL_SCALE = AGREE_RTOL

# Central differences of the float64 loss: truncation error ~ h² · L''' ≈ 1e-12, rounding error
# ~ eps · |L| / h ≈ 1e-10, so 1e-6 relative is comfortably above the noise and far below any
# real bug (a wrong factor or a missing term is an O(1) relative error).
FD_STEP = 1e-6
FD_RTOL = 1e-6
# Absolute floor for gradient entries that are (nearly) zero, where relative error is meaningless.
FD_ATOL = 1e-8
# Pre-activations of relu / leaky_relu units must be at least this far from the kink at 0 for the
# finite difference to be valid (a step of FD_STEP moves Z by at most ~1e-5 here).
KINK_MARGIN = 1e-3

# fit: a few epochs of the same arithmetic in both references; rounding differences grow only
# mildly over a handful of SGD steps on a tiny problem.
FIT_TOL = 1e-10

# Stability tests: the exact answers are 0 and 1000; with logits of ±1000 the stable formulas are
# exact up to rounding (log1p(e^-1000) underflows to exactly 0).
STABLE_ABS_TOL = 1e-12

# XOR: 2-4-1 tanh/sigmoid network, full batch, lr 0.5. From the initial BCE of ~0.73 (chance
# level is log 2 ≈ 0.69) it reaches ~0.024 after 300 epochs; 0.05 leaves a 2x margin.
XOR_EPOCHS = 300
XOR_LEARNING_RATE = 0.5
XOR_LOSS_THRESHOLD = 0.05

# --------------------------------------------------------------------------------------------
# Combinations and problem generation
# --------------------------------------------------------------------------------------------

HIDDEN_ACTIVATIONS = [a for a in nref.ACTIVATIONS if a != "softmax"]
OUTPUT_AND_LOSS = [(a, "mean_squared_error") for a in nref.ACTIVATIONS] + [
    ("sigmoid", "binary_cross_entropy"),
    ("softmax", "categorical_cross_entropy"),
]
# (batch size, layer widths [n_features, n_hidden..., n_out]): depths 1 to 3, widths 1 to 6.
SHAPES = [
    (1, [1, 1]),
    (3, [4, 2]),
    (5, [2, 6, 3]),
    (4, [3, 1, 2]),
    (2, [3, 5, 1, 4]),
]
REFERENCES = [pytest.param(pref, id="pure_python"), pytest.param(nref, id="numpy_reference")]

Problem = dict[str, Any]


def make_problem(
    seed: int,
    batch: int,
    widths: Sequence[int],
    hidden: str,
    output: str,
    loss: str,
    bias: bool,
) -> Problem:
    """Random float64 network, inputs and targets appropriate for ``loss``."""
    rng = np.random.default_rng(seed)
    n_layers = len(widths) - 1
    weights = [rng.normal(size=(widths[i], widths[i + 1])) for i in range(n_layers)]
    biases = [rng.normal(size=widths[i + 1]) for i in range(n_layers)] if bias else None
    X = rng.normal(size=(batch, widths[0]))
    n_out = widths[-1]
    if loss == "mean_squared_error":
        Y = rng.normal(size=(batch, n_out))
    elif loss == "binary_cross_entropy":
        Y = rng.uniform(size=(batch, n_out))  # soft targets in [0, 1] are valid for BCE
    else:
        Y = np.eye(n_out)[rng.integers(n_out, size=batch)]  # one-hot rows
    activations = [hidden] * (n_layers - 1) + [output]
    return {
        "weights": weights,
        "biases": biases,
        "X": X,
        "Y": Y,
        "activations": activations,
        "loss": loss,
    }


def as_lists(problem: Problem) -> Problem:
    """The same problem as nested Python lists, for pure_python."""
    out = dict(problem)
    out["weights"] = [W.tolist() for W in problem["weights"]]
    out["biases"] = None if problem["biases"] is None else [b.tolist() for b in problem["biases"]]
    out["X"] = problem["X"].tolist()
    out["Y"] = problem["Y"].tolist()
    return out


def assert_agree(actual: Any, expected: Any, rtol: float = AGREE_RTOL) -> None:
    """Compare a (possibly nested-list) result with an ndarray, relative to the array's scale."""
    actual_arr = np.asarray(actual, dtype=np.float64)
    expected_arr = np.asarray(expected, dtype=np.float64)
    assert actual_arr.shape == expected_arr.shape
    scale = max(1.0, float(np.max(np.abs(expected_arr), initial=0.0)))
    np.testing.assert_allclose(actual_arr, expected_arr, rtol=rtol, atol=AGREE_ATOL_SCALE * scale)


def _to(module: ModuleType, M: Any, dtype: Any = np.float64) -> Any:
    """Nested lists for pure_python, an ndarray of ``dtype`` for numpy_reference."""
    return M if module is pref else np.asarray(M, dtype=dtype)


def combos() -> list[Any]:
    return [
        pytest.param(hidden, output, loss, bias, id=f"{hidden}-{output}-{loss}-{bias=}")
        for hidden in HIDDEN_ACTIVATIONS
        for output, loss in OUTPUT_AND_LOSS
        for bias in (True, False)
    ]


# --------------------------------------------------------------------------------------------
# 1. pure_python and numpy_reference agree
# --------------------------------------------------------------------------------------------


def test_constants_agree() -> None:
    assert pref.ACTIVATIONS == nref.ACTIVATIONS
    assert pref.LOSSES == nref.LOSSES
    assert set(nref.ACTIVATIONS) == {"identity", "sigmoid", "tanh", "relu", "leaky_relu", "softmax"}
    assert set(nref.LOSSES) == {
        "mean_squared_error",
        "binary_cross_entropy",
        "categorical_cross_entropy",
    }


@pytest.mark.parametrize(("hidden", "output", "loss", "bias"), combos())
def test_pure_and_numpy_agree(hidden: str, output: str, loss: str, bias: bool) -> None:
    for seed, (batch, widths) in enumerate(SHAPES):
        p = make_problem(seed, batch, widths, hidden, output, loss, bias)
        q = as_lists(p)
        args_n = (p["weights"], p["biases"], p["X"])
        args_p = (q["weights"], q["biases"], q["X"])

        Zs_n, As_n = nref.forward(*args_n, p["activations"])
        Zs_p, As_p = pref.forward(*args_p, q["activations"])
        assert len(Zs_p) == len(Zs_n) == len(widths) - 1
        assert len(As_p) == len(As_n) == len(widths)
        for Z_p, Z_n in zip(Zs_p, Zs_n, strict=True):
            assert_agree(Z_p, Z_n)
        for A_p, A_n in zip(As_p, As_n, strict=True):
            assert_agree(A_p, A_n)

        L_n = nref.loss(*args_n, p["Y"], p["activations"], loss)
        L_p = pref.loss(*args_p, q["Y"], q["activations"], loss)
        assert isinstance(L_p, float) and isinstance(L_n, float)
        assert_agree(L_p, L_n)

        dWs_n, dbs_n = nref.backward(*args_n, p["Y"], p["activations"], loss)
        dWs_p, dbs_p = pref.backward(*args_p, q["Y"], q["activations"], loss)
        for dW_p, dW_n, W in zip(dWs_p, dWs_n, p["weights"], strict=True):
            assert np.shape(dW_n) == W.shape
            assert_agree(dW_p, dW_n)
        if bias:
            assert dbs_p is not None and dbs_n is not None
            for db_p, db_n, b in zip(dbs_p, dbs_n, p["biases"], strict=True):
                assert np.shape(db_n) == b.shape
                assert_agree(db_p, db_n)
        else:
            assert dbs_p is None and dbs_n is None


# --------------------------------------------------------------------------------------------
# 2. Backward agrees with central finite differences of the loss
# --------------------------------------------------------------------------------------------


def away_from_kinks(p: Problem) -> bool:
    """True if no relu/leaky_relu pre-activation is within KINK_MARGIN of 0."""
    Zs, _ = nref.forward(p["weights"], p["biases"], p["X"], p["activations"])
    return all(
        np.min(np.abs(Z)) > KINK_MARGIN
        for Z, act in zip(Zs, p["activations"], strict=True)
        if act in ("relu", "leaky_relu")
    )


def finite_difference(f: Callable[[], float], param: np.ndarray) -> np.ndarray:
    """Central differences of f() with respect to every entry of ``param`` (perturbed in place)."""
    grad = np.zeros_like(param)
    for idx in np.ndindex(param.shape):
        original = param[idx]
        param[idx] = original + FD_STEP
        f_plus = f()
        param[idx] = original - FD_STEP
        f_minus = f()
        param[idx] = original
        grad[idx] = (f_plus - f_minus) / (2 * FD_STEP)  # (L(θ+h) − L(θ−h)) / 2h
    return grad


@pytest.mark.parametrize(("hidden", "output", "loss", "bias"), combos())
def test_backward_matches_finite_differences(
    hidden: str, output: str, loss: str, bias: bool
) -> None:
    for shape_index, (batch, widths) in enumerate(SHAPES):
        # Deterministically redraw until no relu-like unit sits on its kink.
        for attempt in range(100):
            p = make_problem(
                1000 * shape_index + attempt, batch, widths, hidden, output, loss, bias
            )
            if away_from_kinks(p):
                break
        else:
            pytest.fail("could not draw a problem away from the relu kink")

        def f(p: Problem = p) -> float:
            return nref.loss(p["weights"], p["biases"], p["X"], p["Y"], p["activations"], loss)

        dWs, dbs = nref.backward(p["weights"], p["biases"], p["X"], p["Y"], p["activations"], loss)
        params = list(p["weights"]) + (list(p["biases"]) if bias else [])
        grads = list(dWs) + (list(dbs) if dbs is not None else [])
        for param, grad in zip(params, grads, strict=True):
            numeric = finite_difference(f, param)
            np.testing.assert_allclose(grad, numeric, rtol=FD_RTOL, atol=FD_ATOL)


@pytest.mark.parametrize("name", nref.ACTIVATIONS)
def test_activation_backward_matches_finite_differences(name: str) -> None:
    """activation_backward is the vector-Jacobian product: dZ = ∂/∂Z Σ (dA ⊙ g(Z))."""
    rng = np.random.default_rng(7)
    Z = rng.normal(size=(4, 5))
    Z[np.abs(Z) < KINK_MARGIN] = 0.5  # stay off the relu kink
    dA = rng.normal(size=Z.shape)
    numeric = finite_difference(lambda: float(np.sum(dA * nref.activate(name, Z, slope=0.1))), Z)
    for module in (pref, nref):
        A = module.activate(name, _to(module, Z.tolist()), slope=0.1)
        dZ = module.activation_backward(
            name, _to(module, Z.tolist()), A, _to(module, dA.tolist()), slope=0.1
        )
        np.testing.assert_allclose(np.asarray(dZ), numeric, rtol=FD_RTOL, atol=FD_ATOL)


@pytest.mark.parametrize("module", REFERENCES)
def test_relu_derivative_at_zero(module: ModuleType) -> None:
    Z = [[0.0, 1.0, -1.0]]
    dA = [[1.0, 1.0, 1.0]]
    A = module.activate("relu", Z)
    assert np.asarray(module.activation_backward("relu", Z, A, dA)).tolist() == [[0.0, 1.0, 0.0]]
    A = module.activate("leaky_relu", Z, slope=0.2)
    dZ = module.activation_backward("leaky_relu", Z, A, dA, slope=0.2)
    assert np.asarray(dZ).tolist() == [[0.2, 1.0, 0.2]]
    assert np.asarray(A).tolist() == [[0.0, 1.0, -0.2]]


@pytest.mark.parametrize("module", REFERENCES)
def test_hand_computed_example(module: ModuleType) -> None:
    """One identity unit, MSE: Z = 1·1 + 2·1 + 0.5 = 3.5, L = (3.5 − 3)² = 0.25,
    dL/dZ = 2·0.5 = 1, dW = x^T · 1 = [[1], [2]], db = [1]."""
    W, b, X, Y = [[[1.0], [1.0]]], [[0.5]], [[1.0, 2.0]], [[3.0]]
    assert module.loss(W, b, X, Y, ["identity"], "mean_squared_error") == 0.25
    dWs, dbs = module.backward(W, b, X, Y, ["identity"], "mean_squared_error")
    assert np.asarray(dWs[0]).tolist() == [[1.0], [2.0]]
    assert np.asarray(dbs[0]).tolist() == [1.0]
    # MSE averages over outputs too: two outputs with errors 1 and 3 -> (1 + 9) / 2 = 5.
    Z = [[1.0, 3.0]]
    assert module.loss_value("mean_squared_error", Z, Z, [[0.0, 0.0]]) == 5.0


# --------------------------------------------------------------------------------------------
# 3. Numerical stability
# --------------------------------------------------------------------------------------------


def _stable_call(module: ModuleType, fn: str, *args: Any) -> Any:
    """Call module.fn, turning any NumPy floating-point overflow / invalid / divide into an error
    (pure Python raises OverflowError / ValueError on its own)."""
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        return getattr(module, fn)(*args)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("module", REFERENCES)
def test_bce_extreme_logits(module: ModuleType, dtype: Any) -> None:
    # Z = X · W = [[1000], [-1000]]
    W = [_to(module, [[1000.0]], dtype)]
    X = _to(module, [[1.0], [-1.0]], dtype)
    act, bce = ["sigmoid"], "binary_cross_entropy"
    right = _to(module, [[1.0], [0.0]], dtype)  # confident and correct
    wrong = _to(module, [[0.0], [1.0]], dtype)  # confident and wrong: each term costs 1000
    assert _stable_call(module, "loss", W, None, X, right, act, bce) == pytest.approx(
        0.0, abs=STABLE_ABS_TOL
    )
    assert _stable_call(module, "loss", W, None, X, wrong, act, bce) == pytest.approx(
        1000.0, rel=STABLE_ABS_TOL
    )
    dWs, _ = _stable_call(module, "backward", W, None, X, right, act, bce)
    assert np.all(np.isfinite(np.asarray(dWs[0]))) and abs(float(np.asarray(dWs[0])[0, 0])) < 1e-6
    dWs, _ = _stable_call(module, "backward", W, None, X, wrong, act, bce)
    # dZ = (σ(Z) − Y)/n = ([[1], [0]] − [[0], [1]])/2 = [[0.5], [-0.5]];
    # dW = X^T dZ = 1·0.5 + (−1)·(−0.5) = 1  (growing W would make the prediction even worse)
    assert float(np.asarray(dWs[0])[0, 0]) == pytest.approx(1.0, rel=1e-6)
    if module is nref:
        assert dWs[0].dtype == dtype


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("module", REFERENCES)
def test_cce_extreme_logits(module: ModuleType, dtype: Any) -> None:
    W = [_to(module, [[1000.0, 0.0, -1000.0]], dtype)]  # Z = [[1000, 0, -1000]]
    X = _to(module, [[1.0]], dtype)
    act, cce = ["softmax"], "categorical_cross_entropy"
    right = _to(module, [[1.0, 0.0, 0.0]], dtype)  # logsumexp(Z) − 1000 ≈ 0
    wrong = _to(module, [[0.0, 1.0, 0.0]], dtype)  # logsumexp(Z) − 0 ≈ 1000
    assert _stable_call(module, "loss", W, None, X, right, act, cce) == pytest.approx(
        0.0, abs=STABLE_ABS_TOL
    )
    assert _stable_call(module, "loss", W, None, X, wrong, act, cce) == pytest.approx(
        1000.0, rel=STABLE_ABS_TOL
    )
    dWs, _ = _stable_call(module, "backward", W, None, X, wrong, act, cce)
    # dZ = softmax(Z) − Y = [1, −1, 0]; dW = X^T dZ
    np.testing.assert_allclose(np.asarray(dWs[0], dtype=np.float64), [[1.0, -1.0, 0.0]], atol=1e-6)
    dWs, _ = _stable_call(module, "backward", W, None, X, right, act, cce)
    np.testing.assert_allclose(np.asarray(dWs[0], dtype=np.float64), [[0.0, 0.0, 0.0]], atol=1e-6)


@pytest.mark.parametrize("module", REFERENCES)
def test_extreme_activations_are_finite(module: ModuleType) -> None:
    Z = _to(module, [[1e4, -1e4, 0.0], [1000.0, -1000.0, 999.0]])
    sig = np.asarray(_stable_call(module, "activate", "sigmoid", Z))
    np.testing.assert_allclose(sig[0], [1.0, 0.0, 0.5], atol=1e-12)
    soft = np.asarray(_stable_call(module, "activate", "softmax", Z))
    assert np.all(np.isfinite(soft))
    np.testing.assert_allclose(soft.sum(axis=1), [1.0, 1.0], rtol=1e-12)
    np.testing.assert_allclose(soft[0], [1.0, 0.0, 0.0], atol=1e-12)
    # Output deltas of the fused losses at extreme logits are finite and bounded by 1/N.
    A = _stable_call(module, "activate", "sigmoid", Z)
    Y = _to(module, [[0.0, 1.0, 0.0], [1.0, 1.0, 0.0]])
    dZ = np.asarray(
        _stable_call(module, "output_delta", "binary_cross_entropy", "sigmoid", Z, A, Y)
    )
    assert np.all(np.isfinite(dZ)) and np.max(np.abs(dZ)) <= 1 / 6 + 1e-15


# --------------------------------------------------------------------------------------------
# 4. Training
# --------------------------------------------------------------------------------------------

FIT_CASES = [
    pytest.param(["tanh", "sigmoid"], "binary_cross_entropy", True, id="tanh-sigmoid-bce"),
    pytest.param(["relu", "softmax"], "categorical_cross_entropy", True, id="relu-softmax-cce"),
    pytest.param(
        ["leaky_relu", "sigmoid", "identity"], "mean_squared_error", False, id="deep-mse-nobias"
    ),
]


@pytest.mark.parametrize(("activations", "loss", "bias"), FIT_CASES)
def test_fit_pure_and_numpy_agree(activations: list[str], loss: str, bias: bool) -> None:
    widths = [3, 4, 3, 2][: len(activations) + 1]
    p = make_problem(3, 7, widths, activations[0], activations[-1], loss, bias)
    p["activations"] = activations
    q = as_lists(p)
    # 7 samples in batches of 3: batches of 3, 3 and 1 -> the weighting of the last batch matters.
    lr, epochs, batch_size = 0.3, 5, 3
    W_n, b_n, h_n = nref.fit(
        p["weights"], p["biases"], p["X"], p["Y"], activations, loss, lr, epochs, batch_size
    )
    W_p, b_p, h_p = pref.fit(
        q["weights"], q["biases"], q["X"], q["Y"], activations, loss, lr, epochs, batch_size
    )
    assert len(h_n) == len(h_p) == 5
    assert_agree(h_p, h_n, rtol=FIT_TOL)
    for W_pure, W_numpy in zip(W_p, W_n, strict=True):
        assert_agree(W_pure, W_numpy, rtol=FIT_TOL)
    if bias:
        assert b_p is not None and b_n is not None
        for b_pure, b_numpy in zip(b_p, b_n, strict=True):
            assert_agree(b_pure, b_numpy, rtol=FIT_TOL)
    else:
        assert b_p is None and b_n is None


@pytest.mark.parametrize("module", REFERENCES)
def test_fit_matches_manual_loop(module: ModuleType) -> None:
    """fit == a hand-written loop of loss / backward / sgd_step over in-order batches, with the
    epoch loss the sample-weighted mean of the pre-update batch losses."""
    acts, loss, lr, B = ["tanh", "sigmoid"], "binary_cross_entropy", 0.4, 3
    p = make_problem(11, 7, [2, 3, 1], "tanh", "sigmoid", loss, True)
    if module is pref:
        p = as_lists(p)
    W, b = p["weights"], p["biases"]
    expected = []
    for _epoch in range(3):
        total = 0.0
        for start in range(0, 7, B):
            Xb, Yb = p["X"][start : start + B], p["Y"][start : start + B]
            total += module.loss(W, b, Xb, Yb, acts, loss) * len(Xb)
            dWs, dbs = module.backward(W, b, Xb, Yb, acts, loss)
            W, b = module.sgd_step(W, b, dWs, dbs, lr)
        expected.append(total / 7)
    W_fit, b_fit, history = module.fit(
        p["weights"], p["biases"], p["X"], p["Y"], acts, loss, lr, 3, B
    )
    np.testing.assert_allclose(history, expected, rtol=1e-15, atol=0)
    for a, c in zip(W_fit, W, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(c))
    for a, c in zip(b_fit, b, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(c))
    # First epoch with one full batch: its loss is the loss of the initial weights.
    _, _, history = module.fit(p["weights"], p["biases"], p["X"], p["Y"], acts, loss, lr, 1, 100)
    assert history[0] == module.loss(p["weights"], p["biases"], p["X"], p["Y"], acts, loss)


@pytest.mark.parametrize("module", REFERENCES)
def test_fit_and_sgd_step_do_not_mutate_inputs(module: ModuleType) -> None:
    p = make_problem(5, 4, [2, 3, 2], "relu", "identity", "mean_squared_error", True)
    if module is pref:
        p = as_lists(p)
    snapshot = [np.array(W, copy=True) for W in p["weights"]] + [
        np.array(b, copy=True) for b in p["biases"]
    ]
    args = (p["weights"], p["biases"], p["X"], p["Y"], p["activations"], p["loss"])
    W, _, history = module.fit(*args, 0.1, 0, 2)
    assert history == []
    assert all(W_new is not W_old for W_new, W_old in zip(W, p["weights"], strict=True))
    module.fit(*args, 0.1, 3, 2)
    dWs, dbs = module.backward(*args)
    module.sgd_step(p["weights"], p["biases"], dWs, dbs, 0.1)
    after = [np.asarray(W) for W in p["weights"]] + [np.asarray(b) for b in p["biases"]]
    for before, now in zip(snapshot, after, strict=True):
        np.testing.assert_array_equal(before, now)


def test_sgd_step_formula() -> None:
    W, b = [np.array([[1.0, 2.0]])], [np.array([3.0, 4.0])]
    dW, db = [np.array([[10.0, -10.0]])], [np.array([1.0, 2.0])]
    for module in (nref, pref):
        new_W, new_b = module.sgd_step(W, b, dW, db, 0.5)  # W − 0.5·dW, b − 0.5·db
        assert np.asarray(new_W[0]).tolist() == [[-4.0, 7.0]]
        assert np.asarray(new_b[0]).tolist() == [2.5, 3.0]
        new_W, new_b = module.sgd_step(W, None, dW, None, 0.5)
        assert new_b is None


@pytest.mark.parametrize("module", REFERENCES)
def test_fit_shuffle_is_seeded(module: ModuleType) -> None:
    p = make_problem(2, 6, [2, 3, 1], "tanh", "sigmoid", "binary_cross_entropy", True)
    if module is pref:
        p = as_lists(p)
    args = (p["weights"], p["biases"], p["X"], p["Y"], p["activations"], p["loss"], 0.5, 4, 2)
    _, _, in_order = module.fit(*args)
    _, _, shuffled_a = module.fit(*args, shuffle=True, seed=1)
    _, _, shuffled_b = module.fit(*args, shuffle=True, seed=1)
    assert shuffled_a == shuffled_b
    assert shuffled_a != in_order


def xor_problem() -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=(2, 4)), rng.normal(size=(4, 1))]
    biases = [rng.normal(size=4), rng.normal(size=1)]
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    Y = np.array([[0.0], [1.0], [1.0], [0.0]])
    return weights, biases, X, Y


def test_fit_learns_xor() -> None:
    weights, biases, X, Y = xor_problem()
    acts, loss = ["tanh", "sigmoid"], "binary_cross_entropy"
    W, b, history = nref.fit(
        weights, biases, X, Y, acts, loss, XOR_LEARNING_RATE, XOR_EPOCHS, batch_size=4
    )
    assert len(history) == XOR_EPOCHS
    assert history[-1] < XOR_LOSS_THRESHOLD < history[0]
    # The recorded loss of an epoch is taken before that epoch's update, so one more evaluation
    # with the returned weights must be lower still (full-batch descent with a small step).
    assert nref.loss(W, b, X, Y, acts, loss) < history[-1]
    _, As = nref.forward(W, b, X, acts)
    np.testing.assert_array_equal(As[-1] > 0.5, Y > 0.5)
    # The pure-Python reference follows the same trajectory.
    _, _, pure_history = pref.fit(
        [w.tolist() for w in weights],
        [v.tolist() for v in biases],
        X.tolist(),
        Y.tolist(),
        acts,
        loss,
        XOR_LEARNING_RATE,
        XOR_EPOCHS,
        4,
    )
    assert_agree(pure_history, history, rtol=FIT_TOL)


# --------------------------------------------------------------------------------------------
# dtype handling (numpy_reference)
# --------------------------------------------------------------------------------------------


def test_numpy_reference_keeps_float32() -> None:
    p = make_problem(4, 3, [2, 3, 2], "tanh", "softmax", "categorical_cross_entropy", True)
    W32 = [W.astype(np.float32) for W in p["weights"]]
    b32 = [b.astype(np.float32) for b in p["biases"]]
    X32 = p["X"].astype(np.float32)
    Zs, As = nref.forward(W32, b32, X32, p["activations"])
    assert all(Z.dtype == np.float32 for Z in Zs) and all(A.dtype == np.float32 for A in As)
    dWs, dbs = nref.backward(W32, b32, X32, p["Y"], p["activations"], p["loss"])
    assert dbs is not None
    assert all(d.dtype == np.float32 for d in dWs + dbs)
    W, b, _ = nref.fit(W32, b32, X32, p["Y"], p["activations"], p["loss"], np.float64(0.1), 2, 2)
    assert b is not None
    assert all(a.dtype == np.float32 for a in W + b)
    # Integer input is promoted to float64.
    A = nref.activate("sigmoid", np.array([[0, 1]]))
    assert A.dtype == np.float64


# --------------------------------------------------------------------------------------------
# 5. Misuse
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("module", REFERENCES)
def test_misuse_raises_value_error(module: ModuleType) -> None:
    W = [[[1.0, 2.0]], [[1.0], [2.0]]]  # 1 -> 2 -> 1
    b = [[0.0, 0.0], [0.0]]
    X, Y = [[1.0]], [[1.0]]
    with pytest.raises(ValueError, match=r"name.*swish.*identity"):
        module.activate("swish", X)
    with pytest.raises(ValueError, match=r"activations\[1\].*swish"):
        module.forward(W, b, X, ["tanh", "swish"])
    with pytest.raises(ValueError, match=r"loss.*hinge.*mean_squared_error"):
        module.loss(W, b, X, Y, ["tanh", "sigmoid"], "hinge")
    with pytest.raises(ValueError, match=r"loss.*hinge"):
        module.loss_value("hinge", X, X, Y)
    with pytest.raises(ValueError, match=r"binary_cross_entropy.*sigmoid"):
        module.backward(W, b, X, Y, ["tanh", "tanh"], "binary_cross_entropy")
    with pytest.raises(ValueError, match=r"binary_cross_entropy.*sigmoid"):
        module.output_delta("binary_cross_entropy", "identity", X, X, Y)
    with pytest.raises(ValueError, match=r"categorical_cross_entropy.*softmax"):
        module.loss(W, b, X, Y, ["tanh", "sigmoid"], "categorical_cross_entropy")
    with pytest.raises(ValueError, match=r"activations"):
        module.forward(W, b, X, ["tanh"])
    with pytest.raises(ValueError, match=r"biases"):
        module.forward(W, b[:1], X, ["tanh", "sigmoid"])
    with pytest.raises(ValueError, match=r"biases\[0\]"):
        module.forward(W, [[0.0], [0.0]], X, ["tanh", "sigmoid"])
    with pytest.raises(ValueError, match=r"weights\[1\]"):
        module.forward([W[0], [[1.0]]], None, X, ["tanh", "sigmoid"])
    with pytest.raises(ValueError, match=r"weights"):
        module.forward([], None, X, [])
    with pytest.raises(ValueError, match=r"Y"):
        module.loss(W, b, X, [[1.0, 0.0]], ["tanh", "sigmoid"], "mean_squared_error")
    with pytest.raises(ValueError, match=r"Y"):
        module.fit(W, b, X, [[1.0], [0.0]], ["tanh", "sigmoid"], "mean_squared_error", 0.1, 1, 1)
    with pytest.raises(ValueError, match=r"batch_size"):
        module.fit(W, b, X, Y, ["tanh", "sigmoid"], "mean_squared_error", 0.1, 1, 0)
    with pytest.raises(ValueError, match=r"dbs"):
        module.sgd_step(W, b, W, None, 0.1)
