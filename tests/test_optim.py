"""The update rules of ``nncore.optim`` against a NumPy implementation of their documented formulas
(written here, independent of the package), and optionally against ``torch.optim``.

float64 trajectories must agree to 1e-12 relative, float32 ones to 1e-5; state round trips are
bit-for-bit.
"""

from __future__ import annotations

import copy
import pickle
from typing import Any

import numpy as np
import pytest

from nncore import _core, optim
from nncore.optim import (
    OPTIMIZERS,
    SGD,
    Adagrad,
    Adam,
    Optimizer,
    RMSProp,
    get_optimizer,
)

Array = np.ndarray

# PyTorch's defaults (SGD has no default learning rate in torch; ours is 0.01).
DEFAULTS: dict[str, dict[str, Any]] = {
    "sgd": {"learning_rate": 0.01, "momentum": 0.0, "dampening": 0.0, "nesterov": False},
    "adam": {"learning_rate": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8},
    "adamw": {"learning_rate": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 1e-2},
    "rmsprop": {
        "learning_rate": 1e-2,
        "alpha": 0.99,
        "eps": 1e-8,
        "momentum": 0.0,
        "centered": False,
    },
    "adagrad": {
        "learning_rate": 1e-2,
        "lr_decay": 0.0,
        "initial_accumulator_value": 0.0,
        "eps": 1e-10,
    },
}
COMMON = {"weight_decay": 0.0, "clip_norm": None, "clip_value": None}
# The update rules of the mini-batch loop (L-BFGS, a full-batch solver: tests/test_lbfgs.py).
CLASSES: dict[str, type[Optimizer]] = {
    name: rule for name, rule in OPTIMIZERS.items() if not rule.full_batch
}
# The native types of each rule: the core's classes named after its Python class.
NATIVE = {
    name: (getattr(_core, f"{rule.__name__}F32"), getattr(_core, f"{rule.__name__}F64"))
    for name, rule in CLASSES.items()
}

