"""Property-based tests (Hypothesis): whatever a caller passes, the answer is either right or a
documented exception, and a refused call leaves the model exactly as it was.

For ``forward``/``predict``, ``loss``/``backward``, ``step``, ``set_parameters``, ``fit``, the
optimizers' ``step`` and the scikit-learn estimators, Hypothesis draws shapes (zero-size and
wrong ranks included), dtypes (float16/32/64, big-endian, int, uint, bool, complex, object, str),
layouts (C, Fortran, strided, non-aligned, read-only) and values (NaN, ±inf, ±1e30, subnormals),
and hyper-parameters of every type. The oracle decides from the input alone what must happen:

- a non-numeric dtype -> ``TypeError``; a wrong rank, an empty or mismatched dimension, or a
  value that is not finite in the model's dtype -> ``ValueError``; both name the argument;
- otherwise the result equals ``nncore.reference.numpy_reference`` within a stated bound.

On any exception the parameters, the generator's state, the optimizer (rate and state) and the
history are compared bit for bit with a snapshot taken before the call. Budgets: the "ci"
Hypothesis profile (conftest.py); ``NNCORE_HYPOTHESIS=thorough`` for a long local run.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, note, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nncore
from nncore.reference import numpy_reference as ref

Array = np.ndarray
DOCUMENTED = (TypeError, ValueError, MemoryError)

# --------------------------------------------------------------------------------------------
# Snapshots and the "refused means unchanged" check
# --------------------------------------------------------------------------------------------


def snapshot(model: nncore.MLP) -> tuple[Any, ...]:
    """Every piece of state a refused call must leave untouched, as comparable values."""
    optimizer: Any = None
    if model.optimizer is not None:
        state = model.optimizer.state_dict()
        optimizer = (
            type(model.optimizer).__name__,
            model.optimizer.learning_rate,
            repr(sorted((k, np.asarray(v).tobytes()) for k, v in _flatten_state(state))),
        )
    return (
        model._network.parameters.tobytes(),
        model._random.state,
        optimizer,
        id(model.history),
        repr(model.metadata),
    )


def _flatten_state(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        items: list[tuple[str, Any]] = []
        for key, item in value.items():
            items += _flatten_state(item, f"{prefix}/{key}")
        return items
    return [(prefix, value)]


def call_or_refuse(
    model: nncore.MLP | None, call: Callable[[], Any], names: tuple[str, ...]
) -> tuple[bool, Any]:
    """Run ``call``: ``(True, result)``, or ``(False, error)`` after checking that the error is
    documented, names one of ``names`` and left ``model`` bit-identical."""
    before = snapshot(model) if model is not None else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a refused call must not warn on its way out either
            return True, call()
    except DOCUMENTED as error:
        message = str(error)
        assert any(re.search(rf"(?<![\w]){re.escape(n)}(?![\w])", message) for n in names), (
            f"{type(error).__name__} does not name any of {names}: {message}"
        )
        if model is not None:
            assert snapshot(model) == before, f"a refused call changed the model: {message}"
        return False, error


# --------------------------------------------------------------------------------------------
# Arrays of every kind
# --------------------------------------------------------------------------------------------

#: Dtypes a caller might hand over. Numeric ones (kind b, i, u, f) are converted; the rest refused.
DTYPES = [
    "<f8",
    "<f4",
    "<f2",
    ">f8",
    ">f4",
    "<i8",
    "<i1",
    "<u8",
    "|b1",
    "<c16",
    "|O",
    "<U8",
]
LAYOUTS = ["C", "F", "strided", "unaligned", "readonly", "reversed"]
SPECIAL = [np.nan, np.inf, -np.inf, 1e30, -1e30, 5e-324, -1e-310, 1e-40, 0.0, -0.0]


def relayout(array: Array, layout: str) -> Array:
    """The same values in another memory layout (never a different value)."""
    if layout == "F":
        return np.asfortranarray(array)
    if layout == "strided" and array.ndim >= 1:
        wide = np.repeat(array, 2, axis=0)
        return wide[::2]
    if layout == "reversed" and array.ndim >= 1:
        return array[::-1].copy()[::-1]
    if layout == "unaligned" and array.dtype.kind in "biufc" and array.size:
        raw = np.zeros(array.nbytes + 1, dtype=np.uint8)
        view = raw[1:].view(array.dtype).reshape(array.shape)
        view[...] = array
        return view
    if layout == "readonly":
        copy = np.array(array)
        copy.flags.writeable = False
        return copy
    return array


def random_values(seed: int, shape: tuple[int, ...], bound: float, special: float) -> Array:
    """float64 values of ``shape`` from a seeded generator: magnitudes spread log-uniformly up to
    ``bound`` (signs random), a ``special`` fraction replaced by NaN/±inf/±1e30/subnormals/zeros.

    Hypothesis draws the seed and the knobs rather than every element: element-wise drawing costs
    ~40 ms an array, which would spend the CI budget on generation instead of on nncore.
    """
    rng = np.random.default_rng(seed)
    exponent = rng.uniform(-6, np.log10(bound), size=shape)
    values = np.array(np.where(rng.random(shape) < 0.5, -1.0, 1.0) * 10.0**exponent)
    if special:
        mask = rng.random(shape) < special
        values[mask] = rng.choice(np.array(SPECIAL), size=int(mask.sum()))
    return values


@st.composite
def any_array(
    draw: st.DrawFn,
    shape: tuple[int, ...],
    dtypes: list[str] = DTYPES,
    finite_only: bool = False,
    bound: float = 1e3,
) -> Array:
    """An array of ``shape``: random values, converted to a drawn dtype, in a drawn layout."""
    special = 0.0 if finite_only else draw(st.sampled_from([0.0, 0.0, 0.0, 0.05, 0.3, 1.0]))
    base = random_values(draw(st.integers(0, 2**32 - 1)), shape, bound, special)
    if finite_only:
        base = np.clip(base, -bound, bound)
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dtype.kind in "iub":
            base = np.nan_to_num(base, nan=0.0, posinf=0.0, neginf=0.0)
            if dtype.kind != "b":
                info = np.iinfo(dtype)
                base = np.clip(np.round(base), info.min, info.max)
        converted = np.array(base, dtype=dtype)  # (0-d stays an array, not a scalar)
    return relayout(converted, draw(st.sampled_from(LAYOUTS)))


def shapes_around(n_features: int) -> st.SearchStrategy[tuple[int, ...]]:
    """Mostly valid (n, n_features) shapes; sometimes empty, mismatched or of another rank."""
    valid = st.tuples(st.integers(1, 6), st.just(n_features))
    return st.one_of(
        valid,
        valid,
        valid,
        st.tuples(st.integers(0, 3), st.integers(0, n_features + 2)),
        hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3),
    )


def expected_problem(array: Any, name: str, ndim: int, dtype: np.dtype[Any], width: int | None):
    """The exception type ``MLP`` must raise for ``array`` as argument ``name``, or None."""
    a = np.asarray(array)
    if a.dtype.kind not in "biuf":
        return TypeError
    if a.ndim != ndim or a.size == 0 or (width is not None and a.shape[1] != width):
        return ValueError
    with np.errstate(all="ignore"):
        if not np.isfinite(a.astype(dtype)).all():
            return ValueError
    return None


def as_model_values(array: Array, dtype: np.dtype[Any]) -> Array:
    """The float64 values the model computes with: ``array`` rounded to its dtype."""
    with np.errstate(all="ignore"):
        return np.asarray(array).astype(dtype).astype(np.float64)


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------

LIPSCHITZ_ONE = ["tanh", "relu", "identity", "sigmoid"]  # |g(a) - g(b)| <= |a - b|


@st.composite
def models(draw: st.DrawFn, outputs: list[str] = ["identity"]) -> nncore.MLP:  # noqa: B006
    n_features = draw(st.integers(1, 4))
    hidden = draw(st.lists(st.integers(1, 5), min_size=0, max_size=2))
    model = nncore.MLP(
        [n_features, *hidden, draw(st.integers(1, 3))],
        activation=draw(st.sampled_from(LIPSCHITZ_ONE)),
        output_activation=draw(st.sampled_from(outputs)),
        dtype=draw(st.sampled_from(["float32", "float64"])),
        seed=draw(st.integers(0, 2**64 - 1)),
        use_bias=draw(st.booleans()),
    )
    if model.use_bias:
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        for bias in model.biases:
            bias[...] = rng.uniform(-1, 1, size=bias.shape)
    return model


def forward_error_bound(model: nncore.MLP, X: Array) -> tuple[Array, Array]:
    """The NumPy reference's output for ``X`` and a rigorous bound on |native − reference|.

    A dot product of n terms computed in any order has |error| <= γ·Σ|x_i||w_i| with
    γ = (n + 2)·ε (ε the dtype's machine epsilon; +2 for the bias and the activation); both the
    native core and the reference (float64) have such an error, hence the factor 2. A hidden
    layer's error propagates through the 1-Lipschitz activation and the next layer's |W|.
    """
    eps = float(np.finfo(model.dtype).eps)
    tiny = float(np.finfo(model.dtype).smallest_subnormal)
    weights, biases = model.get_parameters()
    weights = [w.astype(np.float64) for w in weights]
    biases = [b.astype(np.float64) for b in biases] if model.use_bias else None
    _, As = ref.forward(weights, biases, X, list(model.activations))
    error = np.zeros_like(X)
    for layer, W in enumerate(weights):
        gamma = (W.shape[0] + 2) * eps
        b = np.abs(biases[layer]) if biases is not None else 0.0
        magnitude = (np.abs(As[layer]) + error) @ np.abs(W) + b
        error = 2 * gamma * magnitude + error @ np.abs(W) + (W.shape[0] + 2) * tiny
        error = error + 4 * eps * np.abs(As[layer + 1])  # the activation's own rounding
        if model.activations[layer] in ("tanh", "sigmoid"):
            error = np.minimum(error, 2.0) + 4 * eps
    return As[-1], error


# --------------------------------------------------------------------------------------------
# forward / predict
# --------------------------------------------------------------------------------------------


@given(st.data())
def test_forward_of_any_X_is_right_or_refused(data: st.DataObject) -> None:
    model = data.draw(models())
    X = data.draw(shapes_around(model.n_features).flatmap(lambda s: any_array(s, bound=1e30)))
    note(f"X: dtype {X.dtype}, shape {X.shape}, strides {X.strides}")
    expected = expected_problem(X, "X", 2, model.dtype, model.n_features)
    done, result = call_or_refuse(model, lambda: model.forward(X), ("X",))
    if expected is not None:
        assert not done and type(result) is expected, f"expected {expected.__name__}: {result!r}"
        return
    assert done, f"valid X refused: {result!r}"
    reference, bound = forward_error_bound(model, as_model_values(X, model.dtype))
    assert result.shape == (X.shape[0], model.n_outputs) and result.dtype == model.dtype
    assert np.isfinite(result).all()
    assert (np.abs(result - reference) <= bound).all(), np.max(np.abs(result - reference) - bound)


@given(st.data())
def test_predict_agrees_with_forward(data: st.DataObject) -> None:
    model = data.draw(models(outputs=["identity", "sigmoid", "softmax"]))
    X = data.draw(any_array((data.draw(st.integers(1, 5)), model.n_features), bound=1e30))
    assume(expected_problem(X, "X", 2, model.dtype, model.n_features) is None)
    output, labels = model.forward(X), model.predict(X)
    if model.activations[-1] == "softmax":
        assert np.array_equal(labels, np.argmax(output, axis=1))
    elif model.activations[-1] == "sigmoid":
        expected = (output >= 0.5).astype(np.intp)
        assert np.array_equal(labels, expected[:, 0] if model.n_outputs == 1 else expected)
    else:
        assert np.array_equal(labels, output)


# --------------------------------------------------------------------------------------------
# loss / backward
# --------------------------------------------------------------------------------------------

OUTPUT_LOSSES = {
    "identity": ["mean_squared_error", "mean_absolute_error", "huber", "mse", "mae"],
    "sigmoid": ["binary_cross_entropy", "mean_squared_error", None, "bce"],
    "softmax": ["categorical_cross_entropy", None, "cce", "huber"],
}
BAD_NAMES: list[Any] = ["nope", "", 3, None, b"mse", ["mse"]]


@st.composite
def targets(draw: st.DrawFn, model: nncore.MLP, n: int) -> Any:
    """Mostly valid targets for the model's fused or plain loss; sometimes anything at all."""
    k = model.n_outputs
    kind = draw(st.sampled_from(["valid", "valid", "valid", "any"]))
    output = model.activations[-1]
    if kind == "any":
        shape = draw(st.one_of(st.tuples(st.just(n), st.integers(0, k + 1)), hnp.array_shapes()))
        return draw(any_array(shape, bound=1e3))
    if output == "softmax":
        labels = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).integers(0, k, size=n)
        return relayout(labels.astype(draw(st.sampled_from(["<i8", "<f4", ">f8", "<u8"]))), "C")
    if output == "sigmoid":
        return draw(any_array((n, k), dtypes=["<f8", "|b1", "<i8"], finite_only=True, bound=1))
    return draw(any_array((n, k) if k > 1 else (n,), dtypes=["<f8", "<f4", ">f8"], bound=1e3))


