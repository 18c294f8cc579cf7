"""Tests of ``nncore.reference`` itself: the two references must agree with each other, with finite
differences, with hand-computed values, and must be numerically stable.

These modules are the yardstick the native core is checked against, so they are checked here
against computations that do not share their code (finite differences, closed forms, each other).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import nncore
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
# Pre-activations of relu / leaky_relu / elu units must be at least this far from the kink at 0,
# and residuals of mae (kink at r = 0) and huber (second-derivative jump at |r| = delta) this far
# from theirs, for the finite difference to be valid (a step of FD_STEP moves Z by ~1e-5 at most).
KINK_MARGIN = 1e-3

# Non-default activation / loss parameters used by the agreement and finite-difference tests, so
# that a parameter that is not passed through (or is ignored) shows up. ELU_ALPHA != 1 also makes
# elu's derivative jump at 0 (from alpha to 1), so elu units are kept off the kink like relu.
ELU_ALPHA = 0.7
HUBER_DELTA = 0.8
LEAKY_SLOPE = 0.1

# Hand-checked values: closed forms evaluated in float64 to the last digit; the references use
# other (but equal) expressions, so allow a few ulps.
HAND_RTOL = 1e-15

# A weighted loss with integer weights vs the unweighted loss on repeated rows: the same sums,
# regrouped (w·term vs term + term + ...), so they differ by a few ulps.
REPEAT_RTOL = 1e-12

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
# Losses defined element by element on A − Y: they accept any output activation.
ELEMENTWISE_LOSSES = ["mean_squared_error", "mean_absolute_error", "huber"]
FUSED_OUTPUT_AND_LOSS = [
    ("sigmoid", "binary_cross_entropy"),
    ("softmax", "categorical_cross_entropy"),
    ("identity", "poisson"),
]
OUTPUT_AND_LOSS = [
    (a, loss) for loss in ELEMENTWISE_LOSSES for a in nref.ACTIVATIONS
] + FUSED_OUTPUT_AND_LOSS
# Activations with a kink (a jump of the derivative) at Z = 0 (elu: with ELU_ALPHA != 1).
KINKED_ACTIVATIONS = ("relu", "leaky_relu", "elu")
# (batch size, layer widths [n_features, n_hidden..., n_out]): depths 1 to 3, widths 1 to 6.
SHAPES = [
    (1, [1, 1]),
    (3, [4, 2]),
    (5, [2, 6, 3]),
    (4, [3, 1, 2]),
    (2, [3, 5, 1, 4]),
]
# The sample weights used with each of SHAPES (see make_problem): None (unweighted), random
# positive weights, or random weights with some of them 0.
WEIGHTINGS = ["positive", None, "with_zeros", "positive", None]
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
    weighting: str | None = None,
) -> Problem:
    """Random float64 network, inputs and targets appropriate for ``loss``.

    ``weighting`` picks ``problem["sample_weight"]``: None, ``"positive"`` (uniform in
    [0.1, 2]) or ``"with_zeros"`` (the same with every other sample, from the second, set to 0).
    """
    rng = np.random.default_rng(seed)
    n_layers = len(widths) - 1
    weights = [rng.normal(size=(widths[i], widths[i + 1])) for i in range(n_layers)]
    biases = [rng.normal(size=widths[i + 1]) for i in range(n_layers)] if bias else None
    X = rng.normal(size=(batch, widths[0]))
    n_out = widths[-1]
    if loss in ELEMENTWISE_LOSSES:
        Y = rng.normal(size=(batch, n_out))
    elif loss == "binary_cross_entropy":
        Y = rng.uniform(size=(batch, n_out))  # soft targets in [0, 1] are valid for BCE
    elif loss == "poisson":
        Y = rng.poisson(1.5, size=(batch, n_out)).astype(np.float64)  # counts, zeros among them
        # log-rates of order 1: e^z of N(0, 1) layers reaches 1e4, where central differences
        # lose the small entries of the gradient to rounding (eps·L/h)
        weights[-1] *= 0.2
        if biases is not None:
            biases[-1] *= 0.2
    else:
        Y = np.eye(n_out)[rng.integers(n_out, size=batch)]  # one-hot rows
    activations = [hidden] * (n_layers - 1) + [output]
    sample_weight = None
    if weighting is not None:
        sample_weight = rng.uniform(0.1, 2.0, size=batch)
        if weighting == "with_zeros":
            sample_weight[1::2] = 0.0
    return {
        "weights": weights,
        "biases": biases,
        "X": X,
        "Y": Y,
        "activations": activations,
        "loss": loss,
        "sample_weight": sample_weight,
    }


def as_lists(problem: Problem) -> Problem:
    """The same problem as nested Python lists, for pure_python."""
    out = dict(problem)
    out["weights"] = [W.tolist() for W in problem["weights"]]
    out["biases"] = None if problem["biases"] is None else [b.tolist() for b in problem["biases"]]
    out["X"] = problem["X"].tolist()
    out["Y"] = problem["Y"].tolist()
    if problem["sample_weight"] is not None:
        out["sample_weight"] = problem["sample_weight"].tolist()
    return out


def loss_kwargs(p: Problem) -> dict[str, Any]:
    """The keyword arguments of loss / backward / fit used with problem ``p``."""
    return {
        "slope": LEAKY_SLOPE,
        "alpha": ELU_ALPHA,
        "delta": HUBER_DELTA,
        "sample_weight": p["sample_weight"],
    }


def assert_agree(actual: Any, expected: Any, rtol: float = AGREE_RTOL) -> None:
    """Compare a (possibly nested-list) result with an ndarray, relative to the array's scale."""
    actual_arr = np.asarray(actual, dtype=np.float64)
    expected_arr = np.asarray(expected, dtype=np.float64)
    assert actual_arr.shape == expected_arr.shape
    scale = max(1.0, float(np.max(np.abs(expected_arr), initial=0.0)))
    np.testing.assert_allclose(actual_arr, expected_arr, rtol=rtol, atol=AGREE_ATOL_SCALE * scale)


