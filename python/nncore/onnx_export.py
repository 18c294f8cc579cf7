"""Export a ``Sequential`` (``MLP`` included) to ONNX: ``model.to_onnx(path, opset=None)``.

The graph takes ``input`` of shape ``(batch, n_features)`` in the model's dtype (float32 or
float64; ``batch`` is dynamic) and gives ``output`` of shape ``(batch, n_outputs)``: what
``model.forward`` returns (inference mode: Dropout passes through, BatchNorm uses its running
statistics). Opsets ``OPSET_MIN`` (9) to the newest that the installed ``onnx`` defines are
supported; the default is ``DEFAULT_OPSET`` (17). Only the ``onnx`` package is needed, to build
the graph (``pip install nncore[onnx]``); nncore needs nothing at run time.

One registry maps each layer type to its exporter (``EXPORTERS``), one table each activation to
its nodes (``ACTIVATION_NODES``): a new layer or activation is one entry. Every formula is
nncore's own (``nncore.reference``), written with operators that onnxruntime runs in float32 and
float64 alike (it has no float64 ``Erf``, ``Elu``, ``LeakyRelu`` or ``Softplus`` kernels):

* ``leaky_relu``: ``where(z > 0, z, s·z)``; ``elu``: ``where(z > 0, z, α·e^min(z, 0) − α)``;
* ``softplus``: ``max(z, 0) + log1p(e^−|z|)``, with ``log1p(u) = log(w)·u/(w − 1)``,
  ``w = 1 + u`` (exact to rounding; ``u`` where ``w = 1``);
* ``gelu``: ``½·z·(1 + erf(z/√2))``; ``erf`` is ONNX's ``Erf`` in float32 and, in float64,
  ``erf(x) = 2/√π · x · e^−x² · Σₙ 2ⁿx²ⁿ/(2n+1)!!`` (100 positive terms by Horner's rule, ``x``
  clamped to ``[−6, 6]``, where ``erf`` is ±1 in float64): within ``5e-15`` relative;
* ``LayerNorm``: decomposed (mean, then the mean of the squared deviations), also at opsets
  that have ``LayerNormalization``: onnxruntime's kernel loses digits (``2e-11`` relative
  in float64 on rows of small variance), more than the float64 comparison allows.

``Embedding`` reads its integer-coded columns from the float input (``Cast`` to int64, which
truncates toward zero; a code out of range is an error of onnxruntime's ``Gather``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from ._atomic_file import write_atomic
from ._model_arrays import ModelArrays, check_model
from ._validation import check_int
from .layers import LAYERS

Array = npt.NDArray[Any]

#: The lowest opset supported (``Where`` and ``Erf`` appear in opset 9).
OPSET_MIN = 9
#: The opset of ``to_onnx(opset=None)``.
DEFAULT_OPSET = 17
#: The terms of the float64 erf series (``erf`` within 5e-15 relative on ``[0, 6]``).
ERF_TERMS = 100
#: Beyond this ``|x|``, ``erf(x)`` is ±1 in float64 (``erfc(6) ≈ 2e-17``).
ERF_CLAMP = 6.0


def _onnx() -> Any:
    """The ``onnx`` package, or an ``ImportError`` saying how to install it."""
    try:
        import onnx
    except ImportError:
        raise ImportError(
            "exporting to ONNX needs the onnx package: pip install 'nncore[onnx]'"
        ) from None
    return onnx


def newest_opset() -> int:
    """The newest opset of the installed ``onnx`` package."""
    return int(_onnx().defs.onnx_opset_version())


def check_opset(opset: Any) -> int:
    """``opset`` (None: ``DEFAULT_OPSET``, at most the newest) checked to be an int in
    ``[OPSET_MIN, newest_opset()]``; ``TypeError``/``ValueError`` naming ``opset``."""
    newest = newest_opset()
    if opset is None:
        return min(DEFAULT_OPSET, newest)
    return check_int(opset, "opset", OPSET_MIN, newest)


# ------------------------------------------------------------------------------ the graph
class Graph:
    """An ONNX graph under construction: constants and nodes of one opset, floats of one dtype.
    ``OnnxGraph`` collects them into a model; ``nncore.onnx_sklearn`` adds them to skl2onnx's
    container (so a layer's exporter is written once for both)."""

    def __init__(self, opset: int, dtype: np.dtype[Any]) -> None:
        self.opset = opset
        self.dtype = np.dtype(dtype)
        self.onnx = _onnx()

    def fresh(self, hint: str) -> str:
        """A new, unused name."""
        raise NotImplementedError

    def add_constant(self, name: str, array: Array) -> None:
        raise NotImplementedError

    def add_node(self, op: str, inputs: list[str], outputs: list[str], **attributes: Any) -> None:
        raise NotImplementedError

    def constant(self, value: Any, hint: str = "constant", dtype: Any = None) -> str:
        """A constant tensor of ``value`` (in the graph's float dtype unless ``dtype``)."""
        name = self.fresh(hint)
        self.add_constant(name, np.asarray(value, dtype=self.dtype if dtype is None else dtype))
        return name

    def node(self, op: str, *inputs: str, hint: str = "", **attributes: Any) -> str:
        """Add ``op(inputs)`` with one output, and return that output's name."""
        output = self.fresh(hint or op.lower())
        self.add_node(op, list(inputs), [output], **attributes)
        return output

    def tensor_type(self, dtype: Any) -> int:
        """ONNX's element type of ``dtype`` (``TensorProto.FLOAT``, ...)."""
        return int(self.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype)))

    def reduce_mean(self, x: str) -> str:
        """The mean of each row of ``x`` ``(n, k)``, ``(n, 1)``: the axes are an attribute
        before opset 18, an input from 18 on."""
        if self.opset < 18:
            return self.node("ReduceMean", x, axes=[1], keepdims=1)
        axes = self.constant([1], "axes", np.int64)
        return self.node("ReduceMean", x, axes, keepdims=1)


