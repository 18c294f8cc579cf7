"""Threads of the core: the setting, its environment variables, and that every thread count
computes the same thing (to rounding: Eigen may block a narrower product differently; the same
thread count repeats bit for bit), with concurrent callers and after fork."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading
from collections.abc import Iterator

import numpy as np
import pytest

import nncore
from nncore import _core
from nncore.reference import numpy_reference

# Big enough that every product of the first layers is split (above the core's minimum work).
LAYERS = [300, 256, 96, 5]


@pytest.fixture
def restore_threads() -> Iterator[None]:
    before = nncore.get_num_threads()
    yield
    nncore.set_num_threads(before)


def problem(dtype: str, n: int = 256) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    X = rng.standard_normal((n, LAYERS[0])).astype(dtype)
    Y = rng.standard_normal((n, LAYERS[-1])).astype(dtype)
    return X, Y


def train(threads: int, dtype: str, X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, ...]:
    nncore.set_num_threads(threads)
    model = nncore.MLP(LAYERS, activation="tanh", dtype=dtype, seed=3)
    model.fit(X, Y, loss="mse", learning_rate=0.01, epochs=2, batch_size=128, n_iter_no_change=None)
    return (model._network.parameters.copy(), model.predict(X), model.backward(X, Y)[0][0])


def test_products_are_large_enough_to_be_split() -> None:
    work = 128 * LAYERS[0] * LAYERS[1]
    assert work >= nncore.config()["min_parallel_work"]


@pytest.mark.parametrize(
    ("dtype", "rtol", "atol"), [("float32", 1e-3, 1e-5), ("float64", 1e-10, 1e-13)]
)
def test_every_thread_count_gives_the_same_results(
    dtype: str, rtol: float, atol: float, restore_threads: None
) -> None:
    X, Y = problem(dtype)
    one = train(1, dtype, X, Y)
    for threads in (2, 3, 4):
        other = train(threads, dtype, X, Y)
        for a, b in zip(one, other, strict=True):
            np.testing.assert_allclose(b, a, rtol=rtol, atol=atol)
        # and the same count again repeats bit for bit
        for a, b in zip(other, train(threads, dtype, X, Y), strict=True):
            np.testing.assert_array_equal(a, b)


def test_threaded_fit_matches_the_numpy_reference(restore_threads: None) -> None:
    X, Y = problem("float64", n=128)
    nncore.set_num_threads(2)
    model = nncore.MLP(LAYERS, activation="tanh", dtype="float64", seed=3)
    weights = [w.copy() for w in model.weights]
    biases = [b.copy() for b in model.biases]
    model.fit(
        X,
        Y,
        loss="mse",
        learning_rate=0.01,
        epochs=2,
        batch_size=64,
        shuffle=False,
        n_iter_no_change=None,
    )
    ref_w, ref_b, _ = numpy_reference.fit(
        weights,
        biases,
        X,
        Y,
        ["tanh", "tanh", "identity"],
        "mean_squared_error",
        learning_rate=0.01,
        epochs=2,
        batch_size=64,
    )
    assert ref_b is not None
    for got, want in zip(model.weights + model.biases, ref_w + ref_b, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("bad", [0, -1, 1025])
def test_bad_thread_count_is_a_value_error(bad: int, restore_threads: None) -> None:
    before = nncore.get_num_threads()
    with pytest.raises(ValueError, match="n must be"):
        nncore.set_num_threads(bad)
    assert nncore.get_num_threads() == before


@pytest.mark.parametrize("bad", [1.5, "2", True, None])
def test_non_integer_thread_count_is_a_type_error(bad: object, restore_threads: None) -> None:
    with pytest.raises(TypeError, match="n must be an integer"):
        nncore.set_num_threads(bad)  # type: ignore[arg-type]


def threads_in_subprocess(env: dict[str, str]) -> tuple[int, str]:
    clean = {
        k: v for k, v in os.environ.items() if k not in ("NNCORE_NUM_THREADS", "OMP_NUM_THREADS")
    }
    result = subprocess.run(
        [sys.executable, "-W", "always", "-c", "import nncore; print(nncore.get_num_threads())"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return int(result.stdout.strip()), result.stderr


def test_environment_variables_set_the_default() -> None:
    assert threads_in_subprocess({"NNCORE_NUM_THREADS": "3"})[0] == 3
    assert threads_in_subprocess({"OMP_NUM_THREADS": "1"})[0] == 1
    assert threads_in_subprocess({"OMP_NUM_THREADS": "2,1"})[0] == 2
    assert threads_in_subprocess({"NNCORE_NUM_THREADS": "1", "OMP_NUM_THREADS": "4"})[0] == 1
    assert threads_in_subprocess({})[0] == nncore.config()["available_cpus"]


def test_bad_environment_variable_warns_and_is_ignored() -> None:
    threads, stderr = threads_in_subprocess({"NNCORE_NUM_THREADS": "many"})
    assert threads == nncore.config()["available_cpus"]
    assert "ignoring NNCORE_NUM_THREADS='many'" in stderr


def test_two_models_fit_concurrently_with_the_pool(restore_threads: None) -> None:
    """Two threads share one pool: whichever finds it busy computes alone; both stay correct."""
    X, Y = problem("float64")
    nncore.set_num_threads(2)
    results: list[np.ndarray] = [np.empty(0)] * 4

    def run(i: int) -> None:
        model = nncore.MLP(LAYERS, activation="tanh", dtype="float64", seed=3)
        model.fit(
            X, Y, loss="mse", learning_rate=0.01, epochs=2, batch_size=128, n_iter_no_change=None
        )
        results[i] = model._network.parameters.copy()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    # Whoever found the pool busy ran the same column blocks one after another: the blocks depend
    # on the thread setting, never on contention, so every result is the 2-thread one exactly.
    expected = train(2, "float64", X, Y)[0]
    for r in results:
        np.testing.assert_array_equal(r, expected)


def _fit_in_child(queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    X, Y = problem("float64", n=128)
    queue.put(train(2, "float64", X, Y)[0])


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method is Linux-only here")
def test_pool_works_in_a_forked_child(restore_threads: None) -> None:
    X, Y = problem("float64", n=128)
    expected = train(2, "float64", X, Y)[0]  # the parent's pool now has a live worker
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_fit_in_child, args=(queue,))
    child.start()
    got = queue.get(timeout=120)
    child.join(timeout=60)
    assert child.exitcode == 0
    np.testing.assert_array_equal(got, expected)


# 1,050,625 parameters: without a registered BLAS (whose workers would hold the cores), the passes
# over the whole parameter vector in fit (gradient norm, the update, its copy and check) are split
# into ranges across threads.
BIG = [1024, 1024, 1]


def test_big_networks_split_the_parameter_passes() -> None:
    size = BIG[0] * BIG[1] + BIG[1] + BIG[1] * BIG[2] + BIG[2]
    assert size >= nncore.config()["min_parallel_elements"]


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_gradient_norm_of_big_networks_matches_numpy(
    threads: int, restore_threads: None, without_blas: None
) -> None:
    nncore.set_num_threads(threads)
    rng = np.random.default_rng(4)
    X = rng.standard_normal((32, BIG[0]))
    Y = rng.standard_normal((32, 1))
    model = nncore.MLP(BIG, activation="tanh", dtype="float64", seed=2)
    gradients = model.backward(X, Y, loss="mse")
    expected = np.sqrt(sum(float(np.sum(g**2)) for pair in gradients for g in pair))
    history = model.fit(
        X, Y, loss="mse", learning_rate=1e-3, epochs=1, batch_size=32, shuffle=False
    )
    np.testing.assert_allclose(history.gradient_norm[0], expected, rtol=1e-12)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_an_overflowing_update_of_a_big_network_restores_every_range(
    threads: int, restore_threads: None, without_blas: None
) -> None:
    nncore.set_num_threads(threads)
    rng = np.random.default_rng(5)
    X = rng.standard_normal((16, BIG[0])).astype(np.float32)
    Y = np.full((16, 1), 1e18, dtype=np.float32)
    model = nncore.MLP(BIG, activation="identity", dtype="float32", seed=1)
    before = model._network.parameters.copy()
    message = (
        r"the update made parameters or the optimizer's state non-finite"
        r".*keeps the weights from before"
    )
    with pytest.raises(nncore.DivergenceError, match=message):
        model.fit(X, Y, loss="mse", learning_rate=1e30, epochs=1, batch_size=16)
    np.testing.assert_array_equal(model._network.parameters, before)


def reference_output(model: nncore.MLP, X: np.ndarray) -> np.ndarray:
    """The NumPy reference's forward pass (float64) of a tanh MLP with an identity output."""
    W, b = model.get_parameters()
    activations = ["tanh"] * (len(W) - 1) + ["identity"]
    W64 = [w.astype(np.float64) for w in W]
    b64 = [v.astype(np.float64) for v in b]
    _, outputs = numpy_reference.forward(W64, b64, X.astype(np.float64), activations)
    return outputs[-1]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("rows", [513, 5_000, 10_241])
