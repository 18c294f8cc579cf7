"""Conversion to and from PyTorch: ``model.to_torch()`` and ``nncore.from_torch(module)``.

``to_torch`` gives a ``torch.nn.Sequential`` of the model's dtype, in eval mode, whose output
is ``model.forward``'s: a ``Dense`` becomes ``nn.Linear`` (``weight = Wᵀ``) followed by its
activation's module (none for the identity), ``Dropout`` ``nn.Dropout``, ``LayerNorm``
``nn.LayerNorm``, ``BatchNorm`` ``nn.BatchNorm1d`` (running statistics and momentum included),
``Residual`` a ``Residual`` module (``x + body(x)``) and ``Embedding`` a ``ColumnEmbedding``
module (both defined here, when torch is first needed). The activations are those of
``TORCH_ACTIVATIONS``; PyTorch's ``nn.Softplus`` returns ``z`` itself above ``z = 20``, where
nncore's exact ``max(z, 0) + log1p(e^−|z|)`` differs from it by below ``2.1e-9``.

``from_torch`` takes the subset nncore has: ``nn.Linear`` (with the activation module after it
merged into one ``Dense``), the activation modules of ``TORCH_ACTIVATIONS``, ``nn.LayerNorm``
over the last dimension, ``nn.BatchNorm1d`` with running statistics, ``nn.Dropout``,
``nn.Identity``, nested ``nn.Sequential`` and the two modules above; anything else is a
``ValueError`` naming the module. PyTorch is imported only when one of these is called.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from . import layers as L
from ._model_arrays import ModelArrays, check_model
from .model_file import MODELS

#: Each name of ``nncore.ACTIVATIONS`` as a ``torch.nn`` module: ``(nn, leaky_relu_slope,
#: elu_alpha) -> module`` (the test checks that none is missing).
TORCH_ACTIVATIONS: dict[str, Callable[[Any, float, float], Any]] = {
    "identity": lambda nn, slope, alpha: nn.Identity(),
    "sigmoid": lambda nn, slope, alpha: nn.Sigmoid(),
    "tanh": lambda nn, slope, alpha: nn.Tanh(),
    "relu": lambda nn, slope, alpha: nn.ReLU(),
    "leaky_relu": lambda nn, slope, alpha: nn.LeakyReLU(slope),
    "elu": lambda nn, slope, alpha: nn.ELU(alpha),
    "gelu": lambda nn, slope, alpha: nn.GELU(),
    "gelu_tanh": lambda nn, slope, alpha: nn.GELU(approximate="tanh"),
    "softplus": lambda nn, slope, alpha: nn.Softplus(),
    "swish": lambda nn, slope, alpha: nn.SiLU(),
    "softmax": lambda nn, slope, alpha: nn.Softmax(dim=1),
}


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise ImportError("converting to or from PyTorch needs torch: pip install torch") from None
    return torch


@functools.cache
def modules() -> Any:
    """The torch modules of the layers PyTorch has no module for (defined on first use, so
    that importing nncore never imports torch): ``Residual`` and ``ColumnEmbedding``."""
    torch = _torch()
    nn = torch.nn
    Module: Any = nn.Module  # (torch's types stop at this boundary)

    class Residual(Module):  # type: ignore[misc]
        """``x + body(x)``: nncore's ``Residual``."""

        def __init__(self, body: Any) -> None:
            super().__init__()
            self.body = body

        def forward(self, x: Any) -> Any:
            return x + self.body(x)

    class ColumnEmbedding(Module):  # type: ignore[misc]
        """nncore's ``Embedding``: the integer codes in ``columns`` of the float input, each
        replaced by its ``dim``-vector of ``table`` (rows ``offset_j + code``), after the
        other columns: ``[x_numeric..., table[offset_0 + x_c0], ...]``."""

        def __init__(self, n_inputs: int, columns: list[int], cardinalities: list[int], dim: int):
            super().__init__()
            self.n_inputs, self.columns = n_inputs, list(columns)
            self.cardinalities, self.dim = list(cardinalities), dim
            self.table = nn.Embedding(sum(cardinalities), dim)
            offsets = np.cumsum([0, *cardinalities[:-1]])
            numeric = [c for c in range(n_inputs) if c not in columns]
            self.register_buffer("offsets", torch.tensor(offsets, dtype=torch.long))
            self.register_buffer("numeric", torch.tensor(numeric, dtype=torch.long))
            self.register_buffer("code_columns", torch.tensor(columns, dtype=torch.long))

        def forward(self, x: Any) -> Any:
            codes = x[:, self.code_columns].long() + self.offsets  # (n, len(columns))
            vectors = self.table(codes).reshape(x.shape[0], -1)  # (n, len(columns)·dim)
            return torch.cat([x[:, self.numeric], vectors], dim=1)

    for cls in (Residual, ColumnEmbedding):  # found by pickle as nncore.torch_convert.<name>
        cls.__module__, cls.__qualname__ = __name__, cls.__name__
    return Residual, ColumnEmbedding