def flat(gradients: tuple[list[Any], list[Any] | None]) -> list[Any]:
    """``backward``'s ``(dWs, dbs)`` as one list ``dWs + dbs``."""
    dWs, dbs = gradients
    return list(dWs) + list(dbs or [])


def _to(module: ModuleType, M: Any, dtype: Any = np.float64) -> Any:
    """Nested lists for pure_python, an ndarray of ``dtype`` for numpy_reference."""
    return M if module is pref else np.asarray(M, dtype=dtype)


def combos() -> list[Any]:
    """(hidden, output, loss, bias) cases for the agreement and finite-difference tests.

    The full product would be ~700 cases. A hidden layer's backward step does not depend on the
    output activation or the loss (it only sees dL/dA), so a covering set suffices:

    * every (output activation, element-wise loss) pair, with and without bias, the hidden
      activation cycling so that every hidden activation meets every element-wise loss both with
      and without bias;
    * every hidden activation with each of the fused (output, cross-entropy) pairs.
    """
    cases = []
    for shift, loss in enumerate(ELEMENTWISE_LOSSES):
        for i, output in enumerate(nref.ACTIVATIONS):
            for bias in (True, False):
                hidden = HIDDEN_ACTIVATIONS[(i + 3 * shift + 5 * bias) % len(HIDDEN_ACTIVATIONS)]
                cases.append((hidden, output, loss, bias))
    for output, loss in FUSED_OUTPUT_AND_LOSS:
        for j, hidden in enumerate(HIDDEN_ACTIVATIONS):
            cases.append((hidden, output, loss, j % 2 == 0))
    return [
        pytest.param(hidden, output, loss, bias, id=f"{hidden}-{output}-{loss}-{bias=}")
        for hidden, output, loss, bias in cases
    ]


def test_combos_cover_every_pair() -> None:
    cases = [tuple(c.values) for c in combos()]
    assert {(o, loss) for _, o, loss, _ in cases} == set(OUTPUT_AND_LOSS)
    for loss in ELEMENTWISE_LOSSES:
        for bias in (True, False):
            hidden = {h for h, _, lo, b in cases if lo == loss and b == bias}
            assert hidden == set(HIDDEN_ACTIVATIONS)
    for _, loss in FUSED_OUTPUT_AND_LOSS:
        assert {h for h, _, lo, _ in cases if lo == loss} == set(HIDDEN_ACTIVATIONS)


# --------------------------------------------------------------------------------------------
# 1. pure_python and numpy_reference agree
# --------------------------------------------------------------------------------------------


def test_constants_agree() -> None:
    """Both references implement exactly the activations and losses of the core's registries
    (``cpp/src/activation.cpp``, ``cpp/src/loss.cpp``): a new one needs its reference."""
    assert pref.ACTIVATIONS == nref.ACTIVATIONS
    assert pref.LOSSES == nref.LOSSES
    assert set(nref.ACTIVATIONS) == set(nncore.ACTIVATIONS)
    assert set(nref.LOSSES) == set(nncore.LOSSES)


def test_signatures_agree() -> None:
    """Both modules expose the same functions with the same parameters and defaults."""
    functions = [name for name in nref.__all__ if inspect.isfunction(getattr(nref, name))]
    assert functions == [name for name in pref.__all__ if inspect.isfunction(getattr(pref, name))]
    for name in functions:
        fn_n, fn_p = getattr(nref, name), getattr(pref, name)
        params_n = inspect.signature(fn_n).parameters.values()
        params_p = inspect.signature(fn_p).parameters.values()
        assert [(p.name, p.kind, p.default) for p in params_n] == [
            (p.name, p.kind, p.default) for p in params_p
        ], name
    keyword_defaults = {"alpha": 1.0, "delta": 1.0, "sample_weight": None}
    with_slope = ["activate", "activation_backward", "forward", "output_delta", "loss", "backward"]
    takes = {
        "alpha": [*with_slope, "fit"],
        "delta": ["loss_value", "output_delta", "loss", "backward", "fit"],
        "sample_weight": ["loss_value", "output_delta", "loss", "backward", "fit"],
    }
    for keyword, functions in takes.items():
        for name in functions:
            param = inspect.signature(getattr(nref, name)).parameters[keyword]
            assert param.default == keyword_defaults[keyword], (name, keyword)
            assert param.kind is inspect.Parameter.KEYWORD_ONLY, (name, keyword)