def _canonical(loss: Any, output: str) -> str:
    return ref_loss_name(loss, output)


def ref_loss_name(loss: Any, output: str) -> str:
    aliases = {"mse": "mean_squared_error", "mae": "mean_absolute_error"}
    aliases |= {"bce": "binary_cross_entropy", "cce": "categorical_cross_entropy"}
    if loss is None:
        fused = {"sigmoid": "binary_cross_entropy", "softmax": "categorical_cross_entropy"}
        return fused.get(output, "mean_squared_error")
    return aliases.get(loss, loss)


def dense_targets(model: nncore.MLP, y: Any, loss: str) -> Array:
    y = np.asarray(y)
    if loss == "categorical_cross_entropy" and y.ndim == 1:
        dense = np.zeros((y.shape[0], model.n_outputs))
        dense[np.arange(y.shape[0]), y.astype(np.intp)] = 1.0
        return dense
    return as_model_values(y.reshape(y.shape[0], -1), model.dtype)


@given(st.data())
def test_loss_and_backward_of_any_input_are_right_or_refused(data: st.DataObject) -> None:
    model = data.draw(models(outputs=["identity", "sigmoid", "softmax"]))
    n = data.draw(st.integers(1, 5))
    X = data.draw(any_array((n, model.n_features), bound=10.0))
    y = data.draw(targets(model, n))
    output = model.activations[-1]
    loss = data.draw(st.sampled_from(OUTPUT_LOSSES[output] + BAD_NAMES[:2]))
    weight = data.draw(
        st.one_of(st.none(), any_array((n,), dtypes=["<f8", "<f4", "<i8"], bound=3.0))
    )
    delta = data.draw(st.one_of(st.just(1.0), st.floats(0.01, 10), st.sampled_from([0.0, -1.0])))
    method = data.draw(st.sampled_from(["loss", "backward"]))
    call = getattr(model, method)
    done, result = call_or_refuse(
        model,
        lambda: call(X, y, loss=loss, sample_weight=weight, huber_delta=delta),
        ("X", "y", "loss", "sample_weight", "huber_delta"),
    )
    if not done:
        return
    # Accepted: so every argument was valid, and the answer matches the reference.
    assert expected_problem(X, "X", 2, model.dtype, model.n_features) is None
    name = ref_loss_name(loss, output)
    weights, biases = model.get_parameters()
    args = (
        [w.astype(np.float64) for w in weights],
        [b.astype(np.float64) for b in biases] if model.use_bias else None,
        as_model_values(X, model.dtype),
        dense_targets(model, y, name),
        list(model.activations),
        name,
    )
    w = None if weight is None else as_model_values(weight, model.dtype)
    tolerance = 1e-9 if model.dtype == np.float64 else 2e-3
    if method == "loss":
        expected = ref.loss(*args, delta=delta, sample_weight=w)
        assert abs(result - expected) <= tolerance * (1 + abs(expected))
        return
    dWs, dbs = ref.backward(*args, delta=delta, sample_weight=w)
    for layer, (dW, db) in enumerate(result):
        scale = 1 + np.max(np.abs(dWs[layer]))
        assert np.allclose(dW, dWs[layer], rtol=0, atol=tolerance * scale), layer
        if model.use_bias:
            assert np.allclose(
                db, dbs[layer], rtol=0, atol=tolerance * (1 + np.max(np.abs(dbs[layer])))
            )


