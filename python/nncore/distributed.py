"""Synchronous data-parallel training over MPI (``mpi4py``), across processes and machines.

Run one process per rank (``mpiexec -n K python -m mpi4py script.py``); every rank holds its own
rows of the training data and calls ``fit`` with the same arguments. Every rank runs the native
training loop of ``MLP.fit`` (``nncore/training.hpp``) on its rows, with a reduction over the ranks
(``nncore/reduction.hpp``): one step of training is, on every rank,

1. forward and backward propagation of the rank's local mini-batch, with the loss normalised by
   the weight of the *global* batch: ``g_r = Σ_{i∈B_r} w_i ∇ℓ_i / Σ_{i∈B} w_i`` where
   ``B = ∪_r B_r`` (weights are 1 without ``sample_weight``);
2. one in-place ``Allreduce`` (sum) of the flat gradient buffer: ``g = Σ_r g_r`` is the gradient of
   the weighted mean loss over the global batch, exactly what single-process ``MLP.fit`` computes
   for that batch;
3. the same native optimizer update on every rank, so the parameters stay bit-identical.

The global batch weights ``Σ_{i∈B} w_i`` of all steps of an epoch are agreed on by one small
``Allreduce`` at the start of the epoch, and the epoch's losses and metrics by one at its end; so
every rank holds the same history and takes the same schedule, early-stopping and convergence
decisions. Nothing but the gradient is communicated per step. Shuffling, rollback, the stop rules,
divergence handling and the epoch records are the native loop's, the same as ``MLP.fit``'s.

Requires the optional extra ``nncore[mpi]`` (``mpi4py`` and the ``mpich`` wheels). Importing
``nncore`` does not import this module or MPI.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _core
from ._core import DivergenceError
from ._fit_plan import FitPlan as _FitPlan
from ._fit_run import FIT_RUNNING
from .history import History
from .sequential import Sequential

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


def _agree(comm: Any, error: BaseException | None, value: Any = None) -> list[Any]:
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


class _Ranks:
    """The collective calls of the native loop in a data-parallel fit (``nncore/reduction.hpp``)
    over ``comm``: in-place sums (the flat gradient between backward and step, the batch weights,
    the epoch's sums), a maximum, and the agreement on a failure (``_agree``). mpi4py releases the
    GIL inside each MPI call."""

    def __init__(self, comm: Any) -> None:
        self.comm = comm
        self.MPI = _mpi()

    def sum(self, values: Array) -> None:
        self.comm.Allreduce(self.MPI.IN_PLACE, values, op=self.MPI.SUM)

    def max(self, value: int) -> int:
        return int(self.comm.allreduce(value, op=self.MPI.MAX))

    def agree(self, error: BaseException | None) -> None:
        _agree(self.comm, error)


# ----------------------------------------------------------------------------- training


def fit(
    model: Sequential, X_local: Any, y_local: Any, comm: Any = None, **fit_kwargs: Any
) -> History:
    """Synchronous data-parallel ``model.fit`` over the ranks of ``comm`` (default
    ``MPI.COMM_WORLD``): a collective call that every rank makes with its own rows (``model``:
    an ``nncore.Sequential`` or ``nncore.MLP``; a ``BatchNorm`` normalises each rank's batch
    with that batch's statistics, as torch's DistributedDataParallel without SyncBatchNorm does,
    and its running statistics start as rank 0's, are updated per rank from its own batches and
    end as rank 0's on every rank, so that every rank holds the same model):
    ``X_local`` ``(n_r, n_features)``, ``y_local`` and the same keyword arguments, which are those
    of ``MLP.fit`` (``sample_weight`` and ``validation_data`` are this rank's too;
    ``class_weight`` a dict, not ``"balanced"``, whose frequencies would be each rank's own;
    ``validation_split`` holds out the last rows of this rank's data). Returns the ``History``,
    the same on every rank, and leaves bit-identical models on all ranks.

    At the start, rank 0's parameters, generator state and optimizer (state and hyper-parameters)
    are broadcast to all ranks; the models must have the same architecture and dtype.

    Batches and steps. ``batch_size`` is the *local* batch size ``b``: a step trains on the
    global batch made of every rank's next ``b`` rows (``K·b`` rows with ``K`` ranks, fewer at the
    end of an epoch). An epoch has ``ceil(max_r n_r / b)`` steps, so every row of every rank is
    visited once per epoch; a rank that has run out of rows in a step contributes a zero gradient
    with zero weight (it still joins the all-reduce); a step whose global batch has zero weight
    has a zero gradient and is taken, as in ``MLP.fit``. The gradient of a step is that of the
    weighted mean loss over its global batch, so shards of different sizes do not bias training.
    With ``shuffle=False``, ``K`` ranks and local batch ``b``, where rank ``r`` holds the blocks
    of ``b`` rows whose block index is ``r`` mod ``K``, training is single-process ``MLP.fit`` on
    all the rows with batch size ``K·b`` (up to rounding). With ``shuffle=True``, each rank draws
    the order of its own rows every epoch from a generator seeded by rank 0's model generator and
    the rank: a run is reproducible for a given seed and ``K``.

    Epoch records: the loss and metric over all ranks' batches (and validation rows), reduced at
    each epoch end, so that schedules, early stopping, ``target_loss``/``tol`` convergence and
    user callbacks see the same record on every rank; training stops when any rank's callback
    asks it to. Progress output (``verbose``) is printed by rank 0 only. Dropout masks come from
    the rank's own generator.

    Faults. Bad arguments on any rank raise the same exception (naming the rank) on every rank
    before anything changes. Each batch's rows are checked before its forward pass (a callback
    may change a rank's data). An exception or a non-finite loss in one rank's step marks its
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
        plan, signature = _local_plan(model, X_local, y_local, fit_kwargs)
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
    if model._network.state.size:  # running statistics: rank 0's to start with
        comm.Bcast(model._network.state, root=0)
    model._random.state = comm.bcast(tuple(model._random.state), root=0)

    # Each rank's generator (shuffling, dropout masks): seeded by rank 0's model generator and
    # the rank; the model generator advances by one draw on every rank, so that the next fit
    # draws new orders and the models stay identical.
    entropy = [int(word) for word in model._random.state]
    model._random.uniform01()
    seeds = np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(rank,)))
    rank_random = _core.Random(int(seeds.integers(1, 2**63)))
    train = (plan.features, plan.targets, plan.weights)
    validation = _validation_on_every_rank(comm, model, plan)
    ranks = _Ranks(comm)

    def loop(
        native_optimizer: Any, on_epoch_end: Callable[[dict[str, Any]], bool] | None
    ) -> tuple[list[dict[str, Any]], str]:
        assert plan is not None
        return _core.fit(
            model._network,
            native_optimizer,
            rank_random,
            train,
            validation,
            plan.native_options(),
            _on_every_rank(comm, on_epoch_end),
            ranks,
        )

    history = model._run_fit(plan, loop, show_progress=rank == 0)
    if model._network.state.size:  # every rank leaves with the same model: rank 0's statistics
        comm.Bcast(model._network.state, root=0)
    return history


