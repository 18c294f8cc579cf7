"""Run under ``mpiexec -n K``: a Sequential with a BatchNorm trained by ``nncore.distributed.fit``
ends with the same parameters and the same running statistics (rank 0's) on every rank, and the
statistics have moved from their initial values. Prints ``ok`` on rank 0."""

from __future__ import annotations

import hashlib

import numpy as np
from mpi4py import MPI

import nncore
from nncore import distributed
from nncore import layers as L

comm = MPI.COMM_WORLD
rank, K = comm.Get_rank(), comm.Get_size()
rng = np.random.default_rng(rank)  # every rank its own rows
X, y = rng.normal(size=(24, 4)), rng.normal(size=(24, 1))
model = nncore.Sequential(
    [L.Dense(6), L.BatchNorm(momentum=0.3), L.Activation("tanh"), L.Dense(1)],
    n_inputs=4,
    dtype="float64",
    seed=5,
)
initial = model.state["1.running_var"].copy()
distributed.fit(model, X, y, optimizer="adam", epochs=3, batch_size=6, shuffle=False)


def digest(array: np.ndarray) -> str:
    return hashlib.sha256(array.tobytes()).hexdigest()


parameters = comm.allgather(digest(model.parameters))
state = comm.allgather(digest(np.concatenate([v.ravel() for v in model.state.values()])))
assert len(set(parameters)) == 1, "parameters differ across ranks"
assert len(set(state)) == 1, "running statistics differ across ranks"
assert not np.array_equal(model.state["1.running_var"], initial), "the statistics never moved"
if rank == 0:
    print(f"ok K={K} batch norm", flush=True)
