"""Run under ``mpiexec -n K`` (K >= 2): only rank 0 holds validation data. The other ranks pass
no validation rows to the native loop (every rank must make the same collective calls at the epoch
ends), and training must equal single-process ``MLP.fit`` with that validation data: weights to
1e-10 (float64), the records (validation loss and metric included) to 1e-9, the same early stop.
Prints ``ok`` on rank 0; any failure raises.
"""

from __future__ import annotations

import numpy as np
from mpi4py import MPI

import nncore
from nncore import distributed

comm = MPI.COMM_WORLD
rank, K = comm.Get_rank(), comm.Get_size()
b = 4
n = 2 * K * b * 3 + 5
rng = np.random.default_rng(3)
X = rng.normal(size=(n, 4))
y = rng.integers(0, 3, size=n)
X_val = rng.normal(size=(9, 4))
y_val = rng.integers(0, 3, size=9)
mine = np.array([i for i in range(n) if (i // b) % K == rank])  # as in equivalence.py

options = {
    "epochs": 8,
    "shuffle": False,
    "n_iter_no_change": None,
    "early_stopping": True,  # on every rank: the ranks without validation data too
    "patience": 2,
    "restore_best_weights": True,
}
reference = nncore.MLP([4, 6, 3], "tanh", "softmax", dtype="float64", seed=2)
expected = reference.fit(
    X,
    y,
    batch_size=K * b,
    optimizer=nncore.SGD(0.3, momentum=0.9),
    validation_data=(X_val, y_val),
    **options,
)
model = nncore.MLP([4, 6, 3], "tanh", "softmax", dtype="float64", seed=2)
history = distributed.fit(
    model,
    X[mine],
    y[mine],
    batch_size=b,
    optimizer=nncore.SGD(0.3, momentum=0.9),
    validation_data=(X_val, y_val) if rank == 0 else None,
    **options,
)
difference = float(np.abs(model._network.parameters - reference._network.parameters).max())
assert difference <= 1e-10, f"max |Δw| = {difference:.3g}"
assert history.stop_reason == expected.stop_reason, (history.stop_reason, expected.stop_reason)
for key in ("loss", "metric", "validation_loss", "validation_metric"):
    np.testing.assert_allclose(
        getattr(history, key), getattr(expected, key), rtol=1e-9, atol=1e-12, err_msg=key
    )
if rank == 0:
    print(f"ok K={K} validation on rank 0 only: {history.stop_reason}", flush=True)
