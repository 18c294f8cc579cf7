"""Normalisation to zero mean and unit variance along one axis, then ``γ ⊙ x̂ + β``; backward.

Shared by LayerNorm (``axis=1``: each row over its features) and BatchNorm (``axis=0``: each
feature over the batch); ``gamma`` and ``beta`` are per feature in both. With m values along
the axis::

    μ  = (1/m) Σ x                 σ² = (1/m) Σ (x − μ)²      (biased variance)
    x̂  = (x − μ) / √(σ² + ε)

and, given dx̂ = dL/dx̂ (x̂ depends on every x along the axis through μ and σ²)::

    dx = (1/√(σ² + ε)) · (dx̂ − mean(dx̂) − x̂ · mean(dx̂ ⊙ x̂))

and for the scale and shift ``Y = γ ⊙ x̂ + β``: dγ = Σ_rows dY ⊙ x̂, dβ = Σ_rows dY, dx̂ = dY ⊙ γ.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..numpy_reference import Array
from ._layer import Pass


class Normalized(NamedTuple):
    X_hat: Array  # (x − μ)/√(σ² + ε), the input's shape
    inv_std: Array  # 1/√(σ² + ε), kept dimension along the axis
    mean: Array  # μ, kept dimension along the axis
    variance: Array  # σ² (biased), kept dimension along the axis


def normalize(X: Array, axis: int, eps: float) -> Normalized:
    """x̂ = (x − μ)/√(σ² + ε) along ``axis``, with the statistics used."""
    mean = X.mean(axis=axis, keepdims=True)  # μ
    centered = X - mean
    variance = (centered * centered).mean(axis=axis, keepdims=True)  # σ², biased
    inv_std = 1.0 / np.sqrt(variance + eps)  # 1/√(σ² + ε)
    return Normalized(centered * inv_std, inv_std, mean, variance)


def normalize_backward(normalized: Normalized, dX_hat: Array, axis: int) -> Array:
    """dx = (1/√(σ² + ε)) · (dx̂ − mean(dx̂) − x̂ · mean(dx̂ ⊙ x̂)) along ``axis``."""
    X_hat = normalized.X_hat
    mean_d = dX_hat.mean(axis=axis, keepdims=True)  # mean(dx̂)
    mean_dx = (dX_hat * X_hat).mean(axis=axis, keepdims=True)  # mean(dx̂ ⊙ x̂)
    dX: Array = normalized.inv_std * (dX_hat - mean_d - X_hat * mean_dx)
    return dX


def scale_shift_backward(
    normalized: Normalized,
    dY: Array,
    axis: int,
    path: str,
    run: Pass,
    gradients: dict[str, Array],
) -> Array:
    """Backward of ``Y = γ ⊙ x̂ + β`` (parameters ``path.gamma``, ``path.beta``): dX."""
    gradients[f"{path}.gamma"] = (dY * normalized.X_hat).sum(axis=0)  # dγ = Σ_rows dY ⊙ x̂
    gradients[f"{path}.beta"] = dY.sum(axis=0)  # dβ = Σ_rows dY
    dX_hat = dY * run.parameters[f"{path}.gamma"]  # dx̂ = dY ⊙ γ
    return normalize_backward(normalized, dX_hat, axis)