#: The torch modules of ``modules()``, by name, as attributes of this module.
MODULE_NAMES = ("Residual", "ColumnEmbedding")


def __getattr__(name: str) -> Any:
    """``nncore.torch_convert.Residual`` and ``.ColumnEmbedding`` (defined, importing torch, on
    first use): so that ``torch.save``/``pickle`` of a converted module loads anywhere."""
    if name in MODULE_NAMES:
        return modules()[MODULE_NAMES.index(name)]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ------------------------------------------------------------------------------ to torch
class _TorchArrays(ModelArrays):
    """A model's arrays in buffer order, and its dtype as torch's."""

    def __init__(self, model: Any, dtype: Any) -> None:
        super().__init__(model)
        self.dtype = dtype


def _set(torch: Any, target: Any, array: Any) -> None:
    """Copy ``array`` into the tensor ``target`` (of the model's dtype: no rounding)."""
    with torch.no_grad():
        target.copy_(torch.from_numpy(np.ascontiguousarray(array)))


def _torch_layer(
    torch: Any, layer: L.Layer, arrays: _TorchArrays, width: int
) -> tuple[list[Any], int]:
    """The torch modules of one nncore layer taking ``width`` features, and its output width."""
    nn, dtype = torch.nn, arrays.dtype
    if isinstance(layer, L.Dense):
        linear = nn.Linear(width, layer.units, bias=layer.use_bias, dtype=dtype)
        _set(torch, linear.weight, arrays.parameter().T)  # torch: y = x·weightᵀ + bias
        if layer.use_bias:
            _set(torch, linear.bias, arrays.parameter())
        if layer.activation == "identity":
            return [linear], layer.units
        activation = TORCH_ACTIVATIONS[layer.activation]
        return [linear, activation(nn, layer.leaky_relu_slope, layer.elu_alpha)], layer.units
    if isinstance(layer, L.Activation):
        activation = TORCH_ACTIVATIONS[layer.name]
        return [activation(nn, layer.leaky_relu_slope, layer.elu_alpha)], width
    if isinstance(layer, L.Dropout):
        return [nn.Dropout(layer.rate)], width
    if isinstance(layer, (L.LayerNorm, L.BatchNorm)):
        if isinstance(layer, L.LayerNorm):
            norm = nn.LayerNorm(width, eps=layer.eps, dtype=dtype)
        else:
            norm = nn.BatchNorm1d(width, eps=layer.eps, momentum=layer.momentum, dtype=dtype)
            _set(torch, norm.running_mean, arrays.state())
            _set(torch, norm.running_var, arrays.state())
        _set(torch, norm.weight, arrays.parameter())
        _set(torch, norm.bias, arrays.parameter())
        return [norm], width
    if isinstance(layer, L.Residual):
        Residual, _ = modules()
        return [Residual(_torch_chain(torch, layer.layers, arrays, width)[0])], width
    if isinstance(layer, L.Embedding):
        _, ColumnEmbedding = modules()
        embedding = ColumnEmbedding(width, layer.columns, layer.cardinalities, layer.dim)
        embedding.to(dtype)
        _set(torch, embedding.table.weight, arrays.parameter())
        return [embedding], width - len(layer.columns) + len(layer.columns) * layer.dim
    raise ValueError(f"{type(layer).__name__} has no PyTorch conversion")


