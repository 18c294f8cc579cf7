"""What ``fit`` does at epoch ends, in Python while the native loop waits: early stopping with
best-weight restoring, and progress output. User callbacks are plain callables
``f(record) -> bool | None`` receiving the epoch's record (a dict, see ``History``); a true return
value stops training."""

from __future__ import annotations

import math
import sys
import time
from typing import Any, TextIO

import numpy as np
import numpy.typing as npt


class EarlyStopping:
    """Stop when the monitored loss has not dropped below ``best − min_delta`` for ``patience``
    epochs in a row, and remember the parameters of the best epoch so they can be restored."""

    def __init__(self, parameters: npt.NDArray[Any], patience: int, min_delta: float) -> None:
        self._parameters = parameters  # the model's flat parameter buffer (a live view)
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
            self.best_loss, self.best_epoch, self._bad_epochs = loss, epoch, 0
            return False
        self._bad_epochs += 1
        return self._bad_epochs >= self.patience

    def restore(self) -> None:
        """Write the best epoch's parameters back into the model (if there was a best epoch)."""
        if self.best_parameters is not None:
            self._parameters[...] = self.best_parameters


def _describe(record: dict[str, Any], metric_name: str) -> str:
    parts = [f"loss {record['loss']:.4g}", f"{metric_name} {record['metric']:.4g}"]
    if "validation_loss" in record:
        parts += [
            f"val_loss {record['validation_loss']:.4g}",
            f"val_{metric_name} {record['validation_metric']:.4g}",
        ]
    return "  ".join(parts)


class EpochLines:
    """``verbose=2``: one line per epoch."""

    def __init__(self, epochs: int, metric_name: str, stream: TextIO | None = None) -> None:
        self.epochs, self.metric_name = epochs, metric_name
        self.stream = stream or sys.stdout

    def __call__(self, record: dict[str, Any]) -> None:
        width = len(str(self.epochs))
        summary = _describe(record, self.metric_name)
        print(
            f"epoch {record['epoch']:>{width}}/{self.epochs}  {summary}",
            file=self.stream,
            flush=True,
        )

    def close(self) -> None:
        pass


class ProgressBar:
    """``verbose=1``: a bar over the epochs with the latest losses and the time left — tqdm's
    when it is installed, a plain one on one rewritten line otherwise."""

    def __init__(self, epochs: int, metric_name: str, stream: TextIO | None = None) -> None:
        self.epochs, self.metric_name = epochs, metric_name
        self.stream = stream or sys.stderr
        self._start = time.perf_counter()
        self._tqdm: Any = None
        try:
            from tqdm import tqdm  # type: ignore[import-untyped]
        except ImportError:
            pass
        else:
            self._tqdm = tqdm(total=epochs, unit="epoch", file=self.stream, leave=True)

    def __call__(self, record: dict[str, Any]) -> None:
        summary = _describe(record, self.metric_name)
        if self._tqdm is not None:
            self._tqdm.set_postfix_str(summary, refresh=False)
            self._tqdm.update(1)
            return
        epoch = int(record["epoch"])
        elapsed = time.perf_counter() - self._start
        left = elapsed / epoch * (self.epochs - epoch)
        filled = int(30 * epoch / self.epochs)
        bar = "#" * filled + "." * (30 - filled)
        self.stream.write(f"\r[{bar}] {epoch}/{self.epochs}  {summary}  ~{left:.0f}s left ")
        self.stream.flush()

    def close(self) -> None:
        if self._tqdm is not None:
            self._tqdm.close()
        else:
            self.stream.write("\n")
            self.stream.flush()
