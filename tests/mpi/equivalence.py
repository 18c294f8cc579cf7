"""Run under ``mpiexec -n K``: data-parallel training equals single-process training.

With ``shuffle=False``, local batch ``b`` and rank ``r`` holding the blocks of ``b`` rows whose
block index is ``r`` mod ``K``, ``nncore.distributed.fit`` must give the weights of single-process
``MLP.fit`` on all rows with batch ``K·b`` to 1e-10 (float64), for every optimizer, with uneven
shards, sample weights, validation data, schedules and early stopping; and the weights must be
bit-identical on every rank. Prints one ``ok`` line per case on rank 0; any failure raises.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
from mpi4py import MPI

import nncore
from nncore import distributed

TOLERANCE = 1e-10
comm = MPI.COMM_WORLD
rank, K = comm.Get_rank(), comm.Get_size()
b = 4
n = 2 * K * b * 3 + 5  # not a multiple of K·b: the last global batch is partial and uneven

rng = np.random.default_rng(7)
X = rng.normal(size=(n, 5))
labels = rng.integers(0, 3, size=n)
y_regression = X @ rng.normal(size=(5, 2)) + 0.1 * rng.normal(size=(n, 2))
weights = rng.uniform(0.0, 2.0, size=n)
X_val = rng.normal(size=(11, 5))
labels_val = rng.integers(0, 3, size=11)
# Rank r holds the blocks of b rows whose block index is r mod K.
mine = np.array([i for i in range(n) if (i // b) % K == rank])
# Validation rows: any split works, the reduced loss is the same.
val_mine = np.arange(rank, X_val.shape[0], K)

OPTIMIZERS: list[tuple[str, Any]] = [
    ("sgd", lambda: nncore.SGD(learning_rate=0.05)),
    ("sgd momentum", lambda: nncore.SGD(learning_rate=0.05, momentum=0.9)),
    ("sgd nesterov+wd", lambda: nncore.SGD(0.05, momentum=0.9, nesterov=True, weight_decay=1e-3)),
    ("adam", lambda: nncore.Adam(learning_rate=0.01)),
    ("adam clip_norm", lambda: nncore.Adam(learning_rate=0.01, clip_norm=0.5)),
    ("adamw", lambda: nncore.AdamW(learning_rate=0.01, weight_decay=0.05)),
    ("rmsprop clip_value", lambda: nncore.RMSProp(learning_rate=0.005, clip_value=0.1)),
    ("adagrad", lambda: nncore.Adagrad(learning_rate=0.05)),
]


def digest(model: nncore.MLP) -> str:
    return hashlib.sha256(model._network.parameters.tobytes()).hexdigest()


def check(
    case: str,
    model: nncore.MLP,
    history: nncore.History,
    reference: nncore.MLP,
    expected: nncore.History,
) -> None:
    digests = comm.allgather(digest(model))
    assert len(set(digests)) == 1, f"{case}: weights differ across ranks"
    difference = max(
        float(np.abs(a - r).max())
        for a, r in zip(model.get_parameters()[0], reference.get_parameters()[0], strict=True)
    )
    assert difference <= TOLERANCE, f"{case}: max |Δw| = {difference:.3g}"
    assert history.stop_reason == expected.stop_reason, (case, history.stop_reason)
    for key in (
        "loss",
        "metric",
        "gradient_norm",
        "learning_rate",
        "validation_loss",
        "validation_metric",
    ):
        ours, theirs = getattr(history, key, None), getattr(expected, key, None)
        if theirs is None:
            continue
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12, err_msg=f"{case}: {key}")
    if rank == 0:
        print(f"ok K={K} {case}: max |dw| = {difference:.2g}", flush=True)


def run(
    case: str,
    make: Any,
    y: Any,
    fit_kwargs: dict[str, Any],
    seed_layers: list[int],
    output: str,
    local: dict[str, Any] | None = None,
) -> None:
    model = nncore.MLP(seed_layers, "tanh", output, dtype="float64", seed=3 + rank)  # rank 0 wins
    reference = nncore.MLP(seed_layers, "tanh", output, dtype="float64", seed=3)
    options = {"epochs": 4, "shuffle": False, "n_iter_no_change": None, **fit_kwargs}
    expected = reference.fit(
        X, y, batch_size=K * b, optimizer=make(), **options, **(local or {}).get("single", {})
    )
    history = distributed.fit(
        model,
        X[mine],
        y[mine],
        batch_size=b,
        optimizer=make(),
        **options,
        **(local or {}).get("distributed", {}),
    )
    check(case, model, history, reference, expected)


for name, make in OPTIMIZERS:
    run(name, make, labels, {}, [5, 8, 3], "softmax")

run(
    "regression r2 + sample_weight",
    OPTIMIZERS[3][1],
    y_regression,
    {},
    [5, 6, 2],
    "identity",
    {"single": {"sample_weight": weights}, "distributed": {"sample_weight": weights[mine]}},
)
run(
    "validation + early stopping + schedule",
    OPTIMIZERS[1][1],
    labels,
    {"epochs": 6, "lr_schedule": nncore.schedules.StepDecay(step_size=2, gamma=0.5), "patience": 2},
    [5, 8, 3],
    "softmax",
    {
        "single": {"validation_data": (X_val, labels_val)},
        "distributed": {"validation_data": (X_val[val_mine], labels_val[val_mine])},
    },
)

# A warm start: two distributed fits (the second continues the optimizer state, broadcast from
# rank 0) train like one single-process fit with the epochs added.
model = nncore.MLP([5, 8, 3], "tanh", "softmax", dtype="float64", seed=3)
reference = nncore.MLP([5, 8, 3], "tanh", "softmax", dtype="float64", seed=3)
common = {"shuffle": False, "n_iter_no_change": None}
expected = reference.fit(
    X, labels, batch_size=K * b, epochs=4, optimizer=nncore.Adam(0.01), **common
)
distributed.fit(
    model, X[mine], labels[mine], batch_size=b, epochs=2, optimizer=nncore.Adam(0.01), **common
)
history = distributed.fit(model, X[mine], labels[mine], batch_size=b, epochs=2, **common)
assert model.optimizer is not None and model.optimizer.step_count == reference.optimizer.step_count
np.testing.assert_allclose(history.loss, expected.loss[2:], rtol=1e-9)
difference = float(np.abs(model._network.parameters - reference._network.parameters).max())
assert difference <= TOLERANCE, f"warm start: max |Δw| = {difference:.3g}"
if rank == 0:
    print(f"ok K={K} warm start: max |dw| = {difference:.2g}", flush=True)

# A Sequential of other layers (a residual block, an activation layer, embedded codes) trains as
# the MLP does: one loop for every model.
codes = X.copy()
codes[:, 4] = rng.integers(0, 3, size=n)


def stack() -> list[Any]:
    from nncore import layers as L

    return [
        L.Embedding([4], [3], 2),
        L.Dense(8, "tanh"),
        L.Residual([L.Dense(8, "tanh"), L.Dense(8)]),
        L.Activation("relu"),
        L.Dense(3, "softmax"),
    ]


model = nncore.Sequential(stack(), n_inputs=5, dtype="float64", seed=3 + rank)
reference = nncore.Sequential(stack(), n_inputs=5, dtype="float64", seed=3)
expected = reference.fit(
    codes, labels, batch_size=K * b, epochs=4, optimizer=nncore.Adam(0.01), **common
)
history = distributed.fit(
    model, codes[mine], labels[mine], batch_size=b, epochs=4, optimizer=nncore.Adam(0.01), **common
)
assert len(set(comm.allgather(digest(model)))) == 1, "Sequential: weights differ across ranks"
np.testing.assert_allclose(history.loss, expected.loss, rtol=1e-9)
difference = float(np.abs(model.parameters - reference.parameters).max())
assert difference <= TOLERANCE, f"Sequential: max |Δw| = {difference:.3g}"
if rank == 0:
    print(f"ok K={K} Sequential: max |dw| = {difference:.2g}", flush=True)