def _torch_chain(torch: Any, layers: Any, arrays: _TorchArrays, width: int) -> tuple[Any, int]:
    """``torch.nn.Sequential`` of ``layers`` and its output width."""
    converted: list[Any] = []
    for layer in layers:
        built, width = _torch_layer(torch, layer, arrays, width)
        converted += built
    return torch.nn.Sequential(*converted), width


def to_torch(model: Any) -> Any:
    """A ``torch.nn.Sequential`` computing ``model.forward`` (see the module's text), in the
    model's dtype, in eval mode. ``TypeError`` unless ``model`` is an ``nncore.Sequential``."""
    check_model(model)
    torch = _torch()
    dtype = torch.float32 if model.dtype == np.float32 else torch.float64
    with torch.device("cpu"):
        module, _ = _torch_chain(torch, model.layers, _TorchArrays(model, dtype), model.n_inputs)
    return module.eval()


# ------------------------------------------------------------------------------ from torch
def _activation_name(nn: Any, module: Any) -> tuple[str, float, float] | None:
    """The nncore activation that ``module`` is (name, leaky_relu_slope, elu_alpha), or None:
    the entry of ``TORCH_ACTIVATIONS`` that builds an equal module."""
    slope = float(getattr(module, "negative_slope", 0.01))
    alpha = float(getattr(module, "alpha", 1.0))
    if isinstance(module, nn.Softmax) and module.dim == -1:
        return "softmax", slope, alpha  # the same over the rows of a 2-D input
    for name, make in TORCH_ACTIVATIONS.items():
        candidate = make(nn, slope, alpha)
        if type(candidate) is type(module) and candidate.extra_repr() == module.extra_repr():
            return name, slope, alpha
    return None


def _flat(nn: Any, module: Any, path: str) -> list[tuple[str, Any]]:
    """The modules of nested ``nn.Sequential`` containers in order, with their paths."""
    if isinstance(module, nn.Sequential):
        return [
            entry
            for name, child in module.named_children()
            for entry in _flat(nn, child, f"{path}.{name}" if path else name)
        ]
    return [(path or type(module).__name__, module)]


def _numpy(tensor: Any) -> Any:
    return tensor.detach().cpu().double().numpy()


def _refuse(path: str, module: Any, why: str) -> ValueError:
    return ValueError(f"module {path} ({type(module).__name__}): {why}")


class _Converted:
    """The nncore layers of a list of torch modules, with their arrays in nncore's buffer
    order: ``parameters`` (``W``, ``b``, ``gamma``, ``beta``, ``table``) and ``state``."""

    def __init__(self) -> None:
        self.layers: list[L.Layer] = []
        self.parameters: list[Any] = []
        self.state: list[Any] = []


def _convert(nn: Any, entries: list[tuple[str, Any]], into: _Converted) -> _Converted:
    index = 0
    while index < len(entries):
        path, module = entries[index]
        index += 1
        if isinstance(module, nn.Identity):
            continue
        if isinstance(module, nn.Linear):
            follower = entries[index][1] if index < len(entries) else None
            activation = _activation_name(nn, follower) if follower is not None else None
            index += activation is not None  # Linear + activation: one Dense
            name, slope, alpha = activation or ("identity", 0.01, 1.0)
            use_bias = module.bias is not None
            into.layers.append(
                L.Dense(
                    module.out_features, name, use_bias, leaky_relu_slope=slope, elu_alpha=alpha
                )
            )
            into.parameters += [
                _numpy(module.weight).T,
                *([_numpy(module.bias)] if use_bias else []),
            ]
            continue
        activation = _activation_name(nn, module)
        if activation is not None:
            name, slope, alpha = activation
            into.layers.append(L.Activation(name, leaky_relu_slope=slope, elu_alpha=alpha))
            continue
        _convert_other(nn, path, module, into)
    return into


