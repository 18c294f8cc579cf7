"""The core's Activation layer (cpp/include/nncore/layers/activation.hpp): ``Y = g(X)``.

Every activation of Dense as a layer of its own, checked against ``nncore.reference.layers``
(forward, gradient, a plain-SGD fit with dropout), torch.autograd where installed and central
finite differences (softmax's Jacobian in a hidden layer too, which the reference does not
allow), in float64 and float32; as the output layer it pairs with the loss exactly as a Dense
layer's fused activation does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import core_stacks as stacks
from conftest import assert_close_scaled
from nncore import _core
from nncore.reference import numpy_reference as nref
from nncore.reference.layers import Activation, Dense, Dropout, Sequential

# As in test_core_residual: the reference at 1e-12 (float64) and 1e-5 (float32) relative, with a
# floor of the same times the largest entry; torch.autograd at 1e-9 in float64.
RTOL = {np.float64: 1e-12, np.float32: 1e-5}
TORCH_RTOL = 1e-9
TORCH_REASON = "the comparison with PyTorch needs torch, which nncore does not depend on"
DTYPES = [np.float64, np.float32]
HIDDEN = [name for name in nref.ACTIVATIONS if name != "softmax"]
OPTIONS = {"leaky_relu_slope": 0.3, "elu_alpha": 0.6}  # not the defaults: they must reach g
EMPTY = np.zeros(0)


def close(actual: Any, expected: Any, dtype: Any, what: str) -> None:
    rtol = RTOL[np.dtype(dtype).type]
    assert_close_scaled(actual, expected, rtol, rtol, what)


def model_of(layers: list[Any], n_inputs: int, dtype: Any, seed: int = 0) -> Sequential:
    """The reference Sequential with random parameters (wider than the initial ones)."""
    template = Sequential(layers, n_inputs, dtype=dtype)
    parameters = np.random.default_rng(seed).normal(0.0, 0.8, template.parameters().size)
    return Sequential(layers, n_inputs, dtype=dtype, parameters=parameters)


def data(n: int, n_inputs: int, n_outputs: int, loss: str, dtype: Any, seed: int = 1) -> Any:
    rng = np.random.default_rng(seed)
    X = rng.normal(0.0, 1.5, (n, n_inputs)).astype(dtype)
    if loss == "categorical_cross_entropy":
        Y = np.eye(n_outputs, dtype=dtype)[rng.integers(0, n_outputs, n)]
    elif loss == "binary_cross_entropy":
        Y = rng.integers(0, 2, (n, n_outputs)).astype(dtype)
    else:
        Y = rng.normal(size=(n, n_outputs)).astype(dtype)
    return X, Y, rng.uniform(0.2, 2.0, n).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", HIDDEN)
def test_a_hidden_activation_matches_the_reference(name: str, dtype: Any) -> None:
    model = model_of([Dense(5), Activation(name, **OPTIONS), Dense(2)], 3, dtype)
    X, Y, w = data(8, 3, 2, "mean_squared_error", dtype)
    core = stacks.core_sequential(model)
    close(core.forward(X), model.forward(X, False), dtype, "forward")
    value, gradient = core.gradient(X, Y, w, "mean_squared_error", 1.0)
    close(value, model.loss(X, Y, "mean_squared_error", w, training=True), dtype, "loss")
    close(gradient, model.gradient(X, Y, "mean_squared_error", w), dtype, "gradient")


OUTPUTS = [
    ("softmax", "categorical_cross_entropy"),
    ("sigmoid", "binary_cross_entropy"),
    ("tanh", "mean_squared_error"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "loss"), OUTPUTS)
def test_as_the_output_layer_it_pairs_with_the_loss_as_a_fused_dense(
    name: str, loss: str, dtype: Any
) -> None:
    """Dense(3) then Activation(g) is Dense(3, g) bit for bit (the loss's dL/dZ arrives at the
    Activation's input), and matches the reference."""
    model = model_of([Dense(4, "relu"), Dense(3), Activation(name)], 3, dtype)
    fused = Sequential([Dense(4, "relu"), Dense(3, name)], 3, dtype=dtype)
    fused = Sequential(fused.layers, 3, dtype=dtype, parameters=model.parameters())
    X, Y, w = data(9, 3, 3, loss, dtype)
    core, core_fused = stacks.core_sequential(model), stacks.core_sequential(fused)
    # backward fills each model's own gradient buffer: gradient()'s new array may start at
    # another alignment, and Eigen's vectorised loops then round differently (by an ulp).
    value, fused_value = core.backward(X, Y, w, loss, 1.0), core_fused.backward(X, Y, w, loss, 1.0)
    assert value == fused_value and core.gradients.tobytes() == core_fused.gradients.tobytes()
    gradient = core.gradients
    assert core.forward(X).tobytes() == core_fused.forward(X).tobytes()
    close(value, model.loss(X, Y, loss, w, training=True), dtype, "loss")
    close(gradient, model.gradient(X, Y, loss, w), dtype, "gradient")


@pytest.mark.parametrize("dtype", DTYPES)
def test_fit_with_dropout_follows_the_reference(dtype: Any) -> None:
    """Plain SGD, shuffle=False; the reference is given the masks the core's generator drew."""
    layers = [Dense(6), Activation("gelu"), Dropout(0.3), Dense(3), Activation("softmax")]
    model = model_of(layers, 4, dtype, seed=2)
    X, Y, w = data(11, 4, 3, "categorical_cross_entropy", dtype, seed=3)
    trained = stacks.core_fit(model, X, Y, "categorical_cross_entropy", 0.1, 2, 4, w, seed=5)
    masks = stacks.core_masks(model, 5, stacks.batches(11, 4, 2), dtype)
    steps = model.fit(X, Y, "categorical_cross_entropy", 0.1, 2, 4, w, masks=masks)
    close(trained.parameters, steps[-1].parameters, dtype, "parameters after fit")


@pytest.mark.parametrize("name", HIDDEN)
def test_gradient_matches_torch_autograd(name: str) -> None:
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    layers = [Dense(5), Activation(name, **OPTIONS), Dense(3), Activation("softmax")]
    model = model_of(layers, 4, np.float64, seed=4)
    X, Y, w = data(7, 4, 3, "categorical_cross_entropy", np.float64)
    flat = torch.from_numpy(model.parameters()).requires_grad_(True)
    logits = stacks.torch_output(torch, model, torch.from_numpy(X), flat, logits=True)
    per_sample = torch.nn.functional.cross_entropy(logits, torch.from_numpy(Y), reduction="none")
    total = (torch.from_numpy(w) * per_sample).sum() / w.sum()
    total.backward()
    value, gradient = stacks.core_sequential(model).gradient(X, Y, w, "cce", 1.0)
    assert_close_scaled(value, total.item(), TORCH_RTOL, TORCH_RTOL, "loss")
    assert_close_scaled(gradient, flat.grad.numpy(), TORCH_RTOL, TORCH_RTOL, "gradient")


def softmax_inside() -> Any:
    """Dense(3→4), a softmax Activation in the middle, Dense(4→2): the core allows it."""
    layers = [
        _core.DenseF64(3, 4, "identity", 0.01, 1.0, True),
        _core.ActivationF64(4, "softmax", 0.01, 1.0),
        _core.DenseF64(4, 2, "identity", 0.01, 1.0, True),
    ]
    sequential = _core.SequentialF64(layers)
    sequential.parameters[:] = np.random.default_rng(6).normal(0.0, 1.0, sequential.parameters.size)
    X, Y, _ = data(5, 3, 2, "mean_squared_error", np.float64, seed=7)
    return sequential, X, Y


def test_a_hidden_softmax_backpropagates_its_jacobian() -> None:
    """Central differences (h = 1e-6) of the loss: the row-wise Jacobian, not g' element-wise."""
    sequential, X, Y = softmax_inside()
    _, gradient = sequential.gradient(X, Y, EMPTY, "mse", 1.0)
    differences = stacks.central_differences(sequential, X, Y, "mse")
    np.testing.assert_allclose(gradient, differences, rtol=1e-6, atol=1e-8)


def test_a_hidden_softmax_matches_torch_autograd() -> None:
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    sequential, X, Y = softmax_inside()
    p = torch.from_numpy(sequential.parameters.copy()).requires_grad_(True)
    W0, b0, W1, b1 = p[:12].reshape(3, 4), p[12:16], p[16:24].reshape(4, 2), p[24:]
    out = torch.softmax(torch.from_numpy(X) @ W0 + b0, dim=1) @ W1 + b1
    total = torch.nn.functional.mse_loss(out, torch.from_numpy(Y))
    total.backward()
    value, gradient = sequential.gradient(X, Y, EMPTY, "mse", 1.0)
    assert_close_scaled(value, total.item(), TORCH_RTOL, TORCH_RTOL, "loss")
    assert_close_scaled(gradient, p.grad.numpy(), TORCH_RTOL, TORCH_RTOL, "gradient")


@pytest.mark.parametrize("dtype", DTYPES)
def test_bad_arguments_are_value_errors(dtype: Any) -> None:
    activation = stacks.core_class(dtype, "Activation")
    with pytest.raises(ValueError, match="unknown activation 'rellu'"):
        activation(3, "rellu", 0.01, 1.0)
    with pytest.raises(ValueError, match="slope"):
        activation(3, "leaky_relu", -0.1, 1.0)
    with pytest.raises(ValueError, match="alpha"):
        activation(3, "elu", 0.01, 0.0)
    with pytest.raises(ValueError, match="between 1 and 2\\^24"):
        activation(0, "tanh", 0.01, 1.0)
    layer = activation(3, "silu", 0.01, 1.0)  # an alias
    assert (layer.kind, layer.n_inputs, layer.n_outputs, layer.parameters) == (
        "Activation",
        3,
        3,
        [],
    )
