"""Learning-rate schedules: the learning rate of each epoch, set on the optimizer between epochs.

Each schedule is a subclass of ``Schedule`` registered in ``SCHEDULES`` under its ``name``
(``fit(lr_schedule="cosine")``); every schedule maps the 1-based epoch ``e`` and the initial
rate ``η₀`` (the optimizer's learning rate when ``fit`` starts) to the rate used during epoch
``e``:

- ``Constant()``:                 ``η₀``
- ``StepDecay(step_size, gamma)``: ``η₀ · gamma^⌊(e − 1) / step_size⌋``
- ``ExponentialDecay(gamma)``:    ``η₀ · gamma^(e − 1)``
- ``CosineAnnealing(T_max, eta_min, warmup_epochs)``: a linear warm-up
  ``η₀ · e / (warmup_epochs + 1)`` for ``e ≤ warmup_epochs``, then
  ``eta_min + ½ (η₀ − eta_min)(1 + cos(π · t / T))`` with ``t = e − 1 − warmup_epochs`` and
  ``T = T_max − warmup_epochs`` (``T_max`` defaults to the ``epochs`` of ``fit``; past it the rate
  stays at ``eta_min``).
- ``InverseScaling(power_t)``:    ``η₀ / e^power_t`` (per epoch; scikit-learn's ``invscaling``
  counts samples instead)
- ``ReduceOnPlateau(factor, patience, threshold, cooldown, min_lr)``: PyTorch's
  ``ReduceLROnPlateau`` with a relative threshold, watching ``fit``'s ``monitor`` (by default
  the validation loss, else the training loss) in its ``mode``: after an epoch whose value does
  not improve on ``best · (1 − threshold)`` (``mode="min"``; ``best · (1 + threshold)`` for
  ``"max"``) for more than ``patience`` epochs in a row, ``η ← max(η · factor, min_lr)``, then
  wait ``cooldown`` epochs before counting again.

Every accepted hyper-parameter gives a usable rate at every epoch (the rate after the last
epoch included, which ``fit`` computes too): a rate that would overflow saturates at the
largest finite float (``sys.float_info.max``; training with it then raises
``nncore.DivergenceError`` as any too-large rate does), one that underflows becomes 0, and
``η₀ = 0`` gives 0 whatever the growth. Integer arguments are at most ``2**63 − 1``, the
largest epoch count ``fit`` takes.
"""

from __future__ import annotations

import math
import sys
from typing import Any, ClassVar

from ._registry import register
from ._validation import INDEX_MAX, check_float, check_int

#: Where a growing rate saturates instead of overflowing, and its natural logarithm.
LARGEST_RATE = sys.float_info.max
_LOG_LARGEST_RATE = math.log(LARGEST_RATE)


def times_power(rate: float, base: float, exponent: int) -> float:
    """``rate · base^exponent`` for ``rate >= 0``, ``base > 0``, ``exponent >= 0``, saturating:
    the largest float where it overflows, 0 where it underflows (and always for ``rate = 0``).
    Exactly the float expression ``rate * base ** exponent`` wherever that is finite."""
    if rate == 0.0:
        return 0.0
    try:
        power = base**exponent
    except OverflowError:
        power = math.inf
    if power == 0.0 or power == math.inf:  # base^exponent alone leaves the floats, not rate·it
        logarithm = math.log(rate) + exponent * math.log(base)
        return LARGEST_RATE if logarithm >= _LOG_LARGEST_RATE else math.exp(logarithm)
    return min(rate * power, LARGEST_RATE)


def over_power(rate: float, base: float, exponent: float) -> float:
    """``rate / base^exponent`` for ``rate >= 0``, ``base >= 1``, ``exponent >= 0``: 0 where it
    underflows, also when ``base^exponent`` alone overflows. Exactly
    ``rate / math.pow(base, exponent)`` wherever ``base^exponent`` is finite."""
    try:
        return rate / math.pow(base, exponent)
    except OverflowError:  # log(rate) − exponent·log(base) < log(max) − log(max) ≤ 0: no overflow
        if rate == 0.0:
            return 0.0
        return math.exp(math.log(rate) - exponent * math.log(base))


