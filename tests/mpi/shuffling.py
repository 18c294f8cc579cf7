"""Run under ``mpiexec -n K``: shuffled data-parallel training is reproducible for a given seed
and ``K``, keeps the weights identical on every rank, differs from the unshuffled run, learns,
and works with dropout and with shards of different sizes. Prints the SHA-256 of the final
weights (the same on every rank) for the caller to compare between two runs."""

from __future__ import annotations

import hashlib

from mpi4py import MPI

import nncore
from nncore import distributed

comm = MPI.COMM_WORLD
rank = comm.Get_rank()
X, y = nncore.datasets.make_spirals(n_samples=180, n_classes=3, noise=0.1, seed=0)
rows = distributed.shard_rows(X.shape[0] - 7, comm)  # uneven shards (7 rows left out)


def train(shuffle: bool) -> tuple[str, nncore.History]:
    model = nncore.MLP([2, 16, 16, int(y.max()) + 1], "relu", "softmax", seed=11, dropout=0.1)
    history = distributed.fit(
        model,
        X[rows],
        y[rows],
        epochs=30,
        batch_size=8,
        shuffle=shuffle,
        optimizer="adam",
        learning_rate=0.01,
    )
    digest = hashlib.sha256(model._network.parameters.tobytes()).hexdigest()
    assert len(set(comm.allgather(digest))) == 1, "weights differ across ranks"
    return digest, history


first, history = train(True)
second, _ = train(True)
unshuffled, _ = train(False)
assert first == second, "two shuffled runs with the same seed differ"
assert first != unshuffled, "shuffling changed nothing"
assert history.loss[-1] < 0.7 * history.loss[0], history.loss
if rank == 0:
    print(f"digest {first}", flush=True)