# --------------------------------------------------------------------------------------------
# step / set_parameters
# --------------------------------------------------------------------------------------------


@st.composite
def per_layer_arrays(draw: st.DrawFn, model: nncore.MLP) -> tuple[list[Any], Any]:
    """Weights and biases shaped for ``model`` — mostly; sometimes one entry is anything."""
    weights, biases = model.get_parameters()
    ws: list[Any] = [draw(any_array(w.shape, finite_only=True, bound=2)) for w in weights]
    bs: Any = [draw(any_array(b.shape, finite_only=True, bound=2)) for b in biases]
    if not model.use_bias:
        bs = draw(st.sampled_from([None, [None] * model.n_layers]))
    spoil = draw(st.sampled_from(["none", "none", "value", "shape", "dtype", "list"]))
    layer = draw(st.integers(0, model.n_layers - 1))
    if spoil == "value":
        ws[layer] = np.full(weights[layer].shape, draw(st.sampled_from(SPECIAL[:5])))
    elif spoil == "shape":
        ws[layer] = np.zeros(draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0)))
    elif spoil == "dtype":
        ws[layer] = draw(any_array(weights[layer].shape, dtypes=["<c16", "|O", "<U8"]))
    elif spoil == "list":
        ws = ws[: draw(st.integers(0, max(0, model.n_layers - 1)))] or None  # type: ignore[assignment]
    return ws, bs