#: Every schedule by its ``name``: each subclass of ``Schedule`` that sets a ``name`` of its own
#: adds itself here when it is defined (``Schedule.__init_subclass__``).
SCHEDULES: dict[str, type[Schedule]] = {}


class Schedule:
    """Base class. ``start`` is called when ``fit`` begins, ``learning_rate(e)`` before epoch
    ``e``, and ``observe(e, loss)`` after it with the monitored value, oriented so that lower
    is better (``fit`` negates a value monitored with ``mode="max"``, and sets ``mode`` before
    ``start``). A subclass that sets its own ``name`` joins ``SCHEDULES`` (``TypeError`` if the
    name is taken)."""

    #: The name ``get_schedule`` knows the schedule by (the base has none).
    name: ClassVar[str] = ""
    #: ``"min"`` or ``"max"``: the ``mode`` of the value ``fit`` monitors (see ``observe``).
    mode: str = "min"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        register(SCHEDULES, cls, "schedule")

    def start(self, initial_learning_rate: float, epochs: int) -> None:
        self.initial_learning_rate = initial_learning_rate
        self.epochs = epochs

    def learning_rate(self, epoch: int) -> float:
        raise NotImplementedError

    def observe(self, epoch: int, loss: float) -> None:
        """Called after each epoch with the monitored loss; only ReduceOnPlateau uses it."""

    def __repr__(self) -> str:
        fields = ", ".join(
            f"{k}={v!r}"
            for k, v in vars(self).items()
            if not k.startswith("_") and k not in ("initial_learning_rate", "epochs")
        )
        return f"{type(self).__name__}({fields})"


class Constant(Schedule):
    """``η_e = η₀``."""

    name = "constant"

    def learning_rate(self, epoch: int) -> float:
        return self.initial_learning_rate


