"""The record of one ``fit``: per-epoch values and why training stopped."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

#: Why ``fit`` returned.
STOP_REASONS = ("max_epochs", "target_loss", "no_improvement", "callback", "interrupted")


class History:
    """What happened during ``MLP.fit``.

    Attributes (also readable as ``history["loss"]`` and so on):

    - ``loss``: list of float, the mean training loss of each epoch, measured on each batch
      before that batch's update (as scikit-learn's ``loss_curve_``).
    - ``stop_reason``: one of ``STOP_REASONS``: ``"max_epochs"`` (ran all epochs),
      ``"target_loss"`` (the epoch loss reached ``target_loss``), ``"no_improvement"`` (no
      improvement larger than ``tol`` for ``n_iter_no_change`` epochs), ``"callback"`` (a
      callback asked to stop) or ``"interrupted"`` (Ctrl-C).
    - ``epochs``: int, the number of completed epochs (``len(loss)``).
    """

    def __init__(self, loss: list[float], stop_reason: str) -> None:
        self.loss = list(loss)
        self.stop_reason = stop_reason

    @property
    def epochs(self) -> int:
        return len(self.loss)

    def to_dict(self) -> dict[str, Any]:
        """A plain ``dict`` of lists and scalars (JSON-serialisable)."""
        return {"loss": list(self.loss), "stop_reason": self.stop_reason, "epochs": self.epochs}

    def __getitem__(self, key: str) -> Any:
        try:
            return self.to_dict()[key]
        except KeyError:
            raise KeyError(f"History has no entry {key!r}; entries: {list(self.keys())}") from None

    def keys(self) -> list[str]:
        return list(self.to_dict())

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return self.epochs

    def __repr__(self) -> str:
        last = f", final loss {self.loss[-1]:.6g}" if self.loss else ""
        return f"History({self.epochs} epochs{last}, stop_reason={self.stop_reason!r})"