class OnnxGraph(Graph):
    """A ``Graph`` that becomes an ``onnx.ModelProto`` (``model``)."""

    def __init__(self, opset: int, dtype: np.dtype[Any]) -> None:
        super().__init__(opset, dtype)
        self._names: set[str] = set()
        self._next: dict[str, int] = {}
        self._nodes: list[Any] = []
        self._constants: list[Any] = []

    def fresh(self, hint: str) -> str:
        """``hint_0``, ``hint_1``, ...: the next of ``hint``'s that no earlier name took."""
        index = self._next.get(hint, 0)
        while f"{hint}_{index}" in self._names:
            index += 1
        self._next[hint] = index + 1
        name = f"{hint}_{index}"
        self._names.add(name)
        return name

    def add_constant(self, name: str, array: Array) -> None:
        self._constants.append(self.onnx.numpy_helper.from_array(array, name))

    def add_node(self, op: str, inputs: list[str], outputs: list[str], **attributes: Any) -> None:
        self._nodes.append(self.onnx.helper.make_node(op, inputs, outputs, **attributes))

    def model(
        self, inputs: list[tuple[str, Any, int]], outputs: list[tuple[str, Any, int | None]]
    ) -> Any:
        """The model with these ``(name, dtype, width)`` inputs and outputs (each
        ``(batch, width)``, or ``(batch,)`` for width None), checked by ``onnx.checker``."""
        helper = self.onnx.helper

        def value(name: str, dtype: Any, width: int | None) -> Any:
            shape = ["batch"] if width is None else ["batch", width]
            return helper.make_tensor_value_info(name, self.tensor_type(dtype), shape)

        graph = helper.make_graph(
            self._nodes,
            "nncore",
            [value(*entry) for entry in inputs],
            [value(*entry) for entry in outputs],
            self._constants,
        )
        opsets = [helper.make_opsetid("", self.opset)]
        model = helper.make_model(
            graph,
            opset_imports=opsets,
            producer_name="nncore",
            ir_version=helper.find_min_ir_version_for(opsets),
        )
        from ._core import __version__

        model.producer_version = __version__
        self.onnx.checker.check_model(model, full_check=True)
        return model


# ------------------------------------------------------------------------------ activations
#: ``g(z)`` as nodes: ``(graph, z, leaky_relu_slope, elu_alpha) -> output``.
Activation = Callable[[Graph, str, float, float], str]


def _positive(graph: Graph, z: str) -> str:
    return graph.node("Greater", z, graph.constant(0.0, "zero"))


def _log1p(graph: Graph, u: str) -> str:
    """``log1p(u)`` for ``u >= 0`` (ONNX has no log1p): ``log(w)·u/(w − 1)`` with ``w = 1 + u``,
    exact to rounding (Goldberg, "What every computer scientist should know about
    floating-point arithmetic", theorem 4); ``u`` itself where ``w`` rounds to 1."""
    w = graph.node("Add", u, graph.constant(1.0, "one"))
    d = graph.node("Sub", w, graph.constant(1.0, "one"))
    ratio = graph.node("Div", graph.node("Mul", graph.node("Log", w), u), d)
    return graph.node("Where", graph.node("Greater", d, graph.constant(0.0, "zero")), ratio, u)


