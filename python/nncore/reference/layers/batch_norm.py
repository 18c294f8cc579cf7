"""Batch normalisation: each feature normalised over the batch, then scaled and shifted.

Exactly ``torch.nn.BatchNorm1d(k, eps, momentum)`` (affine, tracking running statistics).
Training mode, on a batch of n ≥ 2 rows::

    μ = (1/n) Σ_rows x          σ² = (1/n) Σ_rows (x − μ)²        (biased: normalises)
    Y = γ ⊙ (x − μ)/√(σ² + ε) + β
    running_mean ← (1 − momentum)·running_mean + momentum·μ
    running_var  ← (1 − momentum)·running_var  + momentum·σ²·n/(n − 1)   (unbiased)

Inference mode: ``Y = γ ⊙ (x − running_mean)/√(running_var + ε) + β``. Sample weights weigh
the loss, not these statistics (as in torch).

Parameters: ``gamma`` (k,), initially ones, then ``beta`` (k,), initially zeros. State:
``running_mean`` (k,), initially zeros, then ``running_var`` (k,), initially ones. Backward
(training mode only; μ and σ² depend on every row): see ``_normalization``.
"""

from __future__ import annotations

import numpy as np

from ..numpy_reference import Array
from ._checks import check_float, check_positive
from ._layer import Build, Layer, Pass, layer_error
from ._normalization import Normalized, normalize, scale_shift_backward


class BatchNorm(Layer):
    """``BatchNorm(momentum=0.1, eps=1e-5)``: per-feature normalisation over the batch."""

    def __init__(self, momentum: float = 0.1, eps: float = 1e-5) -> None:
        self.momentum = check_float(
            momentum, "BatchNorm", "momentum", low=0.0, high=1.0, closed_high=True
        )
        self.eps = check_positive(eps, "BatchNorm", "eps")

    def build(self, n_in: int, path: str, build: Build, *, first: bool, last: bool) -> int:
        build.add_parameter(f"{path}.gamma", np.ones(n_in))
        build.add_parameter(f"{path}.beta", np.zeros(n_in))
        build.add_state(f"{path}.running_mean", np.zeros(n_in))
        build.add_state(f"{path}.running_var", np.ones(n_in))
        return n_in

    def forward(self, X: Array, path: str, run: Pass) -> tuple[Array, Normalized | None]:
        gamma, beta = run.parameters[f"{path}.gamma"], run.parameters[f"{path}.beta"]
        if not run.training:
            mean, var = run.state[f"{path}.running_mean"], run.state[f"{path}.running_var"]
            X_hat = (X - mean) / np.sqrt(var + self.eps)  # x̂ with the running statistics
            return gamma * X_hat + beta, None
        n = X.shape[0]
        if n < 2:
            raise layer_error(self, path, "a batch of one row has no variance in training mode")
        normalized = normalize(X, axis=0, eps=self.eps)  # x̂ with the batch's μ, σ²
        self.update_running_statistics(normalized, n, path, run)
        return gamma * normalized.X_hat + beta, normalized  # Y = γ ⊙ x̂ + β

    def update_running_statistics(
        self, normalized: Normalized, n: int, path: str, run: Pass
    ) -> None:
        """running ← (1 − momentum)·running + momentum·batch statistic (variance unbiased)."""
        m = self.momentum
        mean_name, var_name = f"{path}.running_mean", f"{path}.running_var"
        unbiased = normalized.variance[0] * (n / (n - 1))  # σ²·n/(n − 1)
        run.new_state[mean_name] = (1 - m) * run.state[mean_name] + m * normalized.mean[0]
        run.new_state[var_name] = (1 - m) * run.state[var_name] + m * unbiased

    def backward(
        self, cache: Normalized | None, dY: Array, path: str, run: Pass, gradients: dict[str, Array]
    ) -> Array:
        if cache is None:
            raise layer_error(self, path, "the backward pass needs a training-mode forward")
        return scale_shift_backward(cache, dY, 0, path, run, gradients)
