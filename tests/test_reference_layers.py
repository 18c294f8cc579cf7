"""Tests of ``nncore.reference.layers``, the NumPy reference of ``nncore.Sequential``'s layers.

It is the oracle the native layers are checked against, so it is checked here against code it
does not share: PyTorch (``torch.nn.Linear``, ``LayerNorm``, ``BatchNorm1d`` in ``train()``,
``Embedding`` and ``torch.autograd``, float64), central finite differences, the MLP reference
(``numpy_reference``) and hand-computed values, for seeded random stacks of every layer type.
"""

from __future__ import annotations

import ast
import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import nncore.reference.layers as layers_package
from conftest import assert_close_scaled
from nncore.reference import numpy_reference as nref
from nncore.reference.layers import (
    Activation,
    BatchNorm,
    Dense,
    Dropout,
    Embedding,
    Layer,
    LayerNorm,
    Residual,
    Sequential,
)

# --------------------------------------------------------------------------------------------
# Tolerances
# --------------------------------------------------------------------------------------------

# Against PyTorch in float64: the same formulas, summed in another order (BLAS, torch's own
# reductions and Welford variance) over a few layers, so a few ulps per operation: 1e-9 relative
# leaves a wide margin for that and none for a wrong term. Entries produced by cancellation
# (a gradient near 0) also get an absolute floor of 1e-9 times the array's largest entry.
TORCH_RTOL = 1e-9
TORCH_ATOL_SCALE = 1e-9

# Central differences of the float64 training-mode loss with step h: truncation ~h²·L''' and
# rounding ~eps·|L|/h ≈ 1e-10 for h = 1e-6; 1e-6 relative (with an absolute floor of 1e-8 for
# entries near 0) is far above both and far below any wrong factor or missing term.
FD_STEP = 1e-6
FD_RTOL = 1e-6
FD_ATOL = 1e-8

# The MLP reference computes the same products in the same order: a few ulps apart.
MLP_RTOL = 1e-12

# float32 against float64 on small, well-conditioned stacks: float32's eps is 1.2e-7 and errors
# grow over a few layers and a normalisation; 1e-4 relative (floor 1e-4 of the scale).
FLOAT32_RTOL = 1e-4

TORCH_REASON = "the comparison with PyTorch needs torch, which nncore does not depend on"

HIDDEN_ACTIVATIONS = [a for a in nref.ACTIVATIONS if a != "softmax"]
# Activations whose derivative is continuous (finite differences across a kink are not a test).
SMOOTH_ACTIVATIONS = ["identity", "sigmoid", "tanh", "gelu", "gelu_tanh", "softplus", "swish"]
OUTPUTS = ("softmax_cce", "sigmoid_bce", "identity_mse")
LOSS_OF = {
    "softmax_cce": "categorical_cross_entropy",
    "sigmoid_bce": "binary_cross_entropy",
    "identity_mse": "mean_squared_error",
}
SEEDS = range(24)

# --------------------------------------------------------------------------------------------
# Random stacks and problems
# --------------------------------------------------------------------------------------------


class Case:
    """A random stack, its parameters and state, and a batch (X, Y, weights, masks)."""

    def __init__(
        self,
        layers: list[Layer],
        n_inputs: int,
        loss: str,
        rng: np.random.Generator,
        n: int,
        weighted: bool,
    ) -> None:
        self.layers, self.n_inputs, self.loss = layers, n_inputs, loss
        template = Sequential(layers, n_inputs)
        size = sum(math.prod(shape) for _, shape, _ in template.layout())
        self.parameters = rng.normal(0.0, 0.7, size)  # not the initial ones/zeros: a real test
        self.state = {
            name: rng.normal(size=v.shape)
            if name.endswith("mean")
            else rng.uniform(0.5, 2, v.shape)
            for name, v in template.state().items()
        }
        self.model = Sequential(layers, n_inputs, parameters=self.parameters, state=self.state)
        self.X = random_inputs(layers, n_inputs, n, rng)
        self.Y = random_targets(loss, n, self.model.n_outputs, rng)
        self.sample_weight = rng.uniform(0.0, 2.0, n) if weighted else None
        if weighted:
            self.sample_weight[0] = 0.0  # a zero weight, too
        self.rng = rng

    def masks(self, n: int) -> dict[str, np.ndarray]:
        """A random mask for every Dropout layer, for a batch of n rows."""
        return random_masks(self.layers, self.n_inputs, n, self.rng)


def walk(layers: Sequence[Layer], n_in: int, path: str = "") -> list[tuple[str, Layer, int]]:
    """Every layer as (path, layer, input width), depth first: the test's own traversal."""
    found: list[tuple[str, Layer, int]] = []
    width = n_in
    for index, layer in enumerate(layers):
        here = str(index) if path == "" else f"{path}.{index}"
        found.append((here, layer, width))
        if isinstance(layer, Residual):
            found.extend(walk(layer.layers, width, here))
        elif isinstance(layer, Dense):
            width = layer.units
        elif isinstance(layer, Embedding):
            width += len(layer.columns) * (layer.dim - 1)
    return found


