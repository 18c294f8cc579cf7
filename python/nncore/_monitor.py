"""What early stopping and ``reduce_on_plateau`` watch (``fit(monitor=..., mode=...)``) and the
extra scores an epoch records (``fit(metrics=[...])``), as Keras's callbacks do.

A monitored value is one entry of the epoch's record: ``loss``, ``metric`` (accuracy or R², as
the native loop computes it over the epoch's batches), ``validation_loss``, ``validation_metric``,
or a metric of ``nncore.metrics`` that ``metrics`` asked for (``<name>`` on the training rows,
``validation_<name>`` on the validation rows). ``mode="min"`` means lower is better; the stopper
and the schedule always see a lower-is-better value: the value itself, or its negation for
``mode="max"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .metrics import METRICS, check_metrics

#: The monitored values every fit records (the validation ones only with validation data).
BUILT_IN = ("loss", "metric", "validation_loss", "validation_metric")
MODES = ("auto", "min", "max")
VALIDATION = "validation_"


@dataclass(frozen=True)
class Monitor:
    """The record entry to watch, whether lower (``"min"``) or higher (``"max"``) is better, and
    the extra metrics each epoch records."""

    name: str
    mode: str
    metrics: tuple[str, ...]

    def value(self, record: dict[str, Any]) -> float:
        """The monitored value of an epoch's record, oriented so that lower is better."""
        value = float(record[self.name])
        return value if self.mode == "min" else -value


def make_monitor(
    model: Any, monitor: Any, mode: Any, metrics: Any, validation: bool, early_stopping: Any
) -> Monitor:
    """``fit``'s ``monitor``, ``mode`` and ``metrics`` checked (``ValueError``/``TypeError``).
    ``monitor="auto"`` is ``validation_loss`` with validation data (or when early stopping is
    asked for: it then needs them), else ``loss``; ``mode="auto"`` is ``max`` for accuracy, R²
    and the metrics whose greater value is better, ``min`` for the rest. Whether the validation
    data a ``validation_*`` monitor needs are there is for the caller to check
    (``nncore.distributed.fit`` allows ranks without validation rows)."""
    task = "classify" if model.is_classifier else "regress"
    names = () if metrics is None else check_metrics(metrics, task)
    if names and model.output_activation == "sigmoid" and model.n_outputs > 1:
        raise ValueError(
            f"metrics score one class per sample; this model is multi-label (sigmoid with "
            f"{model.n_outputs} outputs)"
        )
    if "confusion_matrix" in names:
        raise ValueError("metrics: the confusion matrix is not one number per epoch; omit it")
    if monitor == "auto":
        monitor = "validation_loss" if validation or early_stopping is True else "loss"
    if not isinstance(monitor, str):
        raise TypeError(f"monitor must be a string, got {type(monitor).__name__}")
    recorded = (*BUILT_IN, *names, *(VALIDATION + name for name in names))
    if monitor not in recorded:
        raise ValueError(
            f"unknown monitor {monitor!r}; expected 'auto' or one of {', '.join(recorded)} "
            "(a metric of nncore.metrics is monitored when fit(metrics=[...]) asks for it)"
        )
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r:.60}")
    if mode == "auto":
        base = monitor.removeprefix(VALIDATION)
        greater = base == "metric" or (base in METRICS and METRICS[base].greater_is_better)
        mode = "max" if greater else "min"
    return Monitor(monitor, mode, names)


class EpochScores:
    """The metrics ``monitor.metrics`` of the model's outputs on the training rows and on the
    validation rows, after an epoch, in inference mode (no dropout; running statistics), as
    ``evaluate`` computes them: ``record[name]`` and ``record["validation_" + name]``."""

    def __init__(
        self,
        model: Any,
        names: tuple[str, ...],
        training: tuple[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any]],
        validation: tuple[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any]] | None,
    ) -> None:
        self.model, self.names = model, names
        self.parts = [("", *self._truth(training))]
        if validation is not None:
            self.parts.append((VALIDATION, *self._truth(validation)))

    def _truth(
        self, data: tuple[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any]]
    ) -> tuple[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any] | None]:
        """``(features, truth, weights or None)``: class indices of a classifier's targets
        (the largest softmax target; a sigmoid target >= ½), the targets of a regressor."""
        features, targets, weights = data
        if not self.model.is_classifier:
            truth = targets.astype(np.float64)
        elif self.model.output_activation == "softmax":
            truth = np.argmax(targets, axis=1)
        else:
            truth = (targets[:, 0] >= 0.5).astype(np.intp)
        return features, truth, (weights.astype(np.float64) if weights.size else None)

    def __call__(self) -> dict[str, float]:
        """The scores of the model as it is now, by record entry."""
        entries: dict[str, float] = {}
        for prefix, features, truth, weights in self.parts:
            output = self.model.forward(features)
            scores = self.model._scores(output, truth, self.names, weights)
            entries.update({prefix + name: float(value) for name, value in scores.items()})
        return entries
