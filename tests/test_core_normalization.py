"""The core's LayerNorm and BatchNorm layers (cpp/include/nncore/layers/layer_norm.hpp,
batch_norm.hpp, and the arithmetic they share in normalization.hpp).

Checked against ``nncore.reference.layers`` (inference forward with running statistics, the
training-mode loss and gradient, and a plain-SGD fit: parameters and running statistics, with the
dropout masks the core drew), torch.autograd and a torch SGD loop (``model.train()``,
``nn.BatchNorm1d``, ``nn.LayerNorm``) where installed, and central finite differences; in stacks
with Dense, Dropout, Activation and residual blocks, in float64 and float32. A batch normalisation
needs 2 rows per training batch: fit refuses a batch of 1 at the door, and so does gradient.
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
    flat_state,
    torch_loss,
    torch_output,
)
from nncore import _core
from nncore.reference.layers import (
    Activation,
    BatchNorm,
    Dense,
    Dropout,
    LayerNorm,
    Residual,
    Sequential,
)

# The core against the reference in float64: the same formulas, a few ulps per operation apart
# (sums in other orders), so 1e-12 relative with a floor of 1e-12 of the largest entry for entries
# near 0 (dγ and dX are differences of nearly equal terms). float32: 1e-5.
RTOL = {np.float64: 1e-12, np.float32: 1e-5}
# The running statistics after a float64 fit, in units in the last place of the reference's.
STATE_ULPS = 8
# torch in float64: its own kernels and reduction orders, 1e-9 relative.
TORCH_RTOL = 1e-9
TORCH_REASON = "the comparison with PyTorch needs torch, which nncore does not depend on"
DTYPES = [np.float64, np.float32]
EMPTY = np.zeros(0)


def layer_norm_stack() -> tuple[list[Any], int, str]:
    """LayerNorm between Dense layers, dropout after it, a softmax classifier."""
    layers = [
        Dense(6, "relu"),
        LayerNorm(),
        Dropout(0.2),
        Dense(3),
        Activation("softmax"),
    ]
    return layers, 4, "categorical_cross_entropy"


def batch_norm_stack() -> tuple[list[Any], int, str]:
    """BatchNorm before its activation (Dense, BatchNorm, tanh), dropout, a sigmoid output."""
    layers = [
        Dense(6),
        BatchNorm(momentum=0.3),
        Activation("tanh"),
        Dropout(0.25),
        Dense(2, "sigmoid"),
    ]
    return layers, 4, "binary_cross_entropy"


def residual_stack() -> tuple[list[Any], int, str]:
    """Both layers inside a residual block (the block forwards update_state to its chain)."""
    layers = [
        Dense(5, "tanh"),
        Residual([BatchNorm(momentum=0.2, eps=1e-3), Dense(5, "elu"), Dropout(0.1), LayerNorm()]),
        Dense(3),
    ]
    return layers, 3, "mean_squared_error"


def first_and_last_stack() -> tuple[list[Any], int, str]:
    """LayerNorm as the first layer, BatchNorm as the output layer (no dX below the first)."""
    layers = [LayerNorm(eps=1e-4), Dense(4, "swish"), BatchNorm(momentum=0.5, eps=1e-2)]
    return layers, 5, "mean_squared_error"


STACKS = {
    "layer_norm": layer_norm_stack,
    "batch_norm": batch_norm_stack,
    "residual": residual_stack,
    "first_and_last": first_and_last_stack,
}


def problem(
    name: str, dtype: Any, n: int = 10, seed: int = 0
) -> tuple[Sequential, np.ndarray, np.ndarray, np.ndarray, str]:
    """The stack with random parameters and running statistics (not the initial ones), X, Y
    and sample weights."""
    layers, n_inputs, loss = STACKS[name]()
    rng = np.random.default_rng(seed)
    template = Sequential(layers, n_inputs, dtype=dtype)
    parameters = rng.normal(0.0, 0.6, template.parameters().size)
    state = {
        name: rng.normal(0.0, 0.5, value.shape)
        if name.endswith("mean")
        else rng.uniform(0.3, 2.0, value.shape)
        for name, value in template.state().items()
    }
    model = Sequential(layers, n_inputs, dtype=dtype, parameters=parameters, state=state)
    X = rng.normal(0.5, 1.5, size=(n, n_inputs)).astype(dtype)
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
# The layout contract, initial values, batch sizes
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_arrays_names_and_initial_values(dtype: Any) -> None:
    layer_norm = core_class(dtype, "LayerNorm")(3, 1e-5)
    batch_norm = core_class(dtype, "BatchNorm")(3, 0.1, 1e-5)
    assert (layer_norm.kind, batch_norm.kind) == ("LayerNorm", "BatchNorm")
    assert (batch_norm.n_inputs, batch_norm.n_outputs) == (3, 3)
    for layer in (layer_norm, batch_norm):
        assert layer.parameters == [("gamma", [3]), ("beta", [3])]
    assert layer_norm.state == []
    assert batch_norm.state == [("running_mean", [3]), ("running_var", [3])]
    model, *_ = problem("residual", dtype)
    core = core_sequential(model)
    assert core.state_layout == [("1.0.running_mean", (5,), 0), ("1.0.running_var", (5,), 5)]
    # A new Sequential's state is the layers' initial state; initialize sets γ = 1, β = 0 and
    # draws nothing for them: the Dense layers get the draws they get without the norms.
    fresh = core_class(dtype, "Sequential")([layer_norm, batch_norm])
    np.testing.assert_array_equal(fresh.state, [0, 0, 0, 1, 1, 1])
    fresh.initialize("glorot_uniform", _core.Random(1))
    np.testing.assert_array_equal(fresh.parameters, [1, 1, 1, 0, 0, 0] * 2)
    Dense_ = core_class(dtype, "Dense")
    dense = [Dense_(3, 3, "relu", 0.01, 1.0, True), Dense_(3, 2, "identity", 0.01, 1.0, True)]
    plain = core_class(dtype, "Sequential")(dense)
    mixed = core_class(dtype, "Sequential")([dense[0], batch_norm, layer_norm, dense[1]])
    plain.initialize("he_normal", _core.Random(2))
    mixed.initialize("he_normal", _core.Random(2))
    np.testing.assert_array_equal(mixed.parameters[:12], plain.parameters[:12])
    np.testing.assert_array_equal(mixed.parameters[24:], plain.parameters[12:])


def test_fewest_training_rows() -> None:
    def rows(*layers: Any) -> int:
        return int(_core.SequentialF64(list(layers)).min_training_rows)

    assert rows(_core.LayerNormF64(2, 1e-5)) == 1
    assert rows(_core.BatchNormF64(2, 0.1, 1e-5)) == 2
    assert rows(_core.ResidualF64([_core.BatchNormF64(2, 0.1, 1e-5)])) == 2


# --------------------------------------------------------------------------------------------
# Against the reference
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("stack", STACKS)
def test_forward_and_gradient_match_the_reference(stack: str, dtype: Any) -> None:
    """Inference forward (running statistics); training-mode loss and gradient (the batch's
    statistics), dropout off, weighted; gradient() changes neither gradients nor state."""
    model, X, Y, weights, loss = problem(stack, dtype)
    core = core_sequential(model)
    state = core.state.copy()
    close(core.forward(X), model.forward(X, False), dtype, "forward")
    value, gradient = core.gradient(X, Y, weights, loss, 1.0)
    close(value, model.loss(X, Y, loss, weights, training=True), dtype, "loss")
    close(gradient, model.gradient(X, Y, loss, weights), dtype, "gradient")
    assert not core.gradients.any()
    assert core.state.tobytes() == state.tobytes()
    evaluation, _ = core.evaluate(X, Y, weights, loss, 1.0)
    close(evaluation, model.loss(X, Y, loss, weights, training=False), dtype, "evaluate")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("stack", STACKS)
def test_fit_follows_the_reference_given_its_masks(stack: str, dtype: Any) -> None:
    """Plain SGD, shuffle=False, 10 rows in batches of 4 (the last of 2), 3 epochs: parameters
    and running statistics after every step's update_state, as the reference's."""
    model, X, Y, weights, loss = problem(stack, dtype, seed=1)
    epochs, batch_size, seed = 3, 4, 7
    trained = core_fit(model, X, Y, loss, 0.1, epochs, batch_size, weights, seed)
    masks = core_masks(model, seed, batches(len(X), batch_size, epochs), dtype)
    steps = model.fit(X, Y, loss, 0.1, epochs, batch_size, weights, masks=masks)
    close(trained.parameters, steps[-1].parameters, dtype, "parameters after fit")
    expected_state = flat_state(trained, steps[-1].state)
    close(trained.state, expected_state, dtype, "state after fit")
    if dtype == np.float64:  # running averages of the same statistics: a few ulps (4 measured)
        ulps = np.abs(trained.state - expected_state) / np.spacing(np.abs(expected_state))
        assert ulps.max(initial=0.0) <= STATE_ULPS, f"state {ulps.max()} ulps from the reference"
    if trained.state.size:  # the running statistics moved
        assert not np.allclose(trained.state, flat_state(trained, model.state()), rtol=1e-3)


def test_the_running_statistics_are_the_batches_moving_averages() -> None:
    """BatchNorm alone, momentum 0.3, learning rate 0 (nothing else moves), 2 epochs of 6 rows
    in batches of 3: the running statistics written out, variance unbiased (ddof=1)."""
    X = np.random.default_rng(3).normal(1.0, 2.0, size=(6, 2))
    core = _core.SequentialF64([_core.BatchNormF64(2, 0.3, 1e-5)])
    core.parameters[:] = [1.0, 1.0, 0.0, 0.0]
    options = _core.FitOptions(epochs=2, batch_size=3, shuffle=False)
    _core.fit(core, _core.SGDF64(0.0), _core.Random(0), (X, X, EMPTY), None, options)
    mean, var = np.zeros(2), np.ones(2)
    for _ in range(2):
        for batch in (X[:3], X[3:]):
            mean = 0.7 * mean + 0.3 * batch.mean(axis=0)
            var = 0.7 * var + 0.3 * batch.var(axis=0, ddof=1)
    np.testing.assert_allclose(core.state, np.concatenate([mean, var]), rtol=1e-14)


@pytest.fixture
def two_threads() -> Iterator[None]:
    before = _core.get_num_threads()
    _core.set_num_threads(2)
    yield
    _core.set_num_threads(before)


@pytest.mark.usefixtures("two_threads")
@pytest.mark.parametrize("norm", [LayerNorm(), BatchNorm()])
def test_wide_batches_on_two_threads_train_as_the_reference(norm: Any) -> None:
    """The S network's widths, batch 32 on two threads: with LayerNorm (row-local) the batch may
    be split into blocks of rows; with BatchNorm never. Bit for bit the one-thread fit."""
    layers = [Dense(128, "relu"), norm, Dense(128, "relu"), Dense(10)]
    model = Sequential(layers, 64, seed=5)
    rng = np.random.default_rng(6)
    X, Y = rng.normal(size=(64, 64)), rng.normal(size=(64, 10))
    trained = core_fit(model, X, Y, "mean_squared_error", 0.01, 2, 32)
    steps = model.fit(X, Y, "mean_squared_error", 0.01, 2, 32)
    close(trained.parameters, steps[-1].parameters, np.float64, "parameters after fit")
    close(trained.state, flat_state(trained, steps[-1].state), np.float64, "state after fit")
    _core.set_num_threads(1)
    one_thread = core_fit(model, X, Y, "mean_squared_error", 0.01, 2, 32)
    assert one_thread.parameters.tobytes() == trained.parameters.tobytes()
    assert one_thread.state.tobytes() == trained.state.tobytes()


# --------------------------------------------------------------------------------------------
# Against torch and finite differences
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


def torch_model(torch: Any, model: Sequential) -> Any:
    """``Dense(6, relu), BatchNorm(m, ε), LayerNorm(ε'), Dense(2)`` as torch modules with the
    reference model's parameters and running statistics."""
    nn = torch.nn
    p = {
        name: torch.from_numpy(model.parameters()[o : o + int(np.prod(s))].reshape(s))
        for name, s, o in model.layout()
    }
    norm, layer_norm = model.layers[1], model.layers[2]
    first, last = nn.Linear(3, 6), nn.Linear(6, 2)
    batch_norm = nn.BatchNorm1d(6, eps=norm.eps, momentum=norm.momentum)
    normalization = nn.LayerNorm(6, eps=layer_norm.eps)
    net = nn.Sequential(first, nn.ReLU(), batch_norm, normalization, last).double()
    with torch.no_grad():
        first.weight.copy_(p["0.W"].T), first.bias.copy_(p["0.b"])
        batch_norm.weight.copy_(p["1.gamma"]), batch_norm.bias.copy_(p["1.beta"])
        state = model.state()
        batch_norm.running_mean.copy_(torch.from_numpy(state["1.running_mean"]))
        batch_norm.running_var.copy_(torch.from_numpy(state["1.running_var"]))
        normalization.weight.copy_(p["2.gamma"]), normalization.bias.copy_(p["2.beta"])
        last.weight.copy_(p["3.W"].T), last.bias.copy_(p["3.b"])
    return net


def test_fit_follows_torch_sgd() -> None:
    """torch's own modules in training mode (model.train()) and torch.optim.SGD, 4 epochs of 11
    rows in batches of 4 (the last of 3): parameters and running statistics, then inference."""
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    layers = [Dense(6, "relu"), BatchNorm(momentum=0.2, eps=1e-4), LayerNorm(eps=1e-3), Dense(2)]
    model = Sequential(layers, 3, seed=11)
    rng = np.random.default_rng(12)
    X, Y = rng.normal(1.0, 2.0, size=(11, 3)), rng.normal(size=(11, 2))
    trained = core_fit(model, X, Y, "mean_squared_error", 0.05, 4, 4)
    net = torch_model(torch, model)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05)
    net.train()
    for _ in range(4):
        for start in range(0, 11, 4):
            x, y = torch.from_numpy(X[start : start + 4]), torch.from_numpy(Y[start : start + 4])
            optimizer.zero_grad()
            torch.nn.functional.mse_loss(net(x), y).backward()
            optimizer.step()
    first, _, batch_norm, normalization, last = net
    expected = [
        first.weight.T, first.bias, batch_norm.weight, batch_norm.bias,
        normalization.weight, normalization.bias, last.weight.T, last.bias,
    ]  # fmt: skip
    flat = torch.cat([t.detach().reshape(-1) for t in expected]).numpy()
    assert_close_scaled(trained.parameters, flat, TORCH_RTOL, TORCH_RTOL, "parameters")
    running = torch.cat([batch_norm.running_mean, batch_norm.running_var]).numpy()
    assert_close_scaled(trained.state, running, TORCH_RTOL, TORCH_RTOL, "running statistics")
    net.eval()
    with torch.no_grad():
        inference = net(torch.from_numpy(X)).numpy()
    assert_close_scaled(trained.forward(X), inference, TORCH_RTOL, TORCH_RTOL, "inference")


