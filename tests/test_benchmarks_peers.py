"""The optional peers of the training benchmark compute what nncore's reference computes.

One epoch of each peer (PyTorch eager, ``torch.compile``, JAX ``jax-step`` and ``jax-scan``), from
the benchmark's initial weights and with the batch order that ``numpy_reference.fit`` draws
(``default_rng(seed).permutation``, which the peers draw too), must give the reference's weights
to float32 precision: ``rtol = atol = 1e-5`` (one epoch of a few SGD steps; float32 rounding of
the products is about 1e-7 of their size). Each test skips with the reason when its library is
not installed. No timing is asserted.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from nncore.reference import numpy_reference

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_benchmarks import load_benchmark, load_module

#: float32 tolerance of the peers' weights after one epoch against the reference's.
TOLERANCE = 1e-5


def problem_of(bench: ModuleType, layers: tuple[int, ...], batch: int, n: int) -> Any:
    """The benchmark's problem (nncore's initial weights, normal data) for a small network."""
    return bench.make_problem(bench.Workload("X", layers, batch, n, n), 1.0, "float32", 3)


#: (layers, batch size, samples): a short last batch (23 = 4·5 + 3), and T's batch of one.
SHAPES = [((8, 16, 16, 4), 5, 23), ((2, 16, 1), 1, 7)]


def assert_trains_like_the_reference(bench: ModuleType, timed: Any, problem: Any) -> None:
    wl = problem.workload
    expected_W, expected_b, _ = numpy_reference.fit(
        problem.weights, problem.biases, problem.X, problem.Y, wl.activations,
        bench.LOSS, bench.LEARNING_RATE, 1, wl.batch_size, shuffle=True, seed=problem.seed,
    )  # fmt: skip
    try:
        timed.run_epochs(1)
        weights, biases = timed.parameters()
    finally:
        timed.close()
    assert expected_b is not None
    for got, want in zip(weights + biases, expected_W + expected_b, strict=True):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=TOLERANCE, atol=TOLERANCE)
    assert not np.allclose(weights[0], problem.weights[0], rtol=0, atol=1e-6)  # it trained


@pytest.mark.parametrize(("layers", "batch", "n"), SHAPES)
def test_torch_peer_trains_like_the_reference(layers: tuple[int, ...], batch: int, n: int) -> None:
    pytest.importorskip("torch", reason="PyTorch is an optional peer of the benchmark")
    bench = load_benchmark()
    problem = problem_of(bench, layers, batch, n)
    assert_trains_like_the_reference(bench, bench.setup_torch(problem, threads=1), problem)


# torch.compile's own imports use torch.jit.script_method, which torch itself deprecates.
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
def test_torch_compile_peer_trains_like_the_reference() -> None:
    pytest.importorskip("torch", reason="PyTorch is an optional peer of the benchmark")
    bench = load_benchmark()
    problem = problem_of(bench, *SHAPES[0])
    timed = bench.setup_torch_compile(problem, threads=1)
    assert timed.extra["compile_seconds"] > 0
    # compiling trained two batches; the set-up put the initial weights back
    weights, _ = timed.parameters()
    np.testing.assert_array_equal(weights[0], problem.weights[0])
    assert_trains_like_the_reference(bench, timed, problem)


@pytest.mark.parametrize("mode", ["step", "scan"])
@pytest.mark.parametrize(("layers", "batch", "n"), SHAPES)
def test_jax_peers_train_like_the_reference(
    mode: str, layers: tuple[int, ...], batch: int, n: int
) -> None:
    pytest.importorskip("jax", reason="JAX is an optional peer of the benchmark")
    bench = load_benchmark()
    problem = problem_of(bench, layers, batch, n)
    timed = bench.setup_jax(problem, mode, threads=1)
    assert timed.extra["environment"]["PJRT_NPROC"] == "1"
    assert timed.extra["thread_check_busy_threads"] == 1  # one thread ran the worker's matmul
    assert_trains_like_the_reference(bench, timed, problem)


def test_jax_worker_on_two_threads_uses_more_than_one() -> None:
    """``PJRT_NPROC=2`` takes effect: the worker's matmul runs on more than one thread."""
    pytest.importorskip("jax", reason="JAX is an optional peer of the benchmark")
    jax_peer = load_module("jax_peer")
    worker = jax_peer.JaxWorker(2)
    try:
        check = worker.call("info")["thread_check"]
    finally:
        worker.close()
    assert check["busy_threads"] >= 2 and check["gflops"] > 0


