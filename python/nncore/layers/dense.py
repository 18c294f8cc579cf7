"""``Dense(units)``: the fully connected layer, ``Z = X·W + b``, ``Y = g(Z)``, with ``W`` of
shape ``(n_in, units)`` and ``b`` of shape ``(units,)`` (parameters ``"<path>.W"``,
``"<path>.b"``)."""

from __future__ import annotations

from typing import Any

from .._validation import INITIALIZERS, MAX_LAYER_SIZE, check_choice, check_int
from ._activation_options import (
    RECTIFIERS,
    activation_constants,
    activation_name,
    check_softmax_last,
)
from ._layer import Layer, Site


class Dense(Layer):
    """``Dense(units, activation="identity", use_bias=True, init="auto", *,
    leaky_relu_slope=0.01, elu_alpha=1.0)``.

    ``activation``: any name of ``nncore.ACTIVATIONS`` (softmax in the last layer only).
    ``init``: ``"glorot_uniform"``, ``"glorot_normal"``, ``"he_uniform"``, ``"he_normal"``, or
    ``"auto"``: He uniform for a relu, leaky_relu or elu activation, Glorot uniform otherwise.
    Biases start at zero. Raises ``TypeError``/``ValueError`` naming the argument.
    """

    def __init__(
        self,
        units: int,
        activation: str = "identity",
        use_bias: bool = True,
        init: str = "auto",
        *,
        leaky_relu_slope: float = 0.01,
        elu_alpha: float = 1.0,
    ) -> None:
        self.units = check_int(units, "Dense units", 1, MAX_LAYER_SIZE)
        self.activation = activation_name(activation, "Dense")
        if not isinstance(use_bias, bool):
            raise TypeError(f"Dense use_bias must be a bool, got {use_bias!r}")
        self.use_bias = use_bias
        self.init = check_choice(init, "Dense init", INITIALIZERS)
        self.leaky_relu_slope, self.elu_alpha = activation_constants(
            leaky_relu_slope, elu_alpha, "Dense"
        )
        self.output_activation = self.activation

    def build(self, site: Site) -> tuple[Any, int]:
        check_softmax_last(self, self.activation, site)
        core = site.core("Dense")(
            site.n_inputs,
            self.units,
            self.activation,
            self.leaky_relu_slope,
            self.elu_alpha,
            self.use_bias,
        )
        return core, self.units

    def initializer(self) -> str | None:
        if self.init != "auto":
            return self.init
        return "he_uniform" if self.activation in RECTIFIERS else "glorot_uniform"
