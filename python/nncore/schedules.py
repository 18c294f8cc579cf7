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
  ``ReduceLROnPlateau`` in ``min`` mode with a relative threshold: after an epoch whose monitored
  loss (the validation loss, else the training loss) is not below ``best · (1 − threshold)``
  for more than ``patience`` epochs in a row, ``η ← max(η · factor, min_lr)``, then wait
  ``cooldown`` epochs before counting again.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from ._registry import register
from ._validation import check_float, check_int

#: Every schedule by its ``name``: each subclass of ``Schedule`` that sets a ``name`` of its own
#: adds itself here when it is defined (``Schedule.__init_subclass__``).
SCHEDULES: dict[str, type[Schedule]] = {}


class Schedule:
    """Base class. ``start`` is called when ``fit`` begins, ``learning_rate(e)`` before epoch
    ``e``, and ``observe(e, loss)`` after it with the monitored loss. A subclass that sets its
    own ``name`` joins ``SCHEDULES`` (``TypeError`` if the name is taken)."""

    #: The name ``get_schedule`` knows the schedule by (the base has none).
    name: ClassVar[str] = ""

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
    """``η_e = η₀ · gamma^⌊(e − 1) / step_size⌋``."""

    name = "step"

    def __init__(self, step_size: int = 10, gamma: float = 0.1) -> None:
        self.step_size = check_int(step_size, "step_size", 1)
        self.gamma = check_float(gamma, "gamma", minimum=0.0, strict=True)

    def learning_rate(self, epoch: int) -> float:
        return self.initial_learning_rate * self.gamma ** ((epoch - 1) // self.step_size)


class ExponentialDecay(Schedule):
    """``η_e = η₀ · gamma^(e − 1)``."""

    name = "exponential"

    def __init__(self, gamma: float = 0.95) -> None:
        self.gamma = check_float(gamma, "gamma", minimum=0.0, strict=True)

    def learning_rate(self, epoch: int) -> float:
        return self.initial_learning_rate * self.gamma ** (epoch - 1)


class CosineAnnealing(Schedule):
    """Linear warm-up for ``warmup_epochs``, then cosine from ``η₀`` down to ``eta_min`` at
    epoch ``T_max`` (default: the ``epochs`` of ``fit``)."""

    name = "cosine"

    def __init__(
        self, T_max: int | None = None, eta_min: float = 0.0, warmup_epochs: int = 0
    ) -> None:
        self.T_max = None if T_max is None else check_int(T_max, "T_max", 1)
        self.eta_min = check_float(eta_min, "eta_min", minimum=0.0)
        self.warmup_epochs = check_int(warmup_epochs, "warmup_epochs", 0)

    def learning_rate(self, epoch: int) -> float:
        eta0 = self.initial_learning_rate
        if epoch <= self.warmup_epochs:
            return eta0 * epoch / (self.warmup_epochs + 1)
        total = (self.T_max if self.T_max is not None else self.epochs) - self.warmup_epochs
        t = epoch - 1 - self.warmup_epochs
        if total <= 0 or t >= total:
            return self.eta_min
        return self.eta_min + 0.5 * (eta0 - self.eta_min) * (1.0 + math.cos(math.pi * t / total))


class InverseScaling(Schedule):
    """``η_e = η₀ / e^power_t``."""

    name = "inverse_scaling"

    def __init__(self, power_t: float = 0.5) -> None:
        self.power_t = check_float(power_t, "power_t", minimum=0.0)

    def learning_rate(self, epoch: int) -> float:
        return self.initial_learning_rate / math.pow(epoch, self.power_t)


class ReduceOnPlateau(Schedule):
    """Multiply the rate by ``factor`` when the monitored loss stops improving (see module doc)."""

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
        self.patience = check_int(patience, "patience", 0)
        self.threshold = check_float(threshold, "threshold", minimum=0.0)
        self.cooldown = check_int(cooldown, "cooldown", 0)
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
        if loss < self._best * (1.0 - self.threshold):
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