def test_jax_worker_environment_and_errors() -> None:
    jax_peer = load_module("jax_peer")
    one = jax_peer.worker_environment(1, {"XLA_FLAGS": "--xla_dump_to=/tmp/x", "HOME": "/h"})
    assert one["PJRT_NPROC"] == "1" and one["JAX_PLATFORMS"] == "cpu" and one["HOME"] == "/h"
    assert one["XLA_FLAGS"] == "--xla_dump_to=/tmp/x " + jax_peer.ONE_THREAD_XLA_FLAGS
    two = jax_peer.worker_environment(2, {})
    assert two["PJRT_NPROC"] == "2" and "XLA_FLAGS" not in two
    with pytest.raises(ValueError, match="threads"):
        jax_peer.worker_environment(0, {})


def test_jax_worker_reports_a_bad_command() -> None:
    """A failing command comes back as JaxWorkerError with the worker's message (no JAX needed:
    the worker imports JAX only for 'info' and 'setup')."""
    jax_peer = load_module("jax_peer")
    worker = jax_peer.JaxWorker(1)
    try:
        with pytest.raises(jax_peer.JaxWorkerError, match="before 'setup'"):
            worker.call("run", 1)
    finally:
        worker.close()
    assert worker.process.returncode == 0


def test_missing_jax_and_torch_are_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    bench = load_benchmark()
    monkeypatch.setitem(sys.modules, "torch", None)  # makes "import torch" raise ImportError
    monkeypatch.setattr(bench, "jax_available", lambda: False)
    problem = problem_of(bench, *SHAPES[0])
    with pytest.raises(bench.Skip, match="jax"):
        bench.setup_jax(problem, "scan", threads=1)
    entry = bench.run_workload(problem, ["torch_compile", "jax"], 1, 0.0, log=lambda _: None)
    prefixes = ("torch_compile", "jax_step", "jax_scan")
    peers = {f"{p}_{t}" for p in prefixes for t in ("1_thread", "2_threads")}
    assert peers <= set(entry["skipped"])
    assert not any(key.startswith(prefixes) for key in entry["results"])


def test_report_lists_compile_seconds_and_the_jax_thread_check() -> None:
    bench = load_benchmark()

    def jax_result(threads: int, busy: int) -> dict[str, Any]:
        return {
            "threads": threads,
            "compile_seconds": 0.25 * threads,
            "thread_check_busy_threads": busy,
            "thread_check_matmul_gflops": 40.0 * threads,
            "thread_check_cpu_over_wall": 0.9 * threads,
        }

    results = {
        "torch_compile_1_thread": {"threads": 1, "compile_seconds": 12.0},
        "jax_scan_1_thread": jax_result(1, 1),
        "jax_scan_2_threads": jax_result(2, 3),
    }
    lines = bench.compiled_peer_lines({"workloads": {"S": {"results": results}}})
    assert lines == [
        "S: compile seconds (at set-up, not timed): torch.compile 1T 12.0; jax-scan 1T 0.2, "
        "2T 0.5.",
        "JAX workers with PJRT_NPROC=1 (1): a jitted 1024² matmul ran on 1 thread(s), median "
        "40 GFLOP/s, CPU/wall 0.90.",
        "JAX workers with PJRT_NPROC=2 (1): a jitted 1024² matmul ran on 3 thread(s), median "
        "80 GFLOP/s, CPU/wall 1.80.",
    ]