def _erf(graph: Graph, x: str) -> str:
    """``erf(x)``: ONNX's ``Erf`` in float32; in float64 (which onnxruntime's Erf lacks)
    ``2/√π · x · e^−x² · P(x²/36)``, ``P(v) = Σₙ bₙvⁿ``, ``bₙ = 36ⁿ·2ⁿ/(2n+1)!!`` (``b₀ = 1``,
    ``bₙ = bₙ₋₁·72/(2n+1)``). Scaling by 36 = 6² keeps every coefficient in float32's normal
    range: onnxruntime's graph optimiser drops an ``Add`` of a float64 constant that is zero
    as a float32, which the unscaled ``2ⁿ/(2n+1)!!`` (down to 1e-157) would be."""
    if graph.dtype == np.float32:
        return graph.node("Erf", x)
    x = graph.node(
        "Min", graph.node("Max", x, graph.constant(-ERF_CLAMP)), graph.constant(ERF_CLAMP)
    )
    u = graph.node("Mul", x, x)
    v = graph.node("Mul", u, graph.constant(1.0 / ERF_CLAMP**2, "inv_clamp_squared"))
    coefficients = [1.0]
    for n in range(1, ERF_TERMS):
        coefficients.append(coefficients[-1] * 2.0 * ERF_CLAMP**2 / (2 * n + 1))
    series = graph.constant(coefficients[-1], "erf_b")
    for b in reversed(coefficients[:-1]):  # Horner: P = (…(b_N·v + b_N−1)·v + …)·v + b_0
        series = graph.node("Add", graph.node("Mul", series, v), graph.constant(b, "erf_b"))
    scale = graph.node("Mul", x, graph.constant(2.0 / math.sqrt(math.pi), "two_over_sqrt_pi"))
    decay = graph.node("Exp", graph.node("Neg", u))
    return graph.node("Mul", graph.node("Mul", scale, decay), series, hint="erf")


def _gelu(graph: Graph, z: str, slope: float, alpha: float) -> str:
    # ½·z·(1 + erf(z/√2))
    erf = _erf(graph, graph.node("Mul", z, graph.constant(1.0 / math.sqrt(2.0), "inv_sqrt2")))
    half_z = graph.node("Mul", z, graph.constant(0.5, "half"))
    return graph.node("Mul", half_z, graph.node("Add", erf, graph.constant(1.0, "one")))


def _gelu_tanh(graph: Graph, z: str, slope: float, alpha: float) -> str:
    # ½·z·(1 + tanh(√(2/π)·(z + 0.044715·z³)))
    cube = graph.node("Mul", graph.node("Mul", z, z), z)
    inner = graph.node("Add", z, graph.node("Mul", cube, graph.constant(0.044715, "gelu_cubic")))
    scaled = graph.node("Mul", inner, graph.constant(math.sqrt(2.0 / math.pi), "sqrt_2_over_pi"))
    one_plus = graph.node("Add", graph.node("Tanh", scaled), graph.constant(1.0, "one"))
    return graph.node("Mul", graph.node("Mul", z, graph.constant(0.5, "half")), one_plus)


def _softplus(graph: Graph, z: str, slope: float, alpha: float) -> str:
    # max(z, 0) + log1p(e^−|z|)
    tail = _log1p(graph, graph.node("Exp", graph.node("Neg", graph.node("Abs", z))))
    return graph.node("Add", graph.node("Max", z, graph.constant(0.0, "zero")), tail)


def _leaky_relu(graph: Graph, z: str, slope: float, alpha: float) -> str:
    # z if z > 0 else s·z
    negative = graph.node("Mul", z, graph.constant(slope, "slope"))
    return graph.node("Where", _positive(graph, z), z, negative)


def _elu(graph: Graph, z: str, slope: float, alpha: float) -> str:
    # z if z > 0 else α·e^min(z, 0) − α
    exp = graph.node("Exp", graph.node("Min", z, graph.constant(0.0, "zero")))
    negative = graph.node(
        "Sub",
        graph.node("Mul", graph.constant(alpha, "alpha"), exp),
        graph.constant(alpha, "alpha"),
    )
    return graph.node("Where", _positive(graph, z), z, negative)