class StepDecay(Schedule):
    """``η_e = η₀ · gamma^⌊(e − 1) / step_size⌋``.

    ``step_size``: an integer in ``[1, 2**63 − 1]``; ``gamma``: any finite ``gamma > 0`` (above 1
    the rate grows, saturating at the largest float; below 1 it decays to 0).
    """

    name = "step"

    def __init__(self, step_size: int = 10, gamma: float = 0.1) -> None:
        self.step_size = check_int(step_size, "step_size", 1, INDEX_MAX)
        self.gamma = check_float(gamma, "gamma", minimum=0.0, strict=True)

    def learning_rate(self, epoch: int) -> float:
        return times_power(self.initial_learning_rate, self.gamma, (epoch - 1) // self.step_size)


class ExponentialDecay(Schedule):
    """``η_e = η₀ · gamma^(e − 1)``.

    ``gamma``: any finite ``gamma > 0`` (above 1 the rate grows, saturating at the largest float;
    below 1 it decays to 0).
    """

    name = "exponential"

    def __init__(self, gamma: float = 0.95) -> None:
        self.gamma = check_float(gamma, "gamma", minimum=0.0, strict=True)

    def learning_rate(self, epoch: int) -> float:
        return times_power(self.initial_learning_rate, self.gamma, epoch - 1)


class CosineAnnealing(Schedule):
    """Linear warm-up for ``warmup_epochs``, then cosine from ``η₀`` down to ``eta_min`` at
    epoch ``T_max`` (default: the ``epochs`` of ``fit``).

    ``T_max`` in ``[1, 2**63 − 1]``, ``warmup_epochs`` in ``[0, 2**63 − 1]``, ``eta_min`` finite
    and ``>= 0`` (it may exceed ``η₀``: the cosine then rises). Every rate lies between ``η₀``
    and ``eta_min``, so none overflows.
    """

    name = "cosine"

    def __init__(
        self, T_max: int | None = None, eta_min: float = 0.0, warmup_epochs: int = 0
    ) -> None:
        self.T_max = None if T_max is None else check_int(T_max, "T_max", 1, INDEX_MAX)
        self.eta_min = check_float(eta_min, "eta_min", minimum=0.0)
        self.warmup_epochs = check_int(warmup_epochs, "warmup_epochs", 0, INDEX_MAX)

    def learning_rate(self, epoch: int) -> float:
        eta0 = self.initial_learning_rate
        if epoch <= self.warmup_epochs:
            rate = eta0 * epoch / (self.warmup_epochs + 1)
            # η₀·e overflows for η₀ near the largest float; the fraction first cannot (e ≤ w).
            return rate if math.isfinite(rate) else eta0 * (epoch / (self.warmup_epochs + 1))
        total = (self.T_max if self.T_max is not None else self.epochs) - self.warmup_epochs
        t = epoch - 1 - self.warmup_epochs
        if total <= 0 or t >= total:
            return self.eta_min
        return self.eta_min + 0.5 * (eta0 - self.eta_min) * (1.0 + math.cos(math.pi * t / total))


class InverseScaling(Schedule):
    """``η_e = η₀ / e^power_t``.

    ``power_t``: any finite ``power_t >= 0``; where ``e^power_t`` overflows the rate is 0 (its
    true value underflows too).
    """

    name = "inverse_scaling"

    def __init__(self, power_t: float = 0.5) -> None:
        self.power_t = check_float(power_t, "power_t", minimum=0.0)

    def learning_rate(self, epoch: int) -> float:
        return over_power(self.initial_learning_rate, epoch, self.power_t)


class ReduceOnPlateau(Schedule):
    """Multiply the rate by ``factor`` when the monitored loss stops improving (see module doc).

    ``factor`` in ``(0, 1)``, ``patience`` and ``cooldown`` integers in ``[0, 2**63 − 1]``,
    ``threshold`` and ``min_lr`` finite and ``>= 0``. The rate never grows above
    ``max(η₀, min_lr)``.
    """

    name = "reduce_on_plateau"

    def __init__(
        self,
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
    ) -> None:
        self.factor = check_float(factor, "factor", minimum=0.0, strict=True)
        if self.factor >= 1.0:
            raise ValueError(f"factor must be < 1, got {factor}")
        self.patience = check_int(patience, "patience", 0, INDEX_MAX)
        self.threshold = check_float(threshold, "threshold", minimum=0.0)
        self.cooldown = check_int(cooldown, "cooldown", 0, INDEX_MAX)
        self.min_lr = check_float(min_lr, "min_lr", minimum=0.0)

    def start(self, initial_learning_rate: float, epochs: int) -> None:
        super().start(initial_learning_rate, epochs)
        self._rate = initial_learning_rate
        self._best = math.inf
        self._bad_epochs = 0
        self._cooldown_left = 0

    def learning_rate(self, epoch: int) -> float:
        return self._rate

    def observe(self, epoch: int, loss: float) -> None:
        # ``loss`` is lower-is-better: fit negates a value of mode="max", so torch's max-mode
        # test a > best·(1 + threshold) reads −a < −best·(1 + threshold) here.
        factor = 1.0 - self.threshold if self.mode == "min" else 1.0 + self.threshold
        if loss < self._best * factor:
            self._best = loss
            self._bad_epochs = 0
        else:
            self._bad_epochs += 1
        if self._cooldown_left > 0:
            self._cooldown_left -= 1
            self._bad_epochs = 0
        if self._bad_epochs > self.patience:
            self._rate = max(self._rate * self.factor, self.min_lr)
            self._cooldown_left = self.cooldown
            self._bad_epochs = 0


def get_schedule(schedule: Any) -> Schedule:
    """A ``Schedule`` from an instance, a name of ``SCHEDULES`` (a new schedule with default
    settings) or ``None`` (constant). Raises ``ValueError`` for anything else."""
    if schedule is None:
        return Constant()
    if isinstance(schedule, Schedule):
        return schedule
    if isinstance(schedule, str) and schedule in SCHEDULES:
        return SCHEDULES[schedule]()
    raise ValueError(
        f"unknown lr_schedule {schedule!r}; expected a nncore.schedules.Schedule or one of "
        f"{', '.join(SCHEDULES)}"
    )
