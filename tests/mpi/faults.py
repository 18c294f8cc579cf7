"""Run under ``mpiexec -n K`` (K >= 2) with a mode argument: an error on rank 1 only must stop
every rank with that error (naming rank 1) instead of hanging the others. Every rank prints
``rank R raised TYPE: MESSAGE`` and, for step faults, checks that its weights are the ones from
before the failing step and identical on all ranks.

Modes: ``setup`` (non-finite values in rank 1's shard: rejected before training),
``step`` (a NaN appears in rank 1's shard after epoch 1: the core refuses that batch in the
first step of epoch 2), ``callback`` (a callback that raises on rank 1 at the end of epoch 2),
``architecture`` (rank 1's model has another hidden size), ``arguments`` (rank 1 asks for
another number of epochs: it would make a different number of collective calls).
"""

from __future__ import annotations

import hashlib
import sys

import numpy as np
from mpi4py import MPI

import nncore
from nncore import distributed

comm = MPI.COMM_WORLD
rank = comm.Get_rank()
mode = sys.argv[1]
rng = np.random.default_rng(rank)
X = rng.normal(size=(40, 3))
y = rng.integers(0, 2, size=40)
hidden = 5 if mode == "architecture" and rank == 1 else 4
model = nncore.MLP([3, hidden, 2], "tanh", "softmax", dtype="float64", seed=0)
if mode == "setup" and rank == 1:
    X[7, 1] = np.nan

snapshots: list[bytes] = []
initial = model._network.parameters.tobytes()


def remember(record: dict[str, object]) -> bool:
    snapshots.append(model._network.parameters.tobytes())
    if mode == "step" and rank == 1 and record["epoch"] == 1:
        X_shard[0] = np.nan  # a bad value in the shard: the next batch's loss is non-finite
    if mode == "callback" and rank == 1 and record["epoch"] == 2:
        raise KeyError("a callback failed")
    return False


X_shard = np.ascontiguousarray(X)
try:
    distributed.fit(
        model,
        X_shard,
        y,
        epochs=6 if mode == "arguments" and rank == 1 else 5,
        batch_size=8,
        shuffle=False,
        optimizer="sgd",
        callbacks=remember,
    )
except Exception as error:
    print(f"rank {rank} raised {type(error).__name__}: {error}", flush=True)
    if mode == "arguments":  # rejected before anything changed: the initial weights
        assert model._network.parameters.tobytes() == initial
    if mode != "architecture":
        digests = comm.allgather(hashlib.sha256(model._network.parameters.tobytes()).hexdigest())
        assert len(set(digests)) == 1, "weights differ across ranks after the error"
    if mode == "step":
        # The failing step (the first of epoch 2) changed nothing: the weights after epoch 1.
        assert len(snapshots) == 1 and model._network.parameters.tobytes() == snapshots[0]
    sys.exit(0)
print(f"rank {rank} finished without an error", flush=True)
sys.exit(1)
