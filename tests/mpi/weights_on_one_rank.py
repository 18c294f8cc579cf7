"""Run under ``mpiexec -n K`` (K >= 2): only rank 0 passes ``sample_weight`` (all ones), the other
ranks none, with shuffling. Every rank must make the same collective calls (the batch weights are
summed every epoch on every rank), and training must equal the run in which no rank passes weights:
weights to 1e-12 (float64) and identical on every rank, the same losses. Prints ``ok`` on rank 0.
"""

from __future__ import annotations

import hashlib

import numpy as np
from mpi4py import MPI

import nncore
from nncore import distributed

comm = MPI.COMM_WORLD
rank, K = comm.Get_rank(), comm.Get_size()
rng = np.random.default_rng(rank)
X = rng.normal(size=(23 + rank, 3))  # uneven shards
y = rng.normal(size=(23 + rank, 2))


def train(weighted: bool) -> tuple[nncore.MLP, nncore.History]:
    model = nncore.MLP([3, 5, 2], "tanh", dtype="float64", seed=4)
    weights = np.ones(X.shape[0]) if weighted and rank == 0 else None
    history = distributed.fit(
        model, X, y, epochs=4, batch_size=4, optimizer="adam", sample_weight=weights
    )
    digest = hashlib.sha256(model._network.parameters.tobytes()).hexdigest()
    assert len(set(comm.allgather(digest))) == 1, "weights differ across ranks"
    return model, history


weighted_model, weighted = train(True)
plain_model, plain = train(False)
difference = float(
    np.abs(weighted_model._network.parameters - plain_model._network.parameters).max()
)
assert difference <= 1e-12, f"max |Δw| = {difference:.3g}"
np.testing.assert_allclose(weighted.loss, plain.loss, rtol=1e-12)
if rank == 0:
    print(f"ok K={K} weights on rank 0 only: max |dw| = {difference:.2g}", flush=True)
