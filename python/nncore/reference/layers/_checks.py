"""Checks of the layers' constructor arguments: each error names the layer and the argument."""

from __future__ import annotations

import math
from typing import Any

from ..numpy_reference import ACTIVATIONS


def check_int(value: Any, layer: str, argument: str, minimum: int) -> int:
    """``value`` as an int ``>= minimum``; ``TypeError`` for a non-integer (bools included)."""
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError(f"{layer}: {argument} must be an int, got {value!r}")
    number = int(value.__index__())
    if number < minimum:
        raise ValueError(f"{layer}: {argument} must be >= {minimum}, got {number}")
    return number


def check_float(
    value: Any, layer: str, argument: str, *, low: float, high: float, closed_high: bool
) -> float:
    """``value`` as a finite float in ``[low, high]`` (``[low, high)`` unless ``closed_high``)."""
    if isinstance(value, bool) or not hasattr(value, "__float__"):
        raise TypeError(f"{layer}: {argument} must be a number, got {value!r}")
    number = float(value)
    inside = low <= number <= high if closed_high else low <= number < high
    if not (math.isfinite(number) and inside):
        bracket = "]" if closed_high else ")"
        raise ValueError(f"{layer}: {argument} must be in [{low}, {high}{bracket}, got {value!r}")
    return number


def check_non_negative(value: Any, layer: str, argument: str) -> float:
    """``value`` as a finite float ``>= 0``."""
    return check_float(value, layer, argument, low=0.0, high=math.inf, closed_high=False)


def check_positive(value: Any, layer: str, argument: str) -> float:
    """``value`` as a finite float ``> 0`` (an ``eps``)."""
    number = check_non_negative(value, layer, argument)
    if number == 0.0:
        raise ValueError(f"{layer}: {argument} must be > 0, got {value!r}")
    return number


def check_bool(value: Any, layer: str, argument: str) -> bool:
    """``value`` if it is a bool, else ``TypeError``."""
    if not isinstance(value, bool):
        raise TypeError(f"{layer}: {argument} must be a bool, got {value!r}")
    return value


def check_activation(name: Any, layer: str) -> str:
    """``name`` if it is one of the reference's activation names."""
    if not isinstance(name, str):
        raise TypeError(f"{layer}: activation must be a str, got {name!r}")
    if name not in ACTIVATIONS:
        raise ValueError(
            f"{layer}: unknown activation {name!r}; valid choices are {', '.join(ACTIVATIONS)}"
        )
    return name
