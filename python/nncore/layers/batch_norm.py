"""``BatchNorm(momentum, eps)``: as ``torch.nn.BatchNorm1d(k, eps, momentum)``.

In ``fit`` a batch is normalised with its own mean ``μ_B`` and biased variance ``σ²_B``,
``Y = γ ⊙ (X − μ_B)/√(σ²_B + ε) + β``, and after every batch the state is updated:
``running_mean ← (1 − m)·running_mean + m·μ_B``, ``running_var ← (1 − m)·running_var +
m·σ²_B·n/(n − 1)``. ``forward``, ``predict`` and validation use the running statistics;
``gradient`` uses the batch's and changes nothing. A batch of one row in ``fit`` is a
``ValueError``. Parameters ``"<path>.gamma"`` (ones), ``"<path>.beta"`` (zeros); state
``"<path>.running_mean"`` (zeros), ``"<path>.running_var"`` (ones)."""

from __future__ import annotations

from typing import Any

from .._validation import check_float
from ._layer import Layer, Site


class BatchNorm(Layer):
    """``BatchNorm(momentum=0.1, eps=1e-5)``: ``momentum`` in ``[0, 1]``, ``eps`` > 0."""

    def __init__(self, momentum: float = 0.1, eps: float = 1e-5) -> None:
        self.momentum = check_float(momentum, "BatchNorm momentum", minimum=0.0)
        if self.momentum > 1.0:
            raise ValueError(f"BatchNorm momentum must be in [0, 1], got {momentum}")
        self.eps = check_float(eps, "BatchNorm eps", minimum=0.0, strict=True)

    def build(self, site: Site) -> tuple[Any, int]:
        core = site.core("BatchNorm")(site.n_inputs, self.momentum, self.eps)
        return core, site.n_inputs
