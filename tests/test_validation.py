"""Bad input is refused at the door, and refusing it leaves the model exactly as it was.

Every bad argument must raise the documented exception (``ValueError`` for a wrong value,
``TypeError`` for a wrong type) with a message that names the argument, and the model's
parameters (and its random generator) must be bit-identical afterwards. Valid-but-unusual input
(lists, integer/float16/big-endian/read-only/strided arrays, ...) must be accepted and give the
same result as the canonical C-contiguous array of the model's dtype.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import nncore

N_FEATURES = 3
N_SAMPLES = 6
N_CLASSES = 4

# --------------------------------------------------------------------------------------------
# Models and valid data
# --------------------------------------------------------------------------------------------


def make_model(kind: str, dtype: str = "float32", use_bias: bool = True) -> nncore.MLP:
    """A small model of one of three kinds: regression, binary (sigmoid), multiclass (softmax)."""
    n_outputs, output = {
        "regression": (2, "identity"),
        "binary": (1, "sigmoid"),
        "multiclass": (N_CLASSES, "softmax"),
    }[kind]
    return nncore.MLP(
        [N_FEATURES, 5, n_outputs],
        activation="tanh",
        output_activation=output,
        dtype=dtype,
        seed=1,
        use_bias=use_bias,
    )


def good_X(dtype: Any = np.float32) -> np.ndarray:
    return np.random.default_rng(0).normal(size=(N_SAMPLES, N_FEATURES)).astype(dtype)


def good_y(kind: str) -> np.ndarray:
    rng = np.random.default_rng(1)
    if kind == "regression":
        return rng.normal(size=(N_SAMPLES, 2)).astype(np.float32)
    if kind == "binary":
        return np.array([0, 1, 1, 0, 1, 0])
    return np.array([0, 1, 2, 3, 1, 2])


def snapshot(model: nncore.MLP) -> tuple[bytes, Any]:
    """Everything a failed call must leave untouched: the parameter bytes and the generator."""
    return model._network.parameters.tobytes(), model._random.state


def assert_rejected(
    model: nncore.MLP, call: Callable[[], Any], error: type[Exception], name: str
) -> None:
    """``call()`` raises ``error`` naming ``name``, and the model is bit-identical afterwards."""
    before = snapshot(model)
    with pytest.raises(error) as info:
        call()
    assert type(info.value) is error, f"expected exactly {error.__name__}, got {info.value!r}"
    assert re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", str(info.value)), (
        f"message does not name {name!r}: {info.value}"
    )
    assert snapshot(model) == before, "a rejected call changed the model"


# --------------------------------------------------------------------------------------------
# Bad X, for every method that takes X
# --------------------------------------------------------------------------------------------


def _with(value: float) -> np.ndarray:
    X = good_X(np.float64)
    X[2, 1] = value
    return X


BAD_X: list[tuple[str, Any, type[Exception]]] = [
    ("too_few_features", np.ones((N_SAMPLES, N_FEATURES - 1)), ValueError),
    ("too_many_features", np.ones((N_SAMPLES, N_FEATURES + 1)), ValueError),
    ("nan", _with(np.nan), ValueError),
    ("plus_inf", _with(np.inf), ValueError),
    ("minus_inf", _with(-np.inf), ValueError),
    ("zero_rows", np.ones((0, N_FEATURES)), ValueError),
    ("zero_columns", np.ones((N_SAMPLES, 0)), ValueError),
    ("one_d", np.ones(N_FEATURES), ValueError),
    ("three_d", np.ones((N_SAMPLES, N_FEATURES, 1)), ValueError),
    ("scalar", 1.0, ValueError),
    ("ragged_list", [[1.0, 2.0, 3.0], [1.0, 2.0]], ValueError),
    ("object", np.ones((N_SAMPLES, N_FEATURES), dtype=object), TypeError),
    ("strings", np.full((N_SAMPLES, N_FEATURES), "1.0"), TypeError),
    ("bytes", np.full((N_SAMPLES, N_FEATURES), b"1"), TypeError),
    ("complex", np.ones((N_SAMPLES, N_FEATURES), dtype=complex), TypeError),
    ("datetime", np.zeros((N_SAMPLES, N_FEATURES), dtype="datetime64[s]"), TypeError),
    ("none", None, TypeError),
]

X_METHODS: dict[str, Callable[[nncore.MLP, Any], Any]] = {
    "fit": lambda m, X: m.fit(X, good_y("binary"), epochs=1),
    "loss": lambda m, X: m.loss(X, good_y("binary")),
    "backward": lambda m, X: m.backward(X, good_y("binary")),
    "forward": lambda m, X: m.forward(X),
    "predict": lambda m, X: m.predict(X),
    "predict_proba": lambda m, X: m.predict_proba(X),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("method", list(X_METHODS))
@pytest.mark.parametrize(("bad", "error"), [c[1:] for c in BAD_X], ids=[c[0] for c in BAD_X])
def test_bad_X_is_rejected(dtype: str, method: str, bad: Any, error: type[Exception]) -> None:
    model = make_model("binary", dtype)
    assert_rejected(model, lambda: X_METHODS[method](model, bad), error, "X")


@pytest.mark.parametrize("method", list(X_METHODS))
def test_X_overflowing_float32_is_rejected_without_warnings(method: str) -> None:
    """1e39 is finite in float64 but infinite in float32: refused, and no RuntimeWarning leaks."""
    model = make_model("binary", "float32")
    X = _with(1e39)
    assert np.isfinite(X).all()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert_rejected(model, lambda: X_METHODS[method](model, X), ValueError, "X")
    assert caught == [], [str(w.message) for w in caught]


def test_X_near_float64_limit_is_accepted_by_float64_model() -> None:
    model = make_model("regression", "float64")
    X = _with(1e39)
    assert np.isfinite(model.forward(X)).all()


# --------------------------------------------------------------------------------------------
# Bad y, for every method that takes y
# --------------------------------------------------------------------------------------------


def _y_with(kind: str, row: int, value: float) -> np.ndarray:
    y = good_y(kind).astype(np.float64)
    y[row] = value
    return y


def _one_hot(rows: np.ndarray) -> np.ndarray:
    return np.eye(N_CLASSES)[rows]


OVERFLOW_Y = np.full((N_SAMPLES, 2), 1e39)  # finite in float64, infinite in float32

BAD_Y: list[tuple[str, str, Any, type[Exception]]] = [
    # (id, model kind, y, error)
    ("reg_too_few_rows", "regression", np.ones((N_SAMPLES - 1, 2)), ValueError),
    ("reg_too_many_rows", "regression", np.ones((N_SAMPLES + 1, 2)), ValueError),
    ("reg_zero_rows", "regression", np.ones((0, 2)), ValueError),
    ("reg_zero_columns", "regression", np.ones((N_SAMPLES, 0)), ValueError),
    ("reg_wrong_columns", "regression", np.ones((N_SAMPLES, 3)), ValueError),
    ("reg_1d_for_two_outputs", "regression", np.ones(N_SAMPLES), ValueError),
    ("reg_3d", "regression", np.ones((N_SAMPLES, 2, 1)), ValueError),
    ("reg_scalar", "regression", 1.0, ValueError),
    ("reg_nan", "regression", np.where(np.eye(N_SAMPLES, 2) > 0, np.nan, 0.0), ValueError),
    ("reg_plus_inf", "regression", np.where(np.eye(N_SAMPLES, 2) > 0, np.inf, 0.0), ValueError),
    ("reg_minus_inf", "regression", np.where(np.eye(N_SAMPLES, 2) > 0, -np.inf, 0.0), ValueError),
    ("reg_overflows_float32", "regression", OVERFLOW_Y, ValueError),
    ("reg_object", "regression", np.ones((N_SAMPLES, 2), dtype=object), TypeError),
    ("reg_strings", "regression", np.full((N_SAMPLES, 2), "a"), TypeError),
    ("reg_complex", "regression", np.ones((N_SAMPLES, 2), dtype=complex), TypeError),
    ("reg_none", "regression", None, TypeError),
    ("bce_label_2", "binary", _y_with("binary", 0, 2), ValueError),
    ("bce_label_negative", "binary", _y_with("binary", 0, -1), ValueError),
    ("bce_nan", "binary", _y_with("binary", 0, np.nan), ValueError),
    ("bce_inf", "binary", _y_with("binary", 0, np.inf), ValueError),
    ("bce_wrong_rows", "binary", np.zeros(N_SAMPLES + 1), ValueError),
    ("bce_two_columns", "binary", np.zeros((N_SAMPLES, 2)), ValueError),
    ("bce_strings", "binary", np.array(["0", "1", "1", "0", "1", "0"]), TypeError),
    ("cce_label_eq_n_outputs", "multiclass", _y_with("multiclass", 0, N_CLASSES), ValueError),
    ("cce_label_negative", "multiclass", _y_with("multiclass", 0, -1), ValueError),
    ("cce_label_fractional", "multiclass", _y_with("multiclass", 0, 1.5), ValueError),
    ("cce_label_nan", "multiclass", _y_with("multiclass", 0, np.nan), ValueError),
    ("cce_label_inf", "multiclass", _y_with("multiclass", 0, np.inf), ValueError),
    ("cce_label_huge", "multiclass", _y_with("multiclass", 0, 1e300), ValueError),
    ("cce_labels_wrong_rows", "multiclass", np.zeros(N_SAMPLES - 1, dtype=int), ValueError),
    ("cce_labels_empty", "multiclass", np.zeros(0, dtype=int), ValueError),
    (
        "cce_onehot_row_sum_2",
        "multiclass",
        _one_hot(np.arange(N_SAMPLES) % N_CLASSES) * 2,
        ValueError,
    ),
    ("cce_onehot_row_sum_0", "multiclass", np.zeros((N_SAMPLES, N_CLASSES)), ValueError),
    (
        "cce_onehot_negative",
        "multiclass",
        _one_hot(np.arange(N_SAMPLES) % N_CLASSES) * 2 - _one_hot((np.arange(N_SAMPLES) + 1) % 4),
        ValueError,
    ),
    ("cce_onehot_wrong_columns", "multiclass", np.eye(N_SAMPLES, N_CLASSES + 1), ValueError),
    ("cce_onehot_nan", "multiclass", np.full((N_SAMPLES, N_CLASSES), np.nan), ValueError),
    ("cce_complex_labels", "multiclass", np.zeros(N_SAMPLES, dtype=complex), TypeError),
    ("cce_object_labels", "multiclass", np.zeros(N_SAMPLES, dtype=object), TypeError),
]

Y_METHODS: dict[str, Callable[[nncore.MLP, Any, Any], Any]] = {
    "fit": lambda m, X, y: m.fit(X, y, epochs=1),
    "loss": lambda m, X, y: m.loss(X, y),
    "backward": lambda m, X, y: m.backward(X, y),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("method", list(Y_METHODS))
@pytest.mark.parametrize(
    ("kind", "bad", "error"), [c[1:] for c in BAD_Y], ids=[c[0] for c in BAD_Y]
)
def test_bad_y_is_rejected(
    dtype: str, method: str, kind: str, bad: Any, error: type[Exception]
) -> None:
    if dtype == "float64" and isinstance(bad, np.ndarray) and np.array_equal(bad, OVERFLOW_Y):
        pytest.skip("1e39 is a finite float64")
    model = make_model(kind, dtype)
    X = good_X(np.dtype(dtype))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert_rejected(model, lambda: Y_METHODS[method](model, X, bad), error, "y")
    assert caught == [], [str(w.message) for w in caught]


# --------------------------------------------------------------------------------------------
# Bad hyper-parameters of fit / loss / backward
# --------------------------------------------------------------------------------------------

BAD_FIT_ARGS: list[tuple[str, Any, type[Exception]]] = [
    ("learning_rate", -0.1, ValueError),
    ("learning_rate", np.nan, ValueError),
    ("learning_rate", np.inf, ValueError),
    ("learning_rate", "0.1", TypeError),
    ("learning_rate", True, TypeError),
    ("learning_rate", 0.1 + 0j, TypeError),
    ("epochs", 0, ValueError),
    ("epochs", -3, ValueError),
    ("epochs", 2.0, TypeError),
    ("epochs", True, TypeError),
    ("epochs", "10", TypeError),
    ("epochs", None, TypeError),
    ("batch_size", 0, ValueError),
    ("batch_size", -1, ValueError),
    ("batch_size", 2.5, TypeError),
    ("batch_size", 2.0, TypeError),
    ("batch_size", True, TypeError),
    ("batch_size", None, TypeError),
    ("shuffle", "yes", TypeError),
    ("shuffle", None, TypeError),
    ("target_loss", np.nan, ValueError),
    ("target_loss", "0.1", TypeError),
    ("tol", -1e-3, ValueError),
    ("tol", np.nan, ValueError),
    ("tol", np.inf, ValueError),
    ("tol", "0", TypeError),
    ("n_iter_no_change", 0, ValueError),
    ("n_iter_no_change", -1, ValueError),
    ("n_iter_no_change", 1.5, TypeError),
    ("n_iter_no_change", True, TypeError),
    ("verbose", -1, ValueError),
    ("verbose", "loud", TypeError),
    ("callbacks", [1], TypeError),
    ("callbacks", ["not callable"], TypeError),
    ("callbacks", [print, None], TypeError),
    ("loss", "hinge", ValueError),
    ("loss", "", ValueError),
    ("loss", 3, TypeError),
    ("loss", "categorical_cross_entropy", ValueError),  # sigmoid output
    ("loss", "cce", ValueError),
]


@pytest.mark.parametrize(
    ("arg", "value", "error"), BAD_FIT_ARGS, ids=[f"{a}={v!r}" for a, v, _ in BAD_FIT_ARGS]
)
def test_bad_fit_argument_is_rejected(arg: str, value: Any, error: type[Exception]) -> None:
    model = make_model("binary")
    X, y = good_X(), good_y("binary")
    kwargs = {"epochs": 1, arg: value}
    assert_rejected(model, lambda: model.fit(X, y, **kwargs), error, arg)


def test_single_callable_as_callbacks_names_the_argument() -> None:
    """``callbacks=f`` (not a list): either accepted, or a TypeError that names ``callbacks``.

    (Today ``list(callbacks)`` raises "'function' object is not iterable", which does not tell
    the user which argument is wrong.)
    """
    model = make_model("binary")
    X, y = good_X(), good_y("binary")
    before = snapshot(model)
    try:
        model.fit(X, y, epochs=1, callbacks=lambda record: None)  # type: ignore[arg-type]
    except TypeError as error:
        assert "callbacks" in str(error), f"message does not name 'callbacks': {error}"
        assert snapshot(model) == before


BAD_LOSS_FOR_OUTPUT: list[tuple[str, str]] = [
    ("regression", "bce"),
    ("regression", "binary_cross_entropy"),
    ("regression", "cce"),
    ("regression", "cross_entropy"),
    ("binary", "categorical_cross_entropy"),
    ("multiclass", "bce"),
    ("multiclass", "binary_cross_entropy"),
]


@pytest.mark.parametrize("method", list(Y_METHODS))
@pytest.mark.parametrize(("kind", "loss"), BAD_LOSS_FOR_OUTPUT)
def test_loss_incompatible_with_output_is_rejected(method: str, kind: str, loss: str) -> None:
    model = make_model(kind)
    X = good_X()
    y = np.zeros((N_SAMPLES, model.n_outputs), dtype=np.float32)
    y[:, 0] = 1
    calls = {
        "fit": lambda: model.fit(X, y, loss=loss, epochs=1),
        "loss": lambda: model.loss(X, y, loss=loss),
        "backward": lambda: model.backward(X, y, loss=loss),
    }
    assert_rejected(model, calls[method], ValueError, "loss")


@pytest.mark.parametrize("method", ["loss", "backward"])
@pytest.mark.parametrize(("value", "error"), [("hinge", ValueError), (3, TypeError)])
def test_unknown_loss_name_is_rejected(method: str, value: Any, error: type[Exception]) -> None:
    model = make_model("regression")
    X, y = good_X(), good_y("regression")
    assert_rejected(model, lambda: getattr(model, method)(X, y, loss=value), error, "loss")


# --------------------------------------------------------------------------------------------
# step
# --------------------------------------------------------------------------------------------


def _gradients(model: nncore.MLP) -> list[tuple[np.ndarray, Any]]:
    return model.backward(good_X(), good_y("regression"))


def _replace(grads: list[tuple[Any, Any]], layer: int, which: int, value: Any) -> list[Any]:
    out = [list(pair) for pair in grads]
    out[layer][which] = value
    return [tuple(pair) for pair in out]


BAD_GRADIENTS: list[tuple[str, Callable[[list[Any]], Any], type[Exception]]] = [
    ("too_few_layers", lambda g: g[:-1], ValueError),
    ("too_many_layers", lambda g: [*g, g[-1]], ValueError),
    ("empty_list", lambda g: [], ValueError),
    ("ndarray", lambda g: np.zeros(5), TypeError),
    ("none", lambda g: None, TypeError),
    ("not_pairs", lambda g: [(dW,) for dW, _ in g], ValueError),
    ("triples", lambda g: [(dW, db, db) for dW, db in g], ValueError),
    ("dW_transposed", lambda g: _replace(g, 0, 0, g[0][0].T), ValueError),
    ("dW_one_d", lambda g: _replace(g, 1, 0, g[1][0].ravel()), ValueError),
    ("dW_three_d", lambda g: _replace(g, 0, 0, g[0][0][..., None]), ValueError),
    ("dW_last_layer_wrong_shape", lambda g: _replace(g, 1, 0, np.zeros((5, 3))), ValueError),
    ("dW_nan", lambda g: _replace(g, 1, 0, np.full_like(g[1][0], np.nan)), ValueError),
    ("dW_inf", lambda g: _replace(g, 0, 0, np.full_like(g[0][0], -np.inf)), ValueError),
    ("dW_overflows_float32", lambda g: _replace(g, 0, 0, np.full(g[0][0].shape, 1e39)), ValueError),
    ("dW_strings", lambda g: _replace(g, 0, 0, np.full(g[0][0].shape, "x")), TypeError),
    ("dW_complex", lambda g: _replace(g, 0, 0, g[0][0].astype(complex)), TypeError),
    ("db_missing", lambda g: _replace(g, 1, 1, None), TypeError),
    ("db_wrong_length", lambda g: _replace(g, 0, 1, np.zeros(6)), ValueError),
    ("db_two_d", lambda g: _replace(g, 0, 1, g[0][1][None, :]), ValueError),
    ("db_nan", lambda g: _replace(g, 1, 1, np.full_like(g[1][1], np.nan)), ValueError),
    ("db_empty", lambda g: _replace(g, 1, 1, np.zeros(0)), ValueError),
]


@pytest.mark.parametrize(
    ("make_bad", "error"), [c[1:] for c in BAD_GRADIENTS], ids=[c[0] for c in BAD_GRADIENTS]
)
def test_step_bad_gradients_are_rejected(
    make_bad: Callable[[list[Any]], Any], error: type[Exception]
) -> None:
    model = make_model("regression")
    bad = make_bad(_gradients(model))
    assert_rejected(model, lambda: model.step(bad, 0.1), error, "gradients")


def test_step_biases_for_model_without_bias_are_rejected() -> None:
    model = make_model("regression", use_bias=False)
    grads = [(dW, np.zeros(dW.shape[1], dtype=dW.dtype)) for dW, _ in _gradients(model)]
    assert_rejected(model, lambda: model.step(grads, 0.1), ValueError, "gradients")


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (-0.1, ValueError),
        (np.nan, ValueError),
        (np.inf, ValueError),
        ("0.1", TypeError),
        (True, TypeError),
        (None, TypeError),
    ],
)
def test_step_bad_learning_rate_is_rejected(value: Any, error: type[Exception]) -> None:
    model = make_model("regression")
    grads = _gradients(model)
    assert_rejected(model, lambda: model.step(grads, value), error, "learning_rate")


# --------------------------------------------------------------------------------------------
# set_parameters
# --------------------------------------------------------------------------------------------


def _params(model: nncore.MLP) -> tuple[list[Any], list[Any]]:
    weights, biases = model.get_parameters()
    # Values different from the model's, so that a partial write would be visible.
    return [w + 1 for w in weights], [b + 1 for b in biases]


def _set(w: Any = None, b: Any = None, *, drop_biases: bool = False) -> Callable[..., Any]:
    def make(weights: list[Any], biases: list[Any]) -> tuple[Any, Any]:
        weights, biases = list(weights), list(biases)
        if w is not None:
            w(weights)
        if b is not None:
            b(biases)
        return weights, (None if drop_biases else biases)

    return make


def _setitem(index: int, value: Callable[[Any], Any]) -> Callable[[list[Any]], None]:
    def apply(items: list[Any]) -> None:
        items[index] = value(items[index])

    return apply


BAD_PARAMETERS: list[tuple[str, Callable[..., Any], type[Exception], str]] = [
    ("weights_too_few", _set(w=lambda ws: ws.pop()), ValueError, "weights"),
    ("weights_too_many", _set(w=lambda ws: ws.append(ws[-1])), ValueError, "weights"),
    ("weight_transposed", _set(w=_setitem(0, lambda a: a.T)), ValueError, "weights"),
    (
        "last_weight_wrong_shape",
        _set(w=_setitem(1, lambda a: np.zeros((5, 3)))),
        ValueError,
        "weights",
    ),
    ("weight_one_d", _set(w=_setitem(0, lambda a: a.ravel())), ValueError, "weights"),
    ("weight_nan", _set(w=_setitem(1, lambda a: a * np.nan)), ValueError, "weights"),
    ("weight_inf", _set(w=_setitem(0, lambda a: a + np.inf)), ValueError, "weights"),
    (
        "weight_overflows_float32",
        _set(w=_setitem(0, lambda a: np.full(a.shape, 1e39))),
        ValueError,
        "weights",
    ),
    ("weight_strings", _set(w=_setitem(0, lambda a: a.astype(str))), TypeError, "weights"),
    ("weight_complex", _set(w=_setitem(0, lambda a: a.astype(complex))), TypeError, "weights"),
    ("weight_empty", _set(w=_setitem(0, lambda a: a[:0])), ValueError, "weights"),
    ("biases_missing", _set(drop_biases=True), TypeError, "biases"),
    ("biases_too_few", _set(b=lambda bs: bs.pop()), ValueError, "biases"),
    ("bias_wrong_length", _set(b=_setitem(1, lambda a: np.zeros(3))), ValueError, "biases"),
    ("bias_two_d", _set(b=_setitem(0, lambda a: a[None, :])), ValueError, "biases"),
    ("bias_nan", _set(b=_setitem(1, lambda a: a * np.nan)), ValueError, "biases"),
    ("bias_none", _set(b=_setitem(0, lambda a: None)), TypeError, "biases"),
]


@pytest.mark.parametrize(
    ("make_bad", "error", "name"),
    [c[1:] for c in BAD_PARAMETERS],
    ids=[c[0] for c in BAD_PARAMETERS],
)
def test_set_parameters_bad_input_is_rejected(
    make_bad: Callable[..., Any], error: type[Exception], name: str
) -> None:
    model = make_model("regression")
    weights, biases = make_bad(*_params(model))
    assert_rejected(model, lambda: model.set_parameters(weights, biases), error, name)


@pytest.mark.parametrize(
    ("weights", "biases", "error", "name"),
    [
        (np.zeros(10), None, TypeError, "weights"),
        (None, None, TypeError, "weights"),
    ],
)
def test_set_parameters_not_a_list_is_rejected(
    weights: Any, biases: Any, error: type[Exception], name: str
) -> None:
    model = make_model("regression")
    assert_rejected(model, lambda: model.set_parameters(weights, biases), error, name)


def test_set_parameters_biases_for_model_without_bias_are_rejected() -> None:
    model = make_model("regression", use_bias=False)
    weights, _ = model.get_parameters()
    biases = [np.zeros(w.shape[1]) for w in weights]
    assert_rejected(model, lambda: model.set_parameters(weights, biases), ValueError, "biases")


# --------------------------------------------------------------------------------------------
# The constructor
# --------------------------------------------------------------------------------------------

BAD_CONSTRUCTOR: list[tuple[str, Any, type[Exception]]] = [
    ("layer_sizes", [3, 0, 2], ValueError),
    ("layer_sizes", [0, 2], ValueError),
    ("layer_sizes", [3, -4, 2], ValueError),
    ("layer_sizes", [3], ValueError),
    ("layer_sizes", [], ValueError),
    ("layer_sizes", "32", TypeError),
    ("layer_sizes", b"32", TypeError),
    ("layer_sizes", 3, TypeError),
    ("layer_sizes", None, TypeError),
    ("layer_sizes", [3, 2.5], TypeError),
    ("layer_sizes", [3, 2.0], TypeError),
    ("layer_sizes", [3, True], TypeError),
    ("layer_sizes", [3, "4"], TypeError),
    ("activation", "softmax", ValueError),
    ("activation", "mish", ValueError),
    ("activation", "ReLU", ValueError),
    ("activation", None, TypeError),
    ("output_activation", "mish", ValueError),
    ("output_activation", 1, TypeError),
    ("dtype", "float16", ValueError),
    ("dtype", "int32", ValueError),
    ("dtype", np.int64, ValueError),
    ("dtype", "complex128", ValueError),
    ("dtype", "float8", ValueError),
    ("dtype", "not_a_dtype", ValueError),
    ("dtype", 3.5, TypeError),
    ("seed", -1, ValueError),
    ("seed", 2**64, ValueError),
    ("seed", 1.5, TypeError),
    ("seed", "0", TypeError),
    ("seed", True, TypeError),
    ("use_bias", "yes", TypeError),
    ("use_bias", None, TypeError),
    ("init", "xavier", ValueError),
    ("init", None, TypeError),
    ("leaky_relu_slope", -0.01, ValueError),
    ("leaky_relu_slope", np.nan, ValueError),
    ("leaky_relu_slope", np.inf, ValueError),
    ("leaky_relu_slope", "0.1", TypeError),
    ("leaky_relu_slope", True, TypeError),
]


@pytest.mark.parametrize(
    ("arg", "value", "error"), BAD_CONSTRUCTOR, ids=[f"{a}={v!r}" for a, v, _ in BAD_CONSTRUCTOR]
)
def test_bad_constructor_argument_is_rejected(arg: str, value: Any, error: type[Exception]) -> None:
    kwargs: dict[str, Any] = {"layer_sizes": [3, 4, 2], "activation": "leaky_relu", "seed": 0}
    kwargs[arg] = value
    with pytest.raises(error) as info:
        nncore.MLP(**kwargs)
    assert type(info.value) is error
    assert arg in str(info.value), f"message does not name {arg!r}: {info.value}"


# The hidden layers' arguments (one value for all, or a list with one per hidden layer) are
# checked as given, whatever the depth: a network without hidden layers refuses them too.
BAD_PER_LAYER = [
    ("activation", "relu6", ValueError),
    ("activation", "softmax", ValueError),
    ("activation", None, TypeError),
    ("dropout", 1.5, ValueError),
    ("dropout", -0.1, ValueError),
    ("dropout", "0.1", TypeError),
]


@pytest.mark.parametrize("layer_sizes", [[4, 3], [4, 8, 3], [4, 8, 8, 3]])
@pytest.mark.parametrize(
    ("arg", "value", "error"), BAD_PER_LAYER, ids=[f"{a}={v!r}" for a, v, _ in BAD_PER_LAYER]
)
def test_bad_hidden_layer_argument_is_rejected_at_any_depth(
    layer_sizes: list[int], arg: str, value: Any, error: type[Exception]
) -> None:
    with pytest.raises(error, match=arg) as info:
        nncore.MLP(layer_sizes, seed=0, **{arg: value})
    assert type(info.value) is error
    n_hidden = len(layer_sizes) - 2
    if n_hidden:  # the same value inside a per-layer list
        with pytest.raises(error, match=arg):
            nncore.MLP(layer_sizes, seed=0, **{arg: [value] * n_hidden})


def test_repr_shows_the_hidden_activations_it_has() -> None:
    assert repr(nncore.MLP([4, 3], seed=0)) == (
        "MLP(4-3, output_activation='identity', dtype='float32')"
    )
    assert "activation='tanh', output_activation='softmax'" in repr(
        nncore.MLP([4, 8, 3], "tanh", "softmax", seed=0)
    )
    assert "activation=['relu', 'swish'], " in repr(
        nncore.MLP([4, 8, 8, 3], ["relu", "silu"], seed=0)
    )


# --------------------------------------------------------------------------------------------
# Valid but unusual input: accepted, and equivalent to the canonical array
# --------------------------------------------------------------------------------------------


def _base(dtype: Any) -> np.ndarray:
    """Data exactly representable in float16, so that every variant holds the same values."""
    rng = np.random.default_rng(2)
    return (rng.integers(-64, 64, size=(N_SAMPLES, 2 * N_FEATURES)) / 16).astype(dtype)


def _readonly(a: np.ndarray) -> np.ndarray:
    a = a.copy()
    a.flags.writeable = False
    return a


UNUSUAL_X: list[tuple[str, Callable[[np.ndarray], Any]]] = [
    ("python_list", lambda a: a[:, :N_FEATURES].tolist()),
    ("tuple_of_tuples", lambda a: tuple(map(tuple, a[:, :N_FEATURES].tolist()))),
    ("int64", lambda a: (a[:, :N_FEATURES] * 16).astype(np.int64)),
    ("int32", lambda a: (a[:, :N_FEATURES] * 16).astype(np.int32)),
    ("uint8", lambda a: (a[:, :N_FEATURES] * 16 + 64).astype(np.uint8)),
    ("float16", lambda a: a[:, :N_FEATURES].astype(np.float16)),
    ("float64", lambda a: a[:, :N_FEATURES].astype(np.float64)),
    ("fortran_order", lambda a: np.asfortranarray(a[:, :N_FEATURES])),
    ("strided_columns", lambda a: a[:, ::2]),
    ("strided_rows", lambda a: np.repeat(a[:, :N_FEATURES], 2, axis=0)[::2]),
    ("negative_strides", lambda a: a[::-1, :N_FEATURES]),
    ("big_endian_f8", lambda a: a[:, :N_FEATURES].astype(">f8")),
    ("big_endian_f4", lambda a: a[:, :N_FEATURES].astype(">f4")),
    ("read_only", lambda a: _readonly(a[:, :N_FEATURES])),
    ("unaligned", lambda a: _unaligned(a[:, :N_FEATURES].astype(np.float32))),
]


def _unaligned(a: np.ndarray) -> np.ndarray:
    raw = np.zeros(a.nbytes + 1, dtype=np.uint8)
    out = raw[1:].view(a.dtype).reshape(a.shape)
    out[...] = a
    assert not out.flags.aligned
    return out


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("make", [c[1] for c in UNUSUAL_X], ids=[c[0] for c in UNUSUAL_X])
def test_unusual_X_is_accepted_and_equivalent(dtype: str, make: Callable[..., Any]) -> None:
    base = _base(np.float32)
    X = make(base)
    canonical = np.ascontiguousarray(np.asarray(X, dtype=np.float64), dtype=dtype)
    y = good_y("regression")

    model, reference = make_model("regression", dtype), make_model("regression", dtype)
    np.testing.assert_array_equal(model.forward(X), reference.forward(canonical))
    np.testing.assert_array_equal(model.predict(X), reference.predict(canonical))
    assert model.loss(X, y) == reference.loss(canonical, y)
    for (gW, gb), (rW, rb) in zip(
        model.backward(X, y), reference.backward(canonical, y), strict=True
    ):
        np.testing.assert_array_equal(gW, rW)
        np.testing.assert_array_equal(gb, rb)
    history = model.fit(X, y, epochs=3, batch_size=4)
    expected = reference.fit(canonical, y, epochs=3, batch_size=4)
    assert history.loss == expected.loss
    assert snapshot(model) == snapshot(reference)


def test_bool_X_is_accepted() -> None:
    model = make_model("binary")
    X = np.array([[True, False, True], [False, False, True]])
    np.testing.assert_array_equal(model.forward(X), model.forward(X.astype(np.float32)))


def test_single_sample_works_everywhere() -> None:
    for kind in ("regression", "binary", "multiclass"):
        model = make_model(kind)
        X, y = good_X()[:1], good_y(kind)[:1]
        assert model.forward(X).shape == (1, model.n_outputs)
        assert model.predict(X).shape[0] == 1
        assert np.isfinite(model.loss(X, y))
        assert len(model.backward(X, y)) == model.n_layers
        assert model.fit(X, y, epochs=2, batch_size=32).epochs == 2
        # A single sample given as a list of one row.
        assert model.forward(X.tolist()).shape == (1, model.n_outputs)


@pytest.mark.parametrize("kind", ["regression", "binary"])
def test_y_as_column_or_flat_for_one_output(kind: str) -> None:
    model = nncore.MLP(
        [N_FEATURES, 4, 1], output_activation="sigmoid" if kind == "binary" else "identity", seed=5
    )
    X = good_X()
    flat = good_y("binary").astype(np.float64)
    variants = [flat, flat.reshape(-1, 1), flat.tolist(), flat.astype(np.int8), flat.astype(bool)]
    losses = [model.loss(X, v) for v in variants]
    assert len(set(losses)) == 1
    grads = [model.backward(X, v) for v in variants]
    for g in grads[1:]:
        for (a, b), (c, d) in zip(g, grads[0], strict=True):
            np.testing.assert_array_equal(a, c)
            np.testing.assert_array_equal(b, d)


def test_cce_labels_and_one_hot_are_equivalent() -> None:
    model = make_model("multiclass")
    X = good_X()
    labels = good_y("multiclass")
    variants = [
        labels,
        labels.tolist(),
        labels.astype(np.float64),
        labels.astype(np.uint8),
        labels.astype(">i8"),
        np.eye(N_CLASSES)[labels],
        np.eye(N_CLASSES, dtype=np.float32)[labels],
        np.asfortranarray(np.eye(N_CLASSES)[labels]),
    ]
    losses = [model.loss(X, v) for v in variants]
    assert len(set(losses)) == 1, losses


def test_bce_probabilities_in_unit_interval_are_accepted() -> None:
    model = make_model("binary")
    y = np.linspace(0.0, 1.0, N_SAMPLES)
    assert np.isfinite(model.loss(good_X(), y))
    assert model.fit(good_X(), y, epochs=1).epochs == 1


def test_cce_soft_targets_summing_to_one_are_accepted() -> None:
    model = make_model("multiclass")
    y = np.full((N_SAMPLES, N_CLASSES), 1.0 / N_CLASSES)
    assert np.isfinite(model.loss(good_X(), y))


def test_layer_sizes_as_tuple_and_numpy_integers_are_accepted() -> None:
    a = nncore.MLP((3, 4, 2), seed=0)
    b = nncore.MLP([np.int64(3), np.int32(4), np.uint8(2)], seed=0)
    assert a.layer_sizes == b.layer_sizes == (3, 4, 2)
    assert snapshot(a) == snapshot(b)


def test_layer_sizes_as_numpy_array_is_accepted() -> None:
    """A NumPy array of ints is a natural way to give layer sizes (scikit-learn accepts one)."""
    model = nncore.MLP(np.array([3, 4, 2]), seed=0)
    assert model.layer_sizes == (3, 4, 2)


@pytest.mark.parametrize(
    "dtype", ["float32", np.float32, np.dtype("float32"), "f4", "float64", np.float64, float, "f8"]
)
def test_dtype_spellings_are_accepted(dtype: Any) -> None:
    model = nncore.MLP([2, 1], dtype=dtype, seed=0)
    assert model.dtype == np.dtype(dtype)


@pytest.mark.parametrize("seed", [0, 2**64 - 1, np.uint64(2**64 - 1), np.int8(3)])
def test_seed_extremes_are_accepted(seed: Any) -> None:
    assert nncore.MLP([2, 1], seed=seed).seed == int(seed)


def test_zero_learning_rate_and_zero_slope_are_accepted() -> None:
    model = nncore.MLP([N_FEATURES, 4, 2], activation="leaky_relu", leaky_relu_slope=0.0, seed=0)
    before = snapshot(model)
    model.fit(good_X(), good_y("regression"), learning_rate=0.0, epochs=2, shuffle=False)
    assert snapshot(model)[0] == before[0]
    model.step(model.backward(good_X(), good_y("regression")), 0)
    assert snapshot(model)[0] == before[0]


@pytest.mark.parametrize("position", [0, 65_535, 65_536, 65_537, -1])
def test_non_finite_value_anywhere_in_a_large_X_is_found(position: int) -> None:
    """The finiteness check runs in chunks; a NaN in any chunk (or at a boundary) is found."""
    model = make_model("regression")
    X = np.ones((70_000, N_FEATURES), dtype=np.float32)
    y = np.zeros((70_000, 2), dtype=np.float32)
    for value in (np.nan, np.inf, -np.inf):
        X.reshape(-1)[position] = value
        assert_rejected(model, lambda: model.forward(X), ValueError, "X")
        assert_rejected(model, lambda: model.fit(X, y, epochs=1), ValueError, "X")
        X.reshape(-1)[position] = 1.0
        y.reshape(-1)[position % y.size] = value
        assert_rejected(model, lambda: model.fit(X, y, epochs=1), ValueError, "y")
        y.reshape(-1)[position % y.size] = 0.0
