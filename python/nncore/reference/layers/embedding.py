"""Embeddings of integer-coded categorical columns (the network's first layer only).

``Embedding(columns, cardinalities, dim)``: column ``columns[j]`` of X holds codes in
``[0, cardinalities[j])``. One parameter, ``table``, of shape ``(Σ_j cardinalities[j], dim)``,
initially N(0, 1) as ``torch.nn.Embedding``; column j's rows of it start at
``offset_j = Σ_(i<j) cardinalities[i]``. The output row is::

    [x_numeric..., table[offset_0 + x_c0], table[offset_1 + x_c1], ...]

the non-listed (numeric) columns in their order, then each embedded column's dim-vector in the
order of ``columns``: width ``n_in − len(columns) + len(columns)·dim``.

Backward: the table's gradient is a scatter-add, ``dtable[offset_j + x_cj] += dY_block_j`` for
every row (a code seen twice adds twice); ``dX`` passes the numeric columns' ``dY`` through and
is 0 for the code columns (the output is piecewise constant in a code).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from ..numpy_reference import Array
from ._checks import check_int
from ._layer import Build, Layer, Pass, layer_error


class EmbeddingCache(NamedTuple):
    rows: list[npt.NDArray[np.intp]]  # per embedded column: the table row of every sample
    n_in: int


class Embedding(Layer):
    """``Embedding(columns, cardinalities, dim)``: integer codes → learned ``dim``-vectors."""

    def __init__(self, columns: Sequence[int], cardinalities: Sequence[int], dim: int) -> None:
        for argument, value in (("columns", columns), ("cardinalities", cardinalities)):
            if not isinstance(value, (list, tuple)):
                raise TypeError(f"Embedding: {argument} must be a list of ints, got {value!r}")
        if len(columns) == 0:
            raise ValueError("Embedding: columns must not be empty")
        if len(cardinalities) != len(columns):
            raise ValueError(
                f"Embedding: cardinalities must have one entry per column ({len(columns)}), "
                f"got {len(cardinalities)}"
            )
        self.columns = [check_int(c, "Embedding", "columns entry", 0) for c in columns]
        if len(set(self.columns)) != len(self.columns):
            raise ValueError(f"Embedding: columns must be distinct, got {self.columns}")
        self.cardinalities = [
            check_int(k, "Embedding", "cardinalities entry", 1) for k in cardinalities
        ]
        self.dim = check_int(dim, "Embedding", "dim", 1)
        self.offsets = np.cumsum([0, *self.cardinalities[:-1]]).tolist()  # offset_j

    def build(self, n_in: int, path: str, build: Build, *, first: bool, last: bool) -> int:
        if not first:
            raise layer_error(self, path, "an Embedding must be the network's first layer")
        if max(self.columns) >= n_in:
            raise layer_error(
                self, path, f"columns {self.columns} must be below the input width {n_in}"
            )
        shape = (sum(self.cardinalities), self.dim)
        build.add_parameter(f"{path}.table", build.rng.standard_normal(shape))
        return n_in - len(self.columns) + len(self.columns) * self.dim

    def table_rows(self, X: Array, path: str) -> list[npt.NDArray[np.intp]]:
        """offset_j + code for every sample and embedded column j; ``ValueError`` naming the
        column for a code that is not an integer in [0, cardinality)."""
        rows = []
        for column, cardinality, offset in zip(
            self.columns, self.cardinalities, self.offsets, strict=True
        ):
            codes = X[:, column]
            valid = np.isfinite(codes) & (codes == np.floor(codes))
            valid &= (codes >= 0) & (codes < cardinality)
            if not np.all(valid):
                bad = codes[~valid][0]
                raise layer_error(
                    self,
                    path,
                    f"column {column} holds {bad!r}, not an integer code in [0, {cardinality})",
                )
            rows.append(codes.astype(np.intp) + offset)
        return rows

    def numeric_columns(self, n_in: int) -> list[int]:
        """The columns that are not embedded, in their order."""
        return [c for c in range(n_in) if c not in self.columns]

    def forward(self, X: Array, path: str, run: Pass) -> tuple[Array, EmbeddingCache]:
        rows = self.table_rows(X, path)
        table = run.parameters[f"{path}.table"]
        blocks = [X[:, self.numeric_columns(X.shape[1])]] + [table[r] for r in rows]
        return np.concatenate(blocks, axis=1), EmbeddingCache(rows, X.shape[1])

    def backward(
        self, cache: EmbeddingCache, dY: Array, path: str, run: Pass, gradients: dict[str, Array]
    ) -> Array:
        numeric = self.numeric_columns(cache.n_in)
        dtable = np.zeros_like(run.parameters[f"{path}.table"])
        for j, rows in enumerate(cache.rows):
            start = len(numeric) + j * self.dim  # column j's block of the output
            np.add.at(dtable, rows, dY[:, start : start + self.dim])  # dtable[row] += dY_block
        gradients[f"{path}.table"] = dtable
        dX = np.zeros((dY.shape[0], cache.n_in), dtype=dY.dtype)  # 0 for the code columns
        dX[:, numeric] = dY[:, : len(numeric)]  # the numeric columns pass through
        return dX
