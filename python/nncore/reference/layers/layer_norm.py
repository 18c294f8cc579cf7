"""Layer normalisation: each row normalised over its features, then scaled and shifted.

Exactly ``torch.nn.LayerNorm(k, eps)``::

    Y_i = γ ⊙ (x_i − μ_i)/√(σ_i² + ε) + β        μ_i, σ_i² over row i's k features (biased)

Parameters: ``gamma`` (k,), initially ones, then ``beta`` (k,), initially zeros. The same in
training and inference. Backward: see ``_normalization``.
"""

from __future__ import annotations

import numpy as np

from ..numpy_reference import Array
from ._checks import check_positive
from ._layer import Build, Layer, Pass
from ._normalization import Normalized, normalize, scale_shift_backward


class LayerNorm(Layer):
    """``LayerNorm(eps=1e-5)``: per-row normalisation with learned ``gamma`` and ``beta``."""

    def __init__(self, eps: float = 1e-5) -> None:
        self.eps = check_positive(eps, "LayerNorm", "eps")

    def build(self, n_in: int, path: str, build: Build, *, first: bool, last: bool) -> int:
        build.add_parameter(f"{path}.gamma", np.ones(n_in))
        build.add_parameter(f"{path}.beta", np.zeros(n_in))
        return n_in

    def forward(self, X: Array, path: str, run: Pass) -> tuple[Array, Normalized]:
        normalized = normalize(X, axis=1, eps=self.eps)  # x̂ per row
        gamma, beta = run.parameters[f"{path}.gamma"], run.parameters[f"{path}.beta"]
        return gamma * normalized.X_hat + beta, normalized  # Y = γ ⊙ x̂ + β

    def backward(
        self, cache: Normalized, dY: Array, path: str, run: Pass, gradients: dict[str, Array]
    ) -> Array:
        return scale_shift_backward(cache, dY, 1, path, run, gradients)
