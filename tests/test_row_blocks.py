"""Batches of small products split into blocks of rows, one per thread (``fit`` only).

A batch whose products are each below the core's minimum parallel work, but whose whole forward
and backward pass is above it, is split into blocks of rows: each thread propagates its block's
rows forward and their errors backward, then computes a part of the gradient (rows of every W)
from all the batch's rows. These tests compare against the NumPy reference (float64, tight
tolerance) and against one thread, and check that a thread count repeats bit for bit.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
import pytest

import nncore
from nncore import _core
from nncore.reference import numpy_reference

# The S network of the benchmark: at batch 32 no product reaches the minimum parallel work, the
# batch's 3·Σ n_in·n_out multiply-adds per row do (checked below).
LAYERS = [64, 128, 128, 10]
BATCH = 32


@pytest.fixture
def restore_threads() -> Iterator[None]:
    before = nncore.get_num_threads()
    yield
    nncore.set_num_threads(before)


def test_the_network_is_split_and_not_column_blocked() -> None:
    products = [n_in * n_out for n_in, n_out in itertools.pairwise(LAYERS)]
    work = 2 * products[0] + 3 * sum(products[1:])  # no propagated product below layer 0
    minimum = nncore.config()["min_parallel_work"]
    assert BATCH * max(products) < minimum <= BATCH * work


def data(n: int, dtype: str, classes: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    X = rng.standard_normal((n, LAYERS[0])).astype(dtype)
    if classes:
        Y = np.eye(LAYERS[-1], dtype=dtype)[rng.integers(0, LAYERS[-1], n)]
    else:
        Y = rng.standard_normal((n, LAYERS[-1])).astype(dtype)
    w = rng.uniform(0.2, 2.0, n).astype(dtype)
    return X, Y, w


def fitted(
    threads: int,
    dtype: str,
    loss: str,
    optimizer: str,
    n: int = 100,
    batch: int = BATCH,
    shuffle: bool = False,
) -> tuple[nncore.MLP, nncore.History]:
    classes = loss == "categorical_cross_entropy"
    X, Y, w = data(n, dtype, classes)
    nncore.set_num_threads(threads)
    model = nncore.MLP(
        LAYERS,
        activation="tanh",
        output_activation="softmax" if classes else "identity",
        dtype=dtype,
        seed=5,
    )
    history = model.fit(
        X,
        Y,
        loss=loss,
        optimizer=optimizer,
        learning_rate=0.01,
        epochs=3,
        batch_size=batch,
        shuffle=shuffle,
        sample_weight=w,
        n_iter_no_change=None,
    )
    return model, history


# Blocks have at least 16 rows. 100 rows in batches of 32: three batches in 2 blocks and a last
# batch of 4 rows, too small to split; 63 rows: one batch in 2 blocks, a last one of 31 rows not
# split; 87 rows in batches of 48: 2 blocks of 24 (3 of 16 with 3 and 4 threads), then 39 rows in
# blocks of 19 and 20. The gradient's parts follow the blocks: 2 or 3 of them. (From 64 rows this
# network's 128 × 128 product reaches the minimum parallel work itself: no split, so never 4.)
@pytest.mark.parametrize(("n", "batch"), [(100, 32), (63, 32), (87, 48)])
@pytest.mark.parametrize("threads", [2, 3, 4])
@pytest.mark.parametrize(
    ("loss", "optimizer"),
    [("mean_squared_error", "sgd"), ("categorical_cross_entropy", "adam")],
)
def test_split_batches_match_the_numpy_reference(
    n: int, batch: int, threads: int, loss: str, optimizer: str, restore_threads: None
) -> None:
    classes = loss == "categorical_cross_entropy"
    X, Y, w = data(n, "float64", classes)
    start = nncore.MLP(
        LAYERS,
        activation="tanh",
        output_activation="softmax" if classes else "identity",
        dtype="float64",
        seed=5,
    )
    before = _core._split_batches()
    model, history = fitted(threads, "float64", loss, optimizer, n, batch)
    assert _core._split_batches() > before  # the full batches were split
    ref_w, ref_b, ref_losses = numpy_reference.fit(
        start.weights,
        start.biases,
        X,
        Y,
        ["tanh", "tanh", "softmax" if classes else "identity"],
        loss,
        learning_rate=0.01,
        epochs=3,
        batch_size=batch,
        sample_weight=w,
        optimizer=optimizer,
    )
    assert ref_b is not None
    for got, want in zip(model.weights + model.biases, ref_w + ref_b, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(history.loss, ref_losses, rtol=1e-10)


@pytest.mark.parametrize("shuffle", [False, True])  # shuffled: blocks of a gathered batch
@pytest.mark.parametrize(("dtype", "rtol"), [("float32", 2e-4), ("float64", 1e-11)])
@pytest.mark.parametrize(
    ("loss", "optimizer"),
    [("mean_squared_error", "sgd"), ("categorical_cross_entropy", "adam")],
)
def test_split_batches_agree_with_one_thread_and_repeat(
    dtype: str, rtol: float, shuffle: bool, loss: str, optimizer: str, restore_threads: None
) -> None:
    """dW is one product over all the batch's rows however the batch is split. With the tiled
    kernels (x86-64 with AVX2 and FMA) and blocks of 16 rows, the products Eigen still does (the
    10-wide output layer's) see their rows in the same groups of 4 as on one thread, so the
    weights are one thread's bit for bit; elsewhere they agree to rounding. The loss is summed
    block by block, in another order."""
    bitwise = nncore.config()["tiled_products"]

    def run(threads: int) -> tuple[np.ndarray, list[float], int]:
        before = _core._split_batches()
        model, history = fitted(threads, dtype, loss, optimizer, shuffle=shuffle)
        splits = _core._split_batches() - before
        return model._network.parameters.copy(), history.loss + history.gradient_norm, splits

    one, one_record, none = run(1)
    assert none == 0
    for threads in (2, 3):
        split, split_record, splits = run(threads)
        assert splits == 3 * 3  # 100 rows in batches of 32, 3 epochs: all but the 4-row batch
        if bitwise:
            np.testing.assert_array_equal(split, one)
        else:
            np.testing.assert_allclose(split, one, rtol=rtol, atol=rtol * 1e-2)
        # The loss and the gradient norm are summed by block and by part: equal to rounding.
        np.testing.assert_allclose(split_record, one_record, rtol=rtol)
        # The same thread count repeats bit for bit.
        again, again_record, _ = run(threads)
        np.testing.assert_array_equal(again, split)
        assert again_record == split_record


def test_dropout_batches_are_not_split(restore_threads: None) -> None:
    """Dropout masks come from one generator in row order: such batches stay whole, so every
    thread count gives the same bits."""
    X, Y, _ = data(96, "float32")
    results = []
    before = _core._split_batches()
    for threads in (1, 2):
        nncore.set_num_threads(threads)
        model = nncore.MLP(LAYERS, activation="tanh", dropout=0.2, dtype="float32", seed=5)
        model.fit(X, Y, loss="mse", epochs=2, batch_size=BATCH, n_iter_no_change=None)
        results.append(model._network.parameters.copy())
    assert _core._split_batches() == before
    np.testing.assert_array_equal(results[0], results[1])


def test_a_split_batch_that_diverges_keeps_the_weights(restore_threads: None) -> None:
    X, Y, _ = data(64, "float64")
    Y[40] = 1e200  # its squared error overflows: the second batch diverges
    nncore.set_num_threads(2)
    model = nncore.MLP(LAYERS, activation="tanh", dtype="float64", seed=5)
    model.fit(X[:32], Y[:32], loss="mse", epochs=1, batch_size=BATCH, shuffle=False)
    after_first_batch = model._network.parameters.copy()
    model = nncore.MLP(LAYERS, activation="tanh", dtype="float64", seed=5)
    with pytest.raises(nncore.DivergenceError, match="non-finite loss at epoch 1, batch 2"):
        model.fit(X, Y, loss="mse", epochs=1, batch_size=BATCH, shuffle=False)
    np.testing.assert_array_equal(model._network.parameters, after_first_batch)


@pytest.fixture
def measured_pace() -> Iterator[None]:
    yield
    _core._set_split_pace(0)


@pytest.mark.parametrize(("n", "batch", "threads"), [(100, 32, 2), (87, 48, 3)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_split_blocks_in_turn_give_the_pool_s_results(
    n: int, batch: int, threads: int, dtype: str, restore_threads: None, measured_pace: None
) -> None:
    """fit's Pace runs a split batch's blocks on the pool or one after another on the calling
    thread, whichever it measures faster: the same blocks, so the same weights and history bit
    for bit. Forced each way here, and left to measure (the default)."""
    runs = {}
    for pace in (1, 2, 0):
        _core._set_split_pace(pace)
        before, in_turn = _core._split_batches(), _core._split_batches_in_turn()
        jobs = _core._pool_jobs()
        model, history = fitted(threads, dtype, "categorical_cross_entropy", "adam", n, batch)
        splits = _core._split_batches() - before
        turns = _core._split_batches_in_turn() - in_turn
        jobs = _core._pool_jobs() - jobs
        assert splits > 0
        if pace == 1:  # every split batch's two phases and its update on the pool
            assert turns == 0 and jobs >= 2 * splits
        elif pace == 2:  # nothing of the fit on the pool
            assert turns == splits and jobs == 0
        runs[pace] = (model._network.parameters.copy(), history.to_dict())
    for pace in (2, 0):
        np.testing.assert_array_equal(runs[pace][0], runs[1][0])
        assert runs[pace][1] == runs[1][1]


def test_the_split_pace_refuses_other_choices(measured_pace: None) -> None:
    with pytest.raises(ValueError, match="0, 1 or 2"):
        _core._set_split_pace(3)


def test_the_split_pace_follows_the_faster_way() -> None:
    """fit's measurement on made-up batch times (seconds, on the pool and in turn): it keeps the
    pool while the pool is faster (probing the other way 3 batches in 200), changes to in turn
    within a probe once in turn is clearly faster, and back when the pool is again."""
    quick, slow = 45e-6, 61e-6

    def ways(pool: list[float], in_turn: list[float]) -> list[int]:
        return list(_core._simulate_split_pace(pool, in_turn))

    probes = 3 * 5  # 3 batches the other way, at most 5 times in 1,000 batches
    calm = ways([quick] * 1000, [slow] * 1000)
    assert calm[0] == 0 and sum(calm) <= probes
    stalled = ways([3 * slow] * 1000, [slow] * 1000)  # the pool stalled throughout
    first = stalled.index(1)
    assert first < 16 and sum(stalled[first:]) >= len(stalled) - first - probes
    # the pool stalled for batches 300-699 only
    phases = ways([quick] * 300 + [3 * slow] * 400 + [quick] * 300, [slow] * 1000)
    assert sum(phases[:300]) <= 6  # probes
    assert phases[305] == 1 and sum(phases[305:700]) >= 395 - 6  # in turn within 5 batches
    assert not any(phases[830:])  # back on the pool at the first probe after the stall
    # within the 0.9 margin nothing changes: in turn only 5% faster keeps the pool
    assert sum(ways([slow] * 1000, [0.95 * slow] * 1000)) <= probes
    with pytest.raises(ValueError, match="as many"):
        _core._simulate_split_pace([quick], [])
