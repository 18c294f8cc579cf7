"""One ``fit`` run around a loop over epochs (the native ``_core.fit``, or that of
``nncore.distributed.fit``): the model's fit lock, the optimizer and its learning rate, the
schedule, progress output, early stopping (the parameters *and* the state of the best epoch),
user callbacks and the ``History``. Works on any model of ``nncore.sequential``."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ._fit_plan import FitPlan
from ._monitor import EpochScores
from .callbacks import EarlyStopping, progress_output
from .history import History
from .schedules import Constant

#: Why a call is refused while another holds the model's fit lock (``RuntimeError``).
FIT_RUNNING = "fit is already running on this model in another thread"
#: ``loop(native_optimizer, on_epoch_end) -> (records, stop_reason)``.
Loop = Callable[[Any, Callable[[dict[str, Any]], bool] | None], tuple[list[dict[str, Any]], str]]


@contextmanager
def fit_lock(model: Any) -> Iterator[None]:
    """Hold ``model._fit_lock`` for a fit; ``RuntimeError`` if another fit (or ``backward``)
    holds it, with its own message for a re-entrant call from a callback."""
    if not model._fit_lock.acquire(blocking=False):
        if model._fit_thread == threading.get_ident():
            raise RuntimeError(
                "fit was called from a callback of this model's running fit (a re-entrant "
                "call), which cannot train the model the outer fit is training; return True "
                "from the callback to stop that fit, then call fit again"
            )
        raise RuntimeError(FIT_RUNNING)
    model._fit_thread = threading.get_ident()
    try:
        yield
    finally:
        model._fit_thread = None
        model._fit_lock.release()


class _EpochEnd:
    """What runs at every epoch end: the stopper, the schedule, the running history, progress
    output and the user's callbacks. A ``KeyboardInterrupt`` raised in here is turned into a
    clean stop by the binding, with this epoch's record kept: the stopper catches up after."""

    def __init__(
        self,
        plan: FitPlan,
        native_optimizer: Any,
        stopper: EarlyStopping | None,
        progress: Any,
        scores: EpochScores | None,
    ):
        self.plan, self.native_optimizer = plan, native_optimizer
        self.stopper, self.progress, self.scores = stopper, progress, scores
        self.scored: dict[int, dict[str, float]] = {}  # epoch: the scores its record gained
        self.running = History([], "running", "")
        self.stopped_early = False
        self.stopper_epoch = 0  # the last epoch the stopper has seen

    @property
    def needed(self) -> bool:
        """Whether anything needs the callback (else the native loop never takes the GIL)."""
        return (
            bool(self.plan.callbacks)
            or self.progress is not None
            or self.stopper is not None
            or self.scores is not None
            or not isinstance(self.plan.schedule, Constant)
        )

    def add_scores(self, record: dict[str, Any]) -> None:
        """The epoch's ``fit(metrics=[...])`` scores into its record (once an epoch)."""
        if self.scores is not None:
            epoch = int(record["epoch"])
            if epoch not in self.scored:
                self.scored[epoch] = self.scores()
            record.update(self.scored[epoch])

    def __call__(self, record: dict[str, Any]) -> bool:
        epoch = int(record["epoch"])
        self.add_scores(record)
        monitored = self.plan.monitor.value(record)
        stop = False
        if self.stopper is not None:
            if self.stopper(epoch, monitored):
                stop = self.stopped_early = True
            self.stopper_epoch = epoch
        schedule = self.plan.schedule
        schedule.observe(epoch, monitored)
        if not self.plan.optimizer.full_batch:  # (L-BFGS has no learning rate)
            self.native_optimizer.learning_rate = schedule.learning_rate(epoch + 1)
        self.running.append(record)
        if self.progress is not None:
            self.progress(record)
        for callback in self.plan.callbacks:
            stop = bool(callback(dict(record))) or stop
        return stop


def run_fit(model: Any, plan: FitPlan, loop: Loop, show_progress: bool) -> History:
    """Train ``model`` with ``loop(native_optimizer, on_epoch_end)``, which runs the epochs and
    returns ``(records, stop_reason)``; ``on_epoch_end`` is None when nothing needs it. Progress
    output only when ``show_progress``."""
    chosen, schedule = plan.optimizer, plan.schedule
    with fit_lock(model):
        # Everything Python checks is checked: from here on the model and the optimizer change,
        # and are put back if the native loop refuses its input before the first update.
        undo_optimizer, previous_optimizer = chosen._undoer(), model.optimizer
        native_optimizer = chosen._native(model.dtype)
        steps = chosen.step_count
        if plan.learning_rate is not None:
            chosen.learning_rate = plan.learning_rate
        model.optimizer = chosen
        schedule.mode = plan.monitor.mode
        schedule.start(chosen.learning_rate, plan.epochs)
        if not chosen.full_batch:
            native_optimizer.learning_rate = schedule.learning_rate(1)
        stopper = (
            EarlyStopping(
                model._network.parameters, plan.patience, plan.min_delta, model._network.state
            )
            if plan.early_stopping
            else None
        )
        metric_name = "accuracy" if model.is_classifier else "r2"
        progress = (
            progress_output(plan.verbose, plan.epochs, metric_name) if show_progress else None
        )
        scores = (
            EpochScores(
                model,
                plan.monitor.metrics,
                (plan.features, plan.targets, plan.weights),
                plan.validation_data(),
            )
            if plan.monitor.metrics
            else None
        )
        epoch_end = _EpochEnd(plan, native_optimizer, stopper, progress, scores)
        epoch_end.running = History([], "running", metric_name)
        # The history so far, extended at every epoch end before the user's callbacks: a
        # callback that saves the model saves it. On an exception the old one comes back.
        previous_history, model.history = model.history, epoch_end.running
        try:
            records, stop_reason = loop(native_optimizer, epoch_end if epoch_end.needed else None)
        except BaseException:
            model.history = previous_history
            if chosen.step_count == steps:  # refused at the door: nothing trained
                undo_optimizer()
                model.optimizer = previous_optimizer
            raise
        finally:
            if progress is not None:
                progress.close()
            # The schedule's rates belong to this fit: the optimizer leaves with its base rate
            # (the one it came with, unless a callback set another), where the next fit's
            # schedule starts.
            if not chosen.full_batch:
                native_optimizer.learning_rate = chosen.learning_rate
        best_epoch = _finish_stopper(plan, epoch_end, records)
        for record in records:  # (the native loop's records are not the callbacks' dicts)
            record.update(epoch_end.scored.get(int(record["epoch"]), {}))
        if epoch_end.stopped_early and stop_reason == "callback":
            stop_reason = "early_stopping"
    history = History(records, stop_reason, metric_name, best_epoch)
    model.history = history
    return history


def _finish_stopper(plan: FitPlan, epoch_end: _EpochEnd, records: list[dict[str, Any]]) -> Any:
    """The best epoch, after restoring its parameters and state (``restore_best_weights``)."""
    stopper = epoch_end.stopper
    if stopper is None:
        return None
    if records and int(records[-1]["epoch"]) > epoch_end.stopper_epoch:
        # Ctrl-C reached Python inside the last epoch's callback before the stopper saw that
        # epoch; training stopped right there, so the weights are still that epoch's.
        last = records[-1]
        epoch_end.add_scores(last)
        stopper(int(last["epoch"]), plan.monitor.value(last))
    if plan.restore_best_weights and stopper.best_parameters is not None:
        stopper.restore()
        return stopper.best_epoch
    return None
