"""What ``fit`` does at epoch ends, in Python while the native loop waits: early stopping with
best-weight restoring, and progress output (which ``progress_output`` chooses). User callbacks
are plain callables ``f(record) -> bool | None`` receiving the epoch's record (a dict, see
``History``); a true return value stops training."""

from __future__ import annotations

import importlib.util
import math
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

import numpy as np
import numpy.typing as npt


class EarlyStopping:
    """Stop when the monitored loss has not dropped below ``best − min_delta`` for ``patience``
    epochs in a row, and remember the parameters (and the state: running statistics) of the best
    epoch so they can be restored."""

    def __init__(
        self,
        parameters: npt.NDArray[Any],
        patience: int,
        min_delta: float,
        state: npt.NDArray[Any] | None = None,
    ) -> None:
        self._parameters = parameters  # the model's flat parameter buffer (a live view)
        self._state = state  # the model's flat state buffer (a live view), or None
        self.best_state: npt.NDArray[Any] | None = None
        self.patience = patience
        self.min_delta = min_delta
        self.best_loss = math.inf
        self.best_epoch = 0
        self.best_parameters: npt.NDArray[Any] | None = None
        self._bad_epochs = 0

    def __call__(self, epoch: int, loss: float) -> bool:
        """Record an epoch's monitored loss; True when training should stop."""
        if loss < self.best_loss - self.min_delta:
            self.best_parameters = np.copy(self._parameters)  # first, so best_* always agree
            self.best_state = None if self._state is None else np.copy(self._state)
            self.best_loss, self.best_epoch, self._bad_epochs = loss, epoch, 0
            return False
        self._bad_epochs += 1
        return self._bad_epochs >= self.patience

    def restore(self) -> None:
        """Write the best epoch's parameters and state back into the model (if there was a best
        epoch)."""
        if self.best_parameters is not None:
            self._parameters[...] = self.best_parameters
        if self._state is not None and self.best_state is not None:
            self._state[...] = self.best_state


def _describe(record: dict[str, Any], metric_name: str) -> str:
    parts = [f"loss {record['loss']:.4g}", f"{metric_name} {record['metric']:.4g}"]
    if "validation_loss" in record:
        parts += [
            f"val_loss {record['validation_loss']:.4g}",
            f"val_{metric_name} {record['validation_metric']:.4g}",
        ]
    return "  ".join(parts)


class EpochLines:
    """Plain progress lines ``epoch k/N  loss ...``: every ``every``-th epoch, the first and the
    last, and any epoch that ends ``interval`` seconds or more after the previous line (None:
    never for that reason). ``verbose=2``: every epoch on stdout; ``verbose=1`` where no bar can
    be drawn (a pipe, a CI log, a file): about ten lines per ``fit`` on stderr."""

    def __init__(
        self,
        epochs: int,
        metric_name: str,
        stream: TextIO | None = None,
        every: int = 1,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.epochs, self.metric_name = epochs, metric_name
        self.stream = stream or sys.stdout
        self.every, self.interval, self._clock = every, interval, clock
        self._last_time = clock()
        self._unprinted: dict[str, Any] | None = None  # the latest record, when not printed

    def __call__(self, record: dict[str, Any]) -> None:
        epoch = int(record["epoch"])
        now = self._clock()
        due = epoch == 1 or epoch % self.every == 0 or epoch == self.epochs
        if due or (self.interval is not None and now - self._last_time >= self.interval):
            self._print(record)
            self._last_time, self._unprinted = now, None
        else:
            self._unprinted = record

    def _print(self, record: dict[str, Any]) -> None:
        width = len(str(self.epochs))
        summary = _describe(record, self.metric_name)
        print(
            f"epoch {record['epoch']:>{width}}/{self.epochs}  {summary}",
            file=self.stream,
            flush=True,
        )

    def close(self) -> None:
        """Print the last epoch when training stopped before ``epochs`` on an unprinted one."""
        if self._unprinted is not None:
            self._print(self._unprinted)
            self._unprinted = None


class ProgressBar:
    """``verbose=1`` on a terminal or in a notebook: tqdm's bar over the epochs (``tqdm.auto``:
    a widget in Jupyter), with the latest losses and the time left. Needs tqdm."""

    def __init__(self, epochs: int, metric_name: str, stream: TextIO | None = None) -> None:
        from tqdm.auto import tqdm  # type: ignore[import-untyped]

        self.metric_name = metric_name
        self._tqdm = tqdm(total=epochs, unit="epoch", file=stream or sys.stderr, leave=True)

    def __call__(self, record: dict[str, Any]) -> None:
        self._tqdm.set_postfix_str(_describe(record, self.metric_name), refresh=False)
        self._tqdm.update(1)

    def close(self) -> None:
        self._tqdm.close()


#: ``verbose=1`` without a bar: about this many evenly spaced lines per ``fit`` (and the last
#: epoch), and at least one line every ``_LINE_INTERVAL`` seconds.
_LINES_PER_FIT = 10
_LINE_INTERVAL = 30.0


def in_notebook() -> bool:
    """True inside a Jupyter kernel (its IPython shell has a ``kernel``); IPython is not imported
    here: it is already imported in a notebook."""
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    shell = get_ipython() if callable(get_ipython) else None
    return shell is not None and hasattr(shell, "kernel")


def _tqdm_installed() -> bool:
    return importlib.util.find_spec("tqdm") is not None


def progress_output(verbose: int, epochs: int, metric_name: str) -> EpochLines | ProgressBar | None:
    """What ``fit(verbose=...)`` shows: 0 nothing; 2 a line per epoch on stdout; 1 tqdm's bar on
    stderr when tqdm is installed and stderr is a terminal or this is a notebook, otherwise about
    ten plain lines per ``fit`` on stderr (and one at least every 30 s)."""
    if verbose == 0:
        return None
    if verbose == 2:
        return EpochLines(epochs, metric_name, sys.stdout)
    on_terminal = bool(getattr(sys.stderr, "isatty", lambda: False)())
    if _tqdm_installed() and (on_terminal or in_notebook()):
        return ProgressBar(epochs, metric_name, sys.stderr)
    every = max(1, math.ceil(epochs / _LINES_PER_FIT))
    return EpochLines(epochs, metric_name, sys.stderr, every=every, interval=_LINE_INTERVAL)
