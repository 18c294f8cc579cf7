"""The record of one ``fit``: per-epoch values and why training stopped."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .metrics import METRICS

#: Why ``fit`` returned.
STOP_REASONS = (
    "max_epochs",
    "target_loss",
    "no_improvement",
    "early_stopping",
    "callback",
    "interrupted",
    # L-BFGS (nncore.optim.LBFGS) only: its own convergence tests and limits
    "gradient_tolerance",  # max_i |∂F/∂θ_i| <= tol
    "loss_tolerance",  # the relative reduction of the loss <= ftol
    "max_evaluations",  # max_fun evaluations of the loss
    "line_search_failed",  # no strong-Wolfe step, even by steepest descent
    "running",  # fit has not returned: the history so far (model.history during a fit)
)

#: The per-epoch series a History holds (each a list with one value per completed epoch).
SERIES = (
    "loss",
    "metric",
    "validation_loss",
    "validation_metric",
    "gradient_norm",
    "learning_rate",
)


def is_score(name: str) -> bool:
    """Whether a record entry is a score of ``fit(metrics=[...])``: ``<metric>`` or
    ``validation_<metric>`` for a metric of ``nncore.metrics`` (one number per epoch)."""
    base = name.removeprefix("validation_")
    return base in METRICS and METRICS[base].greater_is_better is not None


class History:
    """What happened during ``MLP.fit``; attributes are also readable as ``history["loss"]``.

    Per-epoch lists (one value per completed epoch):

    - ``loss``: the weighted mean training loss of the epoch, each batch measured before its
      update (as scikit-learn's ``loss_curve_``);
    - ``metric``: ``metric_name`` over the same batch outputs: ``"accuracy"`` for sigmoid/softmax
      outputs, ``"r2"`` (coefficient of determination) otherwise;
    - ``validation_loss``, ``validation_metric``: on the validation data after the epoch
      (empty without validation);
    - ``gradient_norm``: the mean over the epoch's batches of ‖dL/dθ‖₂, before clipping;
    - ``learning_rate``: the learning rate used during the epoch.

    ``scores``: ``{entry: per-epoch list}`` of the metrics ``fit(metrics=[...])`` asked for,
    ``<name>`` on the training rows and ``validation_<name>`` on the validation rows, computed
    after each epoch in inference mode (empty unless asked for; NaN for an epoch that Ctrl-C
    ended before its scores); ``history["f1_macro"]`` reads one.

    Scalars: ``stop_reason`` (one of ``STOP_REASONS``), ``epochs`` (completed epochs),
    ``best_epoch`` (1-based epoch whose weights early stopping restored, else None),
    ``metric_name``.
    """

    def __init__(
        self,
        records: list[dict[str, Any]],
        stop_reason: str,
        metric_name: str = "metric",
        best_epoch: int | None = None,
    ) -> None:
        self.loss: list[float] = []
        self.metric: list[float] = []
        self.validation_loss: list[float] = []
        self.validation_metric: list[float] = []
        self.gradient_norm: list[float] = []
        self.learning_rate: list[float] = []
        self.scores: dict[str, list[float]] = {}
        for record in records:
            self.append(record)
        self.stop_reason = stop_reason
        self.metric_name = metric_name
        self.best_epoch = best_epoch

    def append(self, record: dict[str, Any]) -> None:
        """Add one epoch: its record as ``fit`` passes it to callbacks (``loss`` required; a
        missing ``metric``, ``gradient_norm`` or ``learning_rate`` is NaN; the validation values
        only when present)."""
        nan = float("nan")
        self.loss.append(float(record["loss"]))
        self.metric.append(float(record.get("metric", nan)))
        if "validation_loss" in record:
            self.validation_loss.append(float(record["validation_loss"]))
        if "validation_metric" in record:
            self.validation_metric.append(float(record["validation_metric"]))
        self.gradient_norm.append(float(record.get("gradient_norm", nan)))
        self.learning_rate.append(float(record.get("learning_rate", nan)))
        for name in record:
            if is_score(name) and name not in self.scores:
                self.scores[name] = [nan] * (self.epochs - 1)
        for name, values in self.scores.items():
            values.append(float(record.get(name, nan)))

    @property
    def epochs(self) -> int:
        return len(self.loss)

    def to_dict(self) -> dict[str, Any]:
        """A plain ``dict`` of lists and scalars (JSON-serialisable)."""
        result: dict[str, Any] = {name: list(getattr(self, name)) for name in SERIES}
        result.update({name: list(values) for name, values in self.scores.items()})
        result.update(
            stop_reason=self.stop_reason,
            epochs=self.epochs,
            best_epoch=self.best_epoch,
            metric_name=self.metric_name,
        )
        return result

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

    def plot(self, ax: Any = None) -> Any:
        """Draw the training (and validation) loss per epoch with matplotlib; returns the axes.

        Needs matplotlib (``pip install "nncore[plot]"``); raises ``ImportError`` without it.
        """
        try:
            import matplotlib.pyplot as plt  # type: ignore[import-not-found, unused-ignore]
        except ImportError as error:
            raise ImportError(
                'History.plot needs matplotlib: pip install "nncore[plot]"'
            ) from error
        if ax is None:
            _, ax = plt.subplots()
        epochs = range(1, self.epochs + 1)
        ax.plot(epochs, self.loss, label="training loss")
        if self.validation_loss:
            ax.plot(epochs, self.validation_loss, label="validation loss")
        if self.best_epoch is not None:
            ax.axvline(self.best_epoch, linestyle=":", color="grey", label="best epoch")
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        ax.legend()
        return ax
