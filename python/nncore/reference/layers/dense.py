"""The dense (fully connected) layer: ``Z = A_prev·W + b``, ``A = g(Z)``.

Parameters: ``W`` of shape ``(n_in, units)`` (row-major), then ``b`` of shape ``(units,)``
(absent with ``use_bias=False``). Initial values as ``torch.nn.Linear``: both uniform in
``[−1/√n_in, 1/√n_in]``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from ..numpy_reference import Array
from ._checks import check_bool, check_int
from ._layer import Build, Layer, Pass
from .activation import ActivationOptions


class DenseCache(NamedTuple):
    A_prev: Array  # (n, n_in)
    Z: Array  # (n, units)
    A: Array  # (n, units)


class Dense(Layer):
    """``Dense(units, activation="identity", use_bias=True)``: ``A = g(A_prev·W + b)``.

    ``activation`` is any name of ``nncore.reference.numpy_reference.ACTIVATIONS`` (softmax only
    in the last layer); ``leaky_relu_slope`` (≥ 0) and ``elu_alpha`` (> 0) as in ``MLP``.
    """

    def __init__(
        self,
        units: int,
        activation: str = "identity",
        use_bias: bool = True,
        *,
        leaky_relu_slope: float = 0.01,
        elu_alpha: float = 1.0,
    ) -> None:
        self.units = check_int(units, "Dense", "units", 1)
        self.g = ActivationOptions(activation, leaky_relu_slope, elu_alpha, "Dense")
        self.use_bias = check_bool(use_bias, "Dense", "use_bias")
        self.output_activation = self.g.activation

    def build(self, n_in: int, path: str, build: Build, *, first: bool, last: bool) -> int:
        self.g.check_softmax_last(self, path, last)
        bound = 1.0 / math.sqrt(n_in)
        build.add_parameter(f"{path}.W", build.rng.uniform(-bound, bound, (n_in, self.units)))
        if self.use_bias:
            build.add_parameter(f"{path}.b", build.rng.uniform(-bound, bound, self.units))
        return self.units

    def forward(self, X: Array, path: str, run: Pass) -> tuple[Array, DenseCache]:
        Z = X @ run.parameters[f"{path}.W"]  # Z = A_prev · W          (n, n_in)·(n_in, units)
        if self.use_bias:
            Z = Z + run.parameters[f"{path}.b"]  # + b, broadcast over the rows
        A = self.g.activate(Z)  # A = g(Z)
        return A, DenseCache(X, Z, A)

    def backward(
        self, cache: DenseCache, dY: Array, path: str, run: Pass, gradients: dict[str, Array]
    ) -> Array:
        dZ = self.g.backward(cache.Z, cache.A, dY)  # dZ = g'(Z) ⊙ dA
        return self.backward_from_pre_activation(cache, dZ, path, run, gradients)

    def pre_activation(self, cache: DenseCache, output: Array) -> Array:
        return cache.Z

    def backward_from_pre_activation(
        self, cache: DenseCache, dZ: Array, path: str, run: Pass, gradients: dict[str, Array]
    ) -> Array:
        gradients[f"{path}.W"] = cache.A_prev.T @ dZ  # dW = A_prevᵀ · dZ
        if self.use_bias:
            gradients[f"{path}.b"] = dZ.sum(axis=0)  # db = Σ_rows dZ
        dA_prev: Array = dZ @ run.parameters[f"{path}.W"].T  # dA_prev = dZ · Wᵀ
        return dA_prev
