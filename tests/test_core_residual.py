"""The core's Residual layer (cpp/include/nncore/layers/residual.hpp): ``Y = X + f(X)``.

Checked against ``nncore.reference.layers`` (forward, gradient, and a plain-SGD fit with the
dropout masks the core drew), torch.autograd where installed, and central finite differences,
for stacks mixing Dense, Dropout, Activation and nested residual blocks, in float64 and float32.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from conftest import assert_close_scaled
from core_stacks import (
    batches,
    central_differences,
    core_class,
    core_fit,
    core_masks,
    core_sequential,
    torch_loss,
    torch_output,
)
from nncore import _core
from nncore.reference.layers import Activation, Dense, Dropout, Residual, Sequential

# The core against the reference in float64: the same formulas, a few ulps per operation apart
# (products summed in other orders), so 1e-12 relative with a floor of 1e-12 of the largest entry
# for entries near 0 (cancellation). float32: eps 1.2e-7 grown over a few layers, 1e-5.
RTOL = {np.float64: 1e-12, np.float32: 1e-5}
# torch.autograd in float64: its own kernels and reduction orders, 1e-9 relative.
TORCH_RTOL = 1e-9
TORCH_REASON = "the comparison with PyTorch needs torch, which nncore does not depend on"
DTYPES = [np.float64, np.float32]
EMPTY = np.zeros(0)


def brief_stack() -> tuple[list[Any], int, str]:
    """A residual block inside a classifier, the block's dropout inside it."""
    layers = [
        Dense(8),
        Residual([Dense(8, "relu"), Dropout(0.25), Dense(8)]),
        Activation("tanh"),
        Dense(3),
        Activation("softmax"),
    ]
    return layers, 5, "categorical_cross_entropy"


def nested_stack() -> tuple[list[Any], int, str]:
    """Residual blocks inside a residual block, dropout at two depths, a block of no parameters."""
    layers = [
        Dense(6, "tanh"),
        Residual(
            [
                Dense(6, "elu", elu_alpha=0.7),
                Residual([Activation("swish"), Dense(6), Dropout(0.5)]),
                Dropout(0.1),
                Residual([Dense(6, "leaky_relu", leaky_relu_slope=0.2)]),
            ]
        ),
        Residual([Activation("sigmoid")]),
        Dense(2, "sigmoid"),
    ]
    return layers, 4, "binary_cross_entropy"


def residual_only_stack() -> tuple[list[Any], int, str]:
    """A residual block as the first and the output layer (identity output, MSE)."""
    return [Residual([Dense(4, "tanh"), Dropout(0.2), Dense(4)])], 4, "mean_squared_error"


STACKS = {"brief": brief_stack, "nested": nested_stack, "residual_only": residual_only_stack}


def problem(
    name: str, dtype: Any, n: int = 10, seed: int = 0
) -> tuple[Sequential, np.ndarray, np.ndarray, np.ndarray, str]:
    """The stack with random parameters (not the initial ones), X, Y and sample weights."""
    layers, n_inputs, loss = STACKS[name]()
    rng = np.random.default_rng(seed)
    template = Sequential(layers, n_inputs, dtype=dtype)
    parameters = rng.normal(0.0, 0.6, template.parameters().size)
    model = Sequential(layers, n_inputs, dtype=dtype, parameters=parameters)
    X = rng.normal(size=(n, n_inputs)).astype(dtype)
    if loss == "categorical_cross_entropy":
        Y = np.eye(model.n_outputs, dtype=dtype)[rng.integers(0, model.n_outputs, n)]
    elif loss == "binary_cross_entropy":
        Y = rng.integers(0, 2, (n, model.n_outputs)).astype(dtype)
    else:
        Y = rng.normal(size=(n, model.n_outputs)).astype(dtype)
    weights = rng.uniform(0.2, 2.0, n).astype(dtype)
    return model, X, Y, weights, loss


def close(actual: Any, expected: Any, dtype: Any, what: str) -> None:
    rtol = RTOL[np.dtype(dtype).type]
    assert_close_scaled(actual, expected, rtol, rtol, what)


