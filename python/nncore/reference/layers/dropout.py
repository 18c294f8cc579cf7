"""Inverted dropout with an explicit mask: ``Y = X ⊙ M`` in training, ``Y = X`` in inference.

The mask ``M`` has the input's shape and every entry is 0 (a dropped unit) or ``1/(1 − p)`` (a
kept unit, scaled so that the expected output is the input). The reference draws no random
numbers: the caller passes the masks (``masks={"3": M}``, keyed by the layer's path), so the
same masks can be given to the core and to PyTorch. Without a mask the layer is the identity.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..numpy_reference import Array
from ._checks import check_float
from ._layer import Build, Layer, Pass, layer_error

# How far a mask entry may be from 1/(1 − p), in units of the dtype's epsilon, and still count
# as a kept unit: the scale may have been rounded differently (computed in float32 or float64).
MASK_SCALE_ULPS = 4


class DropoutCache(NamedTuple):
    mask: Array | None  # (n, k), or None where the layer was the identity


class Dropout(Layer):
    """``Dropout(rate)``: inverted dropout with drop probability ``rate`` in ``[0, 1)``."""

    def __init__(self, rate: float) -> None:
        self.rate = check_float(rate, "Dropout", "rate", low=0.0, high=1.0, closed_high=False)

    def build(self, n_in: int, path: str, build: Build, *, first: bool, last: bool) -> int:
        build.dropout_paths.append(path)
        return n_in

    def check_mask(self, mask: object, X: Array, path: str) -> Array:
        """The mask as an array of X's dtype; ``ValueError`` unless it has X's shape and every
        entry is 0 or 1/(1 − rate)."""
        M = np.asarray(mask, dtype=X.dtype)
        if M.shape != X.shape:
            raise layer_error(self, path, f"the mask has shape {M.shape}, expected {X.shape}")
        scale = 1.0 / (1.0 - self.rate)
        tolerance = MASK_SCALE_ULPS * float(np.finfo(X.dtype).eps) * scale
        if not np.all((M == 0) | (np.abs(M - scale) <= tolerance)):
            raise layer_error(self, path, f"every mask entry must be 0 or 1/(1 - rate) = {scale!r}")
        return M

    def forward(self, X: Array, path: str, run: Pass) -> tuple[Array, DropoutCache]:
        if not run.training or run.masks is None:
            return X, DropoutCache(None)  # inference, or dropout off: Y = X
        M = self.check_mask(run.masks[path], X, path)
        return X * M, DropoutCache(M)  # Y = X ⊙ M

    def backward(
        self, cache: DropoutCache, dY: Array, path: str, run: Pass, gradients: dict[str, Array]
    ) -> Array:
        if cache.mask is None:
            return dY  # dX = dY
        dX: Array = dY * cache.mask  # dX = dY ⊙ M
        return dX
