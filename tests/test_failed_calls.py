"""A failed call changes nothing, the optimizer included (issue 20, rule 5).

For every optimizer rule, passed fresh or already holding state, and every way ``fit`` can fail
before training (each argument's check, an optimizer made for another model, a fit already
running), the model (parameters, optimizer and its ``state_dict``, generator state, history)
and the passed optimizer (its ``state_dict`` and learning rate) are exactly as before. Each
failing call also asks for ``learning_rate=0.5``, which a failed call must not apply (the
reported case). The same family runs through ``nncore.distributed.fit`` (test_distributed.py);
the estimators' ``fit``/``partial_fit`` are in test_sklearn_failed_calls.py; ``Optimizer.step``,
``MLP.step`` and ``MLP.set_parameters`` are checked the same way here.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest

import nncore
from nncore import optim

N_FEATURES, N_SAMPLES = 3, 12

#: Every optimizer rule of nncore.optim (read off the module, not a hand-kept list).
RULES = sorted(
    (
        rule
        for rule in vars(optim).values()
        if isinstance(rule, type)
        and issubclass(rule, optim.Optimizer)
        and rule.name
        # (the update rules; LBFGS, a full-batch solver with no learning rate, no step and no
        # state, has its refusals in tests/test_lbfgs.py)
        and not rule.full_batch
    ),
    key=lambda rule: rule.name,
)


def data(dtype: str = "float32") -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N_SAMPLES, N_FEATURES)).astype(dtype)
    return X, np.sin(X[:, :2])


def trained_model(dtype: str = "float32", hidden: int = 4) -> nncore.MLP:
    """A model that has been fitted once (so it has an optimizer and a history)."""
    model = nncore.MLP([N_FEATURES, hidden, 2], activation="tanh", dtype=dtype, seed=3)
    model.fit(*data(dtype), epochs=2, batch_size=4, optimizer="adam")
    return model


def plain(value: Any) -> Any:
    """A comparable copy of a state_dict (arrays as their dtype and bytes)."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return (value.dtype.str, value.shape, value.tobytes())
    return copy.deepcopy(value)


def model_state(model: nncore.MLP) -> dict[str, Any]:
    return {
        "parameters": model._network.parameters.tobytes(),
        "optimizer": model.optimizer,
        "optimizer_state": None if model.optimizer is None else plain(model.optimizer.state_dict()),
        "random": tuple(model._random.state),
        "history": model.history,
        "history_loss": None if model.history is None else list(model.history.loss),
    }


def optimizer_state(optimizer: optim.Optimizer) -> dict[str, Any]:
    return {
        "state": plain(optimizer.state_dict()),
        "learning_rate": optimizer.learning_rate,
        "dtype": optimizer.dtype,
        "parameter_count": optimizer.parameter_count,
    }


@contextmanager
def fit_running(model: nncore.MLP) -> Iterator[None]:
    """As while another thread is inside ``model.fit`` (it holds the model's fit lock)."""
    model._fit_lock.acquire()
    try:
        yield
    finally:
        model._fit_lock.release()


