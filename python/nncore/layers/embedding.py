"""``Embedding(columns, cardinalities, dim)``: learned vectors for integer-coded categorical
columns (the network's first layer only).

Column ``columns[j]`` of X holds codes in ``[0, cardinalities[j])``. One parameter,
``"<path>.table"``, of shape ``(Σ cardinalities, dim)``, initially N(0, 1) as
``torch.nn.Embedding``. The output row is the numeric (not listed) columns in their order, then
each embedded column's ``dim``-vector in the order of ``columns``: width
``n_in − len(columns) + len(columns)·dim``. The table's gradient is a scatter-add of the rows'
errors. A code that is not an integer in range is a ``ValueError`` naming the column.
"""

from __future__ import annotations

from typing import Any

from .._validation import MAX_LAYER_SIZE, check_int
from ._layer import Layer, Site


def _int_list(value: Any, name: str, minimum: int) -> list[int]:
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"Embedding {name} must be a list of ints, got {value!r:.80}")
    return [check_int(entry, f"Embedding {name}[{i}]", minimum) for i, entry in enumerate(value)]


class Embedding(Layer):
    """``Embedding(columns, cardinalities, dim)``: distinct column indices, one cardinality
    (>= 1) per column, ``dim`` >= 1."""

    def __init__(self, columns: list[int], cardinalities: list[int], dim: int) -> None:
        self.columns = _int_list(columns, "columns", 0)
        self.cardinalities = _int_list(cardinalities, "cardinalities", 1)
        if not self.columns:
            raise ValueError("Embedding columns must not be empty")
        if len(set(self.columns)) != len(self.columns):
            raise ValueError(f"Embedding columns must be distinct, got {self.columns}")
        if len(self.cardinalities) != len(self.columns):
            raise ValueError(
                f"Embedding cardinalities must have one entry per column ({len(self.columns)}), "
                f"got {len(self.cardinalities)}"
            )
        self.dim = check_int(dim, "Embedding dim", 1, MAX_LAYER_SIZE)

    def build(self, site: Site) -> tuple[Any, int]:
        if not site.first:
            raise site.error(self, "an Embedding must be the network's first layer")
        if max(self.columns) >= site.n_inputs:
            raise site.error(
                self, f"columns {self.columns} must be below the input width {site.n_inputs}"
            )
        width = site.n_inputs - len(self.columns) + len(self.columns) * self.dim
        core = site.core("Embedding")(site.n_inputs, self.columns, self.cardinalities, self.dim)
        return core, width