def random_masks(
    layers: Sequence[Layer], n_inputs: int, n: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    masks = {}
    for path, layer, width in walk(layers, n_inputs):
        if isinstance(layer, Dropout):
            keep = rng.random((n, width)) >= layer.rate
            masks[path] = keep / (1.0 - layer.rate)  # M ∈ {0, 1/(1 − p)}
    return masks


def random_inputs(
    layers: Sequence[Layer], n_inputs: int, n: int, rng: np.random.Generator
) -> np.ndarray:
    X = rng.normal(size=(n, n_inputs))
    first = layers[0]
    if isinstance(first, Embedding):
        for column, cardinality in zip(first.columns, first.cardinalities, strict=True):
            X[:, column] = rng.integers(0, cardinality, n)
    return X


def random_targets(loss: str, n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    if loss == "categorical_cross_entropy":
        return np.eye(k)[rng.integers(0, k, n)]  # one-hot rows
    if loss == "binary_cross_entropy":
        return rng.uniform(size=(n, k))  # soft targets in [0, 1]
    return rng.normal(size=(n, k))


def random_body_layer(rng: np.random.Generator, width: int, activations: list[str]) -> Layer:
    """One hidden layer of any type; a Residual holds 1-3 width-preserving layers."""
    kind = rng.choice(["dense", "activation", "dropout", "layer_norm", "batch_norm", "residual"])
    slope, alpha = float(rng.uniform(0.01, 0.3)), float(rng.uniform(0.5, 1.5))
    if kind == "dense":
        units = int(rng.integers(2, 6))
        act = str(rng.choice(activations))
        return Dense(units, act, bool(rng.random() < 0.8), leaky_relu_slope=slope, elu_alpha=alpha)
    if kind == "activation":
        return Activation(str(rng.choice(activations)), leaky_relu_slope=slope, elu_alpha=alpha)
    if kind == "dropout":
        return Dropout(float(rng.uniform(0.0, 0.6)))
    if kind == "layer_norm":
        return LayerNorm(float(rng.uniform(1e-5, 1e-2)))
    if kind == "batch_norm":
        return BatchNorm(float(rng.uniform(0.05, 0.5)), float(rng.uniform(1e-5, 1e-2)))
    inner = [LayerNorm(), Dense(width, str(rng.choice(activations))), Dropout(0.3), BatchNorm()]
    chosen = rng.choice(len(inner), size=int(rng.integers(1, 4)), replace=False)
    return Residual([inner[i] for i in sorted(chosen)])


def random_case(seed: int, activations: list[str] | None = None, n: int = 10) -> Case:
    """A seeded random stack: maybe an Embedding first, 1-4 hidden layers of any type, an output
    (softmax + CCE, sigmoid + BCE or identity + MSE, as a Dense activation or its own layer)."""
    rng = np.random.default_rng(seed)
    activations = activations or HIDDEN_ACTIVATIONS
    n_inputs = int(rng.integers(2, 6))
    layers: list[Layer] = []
    width = n_inputs
    if rng.random() < 0.5:
        columns = sorted(rng.choice(n_inputs, size=int(rng.integers(1, 3)), replace=False))
        cardinalities = [int(k) for k in rng.integers(2, 6, len(columns))]
        dim = int(rng.integers(1, 4))
        layers.append(Embedding([int(c) for c in columns], cardinalities, dim))
        width += len(columns) * (dim - 1)
    for _ in range(int(rng.integers(1, 5))):
        layers.append(random_body_layer(rng, width, activations))
        width = layers[-1].units if isinstance(layers[-1], Dense) else width
    output = OUTPUTS[seed % len(OUTPUTS)]
    activation = output.split("_")[0]
    k = int(rng.integers(1, 4)) if output != "softmax_cce" else int(rng.integers(2, 4))
    if rng.random() < 0.5:
        layers.append(Dense(k, activation))
    else:
        layers += [Dense(k), Activation(activation)]
    return Case(layers, n_inputs, LOSS_OF[output], rng, n, weighted=seed % 2 == 1)


def issue_example() -> tuple[list[Layer], int]:
    """The stack of issue 15's example, narrowed (20 inputs, codes in columns 0 and 3)."""
    layers: list[Layer] = [
        Embedding(columns=[0, 3], cardinalities=[12, 5], dim=4),
        Dense(8),
        BatchNorm(),
        Activation("relu"),
        Dropout(0.1),
        Residual([LayerNorm(), Dense(8, activation="relu"), Dropout(0.1), Dense(8)]),
        Dense(3, activation="softmax"),
    ]
    return layers, 20


# --------------------------------------------------------------------------------------------
# The layout contract
# --------------------------------------------------------------------------------------------


def test_layout_of_the_issue_example_is_the_contract() -> None:
    layers, n_inputs = issue_example()
    model = Sequential(layers, n_inputs)
    # 18 numeric columns + 2·4 embedded = 26 inputs of layer 1; offsets summed by hand
    expected = [
        ("0.table", (17, 4), 0),
        ("1.W", (26, 8), 68),
        ("1.b", (8,), 276),
        ("2.gamma", (8,), 284),
        ("2.beta", (8,), 292),
        ("5.0.gamma", (8,), 300),
        ("5.0.beta", (8,), 308),
        ("5.1.W", (8, 8), 316),
        ("5.1.b", (8,), 380),
        ("5.3.W", (8, 8), 388),
        ("5.3.b", (8,), 452),
        ("6.W", (8, 3), 460),
        ("6.b", (3,), 484),
    ]
    assert model.layout() == expected
    assert model.parameters().shape == (487,)
    state = model.state()
    assert list(state) == ["2.running_mean", "2.running_var"]
    np.testing.assert_array_equal(state["2.running_mean"], np.zeros(8))
    np.testing.assert_array_equal(state["2.running_var"], np.ones(8))


def test_initial_values() -> None:
    """gamma ones, beta zeros, Dense uniform in ±1/√n_in, the table N(0, 1) (by its moments)."""
    model = Sequential([Embedding([0], [400], 50), Dense(300), LayerNorm()], 2)
    arrays = {name: model.parameters()[o : o + math.prod(s)] for name, s, o in model.layout()}
    np.testing.assert_array_equal(arrays["2.gamma"], np.ones(300))
    np.testing.assert_array_equal(arrays["2.beta"], np.zeros(300))
    bound = 1 / math.sqrt(51)
    assert np.all(np.abs(arrays["1.W"]) <= bound) and np.all(np.abs(arrays["1.b"]) <= bound)
    table = arrays["0.table"]  # 20000 draws: mean within 5 standard errors, variance within 5%
    assert abs(table.mean()) < 5 / math.sqrt(table.size) and abs(table.var() - 1) < 0.05
    again = Sequential([Embedding([0], [400], 50), Dense(300), LayerNorm()], 2, seed=0)
    np.testing.assert_array_equal(again.parameters(), model.parameters())  # seeded


# --------------------------------------------------------------------------------------------
# PyTorch mirror (written from the layer configurations, sharing no code with the reference)
# --------------------------------------------------------------------------------------------


def torch_activation(torch: Any, name: str, layer: Any) -> Callable[[Any], Any]:
    F = torch.nn.functional
    slope, alpha = layer.g.leaky_relu_slope, layer.g.elu_alpha
    table: dict[str, Callable[[Any], Any]] = {
        "identity": lambda x: x,
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": torch.relu,
        "leaky_relu": lambda x: F.leaky_relu(x, slope),
        "elu": lambda x: F.elu(x, alpha),
        "gelu": F.gelu,
        "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
        "softplus": lambda x: torch.logaddexp(x, torch.zeros_like(x)),  # exact log(1 + e^x)
        "swish": F.silu,
        "softmax": lambda x: torch.softmax(x, dim=1),
    }
    return table[name]


class TorchMirror:
    """The stack as torch modules (float64), parameters and running statistics copied in."""

    def __init__(self, torch: Any, case: Case) -> None:
        self.torch, self.layers = torch, case.layers
        self.modules = torch.nn.ModuleDict()
        self.named: list[tuple[str, Any, bool]] = []  # (reference name, tensor, transposed)
        for path, layer, width in walk(case.layers, case.n_inputs):
            self._add(path, layer, width)
        self.modules.double()
        self.load(case.model.parameters(), case.model.state())
        self.masks: Mapping[str, np.ndarray] = {}

    def _add(self, path: str, layer: Layer, width: int) -> None:
        nn, key = self.torch.nn, path.replace(".", "_")
        if isinstance(layer, Dense):
            linear = self.modules[key] = nn.Linear(width, layer.units, bias=layer.use_bias)
            self.named.append((f"{path}.W", linear.weight, True))
            if layer.use_bias:
                self.named.append((f"{path}.b", linear.bias, False))
        elif isinstance(layer, (LayerNorm, BatchNorm)):
            if isinstance(layer, LayerNorm):
                norm = nn.LayerNorm(width, eps=layer.eps)
            else:
                norm = nn.BatchNorm1d(width, eps=layer.eps, momentum=layer.momentum)
            self.modules[key] = norm
            self.named += [
                (f"{path}.gamma", norm.weight, False),
                (f"{path}.beta", norm.bias, False),
            ]
        elif isinstance(layer, Embedding):
            embedding = self.modules[key] = nn.Embedding(sum(layer.cardinalities), layer.dim)
            self.named.append((f"{path}.table", embedding.weight, False))

    def load(self, flat: np.ndarray, state: Mapping[str, np.ndarray]) -> None:
        offset = 0
        with self.torch.no_grad():
            for _, tensor, transposed in self.named:
                size = tensor.numel()
                value = flat[offset : offset + size]
                shape = tensor.shape[::-1] if transposed else tensor.shape
                value = value.reshape(shape).T if transposed else value.reshape(shape)
                tensor.copy_(self.torch.from_numpy(np.ascontiguousarray(value)))
                offset += size
            for name, value in state.items():
                path, buffer = name.rsplit(".", 1)
                getattr(self.modules[path.replace(".", "_")], buffer).copy_(
                    self.torch.from_numpy(value)
                )

    def flat(self, gradients: bool = False) -> np.ndarray:
        parts = []
        for _, tensor, transposed in self.named:
            value = (tensor.grad if gradients else tensor).detach().numpy()
            parts.append((value.T if transposed else value).ravel())
        return np.concatenate(parts)

    def state(self) -> dict[str, np.ndarray]:
        return {
            f"{path}.{buffer}": getattr(self.modules[path.replace(".", "_")], buffer).numpy()
            for path, layer, _ in walk(self.layers, 0)
            if isinstance(layer, BatchNorm)
            for buffer in ("running_mean", "running_var")
        }

    def run(self, layers: Sequence[Layer], x: Any, path: str, logits: bool) -> Any:
        """The chain's output; ``logits``: the last layer's activation left out."""
        for index, layer in enumerate(layers):
            here = str(index) if path == "" else f"{path}.{index}"
            last = logits and index == len(layers) - 1
            x = self.layer(layer, x, here, last)
        return x

    def layer(self, layer: Layer, x: Any, path: str, logits: bool) -> Any:
        torch, key = self.torch, path.replace(".", "_")
        module = self.modules[key] if isinstance(layer, (Dense, Embedding)) else None
        if isinstance(layer, Dense):
            z = module(x)
            return z if logits else torch_activation(torch, layer.g.activation, layer)(z)
        if isinstance(layer, Activation):
            return x if logits else torch_activation(torch, layer.g.activation, layer)(x)
        if isinstance(layer, Dropout):
            mask = self.masks.get(path)
            return x * torch.from_numpy(mask) if self.modules.training and mask is not None else x
        if isinstance(layer, Residual):
            return x + self.run(layer.layers, x, path, False)
        if isinstance(layer, Embedding):
            numeric = [c for c in range(x.shape[1]) if c not in layer.columns]
            blocks, offset = [x[:, numeric]], 0
            for column, cardinality in zip(layer.columns, layer.cardinalities, strict=True):
                blocks.append(module(x[:, column].long() + offset))
                offset += cardinality
            return torch.cat(blocks, dim=1)
        return self.modules[key](x)  # LayerNorm, BatchNorm1d

    def loss(self, case: Case, X: np.ndarray, Y: np.ndarray, weights: np.ndarray | None) -> Any:
        """The weighted mean of the per-sample losses, each in torch's own formula."""
        torch, F = self.torch, self.torch.nn.functional
        fused = case.loss != "mean_squared_error"
        out = self.run(self.layers, torch.from_numpy(X), "", logits=fused)
        y = torch.from_numpy(Y)
        if case.loss == "categorical_cross_entropy":
            per_sample = F.cross_entropy(out, y, reduction="none")  # −Σ y·log softmax(z)
        elif case.loss == "binary_cross_entropy":
            per_sample = F.binary_cross_entropy_with_logits(out, y, reduction="none").mean(1)
        elif weights is None:
            return F.mse_loss(out, y)  # torch's MSELoss: the mean over samples and outputs
        else:
            per_sample = ((out - y) ** 2).mean(1)
        if weights is None:
            return per_sample.mean()
        w = torch.from_numpy(weights)
        return (w * per_sample).sum() / w.sum()

    def output(self, X: np.ndarray) -> np.ndarray:
        with self.torch.no_grad():
            return self.run(self.layers, self.torch.from_numpy(X), "", False).numpy()


def mirror(case: Case) -> TorchMirror:
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    torch_mirror = TorchMirror(torch, case)
    assert [name for name, _, _ in torch_mirror.named] == [n for n, _, _ in case.model.layout()]
    return torch_mirror


def mirrored_in_training(seed: int) -> tuple[Case, TorchMirror, dict[str, np.ndarray]]:
    """random_case(seed), its torch mirror in train() mode, and the masks both use."""
    case = random_case(seed)
    torch_model = mirror(case)
    torch_model.masks = case.masks(len(case.X))
    torch_model.modules.train()
    return case, torch_model, dict(torch_model.masks)


def close(actual: Any, expected: Any, what: str) -> None:
    assert_close_scaled(actual, expected, TORCH_RTOL, TORCH_ATOL_SCALE, what)


# --------------------------------------------------------------------------------------------
# Against PyTorch
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_forward_matches_torch(seed: int) -> None:
    case, torch_model, masks = mirrored_in_training(seed)
    close(case.model.forward(case.X, True, masks), torch_model.output(case.X), "training")
    torch_model.load(case.parameters, case.state)  # torch's train() forward moved them
    torch_model.modules.eval()  # running statistics (random ones), no dropout
    close(case.model.forward(case.X, False, masks), torch_model.output(case.X), "inference")


@pytest.mark.parametrize("seed", SEEDS)
def test_loss_and_gradient_match_torch_autograd(seed: int) -> None:
    case, torch_model, masks = mirrored_in_training(seed)
    torch_loss = torch_model.loss(case, case.X, case.Y, case.sample_weight)
    torch_loss.backward()
    model, loss = case.model, case.loss
    close(
        model.loss(case.X, case.Y, loss, case.sample_weight, training=True, masks=masks),
        torch_loss.item(),
        "loss",
    )
    gradient = model.gradient(case.X, case.Y, loss, case.sample_weight, masks=masks)
    close(gradient, torch_model.flat(gradients=True), "flat gradient")


@pytest.mark.parametrize("seed", SEEDS)
def test_sgd_steps_match_torch(seed: int) -> None:
    """Two epochs of plain SGD, batches of 4 rows in order (4, 4, 2), running statistics too."""
    case = random_case(seed)
    torch_model = mirror(case)
    torch = torch_model.torch
    learning_rate, epochs, batch = 0.05, 2, 4
    batches = [slice(start, start + batch) for _ in range(epochs) for start in range(0, 10, batch)]
    masks = [case.masks(len(case.X[rows])) for rows in batches]
    steps = case.model.fit(
        case.X, case.Y, case.loss, learning_rate, epochs, batch, case.sample_weight, masks=masks
    )
    assert len(steps) == len(masks) == 6
    optimizer = torch.optim.SGD(torch_model.modules.parameters(), lr=learning_rate)
    torch_model.modules.train()
    for index, (step, rows) in enumerate(zip(steps, batches, strict=True)):
        weights = None if case.sample_weight is None else case.sample_weight[rows]
        torch_model.masks = masks[index]
        optimizer.zero_grad()
        torch_loss = torch_model.loss(case, case.X[rows], case.Y[rows], weights)
        torch_loss.backward()
        optimizer.step()
        close(step.loss, torch_loss.item(), f"step {index}: loss")
        close(step.parameters, torch_model.flat(), f"step {index}: parameters")
        for name, value in torch_model.state().items():
            close(step.state[name], value, f"step {index}: {name}")
    np.testing.assert_array_equal(case.model.parameters(), case.parameters)  # model unchanged


# --------------------------------------------------------------------------------------------
# Against finite differences
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_gradient_matches_central_finite_differences(seed: int) -> None:
    """dL/dθ_j ≈ (L(θ + h·e_j) − L(θ − h·e_j)) / 2h on the training-mode loss, smooth stacks."""
    case = random_case(seed, activations=SMOOTH_ACTIVATIONS, n=6)
    masks = case.masks(len(case.X))
    gradient = case.model.gradient(case.X, case.Y, case.loss, case.sample_weight, masks=masks)

    def loss_at(theta: np.ndarray) -> float:
        model = Sequential(case.layers, case.n_inputs, parameters=theta, state=case.state)
        return model.loss(case.X, case.Y, case.loss, case.sample_weight, training=True, masks=masks)

    numeric = np.empty_like(gradient)
    for j in range(len(gradient)):
        step = np.zeros_like(gradient)
        step[j] = FD_STEP
        numeric[j] = (loss_at(case.parameters + step) - loss_at(case.parameters - step)) / (
            2 * FD_STEP
        )
    np.testing.assert_allclose(gradient, numeric, rtol=FD_RTOL, atol=FD_ATOL)


# --------------------------------------------------------------------------------------------
# Against the MLP reference and hand-computed values
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hidden", "output", "loss", "use_bias", "weighted"),
    [
        ("tanh", "identity", "mean_squared_error", True, False),
        ("relu", "softmax", "categorical_cross_entropy", True, True),
        ("leaky_relu", "sigmoid", "binary_cross_entropy", False, False),
        ("gelu", "softplus", "huber", True, True),
        ("elu", "tanh", "mean_absolute_error", True, False),
    ],
)
def test_dense_stack_is_the_mlp_reference(
    hidden: str, output: str, loss: str, use_bias: bool, weighted: bool
) -> None:
    """A Sequential of Dense layers computes numpy_reference's forward, backward and fit."""
    rng = np.random.default_rng(7)
    widths = [3, 5, 4, 2]
    weights = [rng.normal(size=(a, b)) for a, b in itertools.pairwise(widths)]
    biases = [rng.normal(size=b) for b in widths[1:]] if use_bias else None
    activations = [hidden, hidden, output]
    flat = np.concatenate(
        [p.ravel() for i, W in enumerate(weights) for p in ([W, biases[i]] if biases else [W])]
    )
    layers: list[Layer] = [
        Dense(k, a, use_bias) for k, a in zip(widths[1:], activations, strict=True)
    ]
    model = Sequential(layers, 3, parameters=flat)
    X = rng.normal(size=(7, 3))
    Y = random_targets(loss, 7, 2, rng)
    w = rng.uniform(0.1, 2, 7) if weighted else None
    _, As = nref.forward(weights, biases, X, activations)
    assert_close_scaled(model.forward(X, False), As[-1], MLP_RTOL, MLP_RTOL, "forward")
    dWs, dbs = nref.backward(weights, biases, X, Y, activations, loss, sample_weight=w)
    expected = np.concatenate(
        [g.ravel() for i, dW in enumerate(dWs) for g in ([dW, dbs[i]] if dbs else [dW])]
    )
    assert_close_scaled(model.gradient(X, Y, loss, w), expected, MLP_RTOL, MLP_RTOL, "gradient")
    fitted_W, fitted_b, _ = nref.fit(
        weights, biases, X, Y, activations, loss, 0.1, 2, 3, sample_weight=w
    )
    fitted = np.concatenate(
        [p.ravel() for i, W in enumerate(fitted_W) for p in ([W, fitted_b[i]] if fitted_b else [W])]
    )
    steps = model.fit(X, Y, loss, 0.1, 2, 3, w)
    assert_close_scaled(steps[-1].parameters, fitted, MLP_RTOL, MLP_RTOL, "fit")


def test_embedding_by_hand() -> None:
    """Columns 2 and 0 (in that order) with cardinalities 3 and 2: offsets 0 and 3."""
    table = np.arange(10.0).reshape(5, 2)  # rows 0-2: column 2's codes, rows 3-4: column 0's
    model = Sequential([Embedding([2, 0], [3, 2], 2)], 3, parameters=table.ravel())
    X = np.array([[1.0, 0.5, 2.0], [0.0, -1.5, 2.0]])
    expected = np.array([[0.5, 4.0, 5.0, 8.0, 9.0], [-1.5, 4.0, 5.0, 6.0, 7.0]])
    np.testing.assert_array_equal(model.forward(X, False), expected)
    # loss = mean of (output − 0)²: dL/dout = 2·out/(n·k) = out/5; code 2 of column 2 twice
    dout = expected / 5
    dtable = np.zeros((5, 2))
    dtable[2] = dout[0, 1:3] + dout[1, 1:3]  # column 2, code 2, both rows: added twice
    dtable[4] = dout[0, 3:5]  # column 0, code 1
    dtable[3] = dout[1, 3:5]  # column 0, code 0
    gradient = model.gradient(X, np.zeros((2, 5)), "mean_squared_error")
    np.testing.assert_allclose(gradient, dtable.ravel(), rtol=1e-15)


def test_batch_norm_by_hand() -> None:
    """One feature, the batch [1, 3]: μ = 2, σ² = 1 (biased), 2 (unbiased); γ = 2, β = 1."""
    eps = 1e-5
    model = Sequential([BatchNorm(momentum=0.25, eps=eps)], 1, parameters=[2.0, 1.0])
    X = np.array([[1.0], [3.0]])
    x_hat = np.array([[-1.0], [1.0]]) / math.sqrt(1 + eps)
    np.testing.assert_allclose(model.forward(X, True), 2 * x_hat + 1, rtol=1e-15)
    inference = 2 * X / math.sqrt(1 + eps) + 1  # running statistics 0 and 1
    np.testing.assert_allclose(model.forward(X, False), inference, rtol=1e-15)
    step = model.fit(X, np.zeros((2, 1)), "mean_squared_error", 0.0, 1, 2)[0]
    np.testing.assert_allclose(step.state["0.running_mean"], [0.75 * 0 + 0.25 * 2], rtol=1e-15)
    np.testing.assert_allclose(step.state["0.running_var"], [0.75 * 1 + 0.25 * 2], rtol=1e-15)


def test_dropout_masks_and_modes() -> None:
    model = Sequential([Dropout(0.5)], 2)
    X = np.array([[1.0, 2.0], [3.0, 4.0]])
    M = np.array([[2.0, 0.0], [0.0, 2.0]])
    np.testing.assert_array_equal(model.forward(X, True, {"0": M}), X * M)
    np.testing.assert_array_equal(model.forward(X, True), X)  # no masks: dropout off
    np.testing.assert_array_equal(model.forward(X, False, {"0": M}), X)  # inference: identity
    gradient_model = Sequential([Dropout(0.5), Dense(1, use_bias=False)], 2, parameters=[1.0, 1.0])
    # L = mean((X⊙M)·w)² ... dL/dw = (X⊙M)ᵀ·2(X⊙M)w/n
    A = X * M
    expected = A.T @ (2 * A @ np.ones((2, 1)) / 2)
    got = gradient_model.gradient(X, np.zeros((2, 1)), "mean_squared_error", masks={"0": M})
    np.testing.assert_allclose(got, expected.ravel(), rtol=1e-15)


# --------------------------------------------------------------------------------------------
# Purity, dtypes, independence
# --------------------------------------------------------------------------------------------


def test_calls_change_nothing() -> None:
    case = random_case(3)
    masks = case.masks(len(case.X))
    X, Y = case.X.copy(), case.Y.copy()
    case.model.forward(case.X, True, masks)
    case.model.gradient(case.X, case.Y, case.loss, case.sample_weight, masks=masks)
    case.model.fit(case.X, case.Y, case.loss, 0.1, 1, 4, case.sample_weight)
    np.testing.assert_array_equal(case.model.parameters(), case.parameters)
    for name, value in case.model.state().items():
        np.testing.assert_array_equal(value, case.state[name])
    np.testing.assert_array_equal(case.X, X)
    np.testing.assert_array_equal(case.Y, Y)
    with pytest.raises(ValueError, match="batch of one row"):  # BatchNorm's last batch: 1 row
        Sequential([BatchNorm()], 1).fit(np.ones((3, 1)), np.ones((3, 1)), "huber", 0.1, 1, 2)


@pytest.mark.parametrize("seed", range(6))
def test_float32_agrees_with_float64(seed: int) -> None:
    case = random_case(seed, activations=SMOOTH_ACTIVATIONS)
    masks = case.masks(len(case.X))
    single = Sequential(
        case.layers, case.n_inputs, dtype="float32", parameters=case.parameters, state=case.state
    )
    output = single.forward(case.X, True, masks)
    gradient = single.gradient(case.X, case.Y, case.loss, case.sample_weight, masks=masks)
    assert output.dtype == np.float32 and gradient.dtype == np.float32
    assert_close_scaled(
        output, case.model.forward(case.X, True, masks), FLOAT32_RTOL, FLOAT32_RTOL, "output"
    )
    expected = case.model.gradient(case.X, case.Y, case.loss, case.sample_weight, masks=masks)
    assert_close_scaled(gradient, expected, FLOAT32_RTOL, FLOAT32_RTOL, "gradient")


def test_the_reference_imports_only_numpy_and_itself() -> None:
    """No module of the package imports the native core (or anything outside the reference)."""
    allowed = {"__future__", "abc", "collections", "dataclasses", "math", "numpy", "typing"}
    folder = Path(layers_package.__file__).parent
    for file in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
                assert roots <= allowed, f"{file.name} imports {roots - allowed}"
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                assert node.module is not None and node.module.split(".")[0] in allowed, file.name
            elif isinstance(node, ast.ImportFrom):  # relative: siblings or ..numpy_reference
                assert node.level == 1 or node.module == "numpy_reference", file.name


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------

CONSTRUCTOR_ERRORS: list[tuple[Callable[[], object], type[Exception], str]] = [
    (lambda: Dense(0), ValueError, "Dense: units must be >= 1"),
    (lambda: Dense(2.0), TypeError, "Dense: units must be an int"),  # type: ignore[arg-type]
    (lambda: Dense(True), TypeError, "Dense: units"),
    (lambda: Dense(2, "swishy"), ValueError, "Dense: unknown activation 'swishy'"),
    (lambda: Dense(2, use_bias=1), TypeError, "Dense: use_bias must be a bool"),  # type: ignore[arg-type]
    (lambda: Dense(2, leaky_relu_slope=-1), ValueError, "Dense: leaky_relu_slope"),
    (lambda: Activation("relu", elu_alpha=0), ValueError, "Activation: elu_alpha must be > 0"),
    (lambda: Activation(3), TypeError, "Activation: activation must be a str"),  # type: ignore[arg-type]
    (lambda: Dropout(1.0), ValueError, r"Dropout: rate must be in \[0.0, 1.0\)"),
    (lambda: Dropout(float("nan")), ValueError, "Dropout: rate"),
    (lambda: Dropout("0.1"), TypeError, "Dropout: rate must be a number"),  # type: ignore[arg-type]
    (lambda: LayerNorm(0.0), ValueError, "LayerNorm: eps must be > 0"),
    (lambda: BatchNorm(momentum=1.5), ValueError, "BatchNorm: momentum"),
    (lambda: BatchNorm(eps=-1.0), ValueError, "BatchNorm: eps"),
    (lambda: Residual([]), ValueError, "Residual: layers must not be empty"),
    (lambda: Residual([Dense(2), "relu"]), TypeError, r"Residual: layers\[1\] is not a layer"),  # type: ignore[list-item]
    (lambda: Embedding([], [], 2), ValueError, "Embedding: columns must not be empty"),
    (lambda: Embedding(0, [2], 2), TypeError, "Embedding: columns must be a list"),  # type: ignore[arg-type]
    (lambda: Embedding([0, 1], [2], 2), ValueError, "Embedding: cardinalities must have one"),
    (lambda: Embedding([0, 0], [2, 2], 2), ValueError, "Embedding: columns must be distinct"),
    (lambda: Embedding([0], [0], 2), ValueError, "Embedding: cardinalities entry must be >= 1"),
    (lambda: Embedding([-1], [2], 2), ValueError, "Embedding: columns entry must be >= 0"),
    (lambda: Embedding([0], [2], 0), ValueError, "Embedding: dim must be >= 1"),
    (lambda: Sequential([], 2), ValueError, "Sequential: layers must not be empty"),
    (lambda: Sequential([Dense(1)], 0), ValueError, "Sequential: n_inputs must be >= 1"),
    (lambda: Sequential([Dense(1)], 2, dtype="int32"), ValueError, "dtype must be float32"),
]


@pytest.mark.parametrize(("make", "error", "message"), CONSTRUCTOR_ERRORS)
def test_constructor_errors_name_the_argument(
    make: Callable[[], object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        make()


BUILD_ERRORS: list[tuple[list[Layer], str]] = [
    ([Dense(3), Residual([Dense(2)])], r"layer 1 \(Residual\): its layers turn 3 features into 2"),
    ([Dense(3), Embedding([0], [2], 2)], r"layer 1 \(Embedding\): an Embedding must be the"),
    ([Residual([Embedding([0], [2], 1)])], r"layer 0.0 \(Embedding\): an Embedding must be"),
    ([Embedding([4], [2], 2)], r"layer 0 \(Embedding\): columns \[4\] must be below .* 4"),
    ([Dense(3, "softmax"), Dense(2)], r"layer 0 \(Dense\): softmax is only available in"),
    ([Residual([Activation("softmax")])], r"layer 0.0 \(Activation\): softmax is only"),
]


@pytest.mark.parametrize(("layers", "message"), BUILD_ERRORS)
def test_build_errors_name_the_layer_by_path(layers: list[Layer], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Sequential(layers, 4)


@pytest.mark.parametrize(
    ("code", "column"), [(2.5, 3), (-1.0, 3), (5.0, 3), (float("nan"), 3), (12.0, 0)]
)
def test_bad_embedding_codes_name_the_column(code: float, column: int) -> None:
    model = Sequential([Embedding([0, 3], [12, 5], 2), Dense(1)], 4)
    X = np.array([[1.0, 0.0, 0.0, 4.0], [11.0, 0.0, 0.0, 0.0]])
    model.forward(X, False)  # the largest codes are valid
    X[1, column] = code
    with pytest.raises(ValueError, match=rf"column {column} holds"):  # nan: "X must be finite"
        model.forward(X, False)


def test_input_errors() -> None:
    model = Sequential([Dense(2), Dropout(0.5), BatchNorm(), Dense(2, "softmax")], 3)
    X, Y = np.ones((4, 3)), np.eye(2)[[0, 1, 0, 1]]
    cce = "categorical_cross_entropy"
    keep = np.full((4, 2), 2.0)
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: model.forward(np.ones((4, 2)), False), "X has 2 columns, expected n_inputs=3"),
        (lambda: model.forward(np.ones(3), False), "X must be 2-dimensional"),
        (lambda: model.forward(np.full((4, 3), np.inf), False), "X must be finite: column 0"),
        (lambda: model.gradient(X, Y[:3], cce), r"Y must have shape \(4, 2\)"),
        (lambda: model.gradient(X, Y, "mean_squared_errors"), "unknown loss"),
        (lambda: model.gradient(X, Y, "binary_cross_entropy"), "requires a 'sigmoid' output"),
        (lambda: model.gradient(X[:1], Y[:1], cce), r"layer 2 \(BatchNorm\): a batch of one row"),
        (lambda: model.gradient(X, Y, cce, [1.0, -1.0, 1.0, 1.0]), "sample_weight must be"),
        (lambda: model.forward(X, True, {"2": keep}), r"masks must be None or a dict .*\['1'\]"),
        (lambda: model.forward(X, True, {"1": keep[:2]}), r"layer 1 \(Dropout\): the mask has"),
        (lambda: model.forward(X, True, {"1": keep / 2}), r"layer 1 \(Dropout\): every mask"),
        (lambda: model.fit(X, Y, cce, 0.1, 2, 2, masks=[{"1": keep}]), r"one dict per step \(4\)"),
        (lambda: model.fit(X, Y, cce, -0.1, 1, 2), "fit: learning_rate"),
        (lambda: model.fit(X, Y, cce, 0.1, 1, 0), "fit: batch_size must be >= 1"),
        (lambda: Sequential(model.layers, 3, parameters=np.ones(5)), r"parameters must have shape"),
        (lambda: Sequential(model.layers, 3, state={}), r"state must be a dict with the keys"),
    ]
    with pytest.raises(TypeError, match="forward: training must be a bool"):
        model.forward(X, 1)  # type: ignore[arg-type]
    before = model.parameters(), model.state()
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()
    np.testing.assert_array_equal(model.parameters(), before[0])  # nothing changed
    for name, value in model.state().items():
        np.testing.assert_array_equal(value, before[1][name])