@pytest.mark.parametrize(("hidden", "output", "loss", "bias"), combos())
def test_pure_and_numpy_agree(hidden: str, output: str, loss: str, bias: bool) -> None:
    for seed, ((batch, widths), weighting) in enumerate(zip(SHAPES, WEIGHTINGS, strict=True)):
        p = make_problem(seed, batch, widths, hidden, output, loss, bias, weighting)
        q = as_lists(p)
        args_n = (p["weights"], p["biases"], p["X"])
        args_p = (q["weights"], q["biases"], q["X"])
        kw_n, kw_p = loss_kwargs(p), loss_kwargs(q)

        Zs_n, As_n = nref.forward(*args_n, p["activations"], LEAKY_SLOPE, alpha=ELU_ALPHA)
        Zs_p, As_p = pref.forward(*args_p, q["activations"], LEAKY_SLOPE, alpha=ELU_ALPHA)
        assert len(Zs_p) == len(Zs_n) == len(widths) - 1
        assert len(As_p) == len(As_n) == len(widths)
        for Z_p, Z_n in zip(Zs_p, Zs_n, strict=True):
            assert_agree(Z_p, Z_n)
        for A_p, A_n in zip(As_p, As_n, strict=True):
            assert_agree(A_p, A_n)

        L_n = nref.loss(*args_n, p["Y"], p["activations"], loss, **kw_n)
        L_p = pref.loss(*args_p, q["Y"], q["activations"], loss, **kw_p)
        assert isinstance(L_p, float) and isinstance(L_n, float)
        assert_agree(L_p, L_n)

        dWs_n, dbs_n = nref.backward(*args_n, p["Y"], p["activations"], loss, **kw_n)
        dWs_p, dbs_p = pref.backward(*args_p, q["Y"], q["activations"], loss, **kw_p)
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
    """True if no relu/leaky_relu/elu pre-activation is within KINK_MARGIN of 0, and no mae
    residual within KINK_MARGIN of 0 / huber residual within KINK_MARGIN of ±HUBER_DELTA."""
    Zs, As = nref.forward(
        p["weights"], p["biases"], p["X"], p["activations"], LEAKY_SLOPE, alpha=ELU_ALPHA
    )
    if not all(
        np.min(np.abs(Z)) > KINK_MARGIN
        for Z, act in zip(Zs, p["activations"], strict=True)
        if act in KINKED_ACTIVATIONS
    ):
        return False
    R = np.abs(As[-1] - p["Y"])
    if p["loss"] == "mean_absolute_error":
        return bool(np.min(R) > KINK_MARGIN)
    if p["loss"] == "huber":
        return bool(np.min(np.abs(R - HUBER_DELTA)) > KINK_MARGIN)
    return True


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
    for shape_index, ((batch, widths), weighting) in enumerate(
        zip(SHAPES, WEIGHTINGS, strict=True)
    ):
        # Deterministically redraw until no unit or residual sits on a kink.
        for attempt in range(100):
            p = make_problem(
                1000 * shape_index + attempt, batch, widths, hidden, output, loss, bias, weighting
            )
            if away_from_kinks(p):
                break
        else:
            pytest.fail("could not draw a problem away from the kinks")
        kw = loss_kwargs(p)

        def f(p: Problem = p, kw: dict[str, Any] = kw) -> float:
            return nref.loss(
                p["weights"], p["biases"], p["X"], p["Y"], p["activations"], loss, **kw
            )

        dWs, dbs = nref.backward(
            p["weights"], p["biases"], p["X"], p["Y"], p["activations"], loss, **kw
        )
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
    Z[0] *= 4.0  # some larger |Z| too, to reach into the tails of gelu / swish / softplus
    Z[np.abs(Z) < KINK_MARGIN] = 0.5  # stay off the relu / elu kink
    dA = rng.normal(size=Z.shape)
    kw = {"slope": LEAKY_SLOPE, "alpha": ELU_ALPHA}
    numeric = finite_difference(lambda: float(np.sum(dA * nref.activate(name, Z, **kw))), Z)
    for module in (pref, nref):
        A = module.activate(name, _to(module, Z.tolist()), **kw)
        dZ = module.activation_backward(
            name, _to(module, Z.tolist()), A, _to(module, dA.tolist()), **kw
        )
        np.testing.assert_allclose(np.asarray(dZ), numeric, rtol=FD_RTOL, atol=FD_ATOL)