def _unary(op: str, **attributes: Any) -> Activation:
    def activation(graph: Graph, z: str, slope: float, alpha: float) -> str:
        return graph.node(op, z, **attributes)

    return activation


def _swish(graph: Graph, z: str, slope: float, alpha: float) -> str:
    return graph.node("Mul", z, graph.node("Sigmoid", z))  # z·σ(z)


#: Each name of ``nncore.ACTIVATIONS`` as ONNX nodes (the test checks that none is missing).
ACTIVATION_NODES: dict[str, Activation] = {
    "identity": lambda graph, z, slope, alpha: z,
    "sigmoid": _unary("Sigmoid"),
    "tanh": _unary("Tanh"),
    "relu": _unary("Relu"),
    "leaky_relu": _leaky_relu,
    "elu": _elu,
    "gelu": _gelu,
    "gelu_tanh": _gelu_tanh,
    "softplus": _softplus,
    "swish": _swish,
    "softmax": _unary("Softmax", axis=1),  # over each row (rows are 2-D at every opset)
}


def activation_nodes(graph: Graph, name: str, z: str, slope: float, alpha: float) -> str:
    return ACTIVATION_NODES[name](graph, z, slope, alpha)


# ------------------------------------------------------------------------------ layers
#: ``(graph, layer, values, x, width, index path) -> (output, output width)``.
Exporter = Callable[[Graph, Any, ModelArrays, str, int, str], tuple[str, int]]
#: Each layer class name of ``nncore.layers.LAYERS`` with its exporter.
EXPORTERS: dict[str, Exporter] = {}


def _exports(name: str) -> Callable[[Exporter], Exporter]:
    def register(function: Exporter) -> Exporter:
        EXPORTERS[name] = function
        return function

    return register


@_exports("Dense")
def _dense(
    graph: Graph, layer: Any, values: ModelArrays, x: str, width: int, path: str
) -> tuple[str, int]:
    # Z = X·W + b, Y = g(Z)
    z = graph.node("MatMul", x, graph.constant(values.parameter(), "W"))
    if layer.use_bias:
        z = graph.node("Add", z, graph.constant(values.parameter(), "b"))
    slope, alpha = layer.leaky_relu_slope, layer.elu_alpha
    return activation_nodes(graph, layer.activation, z, slope, alpha), layer.units


@_exports("Activation")
def _activation(
    graph: Graph, layer: Any, values: ModelArrays, x: str, width: int, path: str
) -> tuple[str, int]:
    return activation_nodes(graph, layer.name, x, layer.leaky_relu_slope, layer.elu_alpha), width


@_exports("Dropout")
def _dropout(
    graph: Graph, layer: Any, values: ModelArrays, x: str, width: int, path: str
) -> tuple[str, int]:
    return x, width  # inference: the identity


def _affine(graph: Graph, x_hat: str, values: ModelArrays) -> str:
    """``γ ⊙ x̂ + β`` with the layer's next two parameters."""
    gamma, beta = values.parameter(), values.parameter()
    scaled = graph.node("Mul", x_hat, graph.constant(gamma, "gamma"))
    return graph.node("Add", scaled, graph.constant(beta, "beta"))


@_exports("LayerNorm")
def _layer_norm(
    graph: Graph, layer: Any, values: ModelArrays, x: str, width: int, path: str
) -> tuple[str, int]:
    # x̂ = (x − μ_row)/√(σ²_row + ε), σ² the mean of the squared deviations
    deviation = graph.node("Sub", x, graph.reduce_mean(x))
    variance = graph.reduce_mean(graph.node("Mul", deviation, deviation))
    std = graph.node("Sqrt", graph.node("Add", variance, graph.constant(layer.eps, "eps")))
    return _affine(graph, graph.node("Div", deviation, std), values), width


@_exports("BatchNorm")
def _batch_norm(
    graph: Graph, layer: Any, values: ModelArrays, x: str, width: int, path: str
) -> tuple[str, int]:
    # inference: x̂ = (x − running_mean)/√(running_var + ε)
    mean, var = values.state(), values.state()
    centred = graph.node("Sub", x, graph.constant(mean, "running_mean"))
    std = np.sqrt(var + np.asarray(layer.eps, var.dtype))
    x_hat = graph.node("Div", centred, graph.constant(std, "running_std"))
    return _affine(graph, x_hat, values), width