def _local_plan(
    model: Any, X_local: Any, y_local: Any, fit_kwargs: dict[str, Any]
) -> tuple[_FitPlan, dict[str, Any]]:
    """This rank's checked fit plan and the signature that every rank must share, or the
    exception that refuses the fit (before anything changes)."""
    if not isinstance(model, Sequential):
        raise TypeError(
            f"model must be an nncore.Sequential or nncore.MLP, got {type(model).__name__}"
        )
    if isinstance(fit_kwargs.get("class_weight"), str):
        raise ValueError(
            "class_weight='balanced' would weigh each rank's rows by that rank's class "
            "frequencies; pass the weights of all the data as a {class: weight} dict"
        )
    plan = model._fit_plan(X_local, y_local, **fit_kwargs)
    if plan.optimizer.full_batch:
        raise ValueError(
            "optimizer='lbfgs' (a full-batch solver) is not available in "
            "nncore.distributed.fit; use a mini-batch optimizer"
        )
    if plan.monitor.metrics:
        raise ValueError(
            "fit(metrics=[...]) is not available in nncore.distributed.fit: each rank "
            "would score its own rows; evaluate the model after fit instead"
        )
    if model._fit_lock.locked():  # refused before the broadcasts below change the model
        raise RuntimeError(FIT_RUNNING)
    return plan, _signature(model, plan)


def _validation_on_every_rank(
    comm: Any, model: Sequential, plan: _FitPlan
) -> tuple[Array, Array, Array] | None:
    """This rank's validation data, or None when no rank has any (collective). A rank without
    validation rows, while another rank has some, passes empty arrays: every rank must make the
    same collective calls at the epoch ends."""
    validation = plan.validation_data()
    if not any(comm.allgather(validation is not None)):
        return None
    if validation is None:
        return (
            np.empty((0, model.n_features), dtype=model.dtype),
            np.empty((0, model.n_outputs), dtype=model.dtype),
            np.empty(0, dtype=model.dtype),
        )
    return validation


def _on_every_rank(
    comm: Any, on_epoch_end: Callable[[dict[str, Any]], bool] | None
) -> Callable[[dict[str, Any]], bool]:
    """The epoch-end callback, run on every rank (collective): any rank's error is raised on every
    rank (``_agree``) and any rank's stop request stops every rank."""

    def everywhere(record: dict[str, Any]) -> bool:
        error: Exception | None = None
        stops = False
        if on_epoch_end is not None:
            try:
                stops = bool(on_epoch_end(record))
            except Exception as caught:
                error = caught
        return any(_agree(comm, error, stops))

    return everywhere


def _signature(model: Sequential, plan: _FitPlan) -> dict[str, Any]:
    """What must be the same on every rank: the architecture and every argument that decides the
    updates or the number of collective calls (the learning rate is rank 0's)."""
    optimizer = plan.optimizer.hyperparameters()
    return {
        "model": type(model).__name__,
        "config": {key: value for key, value in model.config().items() if key != "seed"},
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
        "monitor": (plan.monitor.name, plan.monitor.mode),
        "restore_best_weights": plan.restore_best_weights,
    }
