"""Synchronous data-parallel training over MPI (``mpi4py``), across processes and machines.

Run one process per rank (``mpiexec -n K python -m mpi4py script.py``); every rank holds its own
rows of the training data and calls ``fit`` with the same arguments. One step of training is, on
every rank:

1. forward and backward propagation of the rank's local mini-batch (the native core's), with the
   loss normalised by the weight of the *global* batch: ``g_r = Σ_{i∈B_r} w_i ∇ℓ_i / Σ_{i∈B} w_i``
   where ``B = ∪_r B_r`` (weights are 1 without ``sample_weight``);
2. one in-place ``Allreduce`` (sum) of the flat gradient buffer: ``g = Σ_r g_r`` is the gradient of
   the weighted mean loss over the global batch, exactly what single-process ``MLP.fit`` computes
   for that batch;
3. the same native optimizer update on every rank, so the parameters stay bit-identical.

The global batch weights ``Σ_{i∈B} w_i`` of all steps of an epoch are agreed on by one small
``Allreduce`` at the start of the epoch, and the epoch's losses and metrics by one at its end; so
every rank holds the same history and takes the same schedule, early-stopping and convergence
decisions. Nothing but the gradient is communicated per step.

Requires the optional extra ``nncore[mpi]`` (``mpi4py`` and the ``mpich`` wheels). Importing
``nncore`` does not import this module or MPI.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _core
from ._core import DivergenceError
from .history import History
from .mlp import FIT_RUNNING, MLP, _FitPlan

__all__ = ["fit", "load_shard", "shard_rows"]

Array = npt.NDArray[Any]


def _mpi() -> Any:
    try:
        from mpi4py import MPI
    except ImportError as error:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "nncore.distributed needs mpi4py: pip install 'nncore[mpi]' (mpi4py and the mpich "
            "wheels) or mpi4py built against a system MPI"
        ) from error
    return MPI


def _world(comm: Any) -> Any:
    return _mpi().COMM_WORLD if comm is None else comm


# ----------------------------------------------------------------------------- sharding


def shard_rows(n_rows: int, comm: Any = None) -> slice:
    """The rows of ``n_rows`` that this rank of ``comm`` (default ``MPI.COMM_WORLD``) holds: a
    contiguous block, balanced so that block sizes differ by at most one (the first
    ``n_rows mod K`` ranks hold one row more). Rank ``r`` of ``K`` gets
    ``slice(r·q + min(r, m), (r+1)·q + min(r+1, m))`` with ``q, m = divmod(n_rows, K)``.

    Raises ``ValueError`` for a negative ``n_rows``.
    """
    if isinstance(n_rows, bool) or not isinstance(n_rows, (int, np.integer)):
        raise TypeError(f"n_rows must be an int, got {n_rows!r}")
    if n_rows < 0:
        raise ValueError(f"n_rows must be >= 0, got {n_rows}")
    comm = _world(comm)
    rank, size = comm.Get_rank(), comm.Get_size()
    quotient, remainder = divmod(int(n_rows), size)
    start = rank * quotient + min(rank, remainder)
    stop = (rank + 1) * quotient + min(rank + 1, remainder)
    return slice(start, stop)


def load_shard(path: Any, comm: Any = None) -> Array:
    """This rank's rows (``shard_rows``) of the array in the ``.npy`` file ``path``, read through
    NumPy's memory mapping: only those rows are read from the file and held in memory, so a file
    larger than one process's memory can be trained on by enough ranks. Returns an in-memory copy
    of shape ``(rows of this rank, ...)`` with the file's dtype.

    Raises ``ValueError`` for a file holding a 0-d array (there are no rows to shard).
    """
    mapped = np.load(path, mmap_mode="r")
    try:
        if mapped.ndim == 0:
            raise ValueError(f"{path} holds a 0-d array; there are no rows to shard")
        rows = shard_rows(mapped.shape[0], comm)
        shard: Array = np.array(mapped[rows])  # reads and copies just these rows
    finally:
        mapping = getattr(mapped, "_mmap", None)
        del mapped
        if mapping is not None:
            mapping.close()
    return shard


# ----------------------------------------------------------------------------- faults


def _agree(comm: Any, error: Exception | None, value: Any = None) -> list[Any]:
    """Collective (one allgather): if any rank passes an error, raise the same error on every
    rank; otherwise return every rank's ``value``.

    The error of the lowest failing rank is raised, with its type when that is a built-in
    exception or ``nncore.DivergenceError`` (``RuntimeError`` otherwise) and a message naming
    the rank; on that rank the original exception is chained as the cause.
    """
    report = None if error is None else (type(error).__name__, str(error))
    gathered = comm.allgather((report, value))
    failed = [(rank, item[0]) for rank, item in enumerate(gathered) if item[0] is not None]
    if not failed:
        return [item[1] for item in gathered]
    rank, (type_name, message) = failed[0]
    others = f" (and on ranks {[r for r, _ in failed[1:]]})" if len(failed) > 1 else ""
    raise _remote_error(type_name, f"on rank {rank}{others}: {message}") from error


def _remote_error(type_name: str, message: str) -> Exception:
    if type_name == "DivergenceError":
        return DivergenceError(message)
    kind = getattr(builtins, type_name, None)
    if isinstance(kind, type) and issubclass(kind, Exception):
        try:
            return kind(message)
        except Exception:  # an exception type that needs other constructor arguments
            pass
    return RuntimeError(f"{type_name} {message}")


def _all_finite(vector: Array) -> bool:
    """Whether every entry is finite: the vectorised sum is finite unless an entry is inf/NaN or
    the sum overflows; only the (rare) latter case needs the entry-by-entry check."""
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(vector.sum()):
            return True
    return bool(np.isfinite(vector).all())


# ----------------------------------------------------------------------------- metric


class _MetricSums:
    """The epoch metric as sums that add across ranks (the formulas of ``nncore/metric.hpp``):

    accuracy  Σ_i w_i [prediction_i = label_i] / Σ_i w_i   (softmax: argmax; sigmoid: ≥ ½)
    R²        mean_j of 1 − Σ_i w_i (a_ij − y_ij)² / Σ_i w_i (y_ij − ȳ_j)², ȳ over all ranks' rows
              (an output with constant targets scores 1 if predicted exactly, else 0)

    ``partial(A, Y, w)`` gives a batch's sums (accuracy: [correct weight, weight]; R²: the
    residual squares per output); ``value(sums)`` the metric from their total over batches and
    ranks. For R², ``total_squares`` must be set first (``set_total_squares``, collective).
    """

    def __init__(self, output_activation: str, n_outputs: int) -> None:
        self.kind = {"softmax": "categorical", "sigmoid": "binary"}.get(output_activation, "r2")
        self.size = n_outputs if self.kind == "r2" else 2
        self.total_squares = np.zeros(n_outputs)

    def set_total_squares(self, comm: Any, Y: Array, w: Array) -> None:
        """Collective: Σ_i w_i (y_ij − ȳ_j)² over the rows of every rank (two small reductions)."""
        if self.kind != "r2":
            return
        weights = np.ones(Y.shape[0]) if w.size == 0 else w.astype(np.float64)
        sums = np.append(weights @ Y.astype(np.float64), weights.sum())
        comm.Allreduce(_mpi().IN_PLACE, sums, op=_mpi().SUM)
        mean = sums[:-1] / sums[-1] if sums[-1] > 0 else np.zeros(Y.shape[1])
        squares = weights @ np.square(Y.astype(np.float64) - mean)
        comm.Allreduce(_mpi().IN_PLACE, squares, op=_mpi().SUM)
        self.total_squares = squares

    def partial(self, A: Array, Y: Array, w: Array) -> Array:
        weights = np.ones(A.shape[0]) if w.size == 0 else w.astype(np.float64)
        if self.kind == "r2":
            result: Array = weights @ np.square(A.astype(np.float64) - Y)
            return result
        if self.kind == "categorical":
            right = np.argmax(A, axis=1) == np.argmax(Y, axis=1)
        else:
            right = ((A >= 0.5) == (Y >= 0.5)).all(axis=1)
        return np.array([weights @ right, weights.sum()])

    def value(self, sums: Array) -> float:
        if self.kind != "r2":
            return float(sums[0] / sums[1]) if sums[1] > 0 else 0.0
        scores = [
            1.0 - r / t if t > 0 else (1.0 if r == 0 else 0.0)
            for r, t in zip(sums, self.total_squares, strict=True)
        ]
        return float(np.mean(scores)) if scores else 0.0


# ----------------------------------------------------------------------------- training


def fit(model: MLP, X_local: Any, y_local: Any, comm: Any = None, **fit_kwargs: Any) -> History:
    """Synchronous data-parallel ``model.fit`` over the ranks of ``comm`` (default
    ``MPI.COMM_WORLD``): a collective call that every rank makes with its own rows
    ``X_local`` ``(n_r, n_features)``, ``y_local`` and the same keyword arguments, which are those
    of ``MLP.fit`` (``sample_weight`` and ``validation_data`` are this rank's too;
    ``validation_split`` holds out the last rows of this rank's data). Returns the ``History``,
    the same on every rank, and leaves bit-identical models on all ranks.

    At the start, rank 0's parameters, generator state and optimizer (state and hyper-parameters)
    are broadcast to all ranks; the models must have the same architecture and dtype.

    Batches and steps. ``batch_size`` is the *local* batch size ``b``: a step trains on the
    global batch made of every rank's next ``b`` rows (``K·b`` rows with ``K`` ranks, fewer at the
    end of an epoch). An epoch has ``ceil(max_r n_r / b)`` steps, so every row of every rank is
    visited once per epoch; a rank that has run out of rows in a step contributes a zero gradient
    with zero weight (it still joins the all-reduce), and a step whose global batch has zero
    weight is skipped by all ranks. The gradient of a step is that of the weighted mean loss over
    its global batch, so shards of different sizes do not bias training. With ``shuffle=False``,
    ``K`` ranks and local batch ``b``, where rank ``r`` holds the blocks of ``b`` rows whose block
    index is ``r`` mod ``K``, training is single-process ``MLP.fit`` on all the rows with batch
    size ``K·b`` (up to rounding). With ``shuffle=True``, each rank draws the order of its own rows
    every epoch from a generator seeded by rank 0's model generator and the rank: a run is
    reproducible for a given seed and ``K``.

    Epoch records: the loss and metric over all ranks' batches (and validation rows), reduced at
    each epoch end, so that schedules, early stopping, ``target_loss``/``tol`` convergence and
    user callbacks see the same record on every rank; training stops when any rank's callback
    asks it to. Progress output (``verbose``) is printed by rank 0 only. Dropout masks come from
    the rank's own generator.

    Faults. Bad arguments on any rank raise the same exception (naming the rank) on every rank
    before anything changes. An exception or a non-finite loss in one rank's step marks its
    gradient buffer non-finite before the all-reduce, so every rank sees it after the same step
    and raises that rank's error (``nncore.DivergenceError`` for divergence), the model keeping
    the weights from before the step; an exception in a callback stops every rank at that epoch's
    end. Run scripts as ``mpiexec -n K python -m mpi4py script.py``: an exception escaping on one
    rank, or Ctrl-C (``KeyboardInterrupt``, noticed by each rank at a different moment), then
    aborts every rank instead of leaving the others waiting in a collective.

    Raises ``ImportError`` without mpi4py, ``ValueError``/``TypeError`` for bad input.
    """
    comm = _world(comm)
    rank = comm.Get_rank()

    # -- setup: validate locally, then agree (one allgather) before anything changes
    plan: _FitPlan | None = None
    error: Exception | None = None
    signature: dict[str, Any] | None = None
    try:
        if not isinstance(model, MLP):
            raise TypeError(f"model must be an nncore.MLP, got {type(model).__name__}")
        plan = model._fit_plan(X_local, y_local, **fit_kwargs)
        if model._fit_lock.locked():  # refused before the broadcasts below change the model
            raise RuntimeError(FIT_RUNNING)
        signature = _signature(model, plan)
    except Exception as caught:
        error = caught
    signatures = _agree(comm, error, signature)
    differing = [
        name
        for name in signatures[0]
        if any(other[name] != signatures[0][name] for other in signatures)
    ]
    if differing:
        values = "; ".join(f"{name}: {[other[name] for other in signatures]}" for name in differing)
        raise ValueError(f"the models or fit arguments differ across ranks ({values})")
    assert plan is not None

    # -- rank 0's state to everyone: optimizer (state and learning rate), parameters, generator
    optimizer_state, learning_rate = comm.bcast(
        (plan.optimizer.state_dict(), plan.learning_rate), root=0
    )
    error = None
    if rank != 0:
        try:
            plan.optimizer.load_state_dict(optimizer_state)  # restores rank 0's rate too
        except Exception as caught:
            error = caught
    _agree(comm, error)
    plan.learning_rate = learning_rate
    comm.Bcast(model._network.parameters, root=0)
    model._random.state = comm.bcast(tuple(model._random.state), root=0)

    # Each rank's generator (shuffling, dropout masks): seeded by rank 0's model generator and
    # the rank; the model generator advances by one draw on every rank, so that the next fit
    # draws new orders and the models stay identical.
    entropy = [int(word) for word in model._random.state]
    model._random.uniform01()
    local_random = np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(rank,)))
    dropout_random = _core.Random(int(local_random.integers(1, 2**63)))

    def loop(
        native_optimizer: Any, on_epoch_end: Callable[[dict[str, Any]], bool] | None
    ) -> tuple[list[dict[str, Any]], str]:
        assert plan is not None
        return _train(
            model, plan, comm, native_optimizer, on_epoch_end, local_random, dropout_random
        )

    return model._run_fit(plan, loop, show_progress=rank == 0)


def _signature(model: MLP, plan: _FitPlan) -> dict[str, Any]:
    """What must be the same on every rank: the architecture and every argument that decides the
    updates or the number of collective calls (the learning rate is rank 0's)."""
    optimizer = plan.optimizer.hyperparameters()
    return {
        "layer_sizes": model.layer_sizes,
        "activations": model.activations,
        "dtype": model.dtype.name,
        "use_bias": model.use_bias,
        "dropout": model.dropout,
        "loss": plan.loss,
        "huber_delta": plan.huber_delta,
        "optimizer": (
            plan.optimizer.name,
            {k: v for k, v in optimizer.items() if k != "learning_rate"},
        ),
        "lr_schedule": repr(plan.schedule),
        "epochs": plan.epochs,
        "batch_size": plan.batch_size,
        "shuffle": plan.shuffle,
        "target_loss": plan.target_loss,
        "tol": plan.tol,
        "n_iter_no_change": plan.n_iter_no_change,
        "early_stopping": (plan.early_stopping, plan.patience, plan.min_delta),
        "restore_best_weights": plan.restore_best_weights,
    }


def _train(
    model: MLP,
    plan: _FitPlan,
    comm: Any,
    native_optimizer: Any,
    on_epoch_end: Callable[[dict[str, Any]], bool] | None,
    local_random: np.random.Generator,
    dropout_random: Any,
) -> tuple[list[dict[str, Any]], str]:
    MPI = _mpi()
    network = model._network
    parameters, gradients = network.parameters, network.gradients
    X, Y, w = plan.features, plan.targets, plan.weights
    weighted = w.size > 0
    X_val, Y_val, w_val = plan.validation
    b = plan.batch_size
    n_local = X.shape[0]
    steps = math.ceil(max(comm.allgather(n_local)) / b)
    dropout = any(rate > 0 for rate in model.dropout)
    step_type = _core.BatchStepF32 if model.dtype == np.float32 else _core.BatchStepF64
    batch_step = step_type(network, min(b, n_local))
    capacity = min(b, n_local)
    outputs_buffer = np.empty((capacity, model.n_outputs), dtype=model.dtype)
    # Shuffled batches are gathered into these; unshuffled batches are views of X, Y and w.
    X_batch = np.empty((capacity, X.shape[1]), dtype=model.dtype)
    Y_batch = np.empty((capacity, Y.shape[1]), dtype=model.dtype)
    w_batch = np.empty(capacity if weighted else 0, dtype=model.dtype)
    previous = np.empty_like(parameters)

    metric = _MetricSums(model.activations[-1], model.n_outputs)
    validation_metric = _MetricSums(model.activations[-1], model.n_outputs)
    metric.set_total_squares(comm, Y, w)
    has_validation = X_val is not None
    # Whether any rank has validation rows: every rank must take part in the same reductions.
    has_validation = any(comm.allgather(has_validation))
    if has_validation:
        if X_val is None:
            X_val = np.empty((0, model.n_features), dtype=model.dtype)
            Y_val = np.empty((0, model.n_outputs), dtype=model.dtype)
            w_val = np.empty(0, dtype=model.dtype)
        assert Y_val is not None and w_val is not None
        validation_metric.set_total_squares(comm, Y_val, w_val)
    total_weight = np.array([float(w.sum()) if weighted else float(n_local)])
    comm.Allreduce(MPI.IN_PLACE, total_weight, op=MPI.SUM)

    records: list[dict[str, Any]] = []
    best_loss = math.inf
    epochs_without_improvement = 0
    for epoch in range(1, plan.epochs + 1):
        order = local_random.permutation(n_local) if plan.shuffle else None
        # The weight of every step's global batch, agreed on once per epoch.
        step_weights = np.zeros(steps)
        for step in range(steps):
            block = slice(step * b, min((step + 1) * b, n_local))
            if not weighted:
                step_weights[step] = max(0, block.stop - block.start)
            elif block.start < n_local:
                step_weights[step] = float(w[block if order is None else order[block]].sum())
        comm.Allreduce(MPI.IN_PLACE, step_weights, op=MPI.SUM)

        summed_error = 0.0
        metric_sums = np.zeros(metric.size)
        summed_gradient_norm = 0.0
        batches = 0
        learning_rate = native_optimizer.learning_rate
        for step in range(steps):
            if not step_weights[step] > 0:
                continue  # an empty global batch: skipped by every rank alike
            batches += 1
            start, stop = step * b, min((step + 1) * b, n_local)
            error: Exception | None = None
            try:
                if start >= stop:
                    gradients[...] = 0  # out of rows: zero gradient, zero weight
                else:
                    if order is None:
                        xb, yb = X[start:stop], Y[start:stop]
                        wb = w[start:stop] if weighted else w
                    else:
                        rows = order[start:stop]
                        m = stop - start
                        xb = np.take(X, rows, axis=0, out=X_batch[:m])
                        yb = np.take(Y, rows, axis=0, out=Y_batch[:m])
                        wb = np.take(w, rows, out=w_batch[:m]) if weighted else w
                    outputs = outputs_buffer[: stop - start]
                    batch_error = batch_step.run(
                        network,
                        xb,
                        yb,
                        wb,
                        plan.loss,
                        plan.huber_delta,
                        float(step_weights[step]),
                        dropout_random if dropout else None,
                        outputs,
                    )
                    if not math.isfinite(batch_error):
                        raise DivergenceError(
                            f"training diverged: non-finite loss at epoch {epoch}, batch "
                            f"{batches}; the model keeps the weights from before this batch"
                        )
                    summed_error += batch_error
                    metric_sums += metric.partial(outputs, yb, wb)
            except Exception as caught:
                error = caught
                gradients[...] = np.nan  # tells every rank after the all-reduce
            comm.Allreduce(MPI.IN_PLACE, gradients, op=MPI.SUM)
            if not _all_finite(gradients):
                _agree(comm, error)  # raises the failing rank's error, if a rank failed
                raise DivergenceError(
                    f"training diverged: non-finite gradient at epoch {epoch}, batch "
                    f"{batches}; the model keeps the weights from before this batch"
                )
            squared = float(np.dot(gradients, gradients))
            if not math.isfinite(squared):
                squared = float(np.dot(gradients.astype(np.float64), gradients))
            summed_gradient_norm += math.sqrt(squared)
            np.copyto(previous, parameters)  # restored if the update overflows
            native_optimizer.step(parameters, gradients)
            if not _all_finite(parameters):  # the same on every rank: the same update
                parameters[...] = previous
                raise DivergenceError(
                    "training diverged: the update made parameters non-finite at epoch "
                    f"{epoch}, batch {batches}; the model keeps the weights from before this batch"
                )

        # Epoch end: one reduction of [Σ error, metric sums, validation Σ error, its weight and
        # metric sums] over the ranks.
        sums = [np.array([summed_error]), metric_sums]
        if has_validation:
            assert X_val is not None and Y_val is not None and w_val is not None
            n_val = X_val.shape[0]
            val_weight = float(w_val.sum()) if w_val.size else float(n_val)
            val_error, val_partial = 0.0, np.zeros(validation_metric.size)
            if n_val > 0:
                val_loss, _ = network.evaluate(X_val, Y_val, w_val, plan.loss, plan.huber_delta)
                val_error = val_loss * val_weight
                val_partial = validation_metric.partial(network.forward(X_val), Y_val, w_val)
            sums += [np.array([val_error, val_weight]), val_partial]
        reduced = np.concatenate(sums)
        comm.Allreduce(MPI.IN_PLACE, reduced, op=MPI.SUM)
        record: dict[str, Any] = {
            "epoch": epoch,
            "loss": float(reduced[0] / total_weight[0]),
            "metric": metric.value(reduced[1 : 1 + metric.size]),
            "gradient_norm": summed_gradient_norm / batches if batches else 0.0,
            "learning_rate": learning_rate,
        }
        if has_validation:
            rest = reduced[1 + metric.size :]
            record["validation_loss"] = float(rest[0] / rest[1]) if rest[1] > 0 else 0.0
            record["validation_metric"] = validation_metric.value(rest[2:])
        records.append(record)
        if record["loss"] < best_loss - plan.tol:
            epochs_without_improvement = 0
        else:
            epochs_without_improvement += 1
        best_loss = min(best_loss, record["loss"])

        # Callbacks run on every rank; any rank's error or stop request is everyone's.
        callback_error: Exception | None = None
        callback_stops = False
        if on_epoch_end is not None:
            try:
                callback_stops = bool(on_epoch_end(dict(record)))
            except Exception as caught:
                callback_error = caught
        callback_stops = any(_agree(comm, callback_error, callback_stops))
        if plan.target_loss is not None and record["loss"] <= plan.target_loss:
            return records, "target_loss"
        if plan.n_iter_no_change > 0 and epochs_without_improvement >= plan.n_iter_no_change:
            return records, "no_improvement"
        if callback_stops:
            return records, "callback"
    return records, "max_epochs"
