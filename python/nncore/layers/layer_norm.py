"""``LayerNorm(eps)``: per row over its ``k`` features, as ``torch.nn.LayerNorm(k, eps)``:
``Y = γ ⊙ (X − μ_row)/√(σ²_row + ε) + β`` with the row's mean ``μ`` and biased variance ``σ²``;
parameters ``"<path>.gamma"`` (ones) and ``"<path>.beta"`` (zeros), ``(k,)`` each."""

from __future__ import annotations

from typing import Any

from .._validation import check_float
from ._layer import Layer, Site


class LayerNorm(Layer):
    """``LayerNorm(eps=1e-5)``: ``eps`` > 0."""

    def __init__(self, eps: float = 1e-5) -> None:
        self.eps = check_float(eps, "LayerNorm eps", minimum=0.0, strict=True)

    def build(self, site: Site) -> tuple[Any, int]:
        return site.core("LayerNorm")(site.n_inputs, self.eps), site.n_inputs