def test_gradient_matches_central_differences() -> None:
    """Both layers in a small smooth stack: (L(θ + h e_i) − L(θ − h e_i)) / 2h, h = 1e-6."""
    layers = [Dense(3, "tanh"), BatchNorm(), Dense(3, "softplus"), LayerNorm(), Dense(2)]
    model = Sequential(layers, 3, seed=8)
    rng = np.random.default_rng(9)
    X, Y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    core = core_sequential(model)
    _, gradient = core.gradient(X, Y, EMPTY, "mean_squared_error", 1.0)
    differences = central_differences(core, X, Y, "mean_squared_error")
    np.testing.assert_allclose(gradient, differences, rtol=1e-6, atol=1e-8)


# --------------------------------------------------------------------------------------------
# A batch of one row, bad arguments
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("in_block", [False, True])
def test_a_batch_of_one_row_is_refused_and_changes_nothing(in_block: bool) -> None:
    norm = _core.BatchNormF64(3, 0.1, 1e-5)
    dense = _core.DenseF64(3, 3, "tanh", 0.01, 1.0, True)
    model = _core.SequentialF64([dense, _core.ResidualF64([norm]) if in_block else norm])
    model.initialize("glorot_uniform", _core.Random(1))
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(9, 3)), rng.normal(size=(9, 3))
    parameters, state, random = model.parameters.copy(), model.state.copy(), _core.Random(7)
    optimizer = _core.AdamF64(0.01)
    options = _core.FitOptions(epochs=2, batch_size=4, shuffle=True)  # 4, 4, then 1 row
    with pytest.raises(ValueError, match="leave a batch of 1; choose another batch_size"):
        _core.fit(model, optimizer, random, (X, Y, EMPTY), None, options)
    with pytest.raises(ValueError, match="needs at least 2 rows in training mode, got 1"):
        model.gradient(X[:1], Y[:1], EMPTY, "mean_squared_error", 1.0)
    with pytest.raises(ValueError, match="needs at least 2 rows in training mode, got 1"):
        model.backward(X[:1], Y[:1], EMPTY, "mean_squared_error", 1.0)
    assert model.parameters.tobytes() == parameters.tobytes()
    assert model.state.tobytes() == state.tobytes() and not model.gradients.any()
    assert random.state == _core.Random(7).state
    # the optimizer too: a fit after the failed one is a fit from the start
    options.batch_size = 3
    _core.fit(model, optimizer, random, (X, Y, EMPTY), None, options)
    fresh = _core.SequentialF64([dense, _core.ResidualF64([norm]) if in_block else norm])
    fresh.parameters[:] = parameters
    _core.fit(fresh, _core.AdamF64(0.01), _core.Random(7), (X, Y, EMPTY), None, options)
    assert model.parameters.tobytes() == fresh.parameters.tobytes()
    assert model.state.tobytes() == fresh.state.tobytes()
    # inference needs no batch statistics: one row is fine
    assert model.forward(X[:1]).shape == (1, 3)