def _convert_other(nn: Any, path: str, module: Any, into: _Converted) -> None:
    residual, embedding = modules()
    if isinstance(module, nn.Dropout):
        into.layers.append(L.Dropout(module.p))
    elif isinstance(module, (nn.LayerNorm, nn.BatchNorm1d)):
        if isinstance(module, nn.LayerNorm):
            if len(module.normalized_shape) != 1:
                raise _refuse(path, module, "nncore normalises over the last dimension only")
            into.layers.append(L.LayerNorm(module.eps))
            width = module.normalized_shape[0]
        else:
            if not module.track_running_stats or module.momentum is None:
                raise _refuse(path, module, "nncore needs running statistics and a momentum")
            into.layers.append(L.BatchNorm(module.momentum, module.eps))
            into.state += [_numpy(module.running_mean), _numpy(module.running_var)]
            width = module.num_features
        weight, bias = module.weight, module.bias
        into.parameters.append(_numpy(weight) if weight is not None else np.ones(width))
        into.parameters.append(_numpy(bias) if bias is not None else np.zeros(width))
    elif isinstance(module, residual):
        inner = _convert(nn, _flat(nn, module.body, f"{path}.body"), _Converted())
        if not inner.layers:
            raise _refuse(path, module, "its body has no layers")
        into.layers.append(L.Residual(inner.layers))
        into.parameters += inner.parameters
        into.state += inner.state
    elif isinstance(module, embedding):
        into.layers.append(L.Embedding(module.columns, module.cardinalities, module.dim))
        into.parameters.append(_numpy(module.table.weight))
    else:
        names = ", ".join(type(make(nn, 0.01, 1.0)).__name__ for make in TORCH_ACTIVATIONS.values())
        raise _refuse(
            path,
            module,
            "nncore has no such layer; from_torch converts Linear (merged with the activation "
            f"after it), the activations {names}, LayerNorm, BatchNorm1d, Dropout and nested "
            "Sequential",
        )


def _input_width(nn: Any, entries: list[tuple[str, Any]]) -> int | None:
    """The input width the first sized module of ``entries`` says (None: none says)."""
    residual, embedding = modules()
    for path, module in entries:
        if isinstance(module, nn.Linear):
            return int(module.in_features)
        if isinstance(module, nn.LayerNorm):
            return int(module.normalized_shape[0])
        if isinstance(module, nn.BatchNorm1d):
            return int(module.num_features)
        if isinstance(module, embedding):
            return int(module.n_inputs)
        if isinstance(module, residual):
            width = _input_width(nn, _flat(nn, module.body, path))
            if width is not None:
                return width
    return None


def _dtype(torch: Any, module: Any) -> str:
    dtypes = {tensor.dtype for tensor in [*module.parameters(), *module.buffers()]}
    dtypes.discard(torch.long)  # indices, a BatchNorm's batch count
    if not dtypes or dtypes == {torch.float32}:
        return "float32"
    if dtypes == {torch.float64}:
        return "float64"
    raise ValueError(
        f"module holds tensors of {sorted(map(str, dtypes))}; nncore needs all float32 or all "
        "float64 (convert it with module.float() or module.double())"
    )


def from_torch(module: Any, n_inputs: int | None = None) -> Any:
    """An ``nncore.Sequential`` with the layers, weights and running statistics of the torch
    ``module`` (see the module's text for the subset converted), in its dtype (float32 or
    float64). ``n_inputs``: the input width, needed only when no module before the first
    activation says it (a Linear's ``in_features``, a norm's width). Raises ``TypeError`` for a
    non-module, ``ValueError`` naming a module nncore cannot express (``"module 2.1 (Conv1d):
    ..."``) or when the input width is unknown."""
    torch = _torch()
    nn = torch.nn
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {module!r:.80}")
    entries = _flat(nn, module, "")
    converted = _convert(nn, entries, _Converted())
    if not converted.layers:
        raise ValueError("module has no layers to convert (it is empty or only Identity)")
    width = _input_width(nn, entries) if n_inputs is None else n_inputs
    if width is None:
        raise ValueError("the input width is unknown: pass n_inputs=")
    sequential: Any = MODELS["Sequential"]  # (the registry's: nncore.sequential imports us)
    model = sequential(converted.layers, width, _dtype(torch, module), seed=0)
    views = [view for _, view in model.named_parameters()] + list(model.state.values())
    for view, array in zip(views, converted.parameters + converted.state, strict=True):
        if view.shape != array.shape:
            raise ValueError(
                f"module's tensor of shape {array.shape} does not fit nncore's {view.shape}: "
                "the modules' widths do not chain (or n_inputs is wrong)"
            )
        view[...] = array
    return model
