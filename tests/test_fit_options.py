"""``_core.FitOptions``, the native loop's settings bound from C++ (``cpp/bindings/
bind_fit_options.cpp``), and the arguments of ``_core.fit``: every setting typed and range-checked
by name (TypeError for a wrong type, ValueError out of range, never pybind11's RuntimeError), and
a refused value or call changes nothing."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import nncore
from nncore import _core

SETTINGS = {  # a value for every setting, none of them the default
    "epochs": 3,
    "batch_size": 7,
    "shuffle": False,
    "target_loss": 0.25,
    "tol": 1e-3,
    "n_iter_no_change": 4,
    "loss": "huber",
    "huber_delta": 0.5,
    "penalty": (0.5, 0.0, 2.0),
    "epoch_loss": "batch_mean",
}


def test_the_defaults_are_those_of_mlp_fit() -> None:
    import inspect

    options = _core.FitOptions()
    signature = inspect.signature(nncore.MLP.fit).parameters
    assert options.epochs == signature["epochs"].default
    assert options.batch_size == signature["batch_size"].default
    assert options.shuffle is signature["shuffle"].default
    assert options.target_loss is None
    assert options.tol == 0.0 and options.n_iter_no_change == 0
    assert options.loss == "mean_squared_error"
    assert options.huber_delta == signature["huber_delta"].default


def test_keywords_and_properties_set_every_setting() -> None:
    options = _core.FitOptions(**SETTINGS)
    assert {name: getattr(options, name) for name in SETTINGS} == SETTINGS
    expected = ", ".join(f"{name}={value!r}" for name, value in SETTINGS.items())
    assert repr(options) == f"FitOptions({expected})"
    other = _core.FitOptions()
    for name, value in SETTINGS.items():
        setattr(other, name, value)
    assert repr(other) == repr(options)


def test_numpy_scalars_are_accepted() -> None:
    options = _core.FitOptions(
        epochs=np.int64(5), batch_size=np.uint8(9), shuffle=np.bool_(False), tol=np.float32(0.5)
    )
    assert (options.epochs, options.batch_size, options.shuffle, options.tol) == (5, 9, False, 0.5)


BAD: list[tuple[str, Any, type[Exception]]] = [
    ("epochs", 0, ValueError),
    ("epochs", 2**63, ValueError),
    ("epochs", -(2**70), ValueError),
    ("epochs", 2.0, TypeError),
    ("epochs", True, TypeError),
    ("epochs", "3", TypeError),
    ("batch_size", 0, ValueError),
    ("batch_size", None, TypeError),
    ("shuffle", 1, TypeError),
    ("shuffle", "yes", TypeError),
    ("target_loss", float("nan"), ValueError),
    ("target_loss", "0.1", TypeError),
    ("tol", -1e-9, ValueError),
    ("tol", float("inf"), ValueError),
    ("tol", 10**400, ValueError),
    ("tol", True, TypeError),
    ("n_iter_no_change", -1, ValueError),
    ("n_iter_no_change", 1.5, TypeError),
    ("loss", "mean_squared", ValueError),  # not a name or alias of the core's loss registry
    ("loss", 3, TypeError),
    ("huber_delta", 0.0, ValueError),
    ("huber_delta", float("nan"), ValueError),
    ("huber_delta", [1.0], TypeError),
    ("penalty", (1.0, -0.5), ValueError),
    ("penalty", (float("inf"),), ValueError),
    ("penalty", ("a",), TypeError),
    ("penalty", 0.5, TypeError),
    ("epoch_loss", "mean", ValueError),
    ("epoch_loss", 1, TypeError),
]


@pytest.mark.parametrize(("name", "value", "error"), BAD)
def test_a_bad_value_is_refused_by_name_and_changes_nothing(
    name: str, value: Any, error: type[Exception]
) -> None:
    options = _core.FitOptions(**SETTINGS)
    before = repr(options)
    with pytest.raises(error, match=name) as raised:
        setattr(options, name, value)
    assert type(raised.value) is error  # not pybind11's RuntimeError or a subclass of it
    assert repr(options) == before
    with pytest.raises(error, match=name):
        _core.FitOptions(**{name: value})


def test_unknown_and_positional_arguments_are_type_errors() -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'epoch'"):
        _core.FitOptions(epoch=3)
    with pytest.raises(TypeError):
        _core.FitOptions(3)  # type: ignore[misc]


# ----------------------------------------------------------------------------- _core.fit


def problem(dtype: str = "float64") -> tuple[nncore.MLP, Any, Any]:
    model = nncore.MLP([3, 4, 2], "tanh", "softmax", dtype=dtype, seed=1)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 3)).astype(dtype)
    Y = np.eye(2, dtype=dtype)[rng.integers(0, 2, 20)]
    return model, X, Y


def other_dtype(X: Any) -> Any:
    return X.astype(np.float32 if X.dtype == np.float64 else np.float64)


# (what is wrong, the arguments it changes given X, Y and empty weights w, the message)
BAD_CALLS: list[tuple[str, Any, str]] = [
    ("network", lambda X, Y, w: {"network": "net"}, "network must be"),
    (
        "optimizer dtype",
        lambda X, Y, w: {"optimizer": nncore.SGD()._native("float32")},
        "optimizer",
    ),
    ("random", lambda X, Y, w: {"random": 3}, "random must be"),
    ("train list", lambda X, Y, w: {"train": [X, Y, w]}, "train must be a tuple"),
    ("train pair", lambda X, Y, w: {"train": (X, Y)}, "train must be a tuple"),
    ("X dtype", lambda X, Y, w: {"train": (other_dtype(X), Y, w)}, "X must be a C-contiguous"),
    ("X order", lambda X, Y, w: {"train": (np.asfortranarray(X), Y, w)}, "X must be a C-contig"),
    ("weights list", lambda X, Y, w: {"train": (X, Y, [])}, "sample_weight must be a C-contig"),
    ("validation pair", lambda X, Y, w: {"validation": (X, Y)}, "validation must be a tuple"),
    ("validation Y", lambda X, Y, w: {"validation": (X, Y[:, :1].copy(), w)}, "Y must have shape"),
    ("options dict", lambda X, Y, w: {"options": {"epochs": 2}}, "incompatible function argum"),
    (
        "loss for the output",
        lambda X, Y, w: {"options": _core.FitOptions(loss="binary_cross_entropy")},
        "needs a sigmoid output",
    ),
    (
        "a penalty of another length",
        lambda X, Y, w: {
            "options": _core.FitOptions(loss="categorical_cross_entropy", penalty=(0.1, 0.2))
        },
        "one entry per parameter",
    ),
]


@pytest.mark.parametrize(("fault", "change", "message"), BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
def test_bad_fit_arguments_are_refused_and_change_nothing(
    fault: str, change: Any, message: str
) -> None:
    model, X, Y = problem()
    optimizer = nncore.SGD(0.1)._native("float64")
    w = np.empty(0)
    arguments: dict[str, Any] = {
        "network": model._network,
        "optimizer": optimizer,
        "random": model._random,
        "train": (X, Y, w),
        "validation": None,
        "options": _core.FitOptions(epochs=2, loss="categorical_cross_entropy"),
    }
    parameters, state = model._network.parameters.copy(), model._random.state
    with pytest.raises((TypeError, ValueError), match=message):
        _core.fit(**{**arguments, **change(X, Y, w)})
    np.testing.assert_array_equal(model._network.parameters, parameters)
    assert model._random.state == state and optimizer.step_count == 0
    records, reason = _core.fit(**arguments)  # the same call without the fault trains
    assert len(records) == 2 and reason == "max_epochs" and optimizer.step_count == 2
