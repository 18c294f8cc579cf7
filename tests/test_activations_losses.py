"""The activations and losses of the native core against ``nncore.reference.numpy_reference``:
every activation of the core's list (hidden and output), every loss, per-layer activation lists
and sample weights — forward, loss, backward, finite differences,
a whole ``fit``, and integer weights as repeated rows."""

from __future__ import annotations

import math
import zlib
from typing import Any

import numpy as np
import pytest

import nncore
from conftest import reference_gradients
from nncore import _validation
from nncore.reference import numpy_reference as nref

# --------------------------------------------------------------------------------------------
# Tolerances
# --------------------------------------------------------------------------------------------

# float64 native vs float64 reference: the same formulas, summed in another order (Eigen's
# products vs BLAS), a few ulps per layer. 1e-10 relative still catches any formula error.
RTOL = 1e-10
# Absolute floor, times the array's largest entry, for entries that are ~0 by cancellation. It
# also covers exact GELU, where the reference uses erfc and Eigen uses 1 + erf: for z ≪ 0 the two
# differ by ~1e-16 absolute (a large relative error on a tiny value).
ATOL_SCALE = 1e-12
# float32 native vs the float64 reference of the same float32 weights and inputs: float32
# rounding (eps ≈ 6e-8) over a few layers of width <= 16.
RTOL32 = 1e-4
ATOL32_SCALE = 1e-4
# Central differences of the float64 loss: truncation ~h²·L'''/6 ≈ 1e-12, rounding
# ~eps·|L|/h ≈ 1e-10, so 1e-6 relative is far above the noise and far below a real bug.
FD_STEP = 1e-6
FD_RTOL = 1e-6
FD_ATOL = 1e-8
# Kinks (elu/relu/leaky_relu at z = 0, mae at r = 0, huber at |r| = δ) must be this far from
# every pre-activation/residual for a finite difference of step FD_STEP to be valid (a step
# moves them by far less than this on these small networks).
KINK_MARGIN = 1e-3
# A whole fit (a few epochs of small-batch SGD) vs numpy_reference.fit: per-step rounding
# differences (~1e-16) grow mildly over ~25 steps.
FIT_RTOL = 1e-9
FIT_ATOL_SCALE = 1e-9
# Weighted loss/backward vs the same samples repeated: one weighted sum vs a longer plain sum.
REPEAT_RTOL = 1e-12
REPEAT_ATOL_SCALE = 1e-12

# Non-default hyper-parameters, so that a core that ignores them fails.
ELU_ALPHA = 0.7
HUBER_DELTA = 0.3
LEAKY_SLOPE = 0.01  # MLP's default

# Every hidden activation of the core (the older ones are also in test_gradients.py).
NEW_HIDDEN = [name for name in nncore.ACTIVATIONS if name != "softmax"]
ALL_OUTPUTS = list(nncore.ACTIVATIONS)
ELEMENTWISE_LOSSES = ["mean_squared_error", "mean_absolute_error", "huber"]
# (output activation, loss) for every loss, the fused cross-entropies with their outputs.
EVERY_LOSS = [
    ("identity", "mean_squared_error"),
    ("tanh", "mean_absolute_error"),
    ("swish", "huber"),
    ("sigmoid", "binary_cross_entropy"),
    ("softmax", "categorical_cross_entropy"),
    ("identity", "poisson"),
]
KINKED = ("relu", "leaky_relu", "elu")


def test_every_loss_of_the_core_has_its_cases_here() -> None:
    assert sorted(loss for _, loss in EVERY_LOSS) == sorted(nncore.LOSSES)
    assert set(ELEMENTWISE_LOSSES) == set(nncore.LOSSES) - set(_validation.LOSS_OUTPUT)


def stable_seed(*parts: Any) -> int:
    """A seed that depends only on the test's parameters (``hash`` is salted per process)."""
    return zlib.crc32(repr(parts).encode())


# --------------------------------------------------------------------------------------------
# Problems and the bridge to the reference
# --------------------------------------------------------------------------------------------