@pytest.mark.parametrize("loss", ELEMENTWISE_LOSSES + [loss for _, loss in FUSED_OUTPUT_AND_LOSS])
def test_output_delta_matches_finite_differences(loss: str) -> None:
    """output_delta is dL/dZ of loss_value (through the output activation), with weights."""
    rng = np.random.default_rng(8)
    outputs = dict(FUSED_OUTPUT_AND_LOSS)
    activation = {v: k for k, v in outputs.items()}.get(loss, "gelu")
    Z = rng.normal(size=(4, 3))
    if loss == "categorical_cross_entropy":
        Y = np.eye(3)[[0, 2, 1, 1]]
    elif loss == "binary_cross_entropy":
        Y = rng.uniform(size=Z.shape)
    elif loss == "poisson":
        Y = rng.poisson(1.5, size=Z.shape).astype(np.float64)
    else:
        Y = rng.normal(size=Z.shape)
    w = np.array([0.5, 0.0, 2.0, 1.25])
    kw: dict[str, Any] = {"delta": HUBER_DELTA, "sample_weight": w}
    A = nref.activate(activation, Z)
    if loss in ELEMENTWISE_LOSSES:  # residuals off the mae / huber kinks
        R = np.abs(A - Y)
        assert np.min(R) > KINK_MARGIN and np.min(np.abs(R - HUBER_DELTA)) > KINK_MARGIN

    def f() -> float:
        return nref.loss_value(loss, Z, nref.activate(activation, Z), Y, **kw)

    numeric = finite_difference(f, Z)
    for module in (pref, nref):
        args = [_to(module, M.tolist()) for M in (Z, A, Y)]
        dZ = module.output_delta(loss, activation, *args, **kw)
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


def _scalar(module: ModuleType, name: str, z: float, **kw: float) -> float:
    """activate(name) of the single value z."""
    return float(np.asarray(module.activate(name, _to(module, [[z]]), **kw))[0, 0])


def _scalar_derivative(module: ModuleType, name: str, z: float, **kw: float) -> float:
    """g'(z) for the single value z, through activation_backward with dA = 1."""
    Z = _to(module, [[z]])
    dZ = module.activation_backward(
        name, Z, module.activate(name, Z, **kw), _to(module, [[1.0]]), **kw
    )
    return float(np.asarray(dZ)[0, 0])


@pytest.mark.parametrize("module", REFERENCES)
def test_hand_computed_new_activations(module: ModuleType) -> None:
    # gelu(1) = Φ(1) = ½(1 + erf(1/√2));  gelu_tanh(1) = ½(1 + tanh(√(2/π)·1.044715))
    assert _scalar(module, "gelu", 1.0) == pytest.approx(0.8413447460685429, rel=HAND_RTOL)
    assert _scalar(module, "gelu_tanh", 1.0) == pytest.approx(0.8411919906082768, rel=HAND_RTOL)
    assert _scalar(module, "softplus", 0.0) == pytest.approx(math.log(2.0), rel=HAND_RTOL)
    assert _scalar(module, "swish", 1.0) == pytest.approx(0.7310585786300049, rel=HAND_RTOL)  # σ(1)
    assert _scalar(module, "elu", -1.0) == pytest.approx(math.exp(-1.0) - 1.0, rel=HAND_RTOL)
    assert _scalar(module, "elu", -1.0, alpha=2.0) == pytest.approx(
        2.0 * (math.exp(-1.0) - 1.0), rel=HAND_RTOL
    )
    assert _scalar(module, "elu", 2.5, alpha=2.0) == 2.5
    # Derivatives: gelu'(0) = Φ(0) = ½, softplus'(0) = σ(0) = ½, swish'(0) = σ(0) = ½,
    # gelu_tanh'(0) = ½; elu'(−1) = α·e^(−1), elu'(0) = α (the z ≤ 0 branch), elu'(2) = 1.
    for name in ("gelu", "gelu_tanh", "softplus", "swish"):
        assert _scalar_derivative(module, name, 0.0) == 0.5, name
    assert _scalar_derivative(module, "elu", -1.0, alpha=2.0) == pytest.approx(
        2.0 * math.exp(-1.0), rel=HAND_RTOL
    )
    assert _scalar_derivative(module, "elu", 0.0, alpha=2.0) == 2.0
    assert _scalar_derivative(module, "elu", 2.0, alpha=2.0) == 1.0
    # gelu'(1) = Φ(1) + φ(1);  swish'(1) = σ(1)(1 + 1 − σ(1))
    phi_1 = math.exp(-0.5) / math.sqrt(2.0 * math.pi)
    assert _scalar_derivative(module, "gelu", 1.0) == pytest.approx(
        0.8413447460685429 + phi_1, rel=HAND_RTOL
    )
    s1 = 0.7310585786300049
    assert _scalar_derivative(module, "swish", 1.0) == pytest.approx(s1 * (2.0 - s1), rel=HAND_RTOL)


