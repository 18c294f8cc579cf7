"""A residual block: ``Y = X + f(X)``, ``f`` a chain of layers whose output width is its input's.

The children are numbered inside the block: in a Residual at path ``5`` the first child is
``5.0`` (its parameters ``5.0.gamma``, ...). Backward: ``dX = dY + f'(X)ᵀ·dY`` (the skip passes
``dY`` through unchanged, the chain adds its own dX).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from ..numpy_reference import Array
from ._chain import backward_chain, build_chain, check_layers, forward_chain
from ._layer import Build, Cache, Layer, Pass, layer_error


class ResidualCache(NamedTuple):
    caches: list[Cache]  # one per child


class Residual(Layer):
    """``Residual(layers)``: ``X + f(X)`` with ``f`` the layers in order (an Embedding cannot be
    inside, nor a softmax)."""

    def __init__(self, layers: Sequence[Layer]) -> None:
        self.layers = check_layers(layers, "Residual")

    def build(self, n_in: int, path: str, build: Build, *, first: bool, last: bool) -> int:
        n_out = build_chain(self.layers, n_in, path, build, first=False, last=False)
        if n_out != n_in:
            raise layer_error(
                self, path, f"its layers turn {n_in} features into {n_out}; x + f(x) needs {n_in}"
            )
        return n_in

    def forward(self, X: Array, path: str, run: Pass) -> tuple[Array, ResidualCache]:
        F, caches = forward_chain(self.layers, X, path, run)  # f(X)
        return X + F, ResidualCache(caches)  # Y = X + f(X)

    def backward(
        self, cache: ResidualCache, dY: Array, path: str, run: Pass, gradients: dict[str, Array]
    ) -> Array:
        dF = backward_chain(self.layers, cache.caches, dY, path, run, gradients)  # through f
        return dY + dF  # dX = dY (the skip) + dL/dX through f
