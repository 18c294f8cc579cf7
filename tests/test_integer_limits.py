"""Out-of-range integers are ``ValueError``/``TypeError``, never pybind11's ``RuntimeError``
(issue 20, rule 7).

Every integer argument that reaches the native core (layer sizes, seeds, epochs, batch sizes,
``n_iter_no_change``, thread counts, optimizer step counts) and the schedules' epoch counts is
called with -1, 0, 1, 2**31, 2**62 − 1, 2**63 − 1, 2**63, 2**64 and 10**30, as Python and NumPy
integers, and with a bool, a float and a string. A value in the argument's documented range
must be accepted (and work); any other must raise ``ValueError`` (out of range) or
``TypeError`` (not an integer) with a message that names the argument — never
``RuntimeError``, ``OverflowError`` or ``MemoryError``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import nncore
from nncore import optim, schedules

INDEX_MAX = 2**63 - 1
INTEGERS = [-1, 0, 1, 2**31, 2**62 - 1, INDEX_MAX, 2**63, 2**64, 10**30]
NOT_INTEGERS = [True, 2.0, "3"]

X = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
Y = X[:, :1] * 0.5


def fit(**kwargs: Any) -> Any:
    """A fit that ends after its first epoch whatever ``epochs`` is (its loss is below 1e300)."""
    model = nncore.MLP([3, 2, 1], seed=0)
    return model.fit(X, Y, **{"epochs": 2, "target_loss": 1e300, **kwargs})


def adam_state(step: Any) -> dict[str, Any]:
    optimizer = optim.Adam()
    optimizer.step(np.zeros(4), np.ones(4))
    state = optimizer.state_dict()
    state["state"]["step"] = step
    return state


def load_state(step: Any) -> None:
    optim.Adam().load_state_dict(adam_state(step))


def step_decay(value: Any) -> None:
    fit(lr_schedule=schedules.StepDecay(step_size=value), epochs=2, target_loss=None)


def cosine(**kwargs: Any) -> None:
    fit(lr_schedule=schedules.CosineAnnealing(**kwargs), epochs=3, target_loss=None)


def plateau(**kwargs: Any) -> None:
    fit(lr_schedule=schedules.ReduceOnPlateau(**kwargs), epochs=3, target_loss=None)


# (argument, call with the value, the documented range [low, high]; high None: unbounded)
ARGUMENTS: list[tuple[str, Callable[[Any], Any], int, int | None]] = [
    ("layer_sizes[1]", lambda v: nncore.MLP([3, v, 1]), 1, 2**24),
    ("seed", lambda v: nncore.MLP([3, 2, 1], seed=v), 0, 2**64 - 1),
    ("epochs", lambda v: fit(epochs=v), 1, INDEX_MAX),
    ("batch_size", lambda v: fit(batch_size=v), 1, None),
    ("n_iter_no_change", lambda v: fit(n_iter_no_change=v), 1, INDEX_MAX),
    ("patience", lambda v: fit(patience=v, validation_split=0.25), 1, None),
    ("verbose", lambda v: fit(verbose=v), 0, 2),
    ("n", nncore.set_num_threads, 1, 1024),
    ("step", load_state, 0, 2**62 - 1),
    ("step", lambda v: optim.Optimizer.from_state_dict(adam_state(v)), 0, 2**62 - 1),
    ("step_size", step_decay, 1, INDEX_MAX),
    ("T_max", lambda v: cosine(T_max=v), 1, INDEX_MAX),
    ("warmup_epochs", lambda v: cosine(warmup_epochs=v), 0, INDEX_MAX),
    ("patience", lambda v: plateau(patience=v), 0, INDEX_MAX),
    ("cooldown", lambda v: plateau(cooldown=v), 0, INDEX_MAX),
]
IDS = [f"{i}-{name}" for i, (name, _, _, _) in enumerate(ARGUMENTS)]


@pytest.fixture(autouse=True)
def restore_threads() -> Any:
    threads = nncore.get_num_threads()
    yield
    nncore.set_num_threads(threads)


def numpy_integer(value: int) -> Any:
    """``value`` as the NumPy integer type that holds it, or the Python int if none does."""
    for kind in (np.int64, np.uint64):
        if np.iinfo(kind).min <= value <= np.iinfo(kind).max:
            return kind(value)
    return value


@pytest.mark.parametrize("as_numpy", [False, True], ids=["int", "numpy"])
@pytest.mark.parametrize("value", INTEGERS, ids=[str(v) for v in INTEGERS])
@pytest.mark.parametrize(("name", "call", "low", "high"), ARGUMENTS, ids=IDS)
def test_an_integer_is_accepted_in_range_and_refused_by_name_outside(
    name: str, call: Callable[[Any], Any], low: int, high: int | None, value: int, as_numpy: bool
) -> None:
    argument = numpy_integer(value) if as_numpy else value
    if low <= value and (high is None or value <= high):
        call(argument)
        return
    with pytest.raises(ValueError) as info:
        call(argument)
    assert type(info.value) is ValueError
    assert names(name, info.value), info.value


@pytest.mark.parametrize("value", NOT_INTEGERS, ids=[repr(v) for v in NOT_INTEGERS])
@pytest.mark.parametrize(("name", "call", "low", "high"), ARGUMENTS, ids=IDS)
def test_a_non_integer_is_a_type_error_naming_the_argument(
    name: str, call: Callable[[Any], Any], low: int, high: int | None, value: Any
) -> None:
    with pytest.raises(TypeError) as info:
        call(value)
    assert names(name, info.value), info.value


def names(name: str, error: Exception) -> bool:
    """Whether the message says what ``name`` must be (``n must be``, ``['step'] must be``)."""
    return re.search(rf"(?<!\w){re.escape(name)}(?!\w)\W*must", str(error)) is not None


def test_a_learning_rate_too_large_for_a_float_is_a_value_error() -> None:
    """An integer learning rate of 400 digits is not finite as a float: ValueError naming it."""
    for call in (
        lambda: fit(learning_rate=10**400),
        lambda: optim.SGD(learning_rate=10**400),
        lambda: schedules.ExponentialDecay(gamma=10**400),
    ):
        with pytest.raises(ValueError, match=r"learning_rate|gamma"):
            call()


# The estimators' integers outside their ranges (a batch larger than the data is clipped to
# it and max_iter up to 2**63 − 1 is accepted, as scikit-learn does).
ESTIMATOR_INTEGERS = (
    [("max_iter", value) for value in (-1, 0, 2**63, 2**64, 10**30, True, 2.5)]
    + [("hidden_layer_sizes", (value,)) for value in (-1, 0, 2**31, 2**63, 2**64, True, 2.5)]
    + [("batch_size", value) for value in (-1, 0, True, 2.5)]
)


@pytest.mark.parametrize(("parameter", "value"), ESTIMATOR_INTEGERS)
def test_the_estimators_integers_are_refused_by_name(parameter: str, value: Any) -> None:
    """scikit-learn's convention: a bad parameter is a ``ValueError`` naming it, raised by
    ``fit`` before anything is built."""
    pytest.importorskip("sklearn", reason="the estimators need scikit-learn")
    from nncore.sklearn import MLPRegressor

    estimator = MLPRegressor(max_iter=2).set_params(**{parameter: value})
    with pytest.raises(ValueError, match=parameter):
        estimator.fit(X, Y[:, 0])
    assert not hasattr(estimator, "model_")
