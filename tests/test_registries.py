"""One registry per concept: the core's lists of activations and losses (``cpp/src/activation.cpp``,
``cpp/src/loss.cpp``), ``nncore.optim.OPTIMIZERS``, ``nncore.schedules.SCHEDULES`` and the model
kinds of ``nncore.model_file.MODELS``; everything that names these concepts reads them, and the
Python and native sides agree."""

from __future__ import annotations

import argparse
import inspect
from typing import Any, ClassVar

import numpy as np
import pytest

import nncore
from nncore import _core, _validation, cli, model_file, optim, schedules
from nncore.reference import numpy_reference as nref

NATIVE_OPTIMIZERS = {
    value
    for value in vars(_core).values()
    if isinstance(value, type)
    and issubclass(value, (_core.OptimizerF32, _core.OptimizerF64))
    and value not in (_core.OptimizerF32, _core.OptimizerF64)
}


# --------------------------------------------------------------------------------------------
# Activations and losses: the core's lists
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("names", "own", "aliases"),
    [
        (_core.activation_names(), nncore.ACTIVATIONS, _validation.ACTIVATION_ALIASES),
        (_core.loss_names(), nncore.LOSSES, _validation.LOSS_ALIASES),
    ],
    ids=["activations", "losses"],
)
def test_the_python_names_are_the_cores(
    names: dict[str, str], own: tuple[str, ...], aliases: dict[str, str]
) -> None:
    assert set(own) == set(names.values()) and len(own) == len(set(own))
    assert all(names[name] == name for name in own)  # each own name stands for itself
    assert aliases == {name: target for name, target in names.items() if name not in own}
    assert set(aliases.values()) <= set(own)


@pytest.mark.parametrize("name", [*_core.activation_names()])
def test_every_activation_name_of_the_core_builds_a_network(name: str) -> None:
    """The core parses every name of its list (as the output layer, where softmax is allowed)
    and reports the kind's own name."""
    network = _core.NetworkF64([2, 3], [name], 0.01, 1.0, True, [])
    assert network.activations == [_core.activation_names()[name]]


@pytest.mark.parametrize("name", [*_core.loss_names()])
def test_every_loss_name_of_the_core_is_a_loss(name: str) -> None:
    own = _core.loss_names()[name]
    output = {"binary_cross_entropy": "sigmoid", "categorical_cross_entropy": "softmax"}
    network = _core.NetworkF64([2, 3], [output.get(own, "identity")], 0.01, 1.0, True, [])
    X, Y = np.full((2, 2), 0.5), np.full((2, 3), 1 / 3)
    loss, _ = network.evaluate(X, Y, np.empty(0), name, 1.0)
    assert loss == network.evaluate(X, Y, np.empty(0), own, 1.0)[0]
    model = nncore.MLP([2, 3], output_activation=output.get(own, "identity"), dtype="float64")
    model.parameters[...] = network.parameters
    assert model.loss(X, Y, loss=name) == loss


def test_unknown_names_are_refused_by_the_core_listing_its_names() -> None:
    with pytest.raises(ValueError, match="unknown activation 'relu6'; expected one of identity"):
        _core.NetworkF64([2, 3], ["relu6"], 0.01, 1.0, True, [])
    network = _core.NetworkF64([2, 3], ["identity"], 0.01, 1.0, True, [])
    with pytest.raises(ValueError, match="unknown loss 'hinge'; expected one of mean_squared"):
        network.evaluate(np.ones((1, 2)), np.ones((1, 3)), np.empty(0), "hinge", 1.0)


def test_both_references_implement_every_activation_and_loss() -> None:
    assert set(nref.ACTIVATIONS) == set(nncore.ACTIVATIONS)
    assert set(nref.LOSSES) == set(nncore.LOSSES)


# --------------------------------------------------------------------------------------------
# Optimizers
# --------------------------------------------------------------------------------------------


def test_every_native_rule_has_its_python_class_and_back() -> None:
    """The Python class of each rule of OPTIMIZERS runs the core's classes named after it, whose
    ``name`` is the rule's name; and the core has no rule without a Python class."""
    bound = set()
    for name, rule in optim.OPTIMIZERS.items():
        assert rule.name == name and rule.__module__ == "nncore.optim"
        if rule.full_batch:  # L-BFGS runs its own loop: its native part is _core.LBFGSOptions
            assert isinstance(rule()._native(np.float64), _core.LBFGSOptions)
            continue
        for dtype in ("float32", "float64"):
            native = rule()._native(dtype)
            suffix = "F32" if dtype == "float32" else "F64"
            assert type(native) is getattr(_core, f"{rule.__name__}{suffix}")
            assert native.name == name
            bound.add(type(native))
    assert bound == NATIVE_OPTIMIZERS


