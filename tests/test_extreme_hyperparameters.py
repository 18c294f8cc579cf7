"""Every accepted hyper-parameter is usable (issue 20, rule 6).

Each schedule of ``nncore.schedules`` and each optimizer of ``nncore.optim`` (read off the
modules) is built with every extreme candidate value of each of its arguments (the smallest and
largest finite floats, values next to 0 and 1, integers up to 2**64); whatever the constructor
accepts must then work:

- a schedule's rate is a finite float >= 0 at every epoch (the one after the last included, and
  epochs near 2**62), equal to its formula computed in ``decimal`` arithmetic (which has no
  overflow), saturated at the largest float or 0 where the formula leaves the float range;
- ``fit`` with it (float32 and float64) either trains or raises ``nncore.DivergenceError`` (a too
  large rate), never ``OverflowError`` or another raw error; an optimizer hyper-parameter that
  float32 cannot hold is refused before training with a ``ValueError`` naming it and float32.
"""

from __future__ import annotations

import inspect
import math
import sys
from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal
from typing import Any

import numpy as np
import pytest

import nncore
from nncore import optim, schedules
from nncore._validation import INDEX_MAX

LARGEST = sys.float_info.max
TINY = 5e-324  # the smallest positive (subnormal) float
FLOAT_CANDIDATES = [
    0.0,
    TINY,
    1e-300,
    0.5,
    math.nextafter(1.0, 0.0),
    1.0,
    math.nextafter(1.0, 2.0),
    2.0,
    1e300,
    LARGEST,
]
INT_CANDIDATES = [0, 1, 2, 2**31, INDEX_MAX, 2**63, 2**64]
EPOCHS = 12  # of the fits, so that step sizes 1 and 2 change the rate several times

#: Decimal arithmetic with exponents to ±10**18 (beyond: ±Infinity and 0, trapping nothing).
DECIMAL = Context(prec=40, Emax=MAX_EMAX, Emin=MIN_EMIN, traps=[])


def public_classes(module: Any, base: type) -> list[type]:
    return sorted(
        (
            value
            for name, value in vars(module).items()
            if isinstance(value, type)
            and issubclass(value, base)
            and value is not base
            and not name.startswith("_")
        ),
        key=lambda kind: kind.__name__,
    )


def candidates(annotation: str) -> list[Any]:
    return INT_CANDIDATES if "int" in annotation and "float" not in annotation else FLOAT_CANDIDATES


def accepted_variants(kind: type) -> list[Any]:
    """A ``pytest.param`` of ``(kind, {argument: value})`` for every single argument of ``kind``
    set to each candidate the constructor accepts (the others at their defaults)."""
    variants = []
    for name, parameter in inspect.signature(kind).parameters.items():
        if not isinstance(parameter.annotation, str) or "bool" in parameter.annotation:
            continue
        for value in candidates(parameter.annotation):
            try:
                kind(**{name: value})
            except (ValueError, TypeError):
                continue
            variants.append(
                pytest.param(kind, {name: value}, id=f"{kind.__name__}({name}={value!r})")
            )
    return variants


SCHEDULE_VARIANTS = [
    variant
    for kind in public_classes(schedules, schedules.Schedule)
    for variant in accepted_variants(kind)
]
OPTIMIZER_VARIANTS = [
    variant
    for kind in public_classes(optim, optim.Optimizer)
    for variant in accepted_variants(kind)
]


def test_the_families_hold_the_reported_cases() -> None:
    names = {variant.id for variant in SCHEDULE_VARIANTS}
    assert "StepDecay(gamma=1e+300)" in names
    assert "ExponentialDecay(gamma=1e+300)" in names
    assert "InverseScaling(power_t=1e+300)" in names
    assert len(public_classes(schedules, schedules.Schedule)) >= 6
    assert len(public_classes(optim, optim.Optimizer)) >= 5


def saturated(value: Decimal) -> float:
    """The float a saturating schedule gives for the exact rate ``value`` (NaN, from 0·∞:
    a rate of 0 stays 0)."""
    if value.is_nan():
        return 0.0
    return LARGEST if value > Decimal(LARGEST) else float(value)