@pytest.mark.parametrize("module", REFERENCES)
def test_hand_computed_new_losses(module: ModuleType) -> None:
    def value(loss: str, residuals: list[float], **kw: float) -> float:
        A = _to(module, [residuals])  # one sample, Y = 0, so r = A
        return float(module.loss_value(loss, A, A, _to(module, [[0.0] * len(residuals)]), **kw))

    def delta_z(loss: str, residuals: list[float], **kw: float) -> list[float]:
        A = _to(module, [residuals])
        Y = _to(module, [[0.0] * len(residuals)])
        dZ = np.asarray(module.output_delta(loss, "identity", A, A, Y, **kw))
        return [float(v) for v in dZ[0]]

    # huber, δ = 1: r = 0.5 -> ½·0.25 = 0.125;  r = 3 -> 1·(3 − ½) = 2.5
    assert value("huber", [0.5]) == 0.125
    assert value("huber", [3.0]) == 2.5
    assert value("huber", [-3.0]) == 2.5
    assert value("huber", [0.5, 3.0]) == (0.125 + 2.5) / 2  # mean over the outputs
    assert value("huber", [3.0], delta=2.0) == 2.0 * (3.0 - 1.0)  # δ(|r| − ½δ) = 4
    assert value("huber", [1.5], delta=2.0) == 0.5 * 1.5**2  # |r| ≤ δ: ½r²
    # dL/dA = r if |r| ≤ δ else δ·sign(r), divided by n·k = 4 here
    assert delta_z("huber", [0.5, 3.0, -3.0, 0.0]) == [0.5 / 4, 1 / 4, -1 / 4, 0.0]
    assert delta_z("huber", [3.0], delta=2.0) == [2.0]
    # mae: r = −2 -> 2; dL/dA = sign(r)/(n·k) with sign(0) = 0
    assert value("mean_absolute_error", [-2.0]) == 2.0
    assert value("mean_absolute_error", [-2.0, 1.0]) == 1.5
    assert delta_z("mean_absolute_error", [-2.0, 1.0, 0.0, 5.0]) == [-0.25, 0.25, 0.0, 0.25]
    # Weights: (1·ℓ_1 + 3·ℓ_2) / 4 with ℓ = mean |r| per sample (ℓ_1 = 1, ℓ_2 = 3)
    A = _to(module, [[1.0, -1.0], [3.0, 3.0]])
    Y = _to(module, [[0.0, 0.0], [0.0, 0.0]])
    L = module.loss_value("mean_absolute_error", A, A, Y, sample_weight=[1.0, 3.0])
    assert L == (1.0 * 1.0 + 3.0 * 3.0) / 4.0
    dZ = module.output_delta("mean_absolute_error", "identity", A, A, Y, sample_weight=[1.0, 3.0])
    # row i: w_i·sign(r)/(k·Σw) = w_i·sign(r)/8
    assert np.asarray(dZ).tolist() == [[1 / 8, -1 / 8], [3 / 8, 3 / 8]]


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


@pytest.mark.parametrize(
    ("module", "dtype"),
    [
        pytest.param(pref, np.float64, id="pure_python"),
        pytest.param(nref, np.float64, id="numpy_reference-float64"),
        pytest.param(nref, np.float32, id="numpy_reference-float32"),
    ],
)
def test_new_activations_extreme_inputs(module: ModuleType, dtype: Any) -> None:
    """No overflow / NaN at ±1e4 and ±1000; the limits are z (z → +∞) and 0 or −α (z → −∞), the
    derivatives 1 and 0."""
    z_values = [1e4, -1e4, 1000.0, -1000.0]
    Z = _to(module, [z_values], dtype)
    ones = _to(module, [[1.0] * len(z_values)], dtype)
    for name in ("elu", "gelu", "gelu_tanh", "softplus", "swish"):
        A = _stable_call(module, "activate", name, Z, 0.01)
        dZ = _stable_call(module, "activation_backward", name, Z, A, ones, 0.01)
        negative_limit = -1.0 if name == "elu" else 0.0  # elu → −α (α = 1)
        expected = [1e4, negative_limit, 1000.0, negative_limit]
        np.testing.assert_allclose(np.asarray(A, dtype=np.float64)[0], expected, atol=1e-12)
        np.testing.assert_allclose(np.asarray(dZ, dtype=np.float64)[0], [1, 0, 1, 0], atol=1e-12)
        if module is nref:
            assert A.dtype == dtype and dZ.dtype == dtype


# --------------------------------------------------------------------------------------------
# 4. Training
# --------------------------------------------------------------------------------------------

FIT_CASES = [
    pytest.param(["tanh", "sigmoid"], "binary_cross_entropy", True, id="tanh-sigmoid-bce"),
    pytest.param(["relu", "softmax"], "categorical_cross_entropy", True, id="relu-softmax-cce"),
    pytest.param(
        ["leaky_relu", "sigmoid", "identity"], "mean_squared_error", False, id="deep-mse-nobias"
    ),
    pytest.param(["elu", "gelu", "swish"], "huber", True, id="elu-gelu-swish-huber"),
    pytest.param(["gelu_tanh", "softplus"], "mean_absolute_error", True, id="gelu_tanh-mae"),
    pytest.param(["swish", "softmax"], "categorical_cross_entropy", False, id="swish-cce-nobias"),
]