class Problem:
    """A seeded model with random data, and the reference's view of it."""

    def __init__(
        self,
        seed: int,
        sizes: list[int],
        activation: str | list[str],
        output_activation: str,
        loss: str,
        n: int = 13,
        dtype: str = "float64",
        use_bias: bool = True,
        weighted: bool = False,
        one_hot: bool = False,
    ) -> None:
        rng = np.random.default_rng(seed)
        self.model = nncore.MLP(
            sizes,
            activation=activation,
            output_activation=output_activation,
            dtype=dtype,
            seed=int(rng.integers(0, 2**63)),
            use_bias=use_bias,
            elu_alpha=ELU_ALPHA,
        )
        if use_bias:  # biases start at zero; make them matter
            for bias in self.model.biases:
                bias[...] = rng.normal(scale=0.5, size=bias.shape)
        n_hidden = len(sizes) - 2
        hidden = [activation] * n_hidden if isinstance(activation, str) else list(activation)
        self.activations = [*hidden, output_activation]
        self.loss = loss
        self.dtype = np.dtype(dtype)
        self.X = rng.normal(size=(n, sizes[0])).astype(dtype)
        k = sizes[-1]
        if loss == "categorical_cross_entropy":
            labels = rng.integers(0, k, size=n)
            self.Y = np.zeros((n, k))
            self.Y[np.arange(n), labels] = 1.0
            self.y: Any = self.Y.copy() if one_hot else labels
        elif loss == "binary_cross_entropy":
            self.Y = rng.integers(0, 2, size=(n, k)).astype(np.float64)
            self.y = self.Y.copy()
        elif loss == "poisson":  # counts >= 0, zeros among them (0·log 0)
            self.Y = rng.poisson(1.5, size=(n, k)).astype(np.float64)
            self.y = self.Y.copy()
        else:
            self.Y = rng.normal(size=(n, k))
            self.y = self.Y.copy()
        self.w: Any = None
        if weighted:
            # Positive weights exactly representable in float32, a few of them zero.
            w = rng.uniform(0.1, 3.0, size=n).astype(np.float32).astype(np.float64)
            w[rng.choice(n, size=max(1, n // 4), replace=False)] = 0.0
            self.w = w

    # the reference's arguments ------------------------------------------------------------
    def parameters(self) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
        weights, biases = self.model.get_parameters()
        ws = [np.asarray(w, dtype=np.float64) for w in weights]
        if not self.model.use_bias:
            return ws, None
        return ws, [np.asarray(b, dtype=np.float64) for b in biases]

    def ref_kwargs(self) -> dict[str, Any]:
        return {"alpha": ELU_ALPHA, "delta": HUBER_DELTA, "sample_weight": self.w}

    def ref_forward(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        Ws, bs = self.parameters()
        return nref.forward(
            Ws, bs, self.X.astype(np.float64), self.activations, LEAKY_SLOPE, alpha=ELU_ALPHA
        )

    def ref_loss(self) -> float:
        Ws, bs = self.parameters()
        return nref.loss(
            Ws,
            bs,
            self.X.astype(np.float64),
            self.Y,
            self.activations,
            self.loss,
            LEAKY_SLOPE,
            **self.ref_kwargs(),
        )

    def ref_backward(self) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
        Ws, bs = self.parameters()
        return nref.backward(
            Ws,
            bs,
            self.X.astype(np.float64),
            self.Y,
            self.activations,
            self.loss,
            LEAKY_SLOPE,
            **self.ref_kwargs(),
        )

    # the model's ---------------------------------------------------------------------------
    def loss_value(self) -> float:
        return self.model.loss(
            self.X, self.y, loss=self.loss, sample_weight=self.w, huber_delta=HUBER_DELTA
        )

    def backward(self) -> list[tuple[np.ndarray, np.ndarray | None]]:
        return self.model.backward(
            self.X, self.y, loss=self.loss, sample_weight=self.w, huber_delta=HUBER_DELTA
        )

    def margin_ok(self) -> bool:
        """Whether every kink is at least KINK_MARGIN away (finite differences are valid)."""
        Zs, As = self.ref_forward()
        for Z, name in zip(Zs, self.activations, strict=True):
            if name in KINKED and np.min(np.abs(Z)) < KINK_MARGIN:
                return False
        R = np.abs(As[-1] - self.Y)
        if self.w is not None:  # rows of weight 0 do not contribute: their kinks do not matter
            R = R[self.w > 0]
        if self.loss == "mean_absolute_error" and np.min(R) < KINK_MARGIN:
            return False
        return not (self.loss == "huber" and np.min(np.abs(R - HUBER_DELTA)) < KINK_MARGIN)


def assert_close(actual: Any, expected: Any, rtol: float, atol_scale: float, what: str) -> None:
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, what
    atol = atol_scale * max(float(np.max(np.abs(expected), initial=0.0)), 1e-300)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)


def check_against_reference(problem: Problem) -> None:
    """forward, loss and backward of the model equal the reference's."""
    if problem.dtype == np.float64:
        rtol, atol_scale = RTOL, ATOL_SCALE
    else:
        rtol, atol_scale = RTOL32, ATOL32_SCALE
    _, As = problem.ref_forward()
    output = problem.model.forward(problem.X)
    assert output.dtype == problem.dtype
    assert_close(output, As[-1], rtol, atol_scale, "forward")
    assert_close(problem.loss_value(), problem.ref_loss(), rtol, atol_scale, "loss")
    gradients = problem.backward()
    dWs, dbs = reference_gradients(gradients)
    ref_dWs, ref_dbs = problem.ref_backward()
    for layer, (dW, ref_dW) in enumerate(zip(dWs, ref_dWs, strict=True)):
        assert dW.dtype == problem.dtype
        assert_close(dW, ref_dW, rtol, atol_scale, f"dW[{layer}]")
    if problem.model.use_bias:
        assert dbs is not None and ref_dbs is not None
        for layer, (db, ref_db) in enumerate(zip(dbs, ref_dbs, strict=True)):
            assert_close(db, ref_db, rtol, atol_scale, f"db[{layer}]")
    else:
        assert dbs is None and ref_dbs is None


def random_sizes(rng: np.random.Generator, depth: int, output_activation: str) -> list[int]:
    sizes = [int(w) for w in rng.integers(1, 17, size=depth + 1)]
    if output_activation == "softmax":
        sizes[-1] = int(rng.integers(2, 6))
    return sizes


# --------------------------------------------------------------------------------------------
# 1. Native core == reference
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("loss", ELEMENTWISE_LOSSES)
@pytest.mark.parametrize("activation", NEW_HIDDEN)
def test_new_hidden_activations_match_reference(activation, loss, use_bias, dtype):
    seed = stable_seed("hidden", activation, loss, use_bias, dtype)
    sizes = random_sizes(np.random.default_rng(seed), 3, "identity")
    sizes[1] = max(sizes[1], 4)
    problem = Problem(seed, sizes, activation, "identity", loss, dtype=dtype, use_bias=use_bias)
    check_against_reference(problem)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("loss", ELEMENTWISE_LOSSES)
@pytest.mark.parametrize("output_activation", ALL_OUTPUTS)
def test_every_output_activation_with_elementwise_losses(output_activation, loss, weighted):
    seed = stable_seed("output", output_activation, loss, weighted)
    sizes = random_sizes(np.random.default_rng(seed), 2, output_activation)
    problem = Problem(seed, sizes, "gelu", output_activation, loss, weighted=weighted)
    check_against_reference(problem)


@pytest.mark.parametrize("output_activation", ALL_OUTPUTS)
def test_every_output_activation_float32(output_activation):
    seed = stable_seed("output32", output_activation)
    sizes = random_sizes(np.random.default_rng(seed), 2, output_activation)
    problem = Problem(seed, sizes, "swish", output_activation, "huber", dtype="float32")
    check_against_reference(problem)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(
    ("output_activation", "loss", "one_hot"),
    [
        ("sigmoid", "binary_cross_entropy", False),
        ("softmax", "categorical_cross_entropy", False),
        ("softmax", "categorical_cross_entropy", True),
    ],
)
@pytest.mark.parametrize("activation", NEW_HIDDEN)
def test_new_hidden_activations_with_cross_entropies(
    activation, output_activation, loss, one_hot, weighted, dtype
):
    seed = stable_seed("fused", activation, loss, one_hot, weighted, dtype)
    sizes = random_sizes(np.random.default_rng(seed), 2, output_activation)
    problem = Problem(
        seed,
        sizes,
        activation,
        output_activation,
        loss,
        dtype=dtype,
        weighted=weighted,
        one_hot=one_hot,
    )
    check_against_reference(problem)


PER_LAYER = [
    ["tanh", "gelu", "elu"],
    ["swish", "softplus", "gelu_tanh"],
    ["elu", "relu", "swish"],
    ["gelu_tanh", "sigmoid", "leaky_relu"],
]


@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize(("output_activation", "loss"), EVERY_LOSS)
@pytest.mark.parametrize("activations", PER_LAYER, ids="-".join)
def test_per_layer_activation_lists(activations, output_activation, loss, use_bias):
    seed = stable_seed("per-layer", activations, loss, use_bias)
    sizes = random_sizes(np.random.default_rng(seed), 4, output_activation)
    problem = Problem(
        seed, sizes, activations, output_activation, loss, use_bias=use_bias, weighted=True
    )
    assert problem.model.activations == (*activations, output_activation)
    check_against_reference(problem)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize(("output_activation", "loss"), EVERY_LOSS)
def test_sample_weight_for_every_loss(output_activation, loss, use_bias, dtype):
    seed = stable_seed("weights", loss, use_bias, dtype)
    sizes = random_sizes(np.random.default_rng(seed), 3, output_activation)
    problem = Problem(
        seed,
        sizes,
        ["softplus", "elu"],
        output_activation,
        loss,
        n=21,
        dtype=dtype,
        use_bias=use_bias,
        weighted=True,
    )
    assert problem.w is not None and (problem.w == 0).any() and (problem.w > 0).any()
    check_against_reference(problem)


def test_huber_delta_and_elu_alpha_are_used():
    """The non-default δ and α change the results (so the comparisons above test them)."""
    seed = stable_seed("hyper")
    problem = Problem(seed, [3, 6, 2], "elu", "identity", "huber", n=30)
    X, y = problem.X, problem.y
    assert problem.model.loss(X, y, loss="huber", huber_delta=HUBER_DELTA) != pytest.approx(
        problem.model.loss(X, y, loss="huber")
    )
    default_alpha = nncore.MLP([3, 6, 2], "elu", dtype="float64", seed=1)
    default_alpha.set_parameters(*problem.model.get_parameters())
    assert not np.allclose(default_alpha.forward(X), problem.model.forward(X))


def test_huber_with_a_huge_delta_is_half_mse_and_mae_is_mean_abs():
    seed = stable_seed("huber-limit")
    problem = Problem(seed, [3, 5, 2], "gelu", "identity", "huber", n=17)
    X, y = problem.X, problem.y
    mse = problem.model.loss(X, y, loss="mse")
    assert problem.model.loss(X, y, loss="huber", huber_delta=1e6) == pytest.approx(
        0.5 * mse, rel=1e-13
    )
    residual = problem.model.forward(X) - y
    assert problem.model.loss(X, y, loss="mae") == pytest.approx(
        np.mean(np.abs(residual)), rel=1e-13
    )


def test_silu_is_an_alias_of_swish():
    model = nncore.MLP([2, 3, 1], "silu", output_activation="silu", dtype="float64", seed=0)
    assert model.activations == ("swish", "swish")


# --------------------------------------------------------------------------------------------
# 2. Finite differences
# --------------------------------------------------------------------------------------------


def finite_difference_check(problem: Problem) -> None:
    model = problem.model
    gradients = problem.backward()
    arrays = list(model.weights) + (list(model.biases) if model.use_bias else [])
    analytic = [dW for dW, _ in gradients] + ([db for _, db in gradients] if model.use_bias else [])
    for index, (array, grad) in enumerate(zip(arrays, analytic, strict=True)):
        numeric = np.empty_like(grad)
        for position in np.ndindex(array.shape):
            saved = array[position]
            array[position] = saved + FD_STEP
            plus = problem.loss_value()
            array[position] = saved - FD_STEP
            minus = problem.loss_value()
            array[position] = saved
            numeric[position] = (plus - minus) / (2 * FD_STEP)
        np.testing.assert_allclose(
            grad, numeric, rtol=FD_RTOL, atol=FD_ATOL, err_msg=f"parameter array {index}"
        )


def kink_free_problem(tag: Any, *args: Any, **kwargs: Any) -> Problem:
    """The first of a fixed sequence of seeded problems whose kinks are all KINK_MARGIN away."""
    for attempt in range(50):
        problem = Problem(stable_seed("fd", tag, attempt), *args, **kwargs)
        if problem.margin_ok():
            return problem
    raise AssertionError("no kink-free problem found")  # pragma: no cover


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("loss", ELEMENTWISE_LOSSES)
@pytest.mark.parametrize("activation", NEW_HIDDEN)
def test_finite_differences_new_hidden_activations(activation, loss, weighted):
    problem = kink_free_problem(
        (activation, loss, weighted), [3, 5, 4, 2], activation, "identity", loss, weighted=weighted
    )
    finite_difference_check(problem)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("loss", ELEMENTWISE_LOSSES)
@pytest.mark.parametrize("output_activation", ALL_OUTPUTS)
def test_finite_differences_output_activations(output_activation, loss, weighted):
    k = 3 if output_activation == "softmax" else 2
    problem = kink_free_problem(
        (output_activation, loss, weighted),
        [3, 4, k],
        "tanh",
        output_activation,
        loss,
        n=9,
        weighted=weighted,
    )
    finite_difference_check(problem)


@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize(("output_activation", "loss"), EVERY_LOSS)
def test_finite_differences_per_layer_and_weighted(output_activation, loss, use_bias):
    k = 3 if output_activation == "softmax" else 2
    problem = kink_free_problem(
        (output_activation, loss, use_bias),
        [3, 4, 4, 3, k],
        ["gelu", "elu", "gelu_tanh"],
        output_activation,
        loss,
        n=11,
        use_bias=use_bias,
        weighted=True,
    )
    finite_difference_check(problem)


# --------------------------------------------------------------------------------------------
# 3. A whole weighted fit == numpy_reference.fit
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("activation", "output_activation", "loss"),
    [
        ("gelu", "identity", "huber"),
        (["elu", "swish"], "tanh", "mean_absolute_error"),
        ("softplus", "sigmoid", "binary_cross_entropy"),
        ("gelu_tanh", "softmax", "categorical_cross_entropy"),
    ],
)
def test_weighted_fit_matches_reference(activation, output_activation, loss):
    n, batch_size, epochs, lr = 23, 5, 6, 0.2  # 5 does not divide 23: a last batch of 3
    seed = stable_seed("fit", activation, loss)
    k = 3 if output_activation == "softmax" else 2
    sizes = [4, 6, 5, k] if isinstance(activation, list) else [4, 6, k]
    problem = Problem(seed, sizes, activation, output_activation, loss, n=n, weighted=True)
    w = problem.w
    w[5:10] = 0.0  # a whole batch of weight 0: no update from it
    Ws, bs = problem.parameters()
    ref_Ws, ref_bs, ref_losses = nref.fit(
        Ws,
        bs,
        problem.X,
        problem.Y,
        problem.activations,
        loss,
        lr,
        epochs,
        batch_size,
        LEAKY_SLOPE,
        shuffle=False,
        alpha=ELU_ALPHA,
        delta=HUBER_DELTA,
        sample_weight=w,
    )
    history = problem.model.fit(
        problem.X,
        problem.y,
        loss=loss,
        learning_rate=lr,
        epochs=epochs,
        batch_size=batch_size,
        shuffle=False,
        n_iter_no_change=None,
        sample_weight=w,
        huber_delta=HUBER_DELTA,
    )
    assert history.stop_reason == "max_epochs"
    assert_close(history.loss, ref_losses, FIT_RTOL, FIT_ATOL_SCALE, "epoch losses")
    weights, biases = problem.model.get_parameters()
    for layer in range(len(weights)):
        assert_close(weights[layer], ref_Ws[layer], FIT_RTOL, FIT_ATOL_SCALE, f"W[{layer}]")
        assert_close(biases[layer], ref_bs[layer], FIT_RTOL, FIT_ATOL_SCALE, f"b[{layer}]")
    # the weights mattered: an unweighted fit ends elsewhere
    _, _, plain_losses = nref.fit(
        Ws,
        bs,
        problem.X,
        problem.Y,
        problem.activations,
        loss,
        lr,
        epochs,
        batch_size,
        LEAKY_SLOPE,
        alpha=ELU_ALPHA,
        delta=HUBER_DELTA,
    )
    assert not np.allclose(plain_losses, ref_losses)


# --------------------------------------------------------------------------------------------
# 4. Integer weights == repeated rows
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize(("output_activation", "loss"), EVERY_LOSS)
def test_integer_weights_equal_repeated_rows(output_activation, loss, use_bias):
    seed = stable_seed("repeat", loss, use_bias)
    k = 3 if output_activation == "softmax" else 2
    problem = Problem(
        seed, [3, 5, 4, k], ["gelu", "elu"], output_activation, loss, n=15, use_bias=use_bias
    )
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 4, size=15)
    counts[0] = 2  # at least one row counts
    X, y, model = problem.X, problem.y, problem.model
    X_rep, y_rep = np.repeat(X, counts, axis=0), np.repeat(y, counts, axis=0)
    options = {"loss": loss, "huber_delta": HUBER_DELTA}
    weighted = model.loss(X, y, sample_weight=counts, **options)
    assert_close(
        weighted, model.loss(X_rep, y_rep, **options), REPEAT_RTOL, REPEAT_ATOL_SCALE, "loss"
    )
    grads = model.backward(X, y, sample_weight=counts, **options)
    grads_rep = model.backward(X_rep, y_rep, **options)
    for layer, ((dW, db), (dW_rep, db_rep)) in enumerate(zip(grads, grads_rep, strict=True)):
        assert_close(dW, dW_rep, REPEAT_RTOL, REPEAT_ATOL_SCALE, f"dW[{layer}]")
        if use_bias:
            assert_close(db, db_rep, REPEAT_RTOL, REPEAT_ATOL_SCALE, f"db[{layer}]")
        else:
            assert db is None and db_rep is None
    # Scaling every weight by a constant changes nothing; all ones equals no weights.
    assert_close(
        model.loss(X, y, sample_weight=7.5 * counts, **options),
        weighted,
        REPEAT_RTOL,
        REPEAT_ATOL_SCALE,
        "scaled loss",
    )
    assert_close(
        model.loss(X, y, sample_weight=np.ones(15), **options),
        model.loss(X, y, **options),
        REPEAT_RTOL,
        REPEAT_ATOL_SCALE,
        "unit weights",
    )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_tanh_is_within_a_few_ulp_of_numpy_everywhere(dtype: str) -> None:
    """The float64 tanh is nncore's own vectorised one (a continued fraction below |z| = 0.625,
    1 − 2/(e^{2|z|} + 1) above): compared with NumPy's over tiny, moderate, boundary and huge
    values. float32 is Eigen's, checked the same way."""
    model = nncore.MLP([1, 1], activation="tanh", output_activation="tanh", dtype=dtype, seed=0)
    model.set_parameters([np.array([[1.0]])], [np.array([0.0])])
    rng = np.random.default_rng(0)
    tiny = np.finfo(dtype).smallest_subnormal
    x = np.concatenate(
        [
            rng.uniform(-1, 1, 20000),
            rng.uniform(-30, 30, 20000),
            np.logspace(np.log10(tiny), 3, 4000),
            -np.logspace(np.log10(tiny), 3, 4000),
            [0.0, 0.625, -0.625, np.nextafter(0.625, 0), 0.6251, 19.0, 400.0, -400.0],
        ]
    ).astype(dtype)
    ours = model.forward(x[:, None])[:, 0]
    expected = np.tanh(x)
    assert_within_ulps(ours, expected, dtype, 4 if dtype == "float64" else 8)
    assert np.all(np.abs(ours) <= 1)


@pytest.mark.parametrize("width", [1, 2, 3, 4, 5, 7, 8, 9, 17])
def test_float64_tanh_does_not_depend_on_the_column(width: int) -> None:
    """The float64 tanh runs a SIMD packet at a time and the last partial packet through a padded
    copy: every column of a layer gives the same bits for the same pre-activation."""
    model = nncore.MLP([1, width], output_activation="tanh", dtype="float64", seed=0)
    model.set_parameters([np.ones((1, width))], [np.zeros(width)])
    x = np.random.default_rng(1).uniform(-3, 3, (500, 1))
    out = model.forward(x)
    np.testing.assert_array_equal(out, np.repeat(out[:, :1], width, axis=1))
    np.testing.assert_allclose(out[:, 0], np.tanh(x[:, 0]), rtol=1e-15, atol=0)


# Arguments of exp from 5 above log(smallest normal) (−708.40 in float64, −87.34 in float32) to
# 5 below log(smallest subnormal) (−744.44, −103.28; exp rounds to 0 a little below it), and far
# beyond.
def exp_arguments(dtype: str) -> np.ndarray:
    low = np.log(np.finfo(dtype).tiny)
    zero = np.log(np.finfo(dtype).smallest_subnormal)
    return np.concatenate(
        [np.linspace(low + 5, zero - 5, 199), [low, zero, 2 * zero, 3 * zero, -1e4]]
    ).astype(dtype)


def assert_within_ulps(ours: np.ndarray, expected: np.ndarray, dtype: str, ulps: int) -> None:
    """|ours − expected| <= ulps units in the last place of expected; for a subnormal (or 0)
    expected value, ulps times the smallest subnormal number."""
    floor = np.finfo(dtype).tiny
    spacing = np.spacing(np.maximum(np.abs(expected), floor).astype(dtype))
    error = np.abs(ours.astype(np.float64) - expected) / spacing
    worst = int(np.argmax(error))
    assert error.max() <= ulps, (ours.ravel()[worst], expected.ravel()[worst])


# Eigen's vectorised exp is within 1 ulp in float64; in float32, AVX-512's version is 4 ulps off
# near the end of the normal numbers (measured at e^{−84} and e^{−86.9}).
EXP_ULPS = {"float64": 2, "float32": 4}


def libm_exp(x: np.ndarray) -> np.ndarray:
    """exp in float64 from Python's math module (the C library's), rounded to x's dtype."""
    return np.array([math.exp(float(v)) for v in x.ravel()]).reshape(x.shape).astype(x.dtype)


def identity_layer(width: int, output_activation: str, dtype: str) -> nncore.MLP:
    model = nncore.MLP(
        [width, width], output_activation=output_activation, elu_alpha=ELU_ALPHA, dtype=dtype
    )
    model.set_parameters([np.eye(width)], [np.zeros(width)])
    return model


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_softmax_is_right_where_exp_is_subnormal(dtype: str) -> None:
    """Rows (0, z_1, …, z_16), the z_j from just above log(smallest normal) to far below: softmax
    gives exp(z_j) (the row sums to 1), subnormal or 0, in every build. Eigen's vectorised exp
    gave exp(−709.78) ≈ 5.6e-309 for every float64 z_j below −709.78 that fell in a SIMD packet,
    where exp(z_j) is 0, and a constant or 0 for float32 z_j below −88.72. 17 columns put the z_j
    in packets and in the scalar tail."""
    z = exp_arguments(dtype)
    rows = np.zeros((len(z), 17), dtype=dtype)
    for j in range(1, 17):
        rows[:, j] = np.roll(z, j)
    ours = identity_layer(17, "softmax", dtype).forward(rows)
    assert_within_ulps(ours[:, 1:], libm_exp(rows[:, 1:]), dtype, EXP_ULPS[dtype])
    np.testing.assert_array_equal(ours[:, 0], 1)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_elementwise_activations_are_right_where_exp_is_subnormal(dtype: str) -> None:
    """There σ(z) = e^z, softplus(z) = log1p(e^z) = e^z and swish(z) = z·σ(z) to rounding, and
    elu(z) = α(e^z − 1) = −α (which Eigen's exp already gave), on layers of 33 columns (SIMD
    packets and a scalar tail)."""
    z = exp_arguments(dtype)
    X = np.repeat(z[:, None], 33, axis=1)
    e = libm_exp(z)
    for activation, expected in [
        ("sigmoid", e),
        ("softplus", e),
        ("swish", z * e),  # the product in dtype, as the layer computes it
        ("elu", np.full(len(z), -ELU_ALPHA, dtype=dtype)),
    ]:
        ours = identity_layer(33, activation, dtype).forward(X)
        assert_within_ulps(ours, np.repeat(expected[:, None], 33, axis=1), dtype, EXP_ULPS[dtype])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_softplus_gradient_is_right_where_exp_is_subnormal(dtype: str) -> None:
    """softplus'(z) = σ(z) = e^z there: one row of 16 equal z per sample, MSE against 1, so
    db_j = 2(softplus(z) − 1)/16 · σ(z) = −e^z/8 to rounding."""
    model = identity_layer(16, "softplus", dtype)
    for value in exp_arguments(dtype)[::10]:
        X = np.full((1, 16), value, dtype=dtype)
        ((_, db),) = model.backward(X, np.ones((1, 16)), "mean_squared_error")
        expected = np.full(16, -math.exp(float(value)) / 8).astype(dtype)
        assert_within_ulps(db, expected, dtype, EXP_ULPS[dtype])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_gelu_gradient_is_right_where_exp_is_subnormal(dtype: str) -> None:
    """GELU'(z) = Φ(z) + z·φ(z) with φ(z) = e^{−z²/2}/√(2π), at z where e^{−z²/2} is subnormal or
    0: one row of 16 equal z per sample, MSE against 1, so db_j = 2(GELU(z) − 1)/16 · GELU'(z).
    In float32 the rounding of z²/2 (half an ulp) moves e^{−z²/2} by z²/2 half-ulps: the
    tolerance grows with it there."""
    low = math.log(np.finfo(dtype).tiny)
    zero = math.log(np.finfo(dtype).smallest_subnormal)
    z = -np.sqrt(-2 * np.array([low + 2, low, (low + zero) / 2, zero + 1, zero - 2, 2 * zero]))
    model = identity_layer(16, "gelu", dtype)
    for value in z.astype(dtype):
        X = np.full((1, 16), value, dtype=dtype)
        v = float(value)
        gelu = 0.5 * v * (1 + math.erf(v / math.sqrt(2)))
        derivative = 0.5 * (1 + math.erf(v / math.sqrt(2))) + v * math.exp(-v * v / 2) / math.sqrt(
            2 * math.pi
        )
        expected = np.full(16, 2 * (gelu - 1) / 16 * derivative)
        ((_, db),) = model.backward(X, np.ones((1, 16)), "mean_squared_error")
        slack = int(v * v) if dtype == "float32" else 0
        assert_within_ulps(db, expected, dtype, EXP_ULPS[dtype] + slack)


def test_poisson_loss_is_right_where_exp_is_subnormal() -> None:
    """ℓ = e^z − y·z + … with y = 0 is e^z: a subnormal loss and gradient, not exp(−709.78)."""
    model = identity_layer(16, "identity", "float64")
    for value in exp_arguments("float64")[::10]:
        row = np.full((1, 16), value)
        expected = math.exp(float(value))
        loss = model.loss(row, np.zeros((1, 16)), "poisson")
        assert_within_ulps(np.array([loss]), np.array([expected]), "float64", EXP_ULPS["float64"])
        ((_, db),) = model.backward(row, np.zeros((1, 16)), "poisson")
        assert_within_ulps(db, np.full(16, expected / 16), "float64", EXP_ULPS["float64"])