def test_layer_norm_trains_on_batches_of_one_row() -> None:
    layers = [Dense(4, "tanh"), LayerNorm(), Dense(2)]
    model = Sequential(layers, 3, seed=13)
    rng = np.random.default_rng(14)
    X, Y = rng.normal(size=(3, 3)), rng.normal(size=(3, 2))
    trained = core_fit(model, X, Y, "mean_squared_error", 0.1, 2, 1)
    steps = model.fit(X, Y, "mean_squared_error", 0.1, 2, 1)
    close(trained.parameters, steps[-1].parameters, np.float64, "parameters after fit")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("kind", "arguments", "message"),
    [
        ("LayerNorm", (3, 0.0), r"LayerNorm: eps must be finite and > 0, got 0"),
        ("LayerNorm", (3, -1e-5), r"LayerNorm: eps must be finite and > 0, got -1.0"),
        ("LayerNorm", (3, float("nan")), r"LayerNorm: eps must be finite and > 0, got nan"),
        ("LayerNorm", (3, float("inf")), r"LayerNorm: eps must be finite and > 0, got inf"),
        ("LayerNorm", (0, 1e-5), r"layer sizes must be between 1 and 2\^24, got 0"),
        ("BatchNorm", (3, 0.1, 0.0), r"BatchNorm: eps must be finite and > 0, got 0"),
        ("BatchNorm", (3, 0.1, float("inf")), r"BatchNorm: eps must be finite and > 0, got inf"),
        ("BatchNorm", (3, -0.1, 1e-5), r"BatchNorm: momentum must be in \[0, 1\], got -0.1"),
        ("BatchNorm", (3, 1.5, 1e-5), r"BatchNorm: momentum must be in \[0, 1\], got 1.5"),
        ("BatchNorm", (3, float("nan"), 1e-5), r"BatchNorm: momentum must be in \[0, 1\], got nan"),
        ("BatchNorm", (2**24 + 1, 0.1, 1e-5), r"layer sizes must be between 1 and 2\^24"),
    ],
)
def test_bad_arguments_are_value_errors(
    dtype: Any, kind: str, arguments: tuple[Any, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        core_class(dtype, kind)(*arguments)


@pytest.mark.parametrize("momentum", [0.0, 1.0])
def test_momentum_at_either_end(momentum: float) -> None:
    """0 keeps the running statistics; 1 replaces them by the last batch's (variance unbiased)."""
    X = np.random.default_rng(15).normal(size=(8, 2))
    core = _core.SequentialF64([_core.BatchNormF64(2, momentum, 1e-5)])
    core.parameters[:] = [1.0, 1.0, 0.0, 0.0]
    options = _core.FitOptions(epochs=1, batch_size=5, shuffle=False)
    _core.fit(core, _core.SGDF64(0.0), _core.Random(0), (X, X, EMPTY), None, options)
    last = X[5:]
    expected = [0, 0, 1, 1] if momentum == 0.0 else [*last.mean(0), *last.var(0, ddof=1)]
    np.testing.assert_allclose(core.state, expected, rtol=1e-14)