@_exports("Residual")
def _residual(
    graph: Graph, layer: Any, values: ModelArrays, x: str, width: int, path: str
) -> tuple[str, int]:
    # Y = X + f(X)
    fx, _ = chain_nodes(graph, layer.layers, values, x, width, path)
    return graph.node("Add", x, fx, hint="residual"), width


@_exports("Embedding")
def _embedding(
    graph: Graph, layer: Any, values: ModelArrays, x: str, width: int, path: str
) -> tuple[str, int]:
    # [x_numeric..., table[offset_j + int(x_cj)] for each embedded column j]
    table = graph.constant(values.parameter(), "table")
    numeric = [c for c in range(width) if c not in layer.columns]
    blocks = []
    if numeric:
        blocks.append(graph.node("Gather", x, graph.constant(numeric, "numeric", np.int64), axis=1))
    offset = 0
    for column, cardinality in zip(layer.columns, layer.cardinalities, strict=True):
        code = graph.node("Gather", x, graph.constant(column, "column", np.int64), axis=1)
        row = graph.node("Cast", code, to=graph.tensor_type(np.int64))  # (batch,)
        if offset:
            row = graph.node("Add", row, graph.constant(offset, "offset", np.int64))
        blocks.append(graph.node("Gather", table, row, axis=0))  # (batch, dim)
        offset += cardinality
    output = graph.node("Concat", *blocks, axis=1) if len(blocks) > 1 else blocks[0]
    return output, width - len(layer.columns) + len(layer.columns) * layer.dim


def chain_nodes(
    graph: Graph, layers: Any, values: ModelArrays, x: str, width: int, prefix: str = ""
) -> tuple[str, int]:
    """The nodes of ``layers`` applied one after another to ``x`` (``width`` wide): the last
    output and its width. ``ValueError`` naming a layer that has no exporter."""
    for index, layer in enumerate(layers):
        path = f"{prefix}.{index}" if prefix else str(index)
        name = type(layer).__name__
        exporter = EXPORTERS.get(name)
        if exporter is None or LAYERS.get(name) is not type(layer):
            raise ValueError(
                f"layer {path} ({name}) cannot be exported to ONNX: the exporters are for "
                f"{', '.join(EXPORTERS)}"
            )
        x, width = exporter(graph, layer, values, x, width, path)
    return x, width


def network_nodes(graph: Graph, model: Any, x: str) -> str:
    """The nodes of ``model``'s layers (in inference mode) on ``x``: the output's name."""
    output, _ = chain_nodes(graph, model.layers, ModelArrays(model), x, model.n_inputs)
    return output


# ------------------------------------------------------------------------------ the file
def model_proto(model: Any, opset: Any = None) -> Any:
    """The ``onnx.ModelProto`` of ``model`` (see the module's text), checked by
    ``onnx.checker.check_model(full_check=True)``."""
    check_model(model)
    graph = OnnxGraph(check_opset(opset), model.dtype)
    output = network_nodes(graph, model, "input")
    graph.add_node("Identity", [output], ["output"])
    width = model.n_outputs
    return graph.model([("input", model.dtype, model.n_inputs)], [("output", model.dtype, width)])


def save_proto(proto: Any, path: Any) -> None:
    """Write ``proto`` to ``path`` atomically (``nncore._atomic_file.write_atomic``);
    ``ValueError`` if it is larger than the 2 GiB a protobuf can be."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file path (str or os.PathLike), got {path!r:.80}")
    size = proto.ByteSize()
    if size >= 2**31:
        raise ValueError(f"the ONNX model takes {size} bytes, more than a protobuf's 2 GiB")
    write_atomic(os.fsdecode(path), proto.SerializeToString())


def to_onnx(model: Any, path: Any, opset: Any = None) -> None:
    """Write ``model`` as an ONNX file at ``path`` (atomically: a failure leaves no file, or
    the old one as it was). ``opset``: an int in ``[OPSET_MIN, newest_opset()]``, None for
    ``DEFAULT_OPSET``. Raises ``ImportError`` without the onnx package, ``TypeError``/
    ``ValueError`` naming ``model``, ``path`` or ``opset``, ``OSError`` from the write."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file path (str or os.PathLike), got {path!r:.80}")
    save_proto(model_proto(model, opset), path)


__all__ = [
    "ACTIVATION_NODES",
    "DEFAULT_OPSET",
    "EXPORTERS",
    "OPSET_MIN",
    "Graph",
    "OnnxGraph",
    "model_proto",
    "newest_opset",
    "to_onnx",
]