@given(st.data())
def test_set_parameters_with_any_input_copies_or_refuses(data: st.DataObject) -> None:
    model = data.draw(models())
    ws, bs = data.draw(per_layer_arrays(model))
    done, _ = call_or_refuse(model, lambda: model.set_parameters(ws, bs), ("weights", "biases"))
    if done:
        weights, biases = model.get_parameters()
        for given_w, w in zip(ws, weights, strict=True):
            assert np.array_equal(as_model_values(given_w, model.dtype), w)
        if model.use_bias:
            for given_b, b in zip(bs, biases, strict=True):
                assert np.array_equal(as_model_values(given_b, model.dtype), b)


@given(st.data())
def test_step_with_any_gradients_updates_or_refuses(data: st.DataObject) -> None:
    model = data.draw(models())
    ws, bs = data.draw(per_layer_arrays(model))
    pairs: Any = (
        None
        if ws is None
        else [(w, bs[i] if isinstance(bs, list) else None) for i, w in enumerate(ws)]
    )
    lr = data.draw(st.one_of(st.floats(0, 1), st.sampled_from([-1.0, np.nan, "0.1", None, True])))
    before = model.get_parameters()
    done, _ = call_or_refuse(model, lambda: model.step(pairs, lr), ("gradients", "learning_rate"))
    if done:  # W ← W − lr·dW exactly as the reference's sgd_step does it, in the model's dtype
        cast = model.dtype.type
        for layer, (w0, w1) in enumerate(zip(before[0], model.get_parameters()[0], strict=True)):
            g = np.asarray(pairs[layer][0]).astype(model.dtype)
            assert np.allclose(w1, w0 - cast(lr) * g, rtol=4 * np.finfo(model.dtype).eps, atol=0)