# The grid of hyper-parameters: every option of every rule, weight decay and both clippings.
# With N = 37 standard-normal gradients (‖g‖ ≈ 6), clip_norm 0.5 always clips, 100 never does.
CASES: list[tuple[str, dict[str, Any]]] = [
    ("sgd", {}),
    ("sgd", {"learning_rate": 0.1, "momentum": 0.9}),
    ("sgd", {"momentum": 0.9, "dampening": 0.5}),
    ("sgd", {"momentum": 0.8, "nesterov": True}),
    ("sgd", {"weight_decay": 0.1}),
    ("sgd", {"momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("sgd", {"clip_norm": 0.5}),
    ("sgd", {"clip_norm": 100.0}),
    ("sgd", {"clip_value": 0.1}),
    ("sgd", {"momentum": 0.5, "weight_decay": 0.1, "clip_norm": 1.0, "clip_value": 0.05}),
    ("adam", {}),
    ("adam", {"learning_rate": 0.01, "betas": (0.8, 0.99)}),
    ("adam", {"weight_decay": 0.1}),
    ("adam", {"eps": 1e-3, "betas": (0.0, 0.5)}),
    ("adam", {"clip_norm": 0.5}),
    ("adam", {"clip_value": 0.2, "weight_decay": 0.05}),
    ("adamw", {}),
    ("adamw", {"learning_rate": 0.01, "weight_decay": 0.1}),
    ("adamw", {"weight_decay": 0.0}),
    ("adamw", {"clip_norm": 0.3, "clip_value": 0.05}),
    ("rmsprop", {}),
    ("rmsprop", {"centered": True}),
    ("rmsprop", {"momentum": 0.9}),
    ("rmsprop", {"centered": True, "momentum": 0.5, "weight_decay": 0.1}),
    ("rmsprop", {"alpha": 0.9, "eps": 1e-4}),
    ("rmsprop", {"clip_value": 0.3}),
    ("rmsprop", {"clip_norm": 0.5, "momentum": 0.3}),
    ("adagrad", {}),
    ("adagrad", {"lr_decay": 0.1}),
    ("adagrad", {"initial_accumulator_value": 0.1}),
    ("adagrad", {"weight_decay": 0.1, "eps": 1e-6}),
    ("adagrad", {"clip_norm": 0.2, "lr_decay": 0.05}),
]


def test_every_registered_rule_has_its_defaults_and_cases_here() -> None:
    """A new rule of ``OPTIMIZERS`` is not tested until it has its reference (``reference_run``)
    and cases here."""
    assert set(DEFAULTS) == set(CLASSES)
    assert {name for name, _ in CASES} == set(CLASSES)
    assert {name for name, rule in OPTIMIZERS.items() if rule.full_batch} == {"lbfgs"}


CASE_IDS = [
    f"{name}-{'-'.join(f'{k}={v}' for k, v in hp.items()) or 'defaults'}" for name, hp in CASES
]
N = 37
STEPS = 10


def full(name: str, hyperparameters: dict[str, Any]) -> dict[str, Any]:
    return {**COMMON, **DEFAULTS[name], **hyperparameters}


def problem(seed: int = 0) -> tuple[Array, Array]:
    """θ₀ of length N and STEPS gradients of varying scale (float64)."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=N)
    scales = rng.uniform(0.1, 3.0, size=(STEPS, 1))
    return theta, rng.normal(size=(STEPS, N)) * scales


# ------------------------------------------------------------------------------------------------
# The NumPy reference: the formulas of the docstrings, step by step, in float64.
def reference_run(
    name: str,
    hyperparameters: dict[str, Any],
    theta0: Array,
    gradients: Array,
    learning_rates: list[float] | None = None,
) -> tuple[Array, dict[str, Any]]:
    """θ after one update per row of ``gradients``, and the state ``{"step": t, name: array}``."""
    hp = full(name, hyperparameters)
    theta = np.array(theta0, dtype=np.float64)
    state: dict[str, Any] = {"step": 0}
    zeros = np.zeros_like(theta)
    if name == "sgd" and hp["momentum"] > 0:
        state["momentum_buffer"] = zeros.copy()
    if name in ("adam", "adamw"):
        state["exp_avg"], state["exp_avg_sq"] = zeros.copy(), zeros.copy()
    if name == "rmsprop":
        state["square_avg"] = zeros.copy()
        if hp["momentum"] > 0:
            state["momentum_buffer"] = zeros.copy()
        if hp["centered"]:
            state["grad_avg"] = zeros.copy()
    if name == "adagrad":
        state["sum"] = np.full_like(theta, hp["initial_accumulator_value"])

    for index, raw in enumerate(gradients):
        lr = hp["learning_rate"] if learning_rates is None else learning_rates[index]
        state["step"] += 1
        t = state["step"]
        g = np.array(raw, dtype=np.float64)
        if hp["clip_norm"] is not None:  # g ← g·min(1, c/(‖g‖₂ + 1e-6))
            g = g * min(1.0, hp["clip_norm"] / (np.sqrt(np.sum(g * g)) + 1e-6))
        if hp["clip_value"] is not None:  # g ← clamp(g, −c, c)
            g = np.clip(g, -hp["clip_value"], hp["clip_value"])
        wd = hp["weight_decay"]
        if name == "adamw":
            theta = theta - lr * wd * theta  # θ ← θ − η·λ·θ
        else:
            g = g + wd * theta  # g ← g + λ·θ

        if name == "sgd":
            mu, tau = hp["momentum"], hp["dampening"]
            if mu == 0:
                theta = theta - lr * g
            else:
                b = g.copy() if t == 1 else mu * state["momentum_buffer"] + (1 - tau) * g
                state["momentum_buffer"] = b
                theta = theta - lr * (g + mu * b if hp["nesterov"] else b)
        elif name in ("adam", "adamw"):
            beta1, beta2 = hp["betas"]
            m = beta1 * state["exp_avg"] + (1 - beta1) * g
            v = beta2 * state["exp_avg_sq"] + (1 - beta2) * g**2
            state["exp_avg"], state["exp_avg_sq"] = m, v
            theta = theta - (lr / (1 - beta1**t)) * m / (
                np.sqrt(v) / np.sqrt(1 - beta2**t) + hp["eps"]
            )
        elif name == "rmsprop":
            alpha = hp["alpha"]
            v = alpha * state["square_avg"] + (1 - alpha) * g**2
            state["square_avg"] = v
            if hp["centered"]:
                g_avg = alpha * state["grad_avg"] + (1 - alpha) * g
                state["grad_avg"] = g_avg
                d = np.sqrt(v - g_avg**2) + hp["eps"]
            else:
                d = np.sqrt(v) + hp["eps"]
            if hp["momentum"] > 0:
                b = hp["momentum"] * state["momentum_buffer"] + g / d
                state["momentum_buffer"] = b
                theta = theta - lr * b
            else:
                theta = theta - lr * g / d
        elif name == "adagrad":
            lr_t = lr / (1 + (t - 1) * hp["lr_decay"])
            s = state["sum"] + g**2
            state["sum"] = s
            theta = theta - lr_t * g / (np.sqrt(s) + hp["eps"])
    return theta, state


def nncore_run(
    optimizer: Optimizer,
    theta0: Array,
    gradients: Array,
    dtype: Any = np.float64,
    learning_rates: list[float] | None = None,
) -> Array:
    theta = np.array(theta0, dtype=dtype)
    for index, g in enumerate(gradients):
        if learning_rates is not None:
            optimizer.learning_rate = learning_rates[index]
        optimizer.step(theta, np.asarray(g, dtype=dtype))
    return theta


def make(name: str, hyperparameters: dict[str, Any]) -> Optimizer:
    return CLASSES[name](**hyperparameters)


def assert_relative(actual: Array, expected: Array, rtol: float, what: str = "") -> None:
    """|actual − expected| <= rtol·|expected| element-wise (plus rtol·max|expected| for entries
    that happen to be near 0)."""
    scale = float(np.max(np.abs(expected))) if np.size(expected) else 0.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale * 1e-3, err_msg=what)


# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("steps", [1, STEPS])
@pytest.mark.parametrize(("name", "hyperparameters"), CASES, ids=CASE_IDS)
def test_float64_matches_reference(name: str, hyperparameters: dict[str, Any], steps: int) -> None:
    theta0, gradients = problem()
    optimizer = make(name, hyperparameters)
    theta = nncore_run(optimizer, theta0, gradients[:steps])
    expected, expected_state = reference_run(name, hyperparameters, theta0, gradients[:steps])
    assert_relative(theta, expected, 1e-12, "parameters")
    state = optimizer.state_dict()["state"]
    assert set(state) == set(expected_state)
    assert state["step"] == steps
    for key, value in expected_state.items():
        if key != "step":
            assert state[key].dtype == np.float64
            assert_relative(state[key], value, 1e-12, key)


@pytest.mark.parametrize(("name", "hyperparameters"), CASES, ids=CASE_IDS)
def test_float32_close_to_reference(name: str, hyperparameters: dict[str, Any]) -> None:
    theta0, gradients = problem(1)
    theta0, gradients = theta0.astype(np.float32), gradients.astype(np.float32)
    optimizer = make(name, hyperparameters)
    theta = nncore_run(optimizer, theta0, gradients, dtype=np.float32)
    assert theta.dtype == np.float32
    expected, _ = reference_run(name, hyperparameters, theta0, gradients)
    np.testing.assert_allclose(theta, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("name", "hyperparameters"), CASES, ids=CASE_IDS)
def test_learning_rate_changes_between_steps(name: str, hyperparameters: dict[str, Any]) -> None:
    theta0, gradients = problem(2)
    learning_rates = list(np.geomspace(0.05, 0.001, STEPS))
    optimizer = make(name, hyperparameters)
    theta = nncore_run(optimizer, theta0, gradients, learning_rates=learning_rates)
    assert optimizer.learning_rate == learning_rates[-1]
    expected, _ = reference_run(name, hyperparameters, theta0, gradients, learning_rates)
    assert_relative(theta, expected, 1e-12)


@pytest.mark.parametrize(("name", "hyperparameters"), CASES, ids=CASE_IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_state_round_trip_is_bit_for_bit(
    name: str, hyperparameters: dict[str, Any], dtype: Any
) -> None:
    theta0, gradients = problem(3)
    whole = make(name, hyperparameters)
    expected = nncore_run(whole, theta0, gradients, dtype)

    first = make(name, hyperparameters)
    theta = nncore_run(first, theta0, gradients[:4], dtype)
    saved = first.state_dict()
    assert saved["dtype"] == np.dtype(dtype).name and saved["state"]["step"] == 4
    second = make(name, hyperparameters)
    second.load_state_dict(saved)
    assert second.step_count == 4
    theta = nncore_run(second, theta, gradients[4:], dtype)
    np.testing.assert_array_equal(theta, expected)

    third = Optimizer.from_state_dict(saved)
    assert type(third) is type(first)
    assert third.hyperparameters() == first.hyperparameters()
    np.testing.assert_array_equal(
        nncore_run(third, theta, gradients[4:5], dtype),
        nncore_run(first, theta, gradients[4:5], dtype),
    )


@pytest.mark.parametrize(("name", "hyperparameters"), CASES, ids=CASE_IDS)
def test_pickle_and_deepcopy_keep_the_state(name: str, hyperparameters: dict[str, Any]) -> None:
    theta0, gradients = problem(11)
    original = make(name, hyperparameters)
    theta = nncore_run(original, theta0, gradients[:3])
    copies = [pickle.loads(pickle.dumps(original)), copy.deepcopy(original)]
    expected = nncore_run(original, theta, gradients[3:])  # the copies have their own state
    for duplicate in copies:
        assert type(duplicate) is type(original) and duplicate.step_count == 3
        assert duplicate.hyperparameters() == original.hyperparameters()
        np.testing.assert_array_equal(nncore_run(duplicate, theta, gradients[3:]), expected)
    fresh = pickle.loads(pickle.dumps(make(name, hyperparameters)))
    assert fresh.dtype is None and fresh.step_count == 0


@pytest.mark.parametrize(("name", "hyperparameters"), CASES, ids=CASE_IDS)
def test_reset_starts_afresh(name: str, hyperparameters: dict[str, Any]) -> None:
    theta0, gradients = problem(4)
    used = make(name, hyperparameters)
    nncore_run(used, theta0, gradients[:3])
    used.reset()
    assert used.state_dict()["state"] == {"step": 0}
    assert used.step_count == 0
    np.testing.assert_array_equal(
        nncore_run(used, theta0, gradients),
        nncore_run(make(name, hyperparameters), theta0, gradients),
    )


@pytest.mark.parametrize("name", list(CLASSES))
def test_state_survives_across_calls_and_step_counts_calls(name: str) -> None:
    theta0, gradients = problem(5)
    optimizer = make(name, {})
    assert optimizer.step_count == 0
    assert optimizer.state_dict()["state"] == {"step": 0}
    theta = theta0.copy()
    for count, g in enumerate(gradients, start=1):
        optimizer.step(theta, g)  # one call per update of the whole vector
        assert optimizer.step_count == count
        assert optimizer.state_dict()["state"]["step"] == count
    assert_relative(theta, reference_run(name, {}, theta0, gradients)[0], 1e-12)


@pytest.mark.parametrize(("name", "hyperparameters"), CASES, ids=CASE_IDS)
def test_state_dict_holds_copies(name: str, hyperparameters: dict[str, Any]) -> None:
    theta0, gradients = problem(6)
    optimizer = make(name, hyperparameters)
    nncore_run(optimizer, theta0, gradients[:2])
    state = optimizer.state_dict()["state"]
    for key, value in state.items():
        if key != "step":
            value[...] = np.nan
    assert all(
        np.isfinite(value).all()
        for key, value in optimizer.state_dict()["state"].items()
        if key != "step"
    )


@pytest.mark.parametrize(("name", "hyperparameters"), CASES, ids=CASE_IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_result_does_not_depend_on_array_alignment(
    name: str, hyperparameters: dict[str, Any], dtype: Any
) -> None:
    """The same values at any address give the same bits (vectorised and scalar code paths must
    agree: no approximate vectorised sqrt)."""
    theta0, gradients = problem(10)
    results = []
    for offset in range(8):
        optimizer = make(name, hyperparameters)
        theta_buffer = np.zeros(N + 8, dtype=dtype)
        gradient_buffer = np.zeros(N + 8, dtype=dtype)
        theta = theta_buffer[offset : offset + N]
        theta[...] = theta0
        for g in gradients:
            gradient = gradient_buffer[7 - offset : 7 - offset + N]
            gradient[...] = g
            optimizer.step(theta, gradient)
        results.append(theta.copy())
    for result in results[1:]:
        np.testing.assert_array_equal(result, results[0])


def test_adagrad_state_starts_at_initial_accumulator_value() -> None:
    optimizer = Adagrad(initial_accumulator_value=0.25)
    theta = np.zeros(3)
    optimizer.step(theta, np.zeros(3))
    np.testing.assert_array_equal(optimizer.state_dict()["state"]["sum"], [0.25, 0.25, 0.25])


@pytest.mark.parametrize("name", list(CLASSES))
def test_gradients_are_not_modified(name: str) -> None:
    theta0, gradients = problem(7)
    optimizer = make(name, {"clip_norm": 0.5, "clip_value": 0.1, "weight_decay": 0.1})
    g = gradients[0].copy()
    optimizer.step(theta0.copy(), g)
    np.testing.assert_array_equal(g, gradients[0])
    native = NATIVE[name][1](0.1, clip_norm=0.5, clip_value=0.1, weight_decay=0.1)
    native.step(theta0.copy(), g)
    np.testing.assert_array_equal(g, gradients[0])


@pytest.mark.parametrize("name", list(CLASSES))
def test_another_length_raises_until_reset(name: str) -> None:
    optimizer = make(name, {"clip_norm": 1.0})
    theta = np.ones(5)
    optimizer.step(theta, np.ones(5))
    before = theta.copy()
    state = optimizer.state_dict()["state"]
    other = np.ones(4)
    with pytest.raises(ValueError, match="reset"):
        optimizer.step(other, np.ones(4))
    np.testing.assert_array_equal(other, np.ones(4))
    np.testing.assert_array_equal(theta, before)
    after = optimizer.state_dict()["state"]
    assert after["step"] == state["step"] == 1
    for key in state:
        np.testing.assert_array_equal(after[key], state[key])
    with pytest.raises(ValueError, match="differ in length"):
        optimizer._native(np.float64).step(theta, np.ones(4))
    optimizer.reset()
    optimizer.step(other, np.ones(4))
    assert optimizer.step_count == 1


@pytest.mark.parametrize("name", list(CLASSES))
def test_native_object_is_created_once_per_dtype(name: str) -> None:
    optimizer = make(name, {})
    assert optimizer.dtype is None
    native = optimizer._native("float32")
    assert isinstance(native, NATIVE[name][0])
    assert isinstance(native, _core.OptimizerF32)
    assert optimizer._native(np.float32) is native
    assert optimizer.dtype == np.float32
    with pytest.raises(ValueError, match="float32"):
        optimizer._native(np.float64)
    optimizer.reset()
    assert optimizer._native(np.float32) is native


@pytest.mark.parametrize("name", list(CLASSES))
def test_defaults_are_pytorchs(name: str) -> None:
    expected = {**COMMON, **DEFAULTS[name]}
    assert make(name, {}).hyperparameters() == expected
    native = NATIVE[name][1]()
    for key, value in expected.items():
        assert getattr(native, key) == value, key
    assert native.name == name


@pytest.mark.parametrize("name", list(CLASSES))
def test_rule_hyperparameters_are_read_only(name: str) -> None:
    """Only the learning rate can change after construction (the native object is built once)."""
    optimizer = make(name, {})
    for key in DEFAULTS[name]:
        if key != "learning_rate":
            with pytest.raises(AttributeError):
                setattr(optimizer, key, getattr(optimizer, key))


@pytest.mark.parametrize("name", list(CLASSES))
def test_learning_rate_property(name: str) -> None:
    optimizer = make(name, {})
    optimizer.learning_rate = 0.5
    native = optimizer._native(np.float64)
    assert native.learning_rate == 0.5
    optimizer.learning_rate = 0.25
    assert native.learning_rate == 0.25
    native.learning_rate = 0.125  # as fit's schedules do, epoch by epoch
    assert optimizer.learning_rate == 0.25  # the base rate the next schedule starts from
    assert optimizer._native(np.float64) is native
    assert native.learning_rate == 0.25  # handed out again at the base rate
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="learning_rate"):
            optimizer.learning_rate = bad
        with pytest.raises(ValueError, match="learning_rate"):
            native.learning_rate = bad
    with pytest.raises(TypeError):
        optimizer.learning_rate = "fast"  # type: ignore[assignment]
    assert optimizer.learning_rate == 0.25


BAD: list[tuple[str, dict[str, Any]]] = [
    ("sgd", {"learning_rate": -0.1}),
    ("sgd", {"learning_rate": float("nan")}),
    ("sgd", {"momentum": -0.5}),
    ("sgd", {"dampening": 1.5}),
    ("sgd", {"nesterov": True}),
    ("sgd", {"nesterov": True, "momentum": 0.9, "dampening": 0.1}),
    ("sgd", {"weight_decay": -1e-3}),
    ("sgd", {"clip_norm": 0.0}),
    ("sgd", {"clip_value": -1.0}),
    ("sgd", {"clip_norm": float("inf")}),
    ("adam", {"betas": (1.0, 0.999)}),
    ("adam", {"betas": (0.9, -0.1)}),
    ("adam", {"eps": 0.0}),
    ("adam", {"weight_decay": -1.0}),
    ("adamw", {"betas": (0.9, 1.0)}),
    ("adamw", {"eps": -1e-8}),
    ("adamw", {"clip_value": 0.0}),
    ("rmsprop", {"alpha": 1.0}),
    ("rmsprop", {"alpha": -0.1}),
    ("rmsprop", {"eps": 0.0}),
    ("rmsprop", {"momentum": -0.9}),
    ("adagrad", {"lr_decay": -0.1}),
    ("adagrad", {"initial_accumulator_value": -1.0}),
    ("adagrad", {"eps": 0.0}),
    ("adagrad", {"learning_rate": float("inf")}),
]


@pytest.mark.parametrize(("name", "hyperparameters"), BAD, ids=[f"{n}-{h}" for n, h in BAD])
def test_bad_hyperparameters_raise_value_error(name: str, hyperparameters: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        make(name, hyperparameters)
    # The core checks them too (std::invalid_argument -> ValueError).
    native_arguments = dict(hyperparameters)
    learning_rate = native_arguments.pop("learning_rate", DEFAULTS[name]["learning_rate"])
    for native_type in NATIVE[name]:
        with pytest.raises(ValueError):
            native_type(learning_rate, **native_arguments)


@pytest.mark.parametrize(
    ("name", "hyperparameters"),
    [
        ("sgd", {"nesterov": 1}),
        ("adam", {"betas": 0.9}),
        ("rmsprop", {"centered": "yes"}),
        ("adagrad", {"eps": "small"}),
        ("sgd", {"momentum": None}),
    ],
)
def test_wrong_types_raise_type_error(name: str, hyperparameters: dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        make(name, hyperparameters)


def test_native_state_checks() -> None:
    native = _core.AdamF64()
    theta = np.zeros(3)
    native.step(theta, np.ones(3))
    good = native.state
    with pytest.raises(ValueError, match="step"):
        native.state = {key: value for key, value in good.items() if key != "step"}
    with pytest.raises(ValueError, match="exp_avg_sq"):
        native.state = {"step": 1, "exp_avg": good["exp_avg"], "other": good["exp_avg"]}
    with pytest.raises(ValueError, match="vectors"):
        native.state = {"step": 1}
    with pytest.raises(ValueError, match="length"):
        native.state = {**good, "exp_avg": np.zeros(4)}
    with pytest.raises(ValueError, match="finite"):
        native.state = {**good, "exp_avg": np.full(3, np.nan)}
    with pytest.raises(ValueError, match="step"):
        native.state = {**good, "step": -1}
    with pytest.raises(ValueError, match="'exp_avg_sq' has a negative entry"):
        native.state = {**good, "exp_avg_sq": np.array([1.0, -1e-300, 0.0])}
    with pytest.raises(TypeError):
        native.state = {**good, "exp_avg": good["exp_avg"].astype(np.float32)}
    with pytest.raises(TypeError):
        native.state = {**good, "step": True}
    after = native.state  # unchanged by the failed assignments
    assert after["step"] == good["step"]
    for key in ("exp_avg", "exp_avg_sq"):
        np.testing.assert_array_equal(after[key], good[key])
    native.state = {"step": 0}  # a fresh state
    assert native.state == {"step": 0}
    native.state = {**good, "exp_avg_sq": np.array([0.0, -0.0, 2.0])}  # −0 is not negative
    for name, native_rule in (("square_avg", _core.RMSPropF64()), ("sum", _core.AdagradF64())):
        native_rule.step(theta, np.ones(3))
        with pytest.raises(ValueError, match=f"'{name}' has a negative entry"):
            native_rule.state = {**native_rule.state, name: np.array([-1.0, 0.0, 0.0])}

    stateless = _core.SGDF64(0.1)
    stateless.state = {"step": 7}  # plain SGD keeps no vectors: a count alone is a whole state
    assert stateless.step_count == 7
    assert stateless.state_names == []


def test_load_state_dict_checks() -> None:
    theta0, gradients = problem(8)
    adam = Adam(learning_rate=0.01)
    nncore_run(adam, theta0, gradients[:2])
    saved = adam.state_dict()
    with pytest.raises(ValueError, match="'adam'"):
        SGD().load_state_dict(saved)
    with pytest.raises(ValueError, match="hyper-parameters"):
        Adam(eps=1e-3).load_state_dict(saved)
    float32 = Adam(learning_rate=0.01)
    float32._native(np.float32)
    with pytest.raises(ValueError, match="float64"):
        float32.load_state_dict(saved)
    broken = {**saved, "state": {**saved["state"], "exp_avg": np.zeros(5)}}
    fresh = Adam(learning_rate=0.01)
    with pytest.raises(ValueError):
        fresh.load_state_dict(broken)
    assert fresh.dtype is None  # a failed load leaves the optimizer as it was
    other = Adam(learning_rate=0.5)
    other.load_state_dict(saved)
    assert other.learning_rate == 0.01  # the learning rate is part of the saved state
    empty = Adam().state_dict()
    assert empty == {
        "name": "adam",
        "dtype": None,
        "hyperparameters": {**COMMON, **DEFAULTS["adam"]},
        "state": {"step": 0},
    }
    other.load_state_dict(empty)
    assert other.step_count == 0 and other.learning_rate == 1e-3


def test_get_optimizer() -> None:
    for name, rule in CLASSES.items():
        made = get_optimizer(name)
        assert type(made) is rule and made.name == name
        assert type(get_optimizer(name.upper())) is rule
        assert type(get_optimizer(rule)) is rule
    assert get_optimizer("adam", 0.5).learning_rate == 0.5
    instance = RMSProp(momentum=0.9)
    assert get_optimizer(instance) is instance
    assert get_optimizer(instance, 0.25) is instance and instance.learning_rate == 0.25
    assert isinstance(get_optimizer("LBFGS"), optim.LBFGS)
    with pytest.raises(ValueError, match="unknown optimizer"):
        get_optimizer("newton")
    with pytest.raises(TypeError):
        get_optimizer(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="learning_rate"):
        get_optimizer("sgd", -1.0)


def test_native_types_derive_from_the_base_fit_accepts() -> None:
    for single, double in NATIVE.values():
        assert issubclass(single, _core.OptimizerF32)
        assert issubclass(double, _core.OptimizerF64)
    assert issubclass(_core.AdamWF64, _core.AdamF64)
    assert _core.SGDF32(0.5).learning_rate == 0.5  # learning_rate stays the first positional


def test_native_step_checks_its_arrays() -> None:
    native = _core.AdamF64()
    with pytest.raises(ValueError, match="1-D"):
        native.step(np.zeros((2, 2)), np.zeros(4))
    with pytest.raises(TypeError):
        native.step(np.zeros(4, dtype=np.float32), np.zeros(4, dtype=np.float32))
    read_only = np.zeros(4)
    read_only.flags.writeable = False
    with pytest.raises(ValueError):
        native.step(read_only, np.zeros(4))
    assert native.step_count == 0


def test_fit_steps_once_per_batch() -> None:
    """``MLP.fit`` drives the native optimizer: 3 epochs of 4 batches are 12 updates."""
    import nncore

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(16, 3)), rng.normal(size=(16, 1))
    model = nncore.MLP([3, 5, 1], activation="tanh", dtype="float64", seed=0)
    optimizer = Adam(learning_rate=0.01)
    model.fit(X, y, optimizer=optimizer, epochs=3, batch_size=4, n_iter_no_change=None)
    assert optimizer.step_count == 12
    assert optimizer.state_dict()["state"]["exp_avg"].shape == (model.n_parameters,)


# ------------------------------------------------------------------------------------------------
# Optional: the same trajectories against torch.optim itself.
TORCH_REASON = "the comparison with torch.optim needs PyTorch, which nncore does not depend on"


def torch_run(
    name: str, hyperparameters: dict[str, Any], theta0: Array, gradients: Array, dtype: Any
) -> tuple[Array, dict[str, Any]]:
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    hp = full(name, hyperparameters)
    parameter = torch.nn.Parameter(torch.tensor(np.array(theta0, dtype=dtype)))
    arguments: dict[str, Any] = {"lr": hp["learning_rate"], "weight_decay": hp["weight_decay"]}
    for key in (
        "momentum",
        "dampening",
        "nesterov",
        "betas",
        "eps",
        "alpha",
        "centered",
        "lr_decay",
        "initial_accumulator_value",
    ):
        if key in hp:
            arguments[key] = hp[key]
    rule = {
        "sgd": torch.optim.SGD,
        "adam": torch.optim.Adam,
        "adamw": torch.optim.AdamW,
        "rmsprop": torch.optim.RMSprop,
        "adagrad": torch.optim.Adagrad,
    }[name]
    optimizer = rule([parameter], **arguments)
    for g in gradients:
        parameter.grad = torch.tensor(np.array(g, dtype=dtype))
        if hp["clip_norm"] is not None:
            torch.nn.utils.clip_grad_norm_([parameter], hp["clip_norm"])
        if hp["clip_value"] is not None:
            torch.nn.utils.clip_grad_value_([parameter], hp["clip_value"])
        optimizer.step()
    state = {
        key: (float(value) if key == "step" else value.detach().numpy().copy())
        for key, value in optimizer.state[parameter].items()
    }
    return parameter.detach().numpy().copy(), state


@pytest.mark.parametrize(("name", "hyperparameters"), CASES, ids=CASE_IDS)
def test_matches_torch_optim(name: str, hyperparameters: dict[str, Any]) -> None:
    theta0, gradients = problem(9)
    expected, torch_state = torch_run(name, hyperparameters, theta0, gradients, np.float64)
    optimizer = make(name, hyperparameters)
    theta = nncore_run(optimizer, theta0, gradients)
    assert_relative(theta, expected, 1e-12, "float64 parameters")
    state = optimizer.state_dict()["state"]
    for key, value in torch_state.items():
        if key == "step":
            assert state["step"] == int(value)
        else:
            assert_relative(state[key], value, 1e-12, key)
    assert set(state) - {"step"} == set(torch_state) - {"step"}

    single, _ = torch_run(name, hyperparameters, theta0, gradients, np.float32)
    theta32 = nncore_run(
        make(name, hyperparameters),
        theta0.astype(np.float32),
        gradients.astype(np.float32),
        dtype=np.float32,
    )
    np.testing.assert_allclose(theta32, single, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", list(CLASSES))
def test_defaults_match_torch(name: str) -> None:
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    parameter = torch.nn.Parameter(torch.zeros(1))
    arguments = {"lr": 0.01} if name == "sgd" else {}
    rule = {
        "sgd": torch.optim.SGD,
        "adam": torch.optim.Adam,
        "adamw": torch.optim.AdamW,
        "rmsprop": torch.optim.RMSprop,
        "adagrad": torch.optim.Adagrad,
    }[name]
    defaults = rule([parameter], **arguments).defaults
    ours = make(name, {}).hyperparameters()
    assert ours["learning_rate"] == defaults["lr"]
    for key, value in ours.items():
        if key in defaults:
            assert defaults[key] == value, key


# ------------------------------------------------------------------------------------------------
# From 2^20 parameters the rule runs on ranges of entries across threads (nncore/parallel.hpp;
# without a registered BLAS, whose workers would hold the cores).
BIG_N = (1 << 20) + 37  # not a multiple of the range granularity: the last range has a tail


@pytest.mark.parametrize(("name", "hyperparameters"), CASES, ids=CASE_IDS)
def test_big_vectors_split_across_threads_match_the_reference(
    name: str, hyperparameters: dict[str, Any], without_blas: None
) -> None:
    import nncore

    assert nncore.config()["min_parallel_elements"] <= BIG_N  # so the rule is split
    rng = np.random.default_rng(3)
    theta0 = rng.normal(size=BIG_N)
    gradients = rng.normal(size=(2, BIG_N)) * np.array([[0.5], [2.0]])
    expected, _ = reference_run(name, hyperparameters, theta0, gradients)
    before = nncore.get_num_threads()
    try:
        results = {}
        for threads in (1, 2, 3):
            nncore.set_num_threads(threads)
            results[threads] = nncore_run(make(name, hyperparameters), theta0, gradients)
    finally:
        nncore.set_num_threads(before)
    assert_relative(results[1], expected, 1e-12, "parameters")
    # Each entry's update depends on that entry alone: the split changes nothing, bit for bit.
    np.testing.assert_array_equal(results[2], results[1])
    np.testing.assert_array_equal(results[3], results[1])


def _at_offset(values: Array, offset: int) -> Array:
    """A copy of ``values`` that starts ``offset`` entries past a 64-byte boundary."""
    size = values.dtype.itemsize
    buffer = np.empty(values.size + 64 // size + offset, dtype=values.dtype)
    start = (-buffer.ctypes.data % 64) // size + offset
    view = buffer[start : start + values.size]
    view[...] = values
    return view


@pytest.mark.parametrize(("name", "hyperparameters"), CASES, ids=CASE_IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_step_does_not_depend_on_where_the_arrays_sit(
    name: str, hyperparameters: dict[str, Any], dtype: Any
) -> None:
    """The same steps from the same values give the same bits wherever θ and g start in memory
    (in the AVX-512 build, Eigen's scalar head before the first aligned entry rounded
    differently from its packets)."""
    theta0, gradients = problem(3)
    theta0, gradients = theta0.astype(dtype), gradients.astype(dtype)
    results = []
    for offset in range(64 // np.dtype(dtype).itemsize):
        optimizer = make(name, hyperparameters)
        theta = _at_offset(theta0, offset)
        for g in gradients:
            optimizer.step(theta, _at_offset(g, (offset * 3) % 8))
        results.append(theta.copy())
    for offset, theta in enumerate(results):
        np.testing.assert_array_equal(theta, results[0], err_msg=f"offset {offset}")
