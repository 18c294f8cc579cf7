"""A chain of layers, run one after another: the body of a ``Sequential`` and of a ``Residual``.

The child at index ``i`` of the layer at ``path`` has the path ``child_path(path, i)``
(``"3"`` at the top, ``"5.3"`` inside the layer at ``5``).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..numpy_reference import Array
from ._layer import Build, Cache, Layer, Pass, child_path


def check_layers(layers: object, owner: str) -> list[Layer]:
    """``layers`` as a non-empty list of :class:`Layer`; ``TypeError``/``ValueError`` naming
    ``owner`` otherwise."""
    if not isinstance(layers, (list, tuple)):
        raise TypeError(f"{owner}: layers must be a list of layers, got {type(layers).__name__}")
    if len(layers) == 0:
        raise ValueError(f"{owner}: layers must not be empty")
    for index, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise TypeError(f"{owner}: layers[{index}] is not a layer, got {layer!r}")
    return list(layers)


def build_chain(
    layers: Sequence[Layer], n_in: int, path: str, build: Build, *, first: bool, last: bool
) -> int:
    """Build every layer in turn (each gets the previous one's width); the chain's output width.

    Only the chain's first layer can be the network's first, only its last the network's last.
    """
    width = n_in
    for index, layer in enumerate(layers):
        width = layer.build(
            width,
            child_path(path, index),
            build,
            first=first and index == 0,
            last=last and index == len(layers) - 1,
        )
    return width


def forward_chain(
    layers: Sequence[Layer], X: Array, path: str, run: Pass
) -> tuple[Array, list[Cache]]:
    """A_0 = X, A_i = layer_i(A_(i−1)); returns the last A and every layer's cache."""
    A = X
    caches: list[Cache] = []
    for index, layer in enumerate(layers):
        A, cache = layer.forward(A, child_path(path, index), run)
        caches.append(cache)
    return A, caches


def backward_chain(
    layers: Sequence[Layer],
    caches: Sequence[Cache],
    dY: Array,
    path: str,
    run: Pass,
    gradients: dict[str, Array],
) -> Array:
    """The chain rule back through the layers: dA_(i−1) = layer_i.backward(dA_i); returns dL/dX."""
    dA = dY
    for index in reversed(range(len(layers))):
        dA = layers[index].backward(caches[index], dA, child_path(path, index), run, gradients)
    return dA