def formula(schedule: schedules.Schedule, eta0: float, epoch: int) -> float | None:
    """The schedule's formula (module docstring) in decimal arithmetic, or None where it is not
    a closed form (ReduceOnPlateau depends on the losses; CosineAnnealing's cosine is a float
    formula whose values lie between its two end rates, checked below)."""
    eta = Decimal(eta0)
    if isinstance(schedule, schedules.Constant):
        return eta0
    if isinstance(schedule, schedules.StepDecay):
        power = DECIMAL.power(Decimal(schedule.gamma), (epoch - 1) // schedule.step_size)
        return saturated(DECIMAL.multiply(eta, power))
    if isinstance(schedule, schedules.ExponentialDecay):
        return saturated(DECIMAL.multiply(eta, DECIMAL.power(Decimal(schedule.gamma), epoch - 1)))
    if isinstance(schedule, schedules.InverseScaling):
        power = DECIMAL.power(Decimal(epoch), Decimal(schedule.power_t))
        return saturated(DECIMAL.divide(eta, power))
    if isinstance(schedule, schedules.CosineAnnealing) and epoch <= schedule.warmup_epochs:
        fraction = DECIMAL.divide(Decimal(epoch), Decimal(schedule.warmup_epochs + 1))
        return saturated(DECIMAL.multiply(eta, fraction))
    return None


@pytest.mark.parametrize("eta0", [0.0, 1e-3, LARGEST])
@pytest.mark.parametrize(("kind", "arguments"), SCHEDULE_VARIANTS)
def test_every_rate_of_an_accepted_schedule_is_finite_and_its_formula(
    kind: type[schedules.Schedule], arguments: dict[str, Any], eta0: float
) -> None:
    schedule = kind(**arguments)
    schedule.start(eta0, EPOCHS)
    for epoch in [*range(1, EPOCHS + 2), 2**31, 2**62, INDEX_MAX]:
        rate = schedule.learning_rate(epoch)
        assert isinstance(rate, float) and math.isfinite(rate) and rate >= 0.0, (epoch, rate)
        expected = formula(schedule, eta0, epoch)
        if expected is not None:
            # relative error of the float formula (and of its logarithmic form near the limits);
            # below 1e-300 only a few bits are left (subnormals): an absolute bound there
            assert math.isclose(rate, expected, rel_tol=1e-12, abs_tol=1e-300), (epoch, rate)
        elif isinstance(schedule, schedules.CosineAnnealing):
            # between its end rates, up to the formula's rounding (a few units in the last
            # place of the larger one: η_min + ½(η₀ − η_min)(1 + cos) cancels when η_min ≫ η₀)
            low, high = sorted((eta0, schedule.eta_min))
            assert low - 4 * math.ulp(high) <= rate <= high, (epoch, rate)
        schedule.observe(epoch, 1.0)  # a loss that never improves: ReduceOnPlateau reduces
        if isinstance(schedule, schedules.ReduceOnPlateau):
            assert rate <= max(eta0, schedule.min_lr)


def problem(dtype: str) -> tuple[nncore.MLP, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    X = rng.normal(size=(16, 3)).astype(dtype)
    model = nncore.MLP([3, 4, 2], activation="tanh", dtype=dtype, seed=1)
    return model, X, np.tanh(X[:, :2])


def fit_or_diverge(model: nncore.MLP, X: np.ndarray, y: np.ndarray, **kwargs: Any) -> None:
    """``fit`` trains (every rate finite) or stops with ``DivergenceError`` (parameters finite:
    the model keeps the weights from before the batch)."""
    try:
        history = model.fit(X, y, epochs=EPOCHS, batch_size=4, n_iter_no_change=None, **kwargs)
    except nncore.DivergenceError:
        pass
    else:
        assert all(math.isfinite(rate) for rate in history.learning_rate)
    assert np.isfinite(model._network.parameters).all()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("eta0", [0.0, 0.1])
@pytest.mark.parametrize(("kind", "arguments"), SCHEDULE_VARIANTS)
def test_fit_with_an_accepted_schedule_trains_or_diverges(
    kind: type[schedules.Schedule], arguments: dict[str, Any], eta0: float, dtype: str
) -> None:
    model, X, y = problem(dtype)
    fit_or_diverge(model, X, y, lr_schedule=kind(**arguments), learning_rate=eta0)
    assert model.optimizer is not None and model.optimizer.learning_rate == eta0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("kind", "arguments"), OPTIMIZER_VARIANTS)
def test_fit_with_an_accepted_optimizer_trains_diverges_or_names_the_dtype(
    kind: type[optim.Optimizer], arguments: dict[str, Any], dtype: str
) -> None:
    optimizer = kind(**arguments)
    model, X, y = problem(dtype)
    before = model._network.parameters.copy()
    try:
        fit_or_diverge(model, X, y, optimizer=optimizer)
    except ValueError as error:  # only a value float32 cannot hold, refused before training
        assert dtype == "float32" and "float32" in str(error), error
        name = str(error).split("=")[0]
        assert name.split("[")[0] in optimizer.hyperparameters(), error
        assert model._network.parameters.tobytes() == before.tobytes()
        assert optimizer.dtype is None
        return
    # What trained with a finite state can be copied on: its state is a valid state_dict. (A
    # state that overflowed while the parameters stayed finite is the known failure below.)
    if state_is_finite(optimizer):
        copy = optim.Optimizer.from_state_dict(optimizer.state_dict())
        assert copy.step_count == optimizer.step_count


def state_is_finite(optimizer: optim.Optimizer) -> bool:
    state = optimizer.state_dict()["state"]
    return all(np.isfinite(value).all() for key, value in state.items() if key != "step")


SQUARING_RULES = {"adam": optim.Adam, "rmsprop": optim.RMSProp, "adagrad": optim.Adagrad}


@pytest.mark.parametrize("name", list(SQUARING_RULES))
def test_an_overflowing_optimizer_state_is_refused_as_divergence(name: str) -> None:
    """g = ∇ + λθ with λ = 1e300 is finite but g² overflows: θ would stay finite (g/√∞ = 0)
    while the state holds ∞, which no state_dict or model file can hold. The step is refused as
    divergence and the optimizer's state is left as before it (here: fresh)."""
    model, X, y = problem("float64")
    optimizer = SQUARING_RULES[name](weight_decay=1e300)
    before = model.parameters.copy()
    with pytest.raises(nncore.DivergenceError, match="optimizer's state non-finite"):
        model.fit(X, y, epochs=EPOCHS, batch_size=4, n_iter_no_change=None, optimizer=optimizer)
    assert state_is_finite(optimizer)
    assert optimizer.step_count == 0
    np.testing.assert_array_equal(model.parameters, before)


@pytest.mark.parametrize("name", list(SQUARING_RULES))
def test_a_refused_step_puts_a_trained_state_back_bit_for_bit(name: str) -> None:
    """After a fit that trained, a fit whose first step overflows the state leaves the state,
    its step count and the parameters exactly as the first fit left them."""
    model, X, y = problem("float64")
    optimizer = SQUARING_RULES[name]()
    model.fit(X, y, epochs=2, batch_size=4, n_iter_no_change=None, optimizer=optimizer)
    trained = optimizer.state_dict()
    state, parameters = trained["state"], model.parameters.copy()
    # The trained state under λ = 1e300, whose g² overflows at the next step.
    trained["hyperparameters"]["weight_decay"] = 1e300
    optimizer = optim.Optimizer.from_state_dict(trained)
    with pytest.raises(nncore.DivergenceError, match="optimizer's state non-finite"):
        model.fit(X, y, epochs=1, batch_size=4, n_iter_no_change=None, optimizer=optimizer)
    after = optimizer.state_dict()["state"]
    assert after["step"] == state["step"]
    for key in state:
        np.testing.assert_array_equal(after[key], state[key], err_msg=key)
    np.testing.assert_array_equal(model.parameters, parameters)


@pytest.mark.parametrize("power_t", [0.0, 1e300, LARGEST])
def test_the_estimators_invscaling_rate_saturates(power_t: float) -> None:
    """scikit-learn's ``learning_rate_init / (t + 1)^power_t`` (``t`` counts samples) with any
    accepted ``power_t``: training runs, the rate after it equals the formula in decimals."""
    pytest.importorskip("sklearn", reason="the estimators need scikit-learn")
    from sklearn.exceptions import ConvergenceWarning

    from nncore.sklearn import MLPRegressor

    X = np.random.default_rng(2).normal(size=(20, 3))
    estimator = MLPRegressor(
        hidden_layer_sizes=(4,),
        solver="sgd",
        learning_rate="invscaling",
        power_t=power_t,
        max_iter=3,
        random_state=0,
    )
    with pytest.warns(ConvergenceWarning):
        estimator.fit(X, X[:, 0])
    power = DECIMAL.power(Decimal(estimator.t_ + 1), Decimal(power_t))
    expected = float(DECIMAL.divide(Decimal(estimator.learning_rate_init), power))
    assert math.isclose(estimator._learning_rate_now, expected, rel_tol=1e-12, abs_tol=1e-300)


def test_float32_refusals_are_exactly_the_values_numpy_rounds_to_inf_or_0() -> None:
    """The door's rule for float32 hyper-parameters against NumPy's own float64 → float32 cast,
    at and next to the rounding limits (halfway above the largest float32, halfway below the
    smallest subnormal) and across the range."""
    from nncore._validation import check_representable

    limits = [2.0**128 - 2.0**103, 2.0**-150]
    values = [edge for limit in limits for edge in (math.nextafter(limit, 0.0), limit)]
    values += [math.nextafter(limit, math.inf) for limit in limits]
    values += [10.0**k for k in range(-330, 309, 7)] + [TINY, LARGEST, 0.0]
    for value in values + [-value for value in values]:
        with np.errstate(over="ignore", under="ignore"):
            rounded = np.array(value).astype(np.float32)
        holds = bool(np.isfinite(rounded)) and (rounded != 0 or value == 0)
        try:
            check_representable(value, "x", np.dtype(np.float32))
            refused = False
        except ValueError:
            refused = True
        assert refused != holds, value
        check_representable(value, "x", np.dtype(np.float64))  # every float64 holds