@pytest.mark.parametrize("weighting", [None, "with_zeros"])
@pytest.mark.parametrize(("activations", "loss", "bias"), FIT_CASES)
def test_fit_pure_and_numpy_agree(
    activations: list[str], loss: str, bias: bool, weighting: str | None
) -> None:
    widths = [3, 4, 3, 2][: len(activations) + 1]
    p = make_problem(3, 7, widths, activations[0], activations[-1], loss, bias, weighting)
    p["activations"] = activations
    q = as_lists(p)
    # 7 samples in batches of 3: batches of 3, 3 and 1 -> the weighting of the last batch matters.
    lr, epochs, batch_size = 0.3, 5, 3
    W_n, b_n, h_n = nref.fit(
        p["weights"],
        p["biases"],
        p["X"],
        p["Y"],
        activations,
        loss,
        lr,
        epochs,
        batch_size,
        **loss_kwargs(p),
    )
    W_p, b_p, h_p = pref.fit(
        q["weights"],
        q["biases"],
        q["X"],
        q["Y"],
        activations,
        loss,
        lr,
        epochs,
        batch_size,
        **loss_kwargs(q),
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


# Weights for 7 samples in batches of 3: the second batch (rows 3-5) has total weight 0.
FIT_SAMPLE_WEIGHT = [0.5, 2.0, 1.0, 0.0, 0.0, 0.0, 1.5]


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("module", REFERENCES)
def test_fit_matches_manual_loop(module: ModuleType, weighted: bool) -> None:
    """fit == a hand-written loop of loss / backward / sgd_step over in-order batches, with the
    epoch loss Σ_batches batch_loss · Σ_batch w / Σ w (w ≡ 1: the sample-weighted mean of the
    pre-update batch losses)."""
    acts, loss, lr, B = ["tanh", "sigmoid"], "binary_cross_entropy", 0.4, 3
    p = make_problem(11, 7, [2, 3, 1], "tanh", "sigmoid", loss, True)
    if module is pref:
        p = as_lists(p)
    w = FIT_SAMPLE_WEIGHT if weighted else [1.0] * 7
    sample_weight = _to(module, w) if weighted else None
    W, b = p["weights"], p["biases"]
    expected = []
    for _epoch in range(3):
        total = 0.0
        for start in range(0, 7, B):
            Xb, Yb = p["X"][start : start + B], p["Y"][start : start + B]
            wb = _to(module, w[start : start + B]) if weighted else None
            total += module.loss(W, b, Xb, Yb, acts, loss, sample_weight=wb) * sum(
                w[start : start + B]
            )
            dWs, dbs = module.backward(W, b, Xb, Yb, acts, loss, sample_weight=wb)
            W, b = module.sgd_step(W, b, dWs, dbs, lr)
        expected.append(total / sum(w))
    W_fit, b_fit, history = module.fit(
        p["weights"], p["biases"], p["X"], p["Y"], acts, loss, lr, 3, B, sample_weight=sample_weight
    )
    np.testing.assert_allclose(history, expected, rtol=1e-15, atol=0)
    for a, c in zip(W_fit, W, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(c))
    for a, c in zip(b_fit, b, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(c))
    # First epoch with one full batch: its loss is the loss of the initial weights.
    _, _, history = module.fit(
        p["weights"],
        p["biases"],
        p["X"],
        p["Y"],
        acts,
        loss,
        lr,
        1,
        100,
        sample_weight=sample_weight,
    )
    assert history[0] == module.loss(
        p["weights"], p["biases"], p["X"], p["Y"], acts, loss, sample_weight=sample_weight
    )


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


@pytest.mark.parametrize("module", REFERENCES)
def test_fit_shuffled_weights_follow_their_rows(module: ModuleType) -> None:
    """With one full batch, shuffling only reorders the sums: if the weights travel with their
    rows, shuffled and in-order training agree (they would not if the weights stayed in place)."""
    p = make_problem(6, 6, [2, 3, 2], "elu", "swish", "huber", True, "with_zeros")
    if module is pref:
        p = as_lists(p)
    args = (p["weights"], p["biases"], p["X"], p["Y"], p["activations"], p["loss"], 0.5, 4, 6)
    W_a, b_a, in_order = module.fit(*args, **loss_kwargs(p))
    W_b, b_b, shuffled = module.fit(*args, shuffle=True, seed=3, **loss_kwargs(p))
    assert_agree(shuffled, in_order)
    for x, y in zip(W_a + b_a, W_b + b_b, strict=True):
        assert_agree(x, y)


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
# Sample weights
# --------------------------------------------------------------------------------------------

# Integer weights, one of them 0, for 5 samples (repeated 2, 0, 1, 3 and 1 times).
INTEGER_WEIGHTS = [2, 0, 1, 3, 1]
WEIGHTED_CASES = [
    pytest.param("gelu", "identity", "mean_squared_error", id="mse"),
    pytest.param("elu", "tanh", "mean_absolute_error", id="mae"),
    pytest.param("softplus", "swish", "huber", id="huber"),
    pytest.param("gelu_tanh", "sigmoid", "binary_cross_entropy", id="bce"),
    pytest.param("swish", "softmax", "categorical_cross_entropy", id="cce"),
]


@pytest.mark.parametrize(("hidden", "output", "loss"), WEIGHTED_CASES)
@pytest.mark.parametrize("module", REFERENCES)
def test_integer_weights_equal_repeated_rows(
    module: ModuleType, hidden: str, output: str, loss: str
) -> None:
    """Weight m on a sample == the sample repeated m times (0 == dropped), unweighted: for the
    loss, the gradients and full-batch training. An independent check of the weighting: the
    repeated data goes through the plain, unweighted code path."""
    p = make_problem(21, 5, [3, 4, 3], hidden, output, loss, True)
    repeated = dict(p)
    repeated["X"] = np.repeat(p["X"], INTEGER_WEIGHTS, axis=0)
    repeated["Y"] = np.repeat(p["Y"], INTEGER_WEIGHTS, axis=0)
    weights = np.array(INTEGER_WEIGHTS, dtype=np.float64)
    p["sample_weight"] = weights
    if module is pref:
        p, repeated = as_lists(p), as_lists(repeated)
    kw = {"alpha": ELU_ALPHA, "delta": HUBER_DELTA}
    net = (p["weights"], p["biases"])
    acts = p["activations"]

    L_w = module.loss(*net, p["X"], p["Y"], acts, loss, sample_weight=p["sample_weight"], **kw)
    L_r = module.loss(*net, repeated["X"], repeated["Y"], acts, loss, **kw)
    assert L_w == pytest.approx(L_r, rel=REPEAT_RTOL)

    dWs_w, dbs_w = module.backward(
        *net, p["X"], p["Y"], acts, loss, sample_weight=p["sample_weight"], **kw
    )
    dWs_r, dbs_r = module.backward(*net, repeated["X"], repeated["Y"], acts, loss, **kw)
    for g_w, g_r in zip(dWs_w + dbs_w, dWs_r + dbs_r, strict=True):
        assert_agree(g_w, g_r, rtol=REPEAT_RTOL)

    # fit with one batch holding every sample: the same trajectory.
    W_w, b_w, h_w = module.fit(
        *net, p["X"], p["Y"], acts, loss, 0.3, 3, 100, sample_weight=p["sample_weight"], **kw
    )
    W_r, b_r, h_r = module.fit(*net, repeated["X"], repeated["Y"], acts, loss, 0.3, 3, 100, **kw)
    assert_agree(h_w, h_r, rtol=REPEAT_RTOL)
    for x, y in zip(W_w + b_w, W_r + b_r, strict=True):
        assert_agree(x, y, rtol=REPEAT_RTOL)


@pytest.mark.parametrize(("hidden", "output", "loss"), WEIGHTED_CASES)
@pytest.mark.parametrize("module", REFERENCES)
def test_sample_weight_none_is_ones_and_scale_free(
    module: ModuleType, hidden: str, output: str, loss: str
) -> None:
    p = make_problem(22, 4, [2, 3, 3], hidden, output, loss, True, "positive")
    if module is pref:
        p = as_lists(p)
    args = (p["weights"], p["biases"], p["X"], p["Y"], p["activations"], loss)
    # None is exactly all ones (the same arithmetic, bit for bit).
    assert module.loss(*args) == module.loss(*args, sample_weight=[1.0] * 4)
    plain, ones = module.backward(*args), module.backward(*args, sample_weight=[1.0] * 4)
    for x, y in zip(flat(plain), flat(ones), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    # Only the relative weights matter: w and 3.5·w give the same loss and gradients.
    w = np.asarray(p["sample_weight"])
    scaled = _to(module, (3.5 * w).tolist())
    assert module.loss(*args, sample_weight=scaled) == pytest.approx(
        module.loss(*args, sample_weight=p["sample_weight"]), rel=AGREE_RTOL
    )
    for x, y in zip(
        flat(module.backward(*args, sample_weight=scaled)),
        flat(module.backward(*args, sample_weight=p["sample_weight"])),
        strict=True,
    ):
        assert_agree(x, y)


@pytest.mark.parametrize(("hidden", "output", "loss"), WEIGHTED_CASES)
@pytest.mark.parametrize("module", REFERENCES)
def test_zero_total_weight_gives_zero_loss_and_gradient(
    module: ModuleType, hidden: str, output: str, loss: str
) -> None:
    """Σ w = 0: the loss is defined as 0 and the gradient is 0 (so fit makes no update)."""
    p = make_problem(23, 3, [2, 3, 3], hidden, output, loss, True)
    if module is pref:
        p = as_lists(p)
    zeros = _to(module, [0.0, 0.0, 0.0])
    args = (p["weights"], p["biases"], p["X"], p["Y"], p["activations"], loss)
    assert module.loss(*args, sample_weight=zeros) == 0.0
    Zs, As = module.forward(p["weights"], p["biases"], p["X"], p["activations"])
    assert module.loss_value(loss, Zs[-1], As[-1], p["Y"], sample_weight=zeros) == 0.0
    dZ = module.output_delta(loss, output, Zs[-1], As[-1], p["Y"], sample_weight=zeros)
    assert np.asarray(dZ).shape == np.shape(p["Y"]) and not np.any(np.asarray(dZ))
    dWs, dbs = module.backward(*args, sample_weight=zeros)
    for g, param in zip(dWs + dbs, p["weights"] + p["biases"], strict=True):
        assert np.asarray(g).shape == np.shape(param) and not np.any(np.asarray(g))
    W, b, history = module.fit(*args, 0.5, 2, 2, sample_weight=zeros)
    assert history == [0.0, 0.0]
    for new, old in zip(W + b, p["weights"] + p["biases"], strict=True):
        np.testing.assert_array_equal(np.asarray(new), np.asarray(old))


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
    # The new activations, losses and (float64) sample weights keep float32 too.
    Z32 = np.array([[-2.0, -0.5, 0.0, 0.5, 2.0]], dtype=np.float32)
    for name in ("elu", "gelu", "gelu_tanh", "softplus", "swish"):
        A32 = nref.activate(name, Z32)
        assert A32.dtype == np.float32
        np.testing.assert_allclose(A32, nref.activate(name, Z32.astype(np.float64)), rtol=1e-6)
        assert nref.activation_backward(name, Z32, A32, np.ones_like(Z32)).dtype == np.float32
    w = np.array([0.5, 0.0, 2.0])
    for loss in ("huber", "mean_absolute_error"):
        dWs, dbs = nref.backward(W32, b32, X32, p["Y"], ["gelu", "identity"], loss, sample_weight=w)
        assert dbs is not None
        assert all(d.dtype == np.float32 for d in dWs + dbs)


# --------------------------------------------------------------------------------------------
# 5. Misuse
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("module", REFERENCES)
def test_misuse_raises_value_error(module: ModuleType) -> None:
    W = [[[1.0, 2.0]], [[1.0], [2.0]]]  # 1 -> 2 -> 1
    b = [[0.0, 0.0], [0.0]]
    X, Y = [[1.0]], [[1.0]]
    with pytest.raises(ValueError, match=r"name.*mish.*identity"):
        module.activate("mish", X)
    with pytest.raises(ValueError, match=r"activations\[1\].*mish"):
        module.forward(W, b, X, ["tanh", "mish"])
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


BAD_SAMPLE_WEIGHTS = [
    pytest.param([1.0, 2.0], id="too-short"),
    pytest.param([1.0, 2.0, 3.0, 4.0], id="too-long"),
    pytest.param([1.0, -0.5, 1.0], id="negative"),
    pytest.param([1.0, float("nan"), 1.0], id="nan"),
    pytest.param([1.0, float("inf"), 1.0], id="inf"),
    pytest.param([[1.0, 1.0, 1.0]], id="2-D"),
]


@pytest.mark.parametrize("sample_weight", BAD_SAMPLE_WEIGHTS)
@pytest.mark.parametrize("module", REFERENCES)
def test_bad_sample_weight_raises_value_error(module: ModuleType, sample_weight: Any) -> None:
    W, b = [[[1.0]]], [[0.0]]
    X, Y = [[1.0], [2.0], [3.0]], [[0.0], [1.0], [0.5]]
    args = (W, b, X, Y, ["identity"], "huber")
    kw = {"sample_weight": sample_weight}
    with pytest.raises(ValueError, match=r"sample_weight"):
        module.loss_value("huber", X, X, Y, **kw)
    with pytest.raises(ValueError, match=r"sample_weight"):
        module.output_delta("huber", "identity", X, X, Y, **kw)
    with pytest.raises(ValueError, match=r"sample_weight"):
        module.loss(*args, **kw)
    with pytest.raises(ValueError, match=r"sample_weight"):
        module.backward(*args, **kw)
    with pytest.raises(ValueError, match=r"sample_weight"):
        module.fit(*args, 0.1, 1, 2, **kw)


@pytest.mark.parametrize("delta", [0.0, -1.0, float("nan"), float("inf")])
@pytest.mark.parametrize("module", REFERENCES)
def test_bad_delta_raises_value_error(module: ModuleType, delta: float) -> None:
    W, b, X, Y = [[[1.0]]], [[0.0]], [[1.0]], [[0.0]]
    args = (W, b, X, Y, ["identity"], "huber")
    with pytest.raises(ValueError, match=r"delta"):
        module.loss_value("huber", X, X, Y, delta=delta)
    with pytest.raises(ValueError, match=r"delta"):
        module.output_delta("huber", "identity", X, X, Y, delta=delta)
    with pytest.raises(ValueError, match=r"delta"):
        module.loss(*args, delta=delta)
    with pytest.raises(ValueError, match=r"delta"):
        module.backward(*args, delta=delta)
    with pytest.raises(ValueError, match=r"delta"):
        module.fit(*args, 0.1, 1, 1, delta=delta)
