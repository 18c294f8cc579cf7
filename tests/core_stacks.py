"""Test helpers: a stack of ``nncore.reference.layers`` as the core's layers, and as torch code.

* :func:`core_sequential` builds ``_core.SequentialF32/F64`` of the same layers with the same flat
  parameters (the layout contract makes both vectors the same);
* :func:`core_masks` draws the dropout masks exactly as the core's training loop does (each
  Dropout layer in forward order, depth first, row by row from the model's generator), so that
  the reference's ``fit`` can be given the masks of the core's;
* :func:`central_differences` of a core Sequential's training-mode loss;
* :func:`torch_output` runs the stack in torch from a flat parameter tensor (``requires_grad``:
  its ``.grad`` is then the flat gradient in the layout's order).

Only the layer types Dense, Activation, Dropout, LayerNorm, BatchNorm and Residual are covered
(torch_output's BatchNorm normalises with the batch's statistics: training mode).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from nncore import _core
from nncore.reference.layers import (
    Activation,
    BatchNorm,
    Dense,
    Dropout,
    Layer,
    LayerNorm,
    Residual,
    Sequential,
)

_BY_DTYPE: dict[Any, dict[str, Any]] = {
    np.float32: {
        "Dense": _core.DenseF32,
        "Activation": _core.ActivationF32,
        "Dropout": _core.DropoutF32,
        "LayerNorm": _core.LayerNormF32,
        "BatchNorm": _core.BatchNormF32,
        "Residual": _core.ResidualF32,
        "Sequential": _core.SequentialF32,
        "SGD": _core.SGDF32,
    },
    np.float64: {
        "Dense": _core.DenseF64,
        "Activation": _core.ActivationF64,
        "Dropout": _core.DropoutF64,
        "LayerNorm": _core.LayerNormF64,
        "BatchNorm": _core.BatchNormF64,
        "Residual": _core.ResidualF64,
        "Sequential": _core.SequentialF64,
        "SGD": _core.SGDF64,
    },
}


def core_class(dtype: Any, name: str) -> Any:
    """The core's class ``name`` ("Dense", "Sequential", "SGD", ...) for float32 or float64."""
    return _BY_DTYPE[np.dtype(dtype).type][name]


def core_layers(layers: Sequence[Layer], width: int, dtype: Any) -> tuple[list[Any], int]:
    """The core's layers for reference ``layers`` taking ``width`` features; and their output
    width."""
    made = []
    for layer in layers:
        if isinstance(layer, Dense):
            g, dense = layer.g, core_class(dtype, "Dense")
            made.append(
                dense(
                    width,
                    layer.units,
                    g.activation,
                    g.leaky_relu_slope,
                    g.elu_alpha,
                    layer.use_bias,
                )
            )
            width = layer.units
        elif isinstance(layer, Activation):
            g = layer.g
            activation = core_class(dtype, "Activation")
            made.append(activation(width, g.activation, g.leaky_relu_slope, g.elu_alpha))
        elif isinstance(layer, Dropout):
            made.append(core_class(dtype, "Dropout")(width, layer.rate))
        elif isinstance(layer, LayerNorm):
            made.append(core_class(dtype, "LayerNorm")(width, layer.eps))
        elif isinstance(layer, BatchNorm):
            made.append(core_class(dtype, "BatchNorm")(width, layer.momentum, layer.eps))
        elif isinstance(layer, Residual):
            inner, _ = core_layers(layer.layers, width, dtype)
            made.append(core_class(dtype, "Residual")(inner))
        else:
            raise TypeError(f"no core layer for {type(layer).__name__}")
    return made, width


def core_sequential(reference: Sequential) -> Any:
    """The core's Sequential of the reference model's layers, with its parameters and state."""
    layers, _ = core_layers(reference.layers, reference.n_inputs, reference.dtype)
    sequential = core_class(reference.dtype, "Sequential")(layers)
    assert sequential.parameter_layout == reference.layout()
    sequential.parameters[:] = reference.parameters()
    sequential.state[:] = flat_state(sequential, reference.state())
    return sequential


