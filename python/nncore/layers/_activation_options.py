"""The activation arguments shared by ``Dense`` and ``Activation``: a name of
``nncore.ACTIVATIONS`` (or an alias such as ``"silu"``), ``leaky_relu_slope`` and ``elu_alpha``."""

from __future__ import annotations

from typing import Any

from .._validation import ACTIVATION_ALIASES, ACTIVATIONS, check_choice, check_float
from ._layer import Layer, Site

#: The activations for which ``init="auto"`` picks He initialisation.
RECTIFIERS = ("relu", "leaky_relu", "elu")


def activation_name(name: Any, layer: str) -> str:
    """The core's name of an activation (``"silu"`` is ``"swish"``)."""
    if isinstance(name, str):
        name = ACTIVATION_ALIASES.get(name, name)
    return check_choice(name, f"{layer} activation", ACTIVATIONS)


def activation_constants(slope: Any, alpha: Any, layer: str) -> tuple[float, float]:
    """``leaky_relu_slope`` (>= 0) and ``elu_alpha`` (> 0), checked."""
    return (
        check_float(slope, f"{layer} leaky_relu_slope", minimum=0.0),
        check_float(alpha, f"{layer} elu_alpha", minimum=0.0, strict=True),
    )


def check_softmax_last(layer: Layer, activation: str, site: Site) -> None:
    """A softmax normalises the network's output rows: it may end the network only."""
    if activation == "softmax" and not site.last:
        raise site.error(layer, "softmax is only available in the network's last layer")
