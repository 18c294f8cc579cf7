"""The core's L-BFGS (``nncore.optim.LBFGS``, ``fit(optimizer="lbfgs")``, ``_core.minimize_lbfgs``)
against independent references: the two-loop recursion against ``nncore.reference.lbfgs`` (NumPy,
and the dense BFGS inverse Hessian) to 1e-12 relative; every accepted step against the strong
Wolfe conditions written there; convex networks (no hidden layer: logistic, softmax and linear
regression) against scipy's L-BFGS-B on the NumPy reference's objective (the optimum to 1e-6
relative, and a loss at least as low after the same number of iterations); the robustness rules
(non-finite region, failed line search, best point kept, limits); bad arguments."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest

import nncore
from nncore import _core
from nncore.optim import LBFGS
from nncore.reference import lbfgs as reference
from nncore.reference import numpy_reference as nref

Array = np.ndarray


def rosenbrock(x: Array) -> tuple[float, Array]:
    """F = Σ 100 (x_{i+1} − x_i²)² + (1 − x_i)² and its gradient, written out."""
    a, b = x[:-1], x[1:]
    value = float(np.sum(100.0 * (b - a**2) ** 2 + (1.0 - a) ** 2))
    gradient = np.zeros_like(x)
    gradient[:-1] = -400.0 * a * (b - a**2) - 2.0 * (1.0 - a)
    gradient[1:] += 200.0 * (b - a**2)
    return value, gradient


def recorded(fun: Any) -> tuple[Any, list[tuple[Array, float, Array]]]:
    """``fun`` and the list of every (x, F, ∇F) it is evaluated at, in order."""
    calls: list[tuple[Array, float, Array]] = []

    def wrapped(x: Array) -> tuple[float, Array]:
        value, gradient = fun(np.array(x))
        calls.append((np.array(x), float(value), np.array(gradient)))
        return value, gradient

    return wrapped, calls


# ------------------------------------------------------------------------------------------------
# The two-loop recursion and the line search
def test_the_wolfe_constants_are_the_references() -> None:
    assert _core.lbfgs_wolfe_constants == (reference.WOLFE_C1, reference.WOLFE_C2)


@pytest.mark.parametrize("pairs", [0, 1, 3, 10])
def test_two_loop_direction_against_the_reference_and_the_dense_bfgs_matrix(pairs: int) -> None:
    rng = np.random.default_rng(pairs)
    n = 7
    A = rng.normal(size=(n, n))
    hessian = A @ A.T + n * np.eye(n)  # pairs of a convex quadratic: sᵀy = sᵀHs > 0
    S = rng.normal(size=(pairs, n))
    Y = S @ hessian
    g = rng.normal(size=n)
    native = _core.lbfgs_direction(g, S, Y)
    np.testing.assert_allclose(native, reference.two_loop_direction(g, S, Y), rtol=1e-12)
    dense = -reference.inverse_hessian(S, Y, n) @ g
    np.testing.assert_allclose(native, dense, rtol=1e-10, atol=1e-12)
    assert float(np.dot(native, g)) < 0  # a descent direction


def test_two_loop_direction_refuses_pairs_without_curvature() -> None:
    with pytest.raises(ValueError, match="s_i"):
        _core.lbfgs_direction(np.ones(2), np.array([[1.0, 0.0]]), np.array([[-1.0, 0.0]]))
    with pytest.raises(ValueError, match="S and Y"):
        _core.lbfgs_direction(np.ones(2), np.ones((1, 3)), np.ones((1, 3)))


@pytest.mark.parametrize("start", [[-1.2, 1.0], [-1.2, 1.0, -0.5, 0.3, 2.0]])
def test_every_accepted_step_satisfies_the_strong_wolfe_conditions(start: list[float]) -> None:
    fun, calls = recorded(rosenbrock)
    x0 = np.array(start)
    options = _core.LBFGSOptions(tol=1e-9, ftol=0.0)
    x, records, reason, value, evaluations = _core.minimize_lbfgs(fun, x0, options)
    assert reason == "gradient_tolerance"
    np.testing.assert_allclose(x, np.ones_like(x0), atol=1e-7)
    assert evaluations == len(calls) == records[-1]["evaluations"]
    accepted = [calls[0]] + [calls[record["evaluations"] - 1] for record in records]
    assert len(records) > 10  # enough steps for the check to mean something
    for (x_a, f_a, g_a), (x_b, f_b, g_b), record in zip(
        accepted[:-1], accepted[1:], records, strict=True
    ):
        assert record["loss"] == f_b
        decrease, curvature = reference.strong_wolfe(f_a, g_a, f_b, g_b, x_b - x_a)
        assert decrease and curvature, record
    assert value == accepted[-1][1] == min(f for _, f, _ in calls)


def test_a_region_where_the_loss_is_not_finite_shrinks_the_step() -> None:
    # F = Σ (x − 3)² where x0 < 1, NaN beyond: the minimum within reach is at the border.
    def fun(x: Array) -> tuple[float, Array]:
        if x[0] >= 1.0:
            return float("nan"), np.full_like(x, np.nan)
        return float(np.sum((x - 3.0) ** 2)), 2.0 * (x - 3.0)

    wrapped, calls = recorded(fun)
    x, records, reason, value, _ = _core.minimize_lbfgs(
        wrapped, np.array([0.0, 0.0]), _core.LBFGSOptions(max_iter=50)
    )
    assert any(not np.isfinite(f) for _, f, _ in calls)  # the region was met
    assert np.isfinite(value) and x[0] < 1.0
    assert value == min(f for _, f, _ in calls if np.isfinite(f))
    assert all(np.isfinite(r["loss"]) for r in records)
    assert reason in ("line_search_failed", "loss_tolerance", "gradient_tolerance")


def test_a_gradient_that_contradicts_the_loss_fails_the_line_search_and_keeps_the_start() -> None:
    # The reported gradient points uphill: no step decreases F along −g.
    def fun(x: Array) -> tuple[float, Array]:
        return float(np.sum(x**2)), -2.0 * x

    x0 = np.array([1.0, -2.0])
    x, records, reason, value, evaluations = _core.minimize_lbfgs(
        fun, x0, _core.LBFGSOptions(max_line_search=5)
    )
    assert reason == "line_search_failed"
    assert records == [] and evaluations == 1 + 5
    np.testing.assert_array_equal(x, x0)
    assert value == 5.0


def test_a_failed_line_search_with_memory_is_retried_by_steepest_descent() -> None:
    # Rosenbrock until the memory holds pairs, then a gradient pointing uphill: the search
    # fails with the L-BFGS direction, again from −g with the memory reset, and then stops.
    calls = 0

    def fun(x: Array) -> tuple[float, Array]:
        nonlocal calls
        calls += 1
        value, gradient = rosenbrock(x)
        return value, gradient if calls <= 6 else -gradient

    x, records, reason, value, evaluations = _core.minimize_lbfgs(
        fun, np.array([-1.2, 1.0]), _core.LBFGSOptions(max_line_search=4)
    )
    assert reason == "line_search_failed" and records
    assert evaluations == records[-1]["evaluations"] + 2 * 4  # two failed searches of 4
    assert value == records[-1]["loss"] == rosenbrock(x)[0]


def test_the_loss_evaluation_limit_is_never_exceeded() -> None:
    fun, calls = recorded(rosenbrock)
    x0 = np.array([-1.2, 1.0])
    x, _, reason, value, evaluations = _core.minimize_lbfgs(fun, x0, _core.LBFGSOptions(max_fun=9))
    assert reason == "max_evaluations" and evaluations == len(calls) == 9
    assert value == min(f for _, f, _ in calls) and value == rosenbrock(x)[0]


def test_a_non_finite_loss_at_the_start_is_a_divergence_error() -> None:
    with pytest.raises(FloatingPointError, match="starting point"):
        _core.minimize_lbfgs(lambda x: (float("inf"), x), np.array([1.0]), _core.LBFGSOptions())


# ------------------------------------------------------------------------------------------------
# Convex networks against scipy's L-BFGS-B on the NumPy reference's objective
CONVEX = {
    # name: (output activation, loss, number of outputs)
    "logistic": ("sigmoid", "binary_cross_entropy", 1),
    "softmax": ("softmax", "categorical_cross_entropy", 3),
    "linear": ("identity", "mean_squared_error", 2),
}


def convex_problem(name: str, weighted: bool) -> dict[str, Any]:
    activation, loss, k = CONVEX[name]
    rng = np.random.default_rng(1)
    n, d = 120, 5
    X = rng.normal(size=(n, d))
    logits = X @ rng.normal(size=(d, k)) + rng.normal(size=k)
    if activation == "sigmoid":
        Y = (logits + rng.normal(size=logits.shape) > 0).astype(float)
    elif activation == "softmax":
        Y = np.eye(k)[np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)]
    else:
        Y = logits + 0.3 * rng.normal(size=logits.shape)
    weights = rng.uniform(0.2, 2.0, size=n) if weighted else None
    return {"X": X, "Y": Y, "activation": activation, "loss": loss, "k": k, "w": weights}


def reference_objective(problem: dict[str, Any], decay: float) -> Any:
    """θ ↦ (F, ∇F) from the NumPy reference: the weighted mean loss + ½·λ·‖θ‖²."""
    X, Y, k = problem["X"], problem["Y"], problem["k"]
    d = X.shape[1]
    args = ([problem["activation"]], problem["loss"])

    def objective(theta: Array) -> tuple[float, Array]:
        W, b = theta[: d * k].reshape(d, k), theta[d * k :]
        value = nref.loss([W], [b], X, Y, *args, sample_weight=problem["w"])
        dWs, dbs = nref.backward([W], [b], X, Y, *args, sample_weight=problem["w"])
        gradient = np.concatenate([dWs[0].ravel(), dbs[0]])
        return value + 0.5 * decay * float(theta @ theta), gradient + decay * theta

    return objective


def fit_convex(problem: dict[str, Any], decay: float, epochs: int, **options: Any) -> Any:
    X = problem["X"]
    model = nncore.MLP(
        [X.shape[1], problem["k"]], output_activation=problem["activation"], dtype="float64", seed=3
    )
    start = model.parameters.copy()
    history = model.fit(
        X,
        problem["Y"],
        loss=problem["loss"],
        optimizer=LBFGS(weight_decay=decay, **options),
        epochs=epochs,
        sample_weight=problem["w"],
    )
    return model, start, history


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("name", list(CONVEX))
def test_a_convex_network_reaches_scipys_optimum(name: str, weighted: bool) -> None:
    optimize = pytest.importorskip("scipy.optimize", reason="the optimum is scipy's L-BFGS-B's")
    problem = convex_problem(name, weighted)
    decay = 1e-2
    model, start, history = fit_convex(problem, decay, 500, tol=1e-8, ftol=0.0)
    objective = reference_objective(problem, decay)
    best = optimize.minimize(
        objective, start, jac=True, method="L-BFGS-B", options={"gtol": 1e-10, "ftol": 0.0}
    )
    assert history.stop_reason == "gradient_tolerance"
    value = objective(model.parameters)[0]
    assert value == pytest.approx(best.fun, rel=1e-6)
    assert history.loss[-1] == pytest.approx(value, rel=1e-12)  # the recorded F is the objective
    np.testing.assert_allclose(model.parameters, best.x, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("iterations", [3, 6, 10])
@pytest.mark.parametrize("name", list(CONVEX))
def test_a_convex_loss_at_least_as_low_as_scipys_after_as_many_iterations(
    name: str, iterations: int
) -> None:
    optimize = pytest.importorskip("scipy.optimize", reason="the comparison is with scipy's")
    problem = convex_problem(name, weighted=False)
    model, start, history = fit_convex(problem, 1e-3, iterations, tol=0.0, ftol=0.0)
    objective = reference_objective(problem, 1e-3)
    theirs = optimize.minimize(
        objective,
        start,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": iterations, "gtol": 0.0, "ftol": 0.0},
    )
    assert history.epochs == theirs.nit == iterations
    assert objective(model.parameters)[0] <= theirs.fun * (1 + 1e-12)


# ------------------------------------------------------------------------------------------------
# fit(optimizer="lbfgs") on networks
def small_data(n: int = 60) -> tuple[Array, Array]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 4))
    return X, np.sin(X[:, 0]) + X[:, 1] * X[:, 2]


def test_the_network_ends_at_the_lowest_loss_and_records_every_iteration() -> None:
    X, y = small_data()
    model = nncore.MLP([4, 8, 1], activation="tanh", dtype="float64", seed=0)
    history = model.fit(X, y, optimizer="lbfgs", epochs=40)
    assert history.stop_reason == "max_epochs" and history.epochs == 40
    assert all(
        b < a for a, b in zip(history.loss, history.loss[1:], strict=False)
    )  # sufficient decrease
    assert model.loss(X, y) == pytest.approx(history.loss[-1], rel=1e-12)
    assert model.optimizer is not None and model.optimizer.name == "lbfgs"


def test_float32_rounding_ends_in_a_reason_with_the_best_weights_kept() -> None:
    X, y = small_data()
    model = nncore.MLP([4, 8, 1], activation="tanh", dtype="float32", seed=0)
    history = model.fit(X, y, optimizer=LBFGS(tol=0.0, ftol=0.0), epochs=3000)
    assert history.stop_reason == "line_search_failed"  # float32 runs out of digits first
    assert model.loss(X, y) <= min(history.loss) * (1 + 1e-6)
    assert np.isfinite(model.parameters).all()


def test_callbacks_validation_and_early_stopping_see_each_iteration() -> None:
    X, y = small_data(80)
    model = nncore.MLP([4, 16, 1], activation="relu", dtype="float64", seed=1)
    seen: list[dict[str, Any]] = []
    history = model.fit(
        X,
        y,
        optimizer="lbfgs",
        epochs=300,
        validation_split=0.25,
        patience=3,
        callbacks=seen.append,
    )
    assert [r["epoch"] for r in seen] == list(range(1, history.epochs + 1))
    assert all({"validation_loss", "learning_rate", "evaluations"} <= set(r) for r in seen)
    assert all(r["learning_rate"] > 0 for r in seen)  # the line search's step α
    assert history.stop_reason in ("early_stopping", "gradient_tolerance", "loss_tolerance")
    if history.stop_reason == "early_stopping":
        assert history.best_epoch is not None
        best = history.validation_loss[history.best_epoch - 1]
        assert model.loss(X[60:], y[60:]) == pytest.approx(best, rel=1e-12)
    stopped = model.fit(X, y, optimizer="lbfgs", epochs=50, callbacks=lambda r: r["epoch"] == 2)
    assert stopped.stop_reason == "callback" and stopped.epochs == 2


def test_ctrl_c_in_a_callback_stops_cleanly() -> None:
    X, y = small_data()
    model = nncore.MLP([4, 8, 1], dtype="float64", seed=0)

    def interrupt(record: dict[str, Any]) -> None:
        if record["epoch"] == 3:
            raise KeyboardInterrupt

    history = model.fit(X, y, optimizer="lbfgs", epochs=50, callbacks=interrupt)
    assert history.stop_reason == "interrupted" and history.epochs == 3


def test_dropout_is_off_and_the_run_repeats_bit_for_bit() -> None:
    X, y = small_data()
    runs = []
    for _ in range(2):
        model = nncore.MLP([4, 8, 1], dropout=0.5, dtype="float64", seed=0)
        grad = model.gradient(X, y)  # dropout off, as L-BFGS evaluates it
        model.fit(X, y, optimizer="lbfgs", epochs=1)
        runs.append((grad, model.parameters.copy(), model.history.loss))
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert runs[0][2] == runs[1][2]


def test_the_evaluation_limit_and_target_loss_stop_the_fit() -> None:
    X, y = small_data()
    model = nncore.MLP([4, 8, 1], dtype="float64", seed=0)
    history = model.fit(X, y, optimizer=LBFGS(max_fun=7), epochs=100)
    assert history.stop_reason == "max_evaluations" and history.epochs < 7
    target = model.fit(X, y, optimizer="lbfgs", epochs=500, target_loss=0.2)
    assert target.stop_reason == "target_loss" and target.loss[-1] <= 0.2 < target.loss[-2]


def test_a_model_trained_by_lbfgs_saves_and_loads_with_its_optimizer() -> None:
    X, y = small_data()
    model = nncore.MLP([4, 8, 1], dtype="float64", seed=0)
    model.fit(X, y, optimizer=LBFGS(m=5, tol=1e-7), epochs=5)
    buffer = io.BytesIO()
    model.save(buffer)
    loaded = nncore.load(io.BytesIO(buffer.getvalue()))
    assert isinstance(loaded.optimizer, LBFGS) and loaded.optimizer.m == 5
    assert loaded.history.stop_reason == model.history.stop_reason
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    again = nncore.optim.Optimizer.from_state_dict(model.optimizer.state_dict())
    assert again.hyperparameters() == model.optimizer.hyperparameters()


def test_a_non_finite_starting_loss_changes_nothing() -> None:
    X = np.full((4, 2), 1e30)
    model = nncore.MLP([2, 1], dtype="float32", seed=0)
    model.set_parameters([np.full((2, 1), 1e10)], [np.zeros(1)])
    before = model.parameters.copy()
    with pytest.raises(nncore.DivergenceError, match="not finite"):
        model.fit(X, np.ones(4), optimizer="lbfgs", epochs=3)
    np.testing.assert_array_equal(model.parameters, before)


# ------------------------------------------------------------------------------------------------
# Bad arguments
@pytest.mark.parametrize(
    ("arguments", "error", "match"),
    [
        ({"m": 0}, ValueError, "m"),
        ({"m": 1.5}, TypeError, "m"),
        ({"max_fun": 0}, ValueError, "max_fun"),
        ({"tol": -1.0}, ValueError, "tol"),
        ({"ftol": float("nan")}, ValueError, "ftol"),
        ({"max_line_search": 0}, ValueError, "max_line_search"),
        ({"weight_decay": -0.1}, ValueError, "weight_decay"),
        ({"learning_rate": 0.1}, TypeError, "learning_rate"),
    ],
)
def test_bad_hyperparameters_are_refused(
    arguments: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        LBFGS(**arguments)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"learning_rate": 0.1}, "learning_rate does not apply"),
        ({"lr_schedule": "cosine"}, "lr_schedule does not apply"),
        ({"tol": 1e-3}, "tol does not apply"),
        ({"n_iter_no_change": 5}, "n_iter_no_change does not apply"),
        ({"epochs": 0}, "epochs"),
    ],
)
def test_fit_arguments_that_do_not_apply_are_refused_and_change_nothing(
    options: dict[str, Any], match: str
) -> None:
    X, y = small_data()
    model = nncore.MLP([4, 8, 1], dtype="float64", seed=0)
    before = model.parameters.copy()
    with pytest.raises(ValueError, match=match):
        model.fit(X, y, optimizer="lbfgs", **options)
    np.testing.assert_array_equal(model.parameters, before)
    assert model.optimizer is None and model.history is None


def test_step_is_refused() -> None:
    with pytest.raises(TypeError, match="parameters"):
        LBFGS().step(np.zeros(3), np.zeros(3))


def test_batch_normalisation_is_refused() -> None:
    if not hasattr(_core, "BatchNormF64"):
        pytest.skip("this build of the core has no BatchNorm layer")
    X, y = small_data()
    model = nncore.Sequential(
        [nncore.layers.Dense(8), nncore.layers.BatchNorm(), nncore.layers.Dense(1)],
        n_inputs=4,
        dtype="float64",
        seed=0,
    )
    with pytest.raises(ValueError, match="batch normalisation"):
        model.fit(X, y, optimizer="lbfgs")


def test_the_core_checks_its_own_arguments() -> None:
    X, y = small_data()
    model = nncore.MLP([4, 8, 1], dtype="float64", seed=0)
    net = model._network
    train = (X, y.reshape(-1, 1), np.empty(0))
    run = LBFGS().native_options(5)
    with pytest.raises(ValueError, match="penalty"):
        _core.fit_lbfgs(net, run, train, None, "mean_squared_error", 1.0, 1.0, np.ones(3))
    with pytest.raises(ValueError, match="loss scale"):
        _core.fit_lbfgs(net, run, train, None, "mean_squared_error", 1.0, 0.0, np.empty(0))
    with pytest.raises(ValueError, match="max_iter"):
        _core.fit_lbfgs(
            net, LBFGS().native_options(0), train, None, "mean_squared_error", 1.0, 1.0, np.empty(0)
        )
