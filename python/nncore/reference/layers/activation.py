"""The activation ``A = g(X)``: the end of a Dense layer, or a layer of its own.

Element-wise, except softmax (row-wise, in the network's last layer only). No parameters. The
formulas are those of ``nncore.reference.numpy_reference.activate`` and ``activation_backward``.
"""

from __future__ import annotations

from typing import NamedTuple

from ..numpy_reference import Array, activate, activation_backward
from ._checks import check_activation, check_non_negative, check_positive
from ._layer import Build, Layer, Pass, layer_error


class ActivationOptions:
    """The activation ``g`` of a layer and its parameters (``leaky_relu``'s slope, ``elu``'s α);
    shared by :class:`Activation` and :class:`~nncore.reference.layers.Dense`."""

    def __init__(
        self, activation: str, leaky_relu_slope: float, elu_alpha: float, layer: str
    ) -> None:
        self.activation = check_activation(activation, layer)
        self.leaky_relu_slope = check_non_negative(leaky_relu_slope, layer, "leaky_relu_slope")
        self.elu_alpha = check_positive(elu_alpha, layer, "elu_alpha")

    def check_softmax_last(self, layer: Layer, path: str, last: bool) -> None:
        """Softmax is an output activation only (as in ``MLP`` and the losses)."""
        if self.activation == "softmax" and not last:
            raise layer_error(layer, path, "softmax is only available in the network's last layer")

    def activate(self, Z: Array) -> Array:
        """A = g(Z)."""
        return activate(self.activation, Z, self.leaky_relu_slope, alpha=self.elu_alpha)

    def backward(self, Z: Array, A: Array, dA: Array) -> Array:
        """dZ = g'(Z) ⊙ dA (for softmax the row-wise Jacobian-vector product)."""
        return activation_backward(
            self.activation, Z, A, dA, self.leaky_relu_slope, alpha=self.elu_alpha
        )


class ActivationCache(NamedTuple):
    Z: Array  # the input, (n, k)
    A: Array  # g(Z), (n, k)


class Activation(Layer):
    """``Activation(name)``: ``A = g(X)``; ``name``, ``leaky_relu_slope`` and ``elu_alpha`` as
    in :class:`~nncore.reference.layers.Dense`."""

    def __init__(self, name: str, *, leaky_relu_slope: float = 0.01, elu_alpha: float = 1.0):
        self.g = ActivationOptions(name, leaky_relu_slope, elu_alpha, "Activation")
        self.output_activation = self.g.activation

    def build(self, n_in: int, path: str, build: Build, *, first: bool, last: bool) -> int:
        self.g.check_softmax_last(self, path, last)
        return n_in

    def forward(self, X: Array, path: str, run: Pass) -> tuple[Array, ActivationCache]:
        A = self.g.activate(X)  # A = g(X)
        return A, ActivationCache(X, A)

    def backward(
        self, cache: ActivationCache, dY: Array, path: str, run: Pass, gradients: dict[str, Array]
    ) -> Array:
        return self.g.backward(cache.Z, cache.A, dY)  # dX = g'(X) ⊙ dA

    def pre_activation(self, cache: ActivationCache, output: Array) -> Array:
        return cache.Z

    def backward_from_pre_activation(
        self, cache: ActivationCache, dZ: Array, path: str, run: Pass, gradients: dict[str, Array]
    ) -> Array:
        return dZ  # the input is Z itself