def test_predict_spreads_small_networks_chunks_over_the_threads(
    rows: int, dtype: str, restore_threads: None
) -> None:
    """A 2-16-8-3 network's chunks of 512 rows go to whichever thread is free: the same chunks as
    on one thread, so the same bits, every row written (the output starts uninitialised), and
    each row equal to the NumPy reference's forward pass to rounding."""
    rng = np.random.default_rng(rows)
    X = (rng.standard_normal((rows, 2)) * 3).astype(dtype)
    model = nncore.MLP([2, 16, 8, 3], activation="tanh", dtype=dtype, seed=1)
    outputs = []
    for threads in (1, 2, 3):
        nncore.set_num_threads(threads)
        jobs = _core._pool_jobs()
        outputs.append(model.forward(X))
        assert (_core._pool_jobs() > jobs) == (threads > 1)  # the chunks went to the pool
    np.testing.assert_array_equal(outputs[1], outputs[0])
    np.testing.assert_array_equal(outputs[2], outputs[0])
    tolerance = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(
        outputs[1], reference_output(model, X), rtol=tolerance, atol=tolerance
    )
    # Two threads predicting with one model at once share the pool and still agree.
    results: list[np.ndarray] = [np.empty(0)] * 3

    def run(i: int) -> None:
        results[i] = model.forward(X)

    workers = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=60)
    for r in results:
        np.testing.assert_array_equal(r, outputs[0])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_predict_spreads_large_chunks_over_the_threads_without_a_blas(
    dtype: str, restore_threads: None, without_blas: None
) -> None:
    """On Eigen, chunks whose products are large (512·300·256 multiply-adds, above the minimum
    parallel work) go to whichever thread is free too, each chunk's products unsplit on the
    thread that runs it: the same bits at 1, 2 and 3 threads (split into blocks of columns,
    Eigen may block a product differently), every row written, each row the NumPy reference's
    forward pass to rounding. (With a BLAS, the BLAS threads each product instead: below.)"""
    assert 512 * LAYERS[0] * LAYERS[1] >= nncore.config()["min_parallel_work"]
    rng = np.random.default_rng(4)
    X = rng.standard_normal((2_600, LAYERS[0])).astype(dtype)  # 5 chunks and a part
    model = nncore.MLP(LAYERS, activation="tanh", dtype=dtype, seed=2)
    outputs = []
    for threads in (1, 2, 3):
        nncore.set_num_threads(threads)
        jobs = _core._pool_jobs()
        outputs.append(model.predict(X))
        assert _core._pool_jobs() - jobs == (1 if threads > 1 else 0)  # the chunks, once
    np.testing.assert_array_equal(outputs[1], outputs[0])
    np.testing.assert_array_equal(outputs[2], outputs[0])
    tolerance = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(
        outputs[0], reference_output(model, X), rtol=tolerance, atol=tolerance
    )


def test_predict_leaves_large_products_to_the_blas(restore_threads: None) -> None:
    """With a BLAS registered, a chunk's large products are the BLAS's (threaded by it): the
    chunks run in order on the calling thread and the pool is not used."""
    from nncore import _blas
    from nncore.config import _use_blas_from_environment

    if _blas.numpy_openblas() is None:
        pytest.skip("this NumPy does not bundle OpenBLAS")
    try:
        _blas.use("openblas")
        nncore.set_num_threads(2)
        X = np.random.default_rng(5).standard_normal((1_100, LAYERS[0]))
        model = nncore.MLP(LAYERS, activation="tanh", dtype="float64", seed=2)
        jobs, calls = _core._pool_jobs(), _core._blas_calls()
        model.predict(X)
        assert _core._pool_jobs() == jobs
        assert _core._blas_calls() - calls == 2 * 3  # the first two layers, in each of 3 chunks
    finally:
        _use_blas_from_environment()
