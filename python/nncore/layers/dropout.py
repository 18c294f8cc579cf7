"""``Dropout(rate)``: inverted dropout, in ``fit`` only: each unit is kept with probability
``1 − p`` and scaled by ``1/(1 − p)``; ``forward``, ``predict`` and ``gradient`` pass ``X``
through. The masks come from the model's seeded generator. No parameters."""

from __future__ import annotations

from typing import Any

from .._validation import check_float
from ._layer import Layer, Site


class Dropout(Layer):
    """``Dropout(rate)``: ``rate`` ``p`` in ``[0, 1)``."""

    def __init__(self, rate: float) -> None:
        self.rate = check_float(rate, "Dropout rate", minimum=0.0)
        if self.rate >= 1.0:
            raise ValueError(f"Dropout rate must be in [0, 1), got {rate}")

    def build(self, site: Site) -> tuple[Any, int]:
        return site.core("Dropout")(site.n_inputs, self.rate), site.n_inputs