# --------------------------------------------------------------------------------------------
# fit: every keyword, valid or not
# --------------------------------------------------------------------------------------------

#: For each keyword of fit: values that must be accepted, and junk that must be refused by name.
FIT_KEYWORDS: dict[str, tuple[list[Any], list[Any]]] = {
    "learning_rate": ([None, 0.0, 0.05, np.float32(0.01)], [-0.1, np.nan, np.inf, "0.1", 1j]),
    "epochs": ([1, 2, np.int64(3)], [0, -1, 2.0, True, "3", None, 2**63, 2**70]),
    "batch_size": ([1, 2, 100, 2**63 - 1, 2**64, 2**70], [0, -5, 1.5, None, "8"]),
    "shuffle": ([True, False, np.bool_(False)], [1, "yes", None]),
    "target_loss": ([None, 0.0, 1e-3, -1.0], [np.nan, np.inf, "low", 1j]),
    "tol": ([0.0, 1e-4], [-1e-3, np.nan, "0"]),
    "n_iter_no_change": ([None, 1, 5, 2**63 - 1], [0, -1, 1.5, 2**63, 2**80]),
    "verbose": ([0], [-1, 3, 1.0, 2**70]),
    # (the update rules: LBFGS refuses learning_rate, lr_schedule, tol and n_iter_no_change,
    # tests/test_lbfgs.py)
    "optimizer": (
        [None, *(n for n, r in nncore.optim.OPTIMIZERS.items() if not r.full_batch)],
        ["sgd2", 3, object()],
    ),
    "lr_schedule": ([None, *nncore.schedules.SCHEDULES], ["nope", 3]),
    "validation_split": ([0.0, 0.25], [1.0, -0.1, np.nan, "0.2"]),
    "patience": ([1, 10, 2**70], [0, -1, 1.5]),
    "min_delta": ([0.0, 0.1], [-0.1, np.inf]),
    "restore_best_weights": ([True, False], []),
    "huber_delta": ([1.0, 0.5], [0.0, -1.0, np.nan, "1"]),
    "callbacks": ([None, []], ["abc", [1], 3]),
    "early_stopping": ([None, False], ["no", 1]),
}


