"""skl2onnx converters for ``nncore.sklearn.MLPClassifier`` and ``MLPRegressor``, so that a
scikit-learn pipeline holding them converts with ``skl2onnx.to_onnx``::

    import nncore.onnx_sklearn
    nncore.onnx_sklearn.register_skl2onnx()   # once
    onx = skl2onnx.to_onnx(Pipeline([("scale", StandardScaler()), ("mlp", MLPClassifier())]), X[:1])

A regressor gives ``variable`` ``(batch, n_outputs)``; a classifier ``label`` (``classes_``, as
``predict``: the class of the largest probability) and ``probabilities`` (``predict_proba``: the
softmax outputs, or ``[1 − p, p]`` of a binary classifier's sigmoid), as a ZipMap (a list of
``{class: probability}``, skl2onnx's default for classifiers) unless the options say
``{"zipmap": False}`` — which float64 input needs, as ONNX's ZipMap takes float32 only. The
network's nodes are ``nncore.onnx_export``'s, in the estimator's dtype (the input is cast to it
and the outputs to the types skl2onnx declares). Needs skl2onnx (and onnx). A multi-label
classifier (several sigmoid outputs) is refused with a ``ValueError``, as are classes that are
neither integers nor strings and an opset below ``OPSET_MIN``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .onnx_export import OPSET_MIN, Graph, network_nodes


class SklGraph(Graph):
    """A ``nncore.onnx_export.Graph`` that adds its nodes to skl2onnx's container."""

    def __init__(self, scope: Any, container: Any, dtype: np.dtype[Any]) -> None:
        opset = int(container.target_opset)
        if opset < OPSET_MIN:
            raise ValueError(f"nncore's ONNX export needs opset >= {OPSET_MIN}, got {opset}")
        super().__init__(opset, dtype)
        self.scope, self.container = scope, container

    def fresh(self, hint: str) -> str:
        return str(self.scope.get_unique_variable_name(hint))

    def add_constant(self, name: str, array: Any) -> None:
        shape = list(array.shape)
        if array.dtype.kind in "OSU":  # class names
            values = [str(value).encode("utf-8") for value in array.ravel()]
            self.container.add_initializer(name, self.onnx.TensorProto.STRING, shape, values)
        else:
            values = array.ravel().tolist()  # Python floats: exact for float32 and float64
            self.container.add_initializer(name, self.tensor_type(array.dtype), shape, values)

    def add_node(self, op: str, inputs: list[str], outputs: list[str], **attributes: Any) -> None:
        name = self.scope.get_unique_operator_name(op)
        self.container.add_node(op, inputs, outputs, name=name, **attributes)


def _element_dtype(variable: Any) -> np.dtype[Any]:
    """The NumPy dtype of a skl2onnx tensor variable (float32 unless it is double)."""
    return np.dtype(np.float64 if "Double" in type(variable.type).__name__ else np.float32)


def _network(scope: Any, operator: Any, container: Any) -> tuple[SklGraph, str]:
    """The graph and the estimator's network output on the operator's input (cast to the
    estimator's dtype)."""
    model = operator.raw_operator.model_
    graph = SklGraph(scope, container, model.dtype)
    x = operator.inputs[0].full_name
    if _element_dtype(operator.inputs[0]) != model.dtype:
        x = graph.node("Cast", x, to=graph.tensor_type(model.dtype))
    return graph, network_nodes(graph, model, x)


def _to_output(graph: Graph, value: str, variable: Any) -> None:
    """Write ``value`` into the output ``variable``, cast to its declared type."""
    dtype = _element_dtype(variable)
    if dtype == graph.dtype:
        graph.add_node("Identity", [value], [variable.full_name])
    else:
        graph.add_node("Cast", [value], [variable.full_name], to=graph.tensor_type(dtype))


def regressor_shapes(operator: Any) -> None:
    """skl2onnx shape calculator of ``MLPRegressor``: ``(batch, n_outputs)`` of the input's
    element type."""
    batch = operator.inputs[0].get_first_dimension()
    tensor_type = type(operator.inputs[0].type)
    operator.outputs[0].type = tensor_type([batch, operator.raw_operator.n_outputs_])


def convert_regressor(scope: Any, operator: Any, container: Any) -> None:
    """skl2onnx converter of ``MLPRegressor``: ``variable`` = ``predict``."""
    graph, output = _network(scope, operator, container)
    _to_output(graph, output, operator.outputs[0])


def convert_classifier(scope: Any, operator: Any, container: Any) -> None:
    """skl2onnx converter of ``MLPClassifier``: ``label`` and ``probabilities``."""
    estimator = operator.raw_operator
    classes = np.asarray(estimator.classes_)
    if estimator._label_binarizer.y_type_.startswith("multilabel"):
        raise ValueError("MLPClassifier: a multi-label classifier has no ONNX converter")
    if classes.dtype.kind not in "iuOSU":
        raise ValueError(
            f"MLPClassifier: classes of dtype {classes.dtype} cannot be ONNX labels "
            "(integers or strings can)"
        )
    graph, output = _network(scope, operator, container)
    if estimator.n_outputs_ == 1:  # [1 − p, p] from the one sigmoid unit
        complement = graph.node("Sub", graph.constant(1.0, "one"), output)
        output = graph.node("Concat", complement, output, axis=1)
    index = graph.node("ArgMax", output, axis=1, keepdims=0)
    names = classes.astype(np.int64) if classes.dtype.kind in "iu" else classes.astype(str)
    label = graph.node("Gather", graph.constant(names, "classes", names.dtype), index, axis=0)
    graph.add_node("Identity", [label], [operator.outputs[0].full_name])
    _to_output(graph, output, operator.outputs[1])


def register_skl2onnx() -> None:
    """Register the converters of ``MLPClassifier`` and ``MLPRegressor`` with skl2onnx (again
    is harmless). ``ImportError`` without skl2onnx."""
    try:
        import skl2onnx
        from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes
    except ImportError:
        raise ImportError("the skl2onnx converters need skl2onnx: pip install skl2onnx") from None
    from .sklearn import MLPClassifier, MLPRegressor

    skl2onnx.update_registered_converter(
        MLPRegressor,
        "NncoreMLPRegressor",
        regressor_shapes,
        convert_regressor,
    )
    skl2onnx.update_registered_converter(
        MLPClassifier,
        "NncoreMLPClassifier",
        calculate_linear_classifier_output_shapes,
        convert_classifier,
        options={"zipmap": [True, False, "columns"], "nocl": [True, False]},
    )
