"""``fit(class_weight=...)``: a weight per class, multiplied into each row's sample weight, with
scikit-learn's definitions (``sklearn.utils.class_weight``; scikit-learn is not needed):

* ``{class: weight}``: the weight of each named class (an index of the model's classes,
  ``0 … n_outputs − 1``, or 0/1 for one sigmoid output); unnamed classes weigh 1;
* ``"balanced"``: ``w_c = n / (k · n_c)`` over the ``n`` training rows, ``n_c`` of class ``c``,
  ``k`` the number of classes present (a class absent from the training rows weighs 0 there);
* several sigmoid outputs (multi-label): ``"balanced"`` or a list of one dict per output, and a
  row's weight is the product over the outputs (as ``compute_sample_weight`` multiplies them).

The weights come from the training rows and weigh the validation rows too."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[Any]
#: Each row's class weight (float64) for targets as ``fit`` converted them.
RowWeights = Callable[[Array], Array]


def class_weight_rows(class_weight: Any, Y_train: Array, output_activation: str) -> RowWeights:
    """The row weights of ``class_weight`` for a model whose output ends with
    ``output_activation``, the per-class weights taken from ``Y_train`` (converted targets);
    ``ValueError``/``TypeError`` for a regressor, bad targets or a bad ``class_weight``."""
    if output_activation == "softmax":
        table = _class_table(class_weight, _labels(Y_train), Y_train.shape[1], "class_weight")
        return lambda Y: table[_labels(Y)]
    if output_activation != "sigmoid":
        raise ValueError(
            "class_weight needs a classifier (a softmax or sigmoid output); this model's output "
            f"activation is {output_activation!r}"
        )
    n_outputs = Y_train.shape[1]
    if n_outputs == 1:
        per_output = [class_weight]
    elif isinstance(class_weight, str):
        per_output = [class_weight] * n_outputs
    elif isinstance(class_weight, (list, tuple)) and len(class_weight) == n_outputs:
        per_output = list(class_weight)
    else:
        raise ValueError(
            f"class_weight for {n_outputs} sigmoid outputs (multi-label) must be 'balanced' or "
            f"a list of {n_outputs} dicts, one per output, got {class_weight!r:.80}"
        )
    tables = [
        _class_table(weight, _binary(Y_train[:, j]), 2, _name(j, n_outputs))
        for j, weight in enumerate(per_output)
    ]

    def rows(Y: Array) -> Array:
        product = np.ones(Y.shape[0])
        for j, table in enumerate(tables):
            product *= table[_binary(Y[:, j])]
        return product

    return rows


def _name(output: int, n_outputs: int) -> str:
    return f"class_weight[{output}]" if n_outputs > 1 else "class_weight"


def _class_table(class_weight: Any, labels: Array, n_classes: int, name: str) -> Array:
    """The weight of each class ``0 … n_classes − 1`` (float64)."""
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(f"{name} must be 'balanced' or a dict, got {class_weight!r}")
        counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
        present = np.count_nonzero(counts)
        table = np.zeros(n_classes)
        table[counts > 0] = labels.size / (present * counts[counts > 0])
        return table
    if not isinstance(class_weight, dict):
        raise TypeError(
            f"{name} must be None, 'balanced' or a {{class: weight}} dict, got {class_weight!r:.80}"
        )
    table = np.ones(n_classes)
    for key, value in class_weight.items():
        if isinstance(key, (bool, np.bool_)) or not isinstance(key, (int, np.integer)):
            raise ValueError(f"{name} keys must be class indices (ints), got {key!r:.40}")
        if not 0 <= key < n_classes:
            raise ValueError(
                f"{name} names class {key}; this model's classes are 0..{n_classes - 1}"
            )
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
            raise TypeError(f"{name}[{key}] must be a number, got {value!r:.40}")
        if not (math.isfinite(float(value)) and float(value) >= 0):
            raise ValueError(f"{name}[{key}] must be finite and >= 0, got {value}")
        table[int(key)] = float(value)
    return table


def _labels(Y: Array) -> Array:
    """Each row's class of one-hot targets; ``ValueError`` for a row that is not one-hot."""
    labels: Array = np.argmax(Y, axis=1)
    one_hot = (Y == 0) | (Y == 1)
    if Y.size and not (one_hot.all() and np.all(Y.sum(axis=1) == 1)):
        row = int(np.argmin(one_hot.all(axis=1) & (Y.sum(axis=1) == 1)))
        raise ValueError(
            f"class_weight needs class labels (one class per row); row {row} of y is "
            f"{Y[row].tolist()!r:.80}"
        )
    return labels


def _binary(column: Array) -> Array:
    """0/1 targets as class indices; ``ValueError`` for anything else."""
    if not np.all((column == 0) | (column == 1)):
        raise ValueError("class_weight needs 0/1 targets for a sigmoid output")
    return column.astype(np.intp)