# --------------------------------------------------------------------------------------------
# The layout contract
# --------------------------------------------------------------------------------------------


def test_children_are_named_inside_the_block() -> None:
    model, *_ = problem("nested", np.float64)
    names = [name for name, _, _ in core_sequential(model).parameter_layout]
    assert names == [
        "0.W", "0.b", "1.0.W", "1.0.b", "1.1.1.W", "1.1.1.b", "1.3.0.W", "1.3.0.b", "3.W", "3.b"
    ]  # fmt: skip
    dense = _core.DenseF64(3, 3, "identity", 0.01, 1.0, True)
    block = _core.ResidualF64([dense, _core.DropoutF64(3, 0.5)])
    assert block.kind == "Residual" and (block.n_inputs, block.n_outputs) == (3, 3)
    assert block.parameters == [("0.W", [3, 3]), ("0.b", [3])] and block.state == []


# --------------------------------------------------------------------------------------------
# Against the reference
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("stack", STACKS)
def test_forward_and_gradient_match_the_reference(stack: str, dtype: Any) -> None:
    """Inference forward; training-mode loss and gradient with dropout off, weighted."""
    model, X, Y, weights, loss = problem(stack, dtype)
    core = core_sequential(model)
    close(core.forward(X), model.forward(X, False), dtype, "forward")
    value, gradient = core.gradient(X, Y, weights, loss, 1.0)
    close(value, model.loss(X, Y, loss, weights, training=True), dtype, "loss")
    close(gradient, model.gradient(X, Y, loss, weights), dtype, "gradient")
    assert not core.gradients.any()  # gradient() changed nothing


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("stack", STACKS)
def test_fit_with_dropout_follows_the_reference_given_its_masks(stack: str, dtype: Any) -> None:
    """Plain SGD, shuffle=False, 10 rows in batches of 4 (the last of 2), 2 epochs; the
    reference is given the masks the core's generator drew (see core_stacks.core_masks)."""
    model, X, Y, weights, loss = problem(stack, dtype, seed=1)
    epochs, batch_size, seed = 2, 4, 7
    trained = core_fit(model, X, Y, loss, 0.1, epochs, batch_size, weights, seed)
    masks = core_masks(model, seed, batches(len(X), batch_size, epochs), dtype)
    steps = model.fit(X, Y, loss, 0.1, epochs, batch_size, weights, masks=masks)
    close(trained.parameters, steps[-1].parameters, dtype, "parameters after fit")
    # The masks matter: without them the reference trains elsewhere.
    unmasked = model.fit(X, Y, loss, 0.1, epochs, batch_size, weights)
    assert not np.allclose(unmasked[-1].parameters, steps[-1].parameters, rtol=1e-3, atol=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fit_with_dropout_rate_zero_equals_the_reference_fit(dtype: Any) -> None:
    layers = [Dense(5, "tanh"), Residual([Dense(5, "relu"), Dropout(0.0), Dense(5)]), Dense(2)]
    model = Sequential(layers, 3, dtype=dtype, seed=3)
    rng = np.random.default_rng(4)
    X, Y = rng.normal(size=(9, 3)).astype(dtype), rng.normal(size=(9, 2)).astype(dtype)
    trained = core_fit(model, X, Y, "mean_squared_error", 0.05, 3, 4)
    steps = model.fit(X, Y, "mean_squared_error", 0.05, 3, 4)
    close(trained.parameters, steps[-1].parameters, dtype, "parameters after fit")


@pytest.fixture
def two_threads() -> Iterator[None]:
    before = _core.get_num_threads()
    _core.set_num_threads(2)
    yield
    _core.set_num_threads(before)


@pytest.mark.usefixtures("two_threads")
def test_a_batch_split_into_blocks_of_rows_trains_as_the_reference() -> None:
    """The S network's widths with a residual block, batch 32 on two threads: the batch may be
    split into blocks of rows (each block's forward and errors on a thread of its own)."""
    layers = [Dense(128, "relu"), Residual([Dense(128, "relu"), Dense(128)]), Dense(10)]
    model = Sequential(layers, 64, seed=5)
    rng = np.random.default_rng(6)
    X, Y = rng.normal(size=(64, 64)), rng.normal(size=(64, 10))
    trained = core_fit(model, X, Y, "mean_squared_error", 0.01, 2, 32)
    steps = model.fit(X, Y, "mean_squared_error", 0.01, 2, 32)
    close(trained.parameters, steps[-1].parameters, np.float64, "parameters after fit")
    _core.set_num_threads(1)
    one_thread = core_fit(model, X, Y, "mean_squared_error", 0.01, 2, 32)
    assert one_thread.parameters.tobytes() == trained.parameters.tobytes()


# --------------------------------------------------------------------------------------------
# Against torch.autograd and finite differences
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_gradient_matches_torch_autograd(stack: str) -> None:
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    model, X, Y, weights, loss = problem(stack, np.float64, seed=2)
    flat = torch.from_numpy(model.parameters()).requires_grad_(True)
    fused = loss != "mean_squared_error"
    out = torch_output(torch, model, torch.from_numpy(X), flat, logits=fused)
    total = torch_loss(torch, out, Y, weights, loss)
    total.backward()
    value, gradient = core_sequential(model).gradient(X, Y, weights, loss, 1.0)
    assert_close_scaled(value, total.item(), TORCH_RTOL, TORCH_RTOL, "loss")
    assert_close_scaled(gradient, flat.grad.numpy(), TORCH_RTOL, TORCH_RTOL, "gradient")


def test_gradient_matches_central_differences() -> None:
    """A small nested block of smooth layers: (L(θ + h e_i) − L(θ − h e_i)) / 2h, h = 1e-6."""
    layers = [Residual([Dense(3, "tanh"), Residual([Dense(3, "softplus")])]), Dense(2)]
    model = Sequential(layers, 3, seed=8)
    rng = np.random.default_rng(9)
    X, Y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    core = core_sequential(model)
    _, gradient = core.gradient(X, Y, EMPTY, "mean_squared_error", 1.0)
    differences = central_differences(core, X, Y, "mean_squared_error")
    np.testing.assert_allclose(gradient, differences, rtol=1e-6, atol=1e-8)


# --------------------------------------------------------------------------------------------
# Bad arguments
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_bad_blocks_are_value_errors_naming_the_layer(dtype: Any) -> None:
    Dense_, Residual_ = core_class(dtype, "Dense"), core_class(dtype, "Residual")
    with pytest.raises(ValueError, match=r"Residual: layer 1 \(Dense\) gives 3 outputs, but "):
        Residual_([Dense_(4, 4, "relu", 0.01, 1.0, True), Dense_(4, 3, "relu", 0.01, 1.0, True)])
    with pytest.raises(ValueError, match=r"Residual: layer 1 \(Dense\) takes 5 inputs"):
        Residual_([Dense_(4, 4, "relu", 0.01, 1.0, True), Dense_(5, 4, "relu", 0.01, 1.0, True)])
    with pytest.raises(ValueError, match="Residual: a chain of layers needs at least one layer"):
        Residual_([])
    with pytest.raises(ValueError, match="Residual: layer 0 is null"):
        Residual_([None])
    other = core_class(np.float32 if dtype == np.float64 else np.float64, "Dense")
    with pytest.raises(TypeError):
        Residual_([other(4, 4, "relu", 0.01, 1.0, True)])


def test_a_block_ending_in_softmax_is_no_softmax_output() -> None:
    """X + softmax(…) is not a distribution: the block's output activation is the identity."""
    block = _core.ResidualF64([_core.ActivationF64(3, "softmax", 0.01, 1.0)])
    sequential = _core.SequentialF64([block])
    X, Y = np.zeros((2, 3)), np.eye(3)[:2]
    with pytest.raises(ValueError, match="softmax"):
        sequential.gradient(X, Y, EMPTY, "categorical_cross_entropy", 1.0)
    assert sequential.gradient(X, Y, EMPTY, "mean_squared_error", 1.0)[0] >= 0.0