# Each way fit can fail before training: (id, keyword arguments, expected error). "X"/"y" in the
# arguments replace the data; the optimizer and learning_rate=0.5 are added by the tests.
X_GOOD, Y_GOOD = data()
X_NAN = X_GOOD.copy()
X_NAN[3, 1] = np.nan
FAILURES: list[tuple[str, dict[str, Any], type[Exception]]] = [
    ("X_not_finite", {"X": X_NAN}, ValueError),
    ("X_wrong_width", {"X": X_GOOD[:, :2]}, ValueError),
    ("X_not_numeric", {"X": np.array([["a"] * N_FEATURES] * N_SAMPLES)}, TypeError),
    ("y_wrong_rows", {"y": Y_GOOD[:-1]}, ValueError),
    ("loss_unknown", {"loss": "hinge"}, ValueError),
    ("learning_rate_negative", {"learning_rate": -1.0}, ValueError),
    ("learning_rate_overflows_float32", {"learning_rate": 1e39}, ValueError),
    ("learning_rate_a_string", {"learning_rate": "0.5"}, TypeError),
    ("epochs_0", {"epochs": 0}, ValueError),
    ("epochs_2**63", {"epochs": 2**63}, ValueError),
    ("batch_size_0", {"batch_size": 0}, ValueError),
    ("shuffle_not_bool", {"shuffle": "yes"}, TypeError),
    ("target_loss_nan", {"target_loss": float("nan")}, ValueError),
    ("tol_negative", {"tol": -1.0}, ValueError),
    ("n_iter_no_change_0", {"n_iter_no_change": 0}, ValueError),
    ("verbose_3", {"verbose": 3}, ValueError),
    ("callbacks_not_callable", {"callbacks": [1]}, TypeError),
    ("lr_schedule_unknown", {"lr_schedule": "sometimes"}, ValueError),
    ("sample_weight_negative", {"sample_weight": -np.ones(N_SAMPLES)}, ValueError),
    ("sample_weight_zero", {"sample_weight": np.zeros(N_SAMPLES)}, ValueError),
    ("validation_split_1", {"validation_split": 1.0}, ValueError),
    ("validation_data_wrong_width", {"validation_data": (X_GOOD[:, :2], Y_GOOD)}, ValueError),
    ("early_stopping_not_bool", {"early_stopping": "yes"}, TypeError),
    ("patience_0", {"patience": 0}, ValueError),
    ("min_delta_negative", {"min_delta": -1.0}, ValueError),
    ("restore_best_weights_not_bool", {"restore_best_weights": "yes"}, TypeError),
    ("huber_delta_0", {"loss": "huber", "huber_delta": 0.0}, ValueError),
    ("unknown_keyword", {"learning_rte": 0.1}, TypeError),
]
FAILURE_IDS = [name for name, _, _ in FAILURES]


def failing_fit(
    fit: Callable[..., Any], model: nncore.MLP, optimizer: Any, arguments: dict[str, Any]
) -> None:
    """``fit(model, X, y, ...)`` with one failing argument, the optimizer and rate 0.5."""
    kwargs = {"epochs": 2, "batch_size": 4, "optimizer": optimizer, "learning_rate": 0.5}
    kwargs.update(arguments)
    X, y = kwargs.pop("X", X_GOOD), kwargs.pop("y", Y_GOOD)
    fit(model, X, y, **kwargs)


def assert_unchanged(
    call: Callable[[], Any], error: type[Exception], model: nncore.MLP, *optimizers: Any
) -> None:
    before = model_state(model), [optimizer_state(o) for o in optimizers]
    with pytest.raises(error):
        call()
    assert model_state(model) == before[0]
    assert [optimizer_state(o) for o in optimizers] == before[1]


def mlp_fit(model: nncore.MLP, X: Any, y: Any, **kwargs: Any) -> Any:
    return model.fit(X, y, **kwargs)


@pytest.mark.parametrize("rule", RULES, ids=[rule.name for rule in RULES])
@pytest.mark.parametrize("used", [False, True], ids=["fresh", "used_on_this_model"])
@pytest.mark.parametrize(("name", "arguments", "error"), FAILURES, ids=FAILURE_IDS)
def test_a_refused_fit_changes_neither_model_nor_optimizer(
    rule: type[optim.Optimizer], used: bool, name: str, arguments: dict[str, Any], error: type
) -> None:
    model = trained_model()
    optimizer = rule()
    if used:
        model.fit(X_GOOD, Y_GOOD, epochs=1, batch_size=4, optimizer=optimizer)
    assert_unchanged(
        lambda: failing_fit(mlp_fit, model, optimizer, arguments), error, model, optimizer
    )