@given(st.data())
def test_fit_with_any_keyword_trains_or_refuses_leaving_the_model_as_it_was(
    data: st.DataObject,
) -> None:
    model = data.draw(models())
    if data.draw(st.booleans()):  # a warm model: optimizer state and history exist
        model.fit(np.ones((4, model.n_features)), np.zeros((4, model.n_outputs)), epochs=1)
    n = data.draw(st.integers(4, 8))
    X = data.draw(
        any_array((n, model.n_features), dtypes=["<f8", "<f4", "<i8"], finite_only=True, bound=3)
    )
    y = data.draw(any_array((n, model.n_outputs), dtypes=["<f8"], finite_only=True, bound=3))
    kwargs = {key: data.draw(st.sampled_from(good)) for key, (good, _) in FIT_KEYWORDS.items()}
    kwargs["epochs"] = min(kwargs["epochs"], 2)
    spoiled = data.draw(
        st.sampled_from([None, *[k for k, (_, bad) in FIT_KEYWORDS.items() if bad]])
    )
    if spoiled is not None:
        kwargs[spoiled] = data.draw(st.sampled_from(FIT_KEYWORDS[spoiled][1]))
    note(f"kwargs: {kwargs}")
    names = (spoiled,) if spoiled is not None else ("X", "y")
    try:
        done, result = call_or_refuse(model, lambda: model.fit(X, y, **kwargs), names)
    except nncore.DivergenceError:
        assert spoiled is None
        assert np.isfinite(model._network.parameters).all()
        return
    assert done == (spoiled is None), f"{spoiled}={kwargs.get(spoiled)!r} was accepted"
    if done:
        assert np.isfinite(model._network.parameters).all()
        assert 1 <= len(result.loss) <= int(kwargs["epochs"])