def test_every_rule_is_reachable_by_its_name_everywhere() -> None:
    """get_optimizer, the command line's --optimizer, the scikit-learn solver check and the
    state_dict round trip all take every name of the registry."""
    for name, rule in optim.OPTIMIZERS.items():
        assert type(optim.get_optimizer(name)) is rule
        assert type(optim.get_optimizer(name.upper())) is rule
        assert type(optim.Optimizer.from_state_dict(rule().state_dict())) is rule
    assert _choices(cli.build_parser(), "--optimizer") == list(optim.OPTIMIZERS)


def _choices(parser: argparse.ArgumentParser, option: str) -> list[str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                for inner in sub._actions:
                    if option in inner.option_strings:
                        return list(inner.choices or [])
    raise AssertionError(option)


def test_a_subclass_with_a_name_of_its_own_joins_the_registry() -> None:
    class Scaled(optim.SGD):
        name = "scaled_sgd_for_test"

    try:
        assert optim.OPTIMIZERS["scaled_sgd_for_test"] is Scaled
        assert type(optim.get_optimizer("scaled_sgd_for_test")) is Scaled
    finally:
        del optim.OPTIMIZERS["scaled_sgd_for_test"]

    class Variant(optim.Adam):  # inherits "adam": a variant, not a new rule
        pass

    assert optim.OPTIMIZERS["adam"] is optim.Adam


@pytest.mark.parametrize("name", ["adam", "Bad-Name", "", 3])
def test_a_taken_or_malformed_name_is_a_type_error(name: Any) -> None:
    before = dict(optim.OPTIMIZERS)
    with pytest.raises(TypeError, match=r"is taken by nncore\.optim\.Adam|lower-case"):
        type("Rule", (optim.SGD,), {"name": name})
    assert before == optim.OPTIMIZERS


# --------------------------------------------------------------------------------------------
# Schedules and model kinds
# --------------------------------------------------------------------------------------------


def test_every_schedule_is_registered_and_made_by_its_name() -> None:
    classes = {
        value
        for value in vars(schedules).values()
        if isinstance(value, type)
        and issubclass(value, schedules.Schedule)
        and value is not schedules.Schedule
    }
    assert set(schedules.SCHEDULES.values()) == classes
    for name, schedule in schedules.SCHEDULES.items():
        assert schedule.name == name and type(schedules.get_schedule(name)) is schedule
    with pytest.raises(
        ValueError, match=r"expected a nncore\.schedules\.Schedule or one of constant"
    ):
        schedules.get_schedule("nope")


def test_a_schedule_subclass_with_a_name_joins_the_registry() -> None:
    class Halving(schedules.Schedule):
        name: ClassVar[str] = "halving_for_test"

        def learning_rate(self, epoch: int) -> float:
            return self.initial_learning_rate / 2 ** (epoch - 1)

    try:
        model = nncore.MLP([2, 1], seed=0)
        X = np.ones((4, 2))
        history = model.fit(
            X, np.ones(4), learning_rate=0.1, lr_schedule="halving_for_test", epochs=3
        )
        assert history.learning_rate == [0.1, 0.05, 0.025]
    finally:
        del schedules.SCHEDULES["halving_for_test"]


def test_the_model_kinds_are_the_model_classes() -> None:
    assert {"MLP": nncore.MLP, "Sequential": nncore.Sequential} == model_file.MODELS
    for name, cls in model_file.MODELS.items():
        assert cls.__name__ == name
        for method in ("config", "from_config", "count_parameters"):
            assert callable(getattr(cls, method)), method
        assert inspect.isdatadescriptor(cls.generator_state)
        assert inspect.isdatadescriptor(cls.parameters)


def test_every_rule_binds_the_hyperparameters_its_python_class_has() -> None:
    """bind_optimizer.cpp builds each rule's constructor and properties from the C++ rule's own
    ``hyperparameters`` list: every Python hyper-parameter reaches the core and reads back."""
    from nncore import optim

    for name, cls in optim.OPTIMIZERS.items():
        optimizer = cls()
        native = optimizer._native(np.float64)
        if cls.full_batch:
            # L-BFGS's core object is one run's settings; its weight decay is the loss's term.
            hyperparameters = optimizer._rule_hyperparameters()
            assert set(hyperparameters) | {"weight_decay"} == set(optimizer.hyperparameters())
            for key, value in hyperparameters.items():
                assert getattr(native, key) == value, (name, key)
            continue
        hyperparameters = optimizer.hyperparameters()
        for key, value in hyperparameters.items():
            expected = tuple(value) if isinstance(value, list) else value
            assert getattr(native, key) == expected, (name, key)
        with pytest.raises(TypeError, match="unexpected keyword argument 'nonsense'"):
            type(native)(0.1, nonsense=1)
