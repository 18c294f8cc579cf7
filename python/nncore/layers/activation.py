"""``Activation(name)``: ``Y = g(X)`` element-wise (any activation of ``Dense``, as a layer of its
own, e.g. after a normalisation). No parameters."""

from __future__ import annotations

from typing import Any

from ._activation_options import activation_constants, activation_name, check_softmax_last
from ._layer import Layer, Site


class Activation(Layer):
    """``Activation(name, *, leaky_relu_slope=0.01, elu_alpha=1.0)``: ``name`` is any name of
    ``nncore.ACTIVATIONS`` (softmax in the last layer only)."""

    def __init__(self, name: str, *, leaky_relu_slope: float = 0.01, elu_alpha: float = 1.0):
        self.name = activation_name(name, "Activation")
        self.leaky_relu_slope, self.elu_alpha = activation_constants(
            leaky_relu_slope, elu_alpha, "Activation"
        )
        self.output_activation = self.name

    def build(self, site: Site) -> tuple[Any, int]:
        check_softmax_last(self, self.name, site)
        width = site.n_inputs
        core = site.core("Activation")(width, self.name, self.leaky_relu_slope, self.elu_alpha)
        return core, width
