"""``Residual(layers)``: ``Y = X + f(X)`` with ``f`` the chain of ``layers`` (numbered inside it:
a Residual at index 5 holds ``"5.0.gamma"``, ``"5.1.W"``, ...). The output width of ``f`` must be
its input width. ``dL/dX = dL/dY + dL/dY·∂f/∂X``."""

from __future__ import annotations

from typing import Any

from ._chain import build_chain, check_layer_list
from ._layer import Layer, Site


class Residual(Layer):
    """``Residual(layers)``: ``layers`` a non-empty list of layers (no Embedding)."""

    leaf = False

    def __init__(self, layers: list[Layer]) -> None:
        self.layers = check_layer_list(layers, "Residual layers")

    def build(self, site: Site) -> tuple[Any, int]:
        inner = Site(site.path, site.n_inputs, site.dtype, False, False, site.leaves)
        children, width = build_chain(self.layers, inner, f"{site.path}.")
        if width != site.n_inputs:
            raise site.error(
                self,
                f"its layers map {site.n_inputs} features to {width}; x + f(x) needs f's output "
                "width to equal its input width",
            )
        return site.core("Residual")(children), width

    @classmethod
    def _from_arguments(cls, arguments: dict[str, Any]) -> Layer:
        layers = arguments.get("layers")
        if isinstance(layers, list):
            arguments = {**arguments, "layers": [Layer.from_config(entry) for entry in layers]}
        return cls(**arguments)