@given(st.data())
def test_native_fit_matches_the_numpy_reference_for_any_valid_data(data: st.DataObject) -> None:
    """Plain SGD in order (no shuffling): the trained weights equal the reference's."""
    model = data.draw(models())
    n = data.draw(st.integers(1, 9))
    X = data.draw(any_array((n, model.n_features), dtypes=["<f8", ">f4", "<i8"], finite_only=True))
    X = as_model_values(X, model.dtype) / 1e3
    y = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))).uniform(
        -1, 1, (n, model.n_outputs)
    )
    lr = data.draw(st.floats(0.0, 0.2))
    epochs, batch = data.draw(st.integers(1, 3)), data.draw(st.integers(1, n + 2))
    weights, biases = model.get_parameters()
    model.fit(X, y, learning_rate=lr, epochs=epochs, batch_size=batch, shuffle=False)
    Ws, _bs, _ = ref.fit(
        [w.astype(np.float64) for w in weights],
        [b.astype(np.float64) for b in biases] if model.use_bias else None,
        X.astype(model.dtype).astype(np.float64),
        y.astype(model.dtype).astype(np.float64),
        list(model.activations),
        "mean_squared_error",
        float(model.dtype.type(lr)),
        epochs,
        batch,
    )
    tolerance = 1e-10 if model.dtype == np.float64 else 1e-4
    for native, expected in zip(model.get_parameters()[0], Ws, strict=True):
        assert np.allclose(native, expected, rtol=tolerance, atol=tolerance)


# --------------------------------------------------------------------------------------------
# optimizers and scikit-learn estimators
# --------------------------------------------------------------------------------------------


@given(st.data())
def test_optimizer_step_with_any_arrays_updates_or_refuses(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(list(nncore.optim.OPTIMIZERS)))
    optimizer = nncore.optim.get_optimizer(name)
    size = data.draw(st.integers(1, 6))
    parameters = data.draw(any_array((size,), dtypes=["<f8", "<f4"], finite_only=True))
    gradients = data.draw(any_array(data.draw(shapes_around(size).map(lambda s: s[-1:])), bound=9))
    before = np.array(parameters, copy=True)
    done, _error = call_or_refuse(
        None, lambda: optimizer.step(parameters, gradients), ("parameters", "gradients")
    )
    if not done:
        assert np.array_equal(np.asarray(parameters), before)
        assert optimizer.step_count == 0


@settings(max_examples=max(10, settings().max_examples // 5))  # a fit per example
@given(st.data())
def test_estimators_answer_any_X_and_y_or_refuse(data: st.DataObject) -> None:
    sklearn = pytest.importorskip("nncore.sklearn")
    classifier = data.draw(st.booleans())
    estimator = (sklearn.MLPClassifier if classifier else sklearn.MLPRegressor)(
        hidden_layer_sizes=(3,), max_iter=2, random_state=0
    )
    n = data.draw(st.integers(0, 6))
    X = data.draw(shapes_around(2).flatmap(lambda s: any_array(s, bound=1e30)))
    y = data.draw(any_array((X.shape[0] if X.ndim else n,), bound=3, finite_only=classifier))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn's convergence warnings
        try:
            estimator.fit(X, y)
        except (TypeError, ValueError):
            return
    assert estimator.predict(np.asarray(X, dtype=np.float64)).shape[0] == X.shape[0]