@pytest.mark.parametrize("rule", RULES, ids=[rule.name for rule in RULES])
def test_an_optimizer_of_another_model_is_refused_before_anything_changes(
    rule: type[optim.Optimizer],
) -> None:
    """The reported case: an optimizer whose state is for another parameter count (and one that
    works in another dtype) is refused, and neither model nor optimizer changes: ``m2`` keeps
    its own optimizer, the optimizer keeps its rate and state, so ``m1`` can go on with it."""
    m1, m2 = trained_model(hidden=4), trained_model(hidden=7)
    optimizer = rule()
    m1.fit(X_GOOD, Y_GOOD, epochs=1, batch_size=4, optimizer=optimizer)
    assert optimizer.parameter_count == m1.n_parameters != m2.n_parameters
    assert_unchanged(lambda: failing_fit(mlp_fit, m2, optimizer, {}), ValueError, m2, optimizer)
    m64 = trained_model("float64")
    with pytest.raises(ValueError, match="float32"):
        m64.fit(*data("float64"), optimizer=optimizer, learning_rate=0.5)
    assert optimizer.learning_rate == rule().learning_rate
    m1.fit(X_GOOD, Y_GOOD, epochs=1, batch_size=4)  # m1 still trains with it
    assert m1.optimizer is optimizer
    optimizer.reset()  # after reset it serves the other model
    m2.fit(X_GOOD, Y_GOOD, epochs=1, batch_size=4, optimizer=optimizer)
    assert optimizer.parameter_count == m2.n_parameters


@pytest.mark.parametrize("rule", RULES, ids=[rule.name for rule in RULES])
@pytest.mark.parametrize("used", [False, True], ids=["fresh", "used_on_this_model"])
def test_a_fit_refused_because_a_fit_runs_changes_nothing(
    rule: type[optim.Optimizer], used: bool
) -> None:
    model = trained_model()
    optimizer = rule()
    if used:
        model.fit(X_GOOD, Y_GOOD, epochs=1, batch_size=4, optimizer=optimizer)
    with fit_running(model):
        assert_unchanged(
            lambda: failing_fit(mlp_fit, model, optimizer, {}), RuntimeError, model, optimizer
        )


@pytest.mark.parametrize("rule", RULES, ids=[rule.name for rule in RULES])
def test_a_refused_optimizer_step_changes_nothing(rule: type[optim.Optimizer]) -> None:
    optimizer = rule()
    parameters = np.linspace(-1, 1, 5)
    optimizer.step(parameters, np.ones(5))
    after_first = parameters.copy()
    state = optimizer_state(optimizer)
    bad_steps: list[tuple[Any, Any, type[Exception]]] = [
        (np.zeros(6), np.ones(6), ValueError),  # the state is for 5 parameters
        (np.zeros(5, dtype=np.float32), np.ones(5), ValueError),  # another dtype
        (parameters, np.ones(4), ValueError),
        (parameters, [np.nan] * 5, ValueError),
        (parameters, ["a"] * 5, TypeError),
    ]
    for params, gradients, error in bad_steps:
        before = params.copy()
        with pytest.raises(error):
            optimizer.step(params, gradients)
        assert params.tobytes() == before.tobytes()
        assert optimizer_state(optimizer) == state
    assert parameters.tobytes() == after_first.tobytes()


def test_a_refused_set_parameters_or_step_changes_nothing() -> None:
    model = trained_model()
    weights, biases = model.get_parameters()
    bad_weights = [w.copy() for w in weights]
    bad_weights[-1][0, 0] = np.inf  # the last layer: the earlier ones are already converted
    for call, error in [
        (lambda: model.set_parameters(bad_weights, biases), ValueError),
        (lambda: model.set_parameters(weights, biases[:1]), ValueError),
        (lambda: model.set_parameters(weights[:1], biases), ValueError),
        (lambda: model.step(list(zip(bad_weights, biases, strict=True)), 0.1), ValueError),
        (lambda: model.step(list(zip(weights, biases, strict=True)), -0.1), ValueError),
    ]:
        assert_unchanged(call, error, model)