def flat_state(sequential: Any, state: Mapping[str, np.ndarray]) -> np.ndarray:
    """The reference's state dict as the core Sequential's flat state (its state_layout)."""
    assert sorted(name for name, _, _ in sequential.state_layout) == sorted(state)
    parts = [np.asarray(state[name]).ravel() for name, _, _ in sequential.state_layout]
    return np.concatenate(parts) if parts else np.zeros(0, sequential.state.dtype)


def dropout_layers(layers: Sequence[Layer], path: str = "") -> list[tuple[str, Dropout]]:
    """Every Dropout layer with its path, in forward order (depth first)."""
    found: list[tuple[str, Dropout]] = []
    for index, layer in enumerate(layers):
        here = str(index) if path == "" else f"{path}.{index}"
        if isinstance(layer, Dropout):
            found.append((here, layer))
        elif isinstance(layer, Residual):
            found += dropout_layers(layer.layers, here)
    return found


def core_masks(
    reference: Sequential, seed: int, batch_rows: Sequence[int], dtype: Any
) -> list[dict[str, np.ndarray]]:
    """The masks of the core's fit with ``_core.Random(seed)`` and shuffle=False, one dict per
    batch (``batch_rows``: each batch's rows): M_ij = 1/(1 − p) if u < 1 − p else 0, u the
    generator's uniform01 draws, row by row, layer after layer."""
    random, masks = _core.Random(seed), []
    dropouts = [(path, layer) for path, layer in dropout_layers(reference.layers) if layer.rate > 0]
    widths = dict(layer_widths(reference.layers, reference.n_inputs))
    for rows in batch_rows:
        step = {}
        for path, layer in dropouts:
            keep = 1.0 - layer.rate
            draws = np.array([random.uniform01() for _ in range(rows * widths[path])])
            kept = np.where(draws < keep, np.asarray(1.0 / keep, dtype), 0).astype(dtype)
            step[path] = kept.reshape(rows, widths[path])
        for path, _ in dropout_layers(reference.layers):
            step.setdefault(path, np.ones((rows, widths[path]), dtype))  # rate 0: all kept
        masks.append(step)
    return masks


def layer_widths(layers: Sequence[Layer], width: int, path: str = "") -> list[tuple[str, int]]:
    """(path, input width) of every layer, depth first."""
    found: list[tuple[str, int]] = []
    for index, layer in enumerate(layers):
        here = str(index) if path == "" else f"{path}.{index}"
        found.append((here, width))
        if isinstance(layer, Residual):
            found += layer_widths(layer.layers, width, here)
        elif isinstance(layer, Dense):
            width = layer.units
    return found


def batches(n: int, batch_size: int, epochs: int) -> list[int]:
    """The rows of each batch of an unshuffled fit."""
    return [min(batch_size, n - start) for start in range(0, n, batch_size)] * epochs


def core_fit(
    reference: Sequential,
    X: np.ndarray,
    Y: np.ndarray,
    loss: str,
    learning_rate: float,
    epochs: int,
    batch_size: int,
    weights: np.ndarray | None = None,
    seed: int = 0,
) -> Any:
    """The core's fit (plain SGD, shuffle=False) of the reference model's stack, from its
    parameters; returns the trained core Sequential."""
    sequential = core_sequential(reference)
    options = _core.FitOptions(epochs=epochs, batch_size=batch_size, shuffle=False, loss=loss)
    data = (X, Y, np.zeros(0, reference.dtype) if weights is None else weights)
    optimizer = core_class(reference.dtype, "SGD")(learning_rate)
    _core.fit(sequential, optimizer, _core.Random(seed), data, None, options)
    return sequential


