"""Building a chain of layers (a ``Sequential``'s, a ``Residual``'s): each layer's input width is
the output width of the one before; errors name the layer by its index path."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._layer import Layer, Site


def check_layer_list(layers: Any, where: str) -> list[Layer]:
    """``layers`` as a non-empty list of ``nncore.layers`` objects; ``TypeError``/``ValueError``
    naming ``where`` (``"Sequential layers"``) and the index of a bad entry."""
    if not isinstance(layers, (list, tuple)):
        raise TypeError(f"{where} must be a list of nncore.layers objects, got {layers!r:.80}")
    if not layers:
        raise ValueError(f"{where} must not be empty")
    for index, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise TypeError(
                f"{where}[{index}] must be an nncore.layers object (Dense, ...), got {layer!r:.80}"
            )
    return list(layers)


def build_chain(layers: Sequence[Layer], site: Site, prefix: str) -> tuple[list[Any], int]:
    """The core objects of ``layers`` built one after another from ``site.n_inputs`` wide inputs
    (paths ``prefix + index``; first/last as ``site`` says of the chain), and the output width."""
    built, width = [], site.n_inputs
    for index, layer in enumerate(layers):
        child = Site(
            f"{prefix}{index}",
            width,
            site.dtype,
            site.first and index == 0,
            site.last and index == len(layers) - 1,
            site.leaves,
        )
        core, width = layer.build(child)
        built.append(core)
        if layer.leaf:
            site.leaves.append((core, layer.initializer()))
    return built, width