def central_differences(sequential: Any, X: np.ndarray, Y: np.ndarray, loss: str) -> np.ndarray:
    """(L(θ + h e_i) − L(θ − h e_i)) / 2h for every parameter, h = 1e-6, L the core's weighted
    mean loss in training mode (``gradient``'s first value); θ is restored afterwards."""
    theta, h, weights = sequential.parameters.copy(), 1e-6, np.zeros(0, X.dtype)
    differences = np.empty_like(theta)
    for i in range(theta.size):
        values = []
        for sign in (1.0, -1.0):
            sequential.parameters[:] = theta
            sequential.parameters[i] += sign * h
            values.append(sequential.gradient(X, Y, weights, loss, 1.0)[0])
        differences[i] = (values[0] - values[1]) / (2 * h)
    sequential.parameters[:] = theta
    return differences


def torch_activation(torch: Any, layer: Dense | Activation) -> Any:
    """g of the layer, in torch's own functions."""
    F, g = torch.nn.functional, layer.g
    return {
        "identity": lambda z: z,
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": torch.relu,
        "leaky_relu": lambda z: F.leaky_relu(z, g.leaky_relu_slope),
        "elu": lambda z: F.elu(z, g.elu_alpha),
        "gelu": F.gelu,
        "gelu_tanh": lambda z: F.gelu(z, approximate="tanh"),
        "softplus": lambda z: torch.logaddexp(z, torch.zeros_like(z)),
        "swish": F.silu,
        "softmax": lambda z: torch.softmax(z, dim=1),
    }[g.activation]


def torch_output(
    torch: Any,
    reference: Sequential,
    x: Any,
    flat: Any,
    masks: Mapping[str, np.ndarray] | None = None,
    logits: bool = False,
) -> Any:
    """The stack's output in torch, its parameters slices of the tensor ``flat`` (the layout's
    order); ``logits``: the last layer's activation left out."""
    F = torch.nn.functional
    arrays = {
        name: flat[offset : offset + math.prod(shape)].reshape(shape)
        for name, shape, offset in reference.layout()
    }

    def run(layers: Sequence[Layer], x: Any, path: str, logits: bool) -> Any:
        for index, layer in enumerate(layers):
            here = str(index) if path == "" else f"{path}.{index}"
            last = logits and index == len(layers) - 1
            if isinstance(layer, Dense):
                x = x @ arrays[f"{here}.W"] + (arrays[f"{here}.b"] if layer.use_bias else 0.0)
            if isinstance(layer, (Dense, Activation)) and not last:
                x = torch_activation(torch, layer)(x)
            elif isinstance(layer, Dropout) and masks is not None:
                x = x * torch.from_numpy(masks[here])
            elif isinstance(layer, LayerNorm):
                gamma, beta = arrays[f"{here}.gamma"], arrays[f"{here}.beta"]
                x = F.layer_norm(x, gamma.shape, gamma, beta, layer.eps)
            elif isinstance(layer, BatchNorm):
                gamma, beta = arrays[f"{here}.gamma"], arrays[f"{here}.beta"]
                x = F.batch_norm(x, None, None, gamma, beta, training=True, eps=layer.eps)
            elif isinstance(layer, Residual):
                x = x + run(layer.layers, x, here, False)
        return x

    return run(reference.layers, x, "", logits)


def torch_loss(torch: Any, out: Any, Y: np.ndarray, weights: np.ndarray, loss: str) -> Any:
    """The weighted mean loss ``Σ w_i ℓ_i / Σ w_i`` of the outputs ``out`` (logits for a fused
    cross-entropy) against ``Y``, each ``ℓ_i`` in torch's own formula."""
    F = torch.nn.functional
    y, w = torch.from_numpy(Y), torch.from_numpy(weights)
    if loss == "categorical_cross_entropy":
        per_sample = F.cross_entropy(out, y, reduction="none")
    elif loss == "binary_cross_entropy":
        per_sample = F.binary_cross_entropy_with_logits(out, y, reduction="none").mean(1)
    else:
        per_sample = ((out - y) ** 2).mean(1)
    return (w * per_sample).sum() / w.sum()
