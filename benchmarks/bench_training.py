"""Training throughput of nncore against its references and (optionally) PyTorch and scikit-learn.

Every implementation trains the same network (tanh hidden layers, identity output, mean squared
error, plain mini-batch SGD with learning rate 0.01, shuffling every epoch) from the same initial
weights on the same synthetic data, generated once from a fixed seed before any timing. Each
implementation runs one warm-up epoch; then ``--repeats`` rounds follow in which every
implementation runs one timed repeat of whole epochs in turn (``time.perf_counter``), so that a
slow phase of a shared machine falls on all of them alike. A repeat runs enough epochs to last at
least ``--min-time`` seconds. The reported figure is the median over the repeats of samples per
second.

nncore, the careful NumPy peer (``numpy_peer.py``), PyTorch and scikit-learn are each measured
with 1 and with 2 threads (``nncore.set_num_threads``, ``threadpoolctl``, ``torch.set_num_threads``)
and the best of the two is what the ratios use. NumPy's float32 2048×2048 matmul is timed too, so
that the GEMM-bound sizes can be put against the machine's GEMM speed (``--matmul-size``).

The pure-Python reference is timed on a subset of the samples (the first few hundred rows, fewer
on the big sizes) so that it finishes in seconds; the output says so wherever that applies.

Run ``python benchmarks/bench_training.py --help`` for the options; results go to a JSON file,
a Markdown table and a PNG chart (the chart needs matplotlib) and to stdout. By default the files
go to ``benchmarks/results/local/`` (not committed): the published reports in
``benchmarks/results/`` are written by ``run_all.py``, so that a partial run never replaces them.
"""

from __future__ import annotations

import argparse
import ctypes
import datetime as dt
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

import nncore
from charts import size_chart
from jax_peer import CHECK_MATMUL, JaxWorker, JaxWorkerError, worker_environment
from jax_peer import MODES as JAX_MODES
from machine import describe_machine, load_average, machine_info, numpy_matmul_gflops
from nncore import _blas
from nncore.reference import numpy_reference, pure_python
from numpy_peer import NumpyMLP
from thread_control import (
    THREAD_COUNTS,
    add_best_of_threads,
    blas_threads,
    can_limit_blas,
    nncore_can_set_threads,
    nncore_threads,
    thread_suffix,
)

Array = npt.NDArray[Any]

RESULTS_DIR = Path(__file__).resolve().parent / "results"
#: Where a script run by itself writes unless told (``--json`` ...): not the published reports,
#: which ``run_all.py`` writes into RESULTS_DIR, so that a partial run never replaces them.
LOCAL_DIR = RESULTS_DIR / "local"
LOSS = "mean_squared_error"
LEARNING_RATE = 0.01
#: The optional peer libraries (``--peers``), each measured only when importable.
PEERS = ("torch", "sklearn", "torch_compile", "jax")
#: nncore's required speed-up over the best other implementation (JAX's compiled epoch included),
#: per size, float32, each implementation at its best thread count.
TARGETS = {"T": 3.0, "S": 2.0, "M": 1.1, "L": 1.1}
#: In float64 nncore must be at least as fast as NumPy (the careful peer) at every size.
FLOAT64_TARGET = 1.0
#: ... and on M and L reach this fraction of the GFLOP/s of NumPy's 2048² matmul of the same dtype
#: (nncore at its best thread count against the matmul at its best, which on a 2-core machine is
#: the 2-thread one; the GEMM is the limit there).
GEMM_FRACTION_TARGET = 0.90


@dataclass(frozen=True)
class Workload:
    """One benchmark size: the network, the batch size and the number of training samples."""

    name: str
    layers: tuple[int, ...]
    batch_size: int
    samples: int
    #: How many samples the pure-Python reference trains on per epoch (a subset of ``samples``).
    pure_python_samples: int

    @property
    def activations(self) -> list[str]:
        return ["tanh"] * (len(self.layers) - 2) + ["identity"]

    @property
    def label(self) -> str:
        return "-".join(str(n) for n in self.layers)

    @property
    def flops_per_sample(self) -> int:
        """Training flops per sample: 2·Σ n_in·n_out forward, ×3 with the backward pass.

        (The backward pass is two products per layer, dW = Aᵀ·D and D·Wᵀ, each as costly as the
        forward one; biases, activations and the update are lower-order and left out.)
        """
        return 3 * 2 * sum(a * b for a, b in zip(self.layers[:-1], self.layers[1:], strict=True))


WORKLOADS: dict[str, Workload] = {
    "T": Workload("T", (2, 16, 1), 1, 2_000, 2_000),
    "S": Workload("S", (64, 128, 128, 10), 32, 20_000, 256),
    "M": Workload("M", (784, 256, 256, 10), 128, 20_000, 128),
    "L": Workload("L", (1024, 2048, 2048, 1024), 256, 4_096, 4),
}
DEFAULT_SIZES = "T,S,M"


@dataclass
class Problem:
    """The data and initial parameters shared by every implementation for one workload."""

    workload: Workload
    X: Array
    Y: Array
    weights: list[Array]
    biases: list[Array]
    seed: int


@dataclass
class Measurement:
    """Samples per second of one implementation on one workload."""

    samples_per_s: float
    repeats: list[float]
    seconds: list[float]
    epochs_per_repeat: int
    samples_per_epoch: int
    batch_size: int
    warmup_seconds: float
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "samples_per_s": self.samples_per_s,
            "repeats_samples_per_s": self.repeats,
            "repeats_seconds": self.seconds,
            "epochs_per_repeat": self.epochs_per_repeat,
            "samples_per_epoch": self.samples_per_epoch,
            "batch_size": self.batch_size,
            "warmup_seconds": self.warmup_seconds,
            "note": self.note,
            **self.extra,
        }


class Skip(Exception):
    """Raised by an implementation that cannot run here (e.g. a peer library is missing)."""


RunEpochs = Callable[[int], None]


# --------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------


@dataclass
class Timed:
    """One implementation, set up and ready to be timed.

    ``run_epochs(k)`` trains ``k`` whole epochs of ``samples_per_epoch`` samples in batches of
    ``batch_size``; it runs inside ``settings()`` (the implementation's thread limits, entered
    anew for every repeat). ``threads`` and ``note`` go into the measurement.
    """

    run_epochs: RunEpochs
    samples_per_epoch: int
    batch_size: int
    settings: Callable[[], AbstractContextManager[Any]] = nullcontext
    threads: int | None = None
    note: str = ""
    #: Facts of the set-up (compile seconds, a thread check) copied into the measurement's JSON.
    extra: dict[str, Any] = field(default_factory=dict)
    #: The current ``(weights, biases)`` as NumPy arrays, ``W`` as ``(n_in, n_out)`` (the tests
    #: compare them with the reference's), where the implementation can give them.
    parameters: Callable[[], tuple[list[Array], list[Array]]] | None = None
    #: Releases what the set-up holds (a worker process); called once the timing is done.
    close: Callable[[], None] = lambda: None


def time_rounds(timed: Sequence[Timed], repeats: int, min_time: float) -> list[Measurement]:
    """Warm each implementation up with one epoch, then time ``repeats`` rounds in which each one
    runs once, in turn; one measurement per implementation, in the order given.

    Taking turns makes the comparison fair on a machine whose speed drifts in phases of seconds
    (a shared VM): a slow phase then costs every implementation a repeat, not one implementation
    all of its repeats, and the medians' ratios hold. A repeat runs the smallest number of epochs
    that the warm-up epoch says will last ``min_time``.
    """
    epochs: list[int] = []
    warmups: list[float] = []
    for one in timed:
        with one.settings():
            start = time.perf_counter()
            one.run_epochs(1)
            warmup = time.perf_counter() - start
        warmups.append(warmup)
        epochs.append(max(1, math.ceil(min_time / warmup)) if warmup > 0 else 1)
    seconds: list[list[float]] = [[] for _ in timed]
    for _ in range(repeats):
        for one, k, times in zip(timed, epochs, seconds, strict=True):
            with one.settings():
                start = time.perf_counter()
                one.run_epochs(k)
                times.append(time.perf_counter() - start)
    measurements = []
    for one, k, times, warmup in zip(timed, epochs, seconds, warmups, strict=True):
        rates = [k * one.samples_per_epoch / s for s in times]
        measurement = Measurement(
            samples_per_s=statistics.median(rates),
            repeats=rates,
            seconds=times,
            epochs_per_repeat=k,
            samples_per_epoch=one.samples_per_epoch,
            batch_size=one.batch_size,
            warmup_seconds=warmup,
            note=one.note,
        )
        measurement.extra.update(one.extra)
        if one.threads is not None:
            measurement.extra["threads"] = one.threads
        measurements.append(measurement)
    return measurements


def measure(timed: Timed, repeats: int, min_time: float) -> Measurement:
    """One implementation timed alone: ``time_rounds`` of one."""
    return time_rounds([timed], repeats, min_time)[0]


def time_epochs(
    run_epochs: RunEpochs,
    samples_per_epoch: int,
    batch_size: int,
    repeats: int,
    min_time: float,
    note: str = "",
) -> Measurement:
    """``measure`` of ``run_epochs`` with no settings of its own."""
    return measure(Timed(run_epochs, samples_per_epoch, batch_size, note=note), repeats, min_time)


# --------------------------------------------------------------------------------------------
# Implementations: one function each, taking the shared problem and returning it set up (Timed)
# --------------------------------------------------------------------------------------------


def thread_note(threads: int) -> str:
    """The note of a measurement on ``threads`` threads: ``1 thread``, ``2 threads``."""
    return f"{threads} thread{'s' if threads > 1 else ''}"


def with_threads(measurement: Measurement, threads: int) -> Measurement:
    """Record the thread count of a measurement (in its JSON entry and its note)."""
    measurement.extra["threads"] = threads
    measurement.note = thread_note(threads)
    return measurement


def blas_note(threads: int) -> str:
    """The note of a measurement whose BLAS is limited to ``threads`` (when it can be)."""
    if not can_limit_blas():
        return "BLAS threads as configured (threadpoolctl is not installed)"
    return thread_note(threads)


def require_nncore_threads(threads: int) -> None:
    """:class:`Skip` unless this nncore build can run on ``threads`` threads."""
    if threads != 1 and not nncore_can_set_threads():
        raise Skip("this nncore build has no set_num_threads (single-threaded core)")


def setup_nncore(problem: Problem, threads: int = 1) -> Timed:
    """nncore's native training loop, ``MLP.fit(..., epochs=k)``, on ``threads`` threads."""
    require_nncore_threads(threads)
    wl = problem.workload
    model = nncore.MLP(
        wl.layers,
        activation="tanh",
        output_activation="identity",
        dtype=problem.X.dtype,
        seed=problem.seed,
    )
    model.set_parameters(problem.weights, problem.biases)

    def run_epochs(epochs: int) -> None:
        model.fit(
            problem.X,
            problem.Y,
            loss=LOSS,
            learning_rate=LEARNING_RATE,
            epochs=epochs,
            batch_size=wl.batch_size,
            shuffle=True,
            n_iter_no_change=None,
        )

    settings = partial(nncore_threads, threads)
    return Timed(run_epochs, wl.samples, wl.batch_size, settings, threads, thread_note(threads))


def setup_numpy_peer(problem: Problem, threads: int = 1) -> Timed:
    """The careful NumPy implementation (``numpy_peer.NumpyMLP``), BLAS limited to ``threads``."""
    wl = problem.workload
    model = NumpyMLP(problem.weights, problem.biases, problem.X.dtype)
    rng = np.random.default_rng(problem.seed)

    def run_epochs(epochs: int) -> None:
        model.fit_epochs(problem.X, problem.Y, epochs, wl.batch_size, LEARNING_RATE, rng)

    settings = partial(blas_threads, threads)
    return Timed(run_epochs, wl.samples, wl.batch_size, settings, threads, blas_note(threads))


def setup_numpy_reference(problem: Problem) -> Timed:
    """``nncore.reference.numpy_reference.fit``, continuing from its own weights each call."""
    wl = problem.workload
    weights: list[Array] = list(problem.weights)
    biases: list[Array] | None = list(problem.biases)
    seed = 0

    def run_epochs(epochs: int) -> None:
        nonlocal weights, biases, seed
        seed += 1  # a new shuffling order for every call
        weights, biases, _ = numpy_reference.fit(
            weights,
            biases,
            problem.X,
            problem.Y,
            wl.activations,
            LOSS,
            LEARNING_RATE,
            epochs,
            wl.batch_size,
            shuffle=True,
            seed=seed,
        )

    return Timed(run_epochs, wl.samples, wl.batch_size)


def setup_pure_python(problem: Problem) -> Timed:
    """``nncore.reference.pure_python.fit`` on the first ``pure_python_samples`` rows."""
    wl = problem.workload
    subset = min(wl.pure_python_samples, wl.samples)
    batch_size = min(wl.batch_size, subset)
    X = problem.X[:subset].tolist()  # converted once, outside the timing
    Y = problem.Y[:subset].tolist()
    weights: list[list[list[float]]] = [W.tolist() for W in problem.weights]
    biases: list[list[float]] | None = [b.tolist() for b in problem.biases]
    seed = 0

    def run_epochs(epochs: int) -> None:
        nonlocal weights, biases, seed
        seed += 1  # a new shuffling order for every call
        weights, biases, _ = pure_python.fit(
            weights,
            biases,
            X,
            Y,
            wl.activations,
            LOSS,
            LEARNING_RATE,
            epochs,
            batch_size,
            shuffle=True,
            seed=seed,
        )

    note = ""
    if subset < wl.samples:
        note = f"subset: first {subset:,} of {wl.samples:,} samples"
        if batch_size != wl.batch_size:
            note += f", batch {batch_size} (not {wl.batch_size})"
    return Timed(run_epochs, subset, batch_size, note=note)


def import_torch() -> Any:
    """The ``torch`` module, or :class:`Skip` when it is not importable."""
    try:
        import torch
    except ImportError as error:
        raise Skip(f"torch is not importable ({error})") from None
    return torch


@contextmanager
def torch_threads(torch: Any, threads: int) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(threads)``; the previous count is restored."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def torch_model(problem: Problem) -> Any:
    """``nn.Sequential`` of ``Linear`` + ``Tanh`` (identity last) holding the problem's weights."""
    torch = import_torch()
    dtype = torch.float32 if problem.X.dtype == np.float32 else torch.float64
    layers: list[Any] = []
    for i, W in enumerate(problem.weights):
        layers.append(torch.nn.Linear(W.shape[0], W.shape[1], dtype=dtype))
        if i < len(problem.weights) - 1:
            layers.append(torch.nn.Tanh())
    model = torch.nn.Sequential(*layers)
    load_torch_parameters(torch, model, problem)  # torch keeps W as (out, in)
    return model


def torch_parameters(model: Any) -> tuple[list[Array], list[Array]]:
    """The ``(weights, biases)`` of a :func:`torch_model` as NumPy arrays, ``W`` as (in, out)."""
    linears = [layer for layer in model if hasattr(layer, "weight")]
    weights = [layer.weight.detach().numpy().T.copy() for layer in linears]
    return weights, [layer.bias.detach().numpy().copy() for layer in linears]


def load_torch_parameters(torch: Any, model: Any, problem: Problem) -> None:
    """Copy the problem's initial weights into ``model``'s tensors, in place."""
    linears = [layer for layer in model if hasattr(layer, "weight")]
    with torch.no_grad():
        for linear, W, b in zip(linears, problem.weights, problem.biases, strict=True):
            linear.weight.copy_(torch.from_numpy(W.T.copy()))
            linear.bias.copy_(torch.from_numpy(b))


#: Programs torch.compile may keep for one function: the two batch shapes of every set-up of a
#: run share the compiled function's code, and past torch's default of 8 it would run eagerly.
TORCH_COMPILE_RECOMPILE_LIMIT = 256


def compile_torch_step(
    torch: Any, batch_loss: Callable[[Any, Any], Any], optimizer: Any
) -> tuple[Callable[[Any, Any], Any], Callable[[], None]]:
    """``torch.compile`` of the forward pass and loss (its backward compiled with it by
    AOTAutograd) and of ``optimizer.step``; static shapes (the last batch is a second program)."""
    config = torch._dynamo.config
    for name in ("recompile_limit", "cache_size_limit"):
        if hasattr(config, name):
            setattr(config, name, max(getattr(config, name), TORCH_COMPILE_RECOMPILE_LIMIT))
    compiled_loss = torch.compile(batch_loss, dynamic=False)

    @torch.compile(dynamic=False)
    def compiled_update() -> None:
        optimizer.step()

    return compiled_loss, compiled_update


def setup_torch(problem: Problem, threads: int, compiled: bool = False) -> Timed:
    """PyTorch, CPU: ``nn.Sequential`` of ``Linear``+``Tanh``, ``MSELoss``, ``optim.SGD``; eager,
    or with ``compiled`` the loss (forward and backward) and the SGD update ``torch.compile``d.

    Each epoch's order is ``default_rng(seed).permutation``, drawn inside the timed epoch like the
    NumPy peer's. A compiled set-up compiles (inside its thread setting, since the generated
    kernels keep the thread count) by training the first full and the last short batch, then
    puts the initial weights back; the compile seconds go into the measurement.
    """
    torch = import_torch()
    wl = problem.workload
    model = torch_model(problem)
    dtype = next(model.parameters()).dtype
    loss_fn = torch.nn.MSELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=0.0)
    X = torch.from_numpy(problem.X)
    Y = torch.from_numpy(problem.Y)
    rng = np.random.default_rng(problem.seed)
    epoch_losses: list[float] = []
    n, batch_size = wl.samples, wl.batch_size

    def batch_loss(x: Any, y: Any) -> Any:
        return loss_fn(model(x), y)

    step_loss, update = batch_loss, optimizer.step
    if compiled:
        step_loss, update = compile_torch_step(torch, batch_loss, optimizer)

    def train_batch(rows: Any) -> Any:
        x, y = X[rows], Y[rows]
        optimizer.zero_grad(set_to_none=True)
        loss = step_loss(x, y)
        loss.backward()
        update()
        return loss.detach()

    def run_epochs(epochs: int) -> None:
        for _ in range(epochs):
            order = torch.from_numpy(rng.permutation(n))
            total = torch.zeros((), dtype=dtype)
            for start in range(0, n, batch_size):
                rows = order[start : start + batch_size]
                total += train_batch(rows) * len(rows)  # the epoch loss, as the others keep it
            epoch_losses.append(float(total) / n)

    extra: dict[str, Any] = {}
    if compiled:
        start = time.perf_counter()
        with torch_threads(torch, threads):
            for m in sorted({min(batch_size, n), n % batch_size} - {0}):
                train_batch(torch.arange(m))
        extra["compile_seconds"] = time.perf_counter() - start
        load_torch_parameters(torch, model, problem)
    settings = partial(torch_threads, torch, threads)
    return Timed(
        run_epochs,
        n,
        batch_size,
        settings,
        threads,
        thread_note(threads),
        extra=extra,
        parameters=partial(torch_parameters, model),
    )


def setup_torch_compile(problem: Problem, threads: int) -> Timed:
    """``setup_torch`` with ``torch.compile``."""
    return setup_torch(problem, threads, compiled=True)


def jax_available() -> bool:
    """Whether JAX is installed, found without importing it (it runs in worker processes)."""
    import importlib.util

    return importlib.util.find_spec("jax") is not None


def require_jax() -> None:
    """:class:`Skip` unless JAX is installed."""
    if not jax_available():
        raise Skip("jax is not importable (pip install -r requirements/bench.txt)")


def setup_jax(problem: Problem, mode: str, threads: int) -> Timed:
    """JAX, ``mode`` ``"step"`` (a jitted step per batch) or ``"scan"`` (the epoch as one jitted
    ``lax.scan``), in a worker process started on ``threads`` threads (``jax_peer.py``).

    The worker compiles at set-up and shuffles with ``default_rng(seed).permutation`` inside
    every timed epoch; the thread check and the compile seconds go into the measurement.
    """
    require_jax()
    worker = JaxWorker(threads)
    try:
        info = worker.call("info")
        setup = {
            "weights": problem.weights,
            "biases": problem.biases,
            "X": problem.X,
            "Y": problem.Y,
            "batch_size": problem.workload.batch_size,
            "mode": mode,
            "seed": problem.seed,
            "learning_rate": LEARNING_RATE,
            "dtype": str(problem.X.dtype),
        }
        compiled = worker.call("setup", setup)
    except JaxWorkerError as error:
        worker.close()
        if error.import_error:
            raise Skip(str(error)) from None
        raise
    check = info["thread_check"]
    extra = {
        "jax": info["jax"],
        "compile_seconds": compiled["compile_seconds"],
        "thread_check_busy_threads": check["busy_threads"],
        "thread_check_cpu_over_wall": check["cpu_over_wall"],
        "thread_check_matmul_gflops": check["gflops"],
        "environment": {
            key: worker_environment(threads).get(key) for key in ("PJRT_NPROC", "XLA_FLAGS")
        },
    }
    note = (
        f"{thread_note(threads)} (PJRT_NPROC={threads}; a matmul kept {check['busy_threads']} "
        f"thread(s) busy, CPU/wall {check['cpu_over_wall']:.2f})"
    )
    return Timed(
        partial(worker.call, "run"),
        problem.workload.samples,
        problem.workload.batch_size,
        threads=threads,
        note=note,
        extra=extra,
        parameters=partial(worker.call, "parameters"),
        close=worker.close,
    )


def sklearn_model(problem: Problem, batch_size: int) -> Any:
    """An ``MLPRegressor`` (solver='sgd', no momentum, no L2) holding the problem's weights.

    One ``partial_fit`` on the first rows creates its parameters; they are then replaced.
    """
    try:
        from sklearn.neural_network import MLPRegressor
    except ImportError as error:
        raise Skip(f"scikit-learn is not importable ({error})") from None
    wl = problem.workload
    model = MLPRegressor(
        hidden_layer_sizes=wl.layers[1:-1],
        activation="tanh",
        solver="sgd",
        alpha=0.0,
        batch_size=batch_size,
        learning_rate="constant",
        learning_rate_init=LEARNING_RATE,
        momentum=0.0,
        nesterovs_momentum=False,
        shuffle=True,
        random_state=problem.seed,
        tol=0.0,
        n_iter_no_change=10**9,
        early_stopping=False,
    )
    rows = slice(0, batch_size)
    model.partial_fit(problem.X[rows], sklearn_targets(problem.Y[rows]))
    model.coefs_ = [W.copy() for W in problem.weights]
    model.intercepts_ = [b.copy() for b in problem.biases]
    return model


def sklearn_targets(Y: Array) -> Array:
    """``Y`` as scikit-learn wants it: 1-D for one output."""
    return Y[:, 0] if Y.shape[1] == 1 else Y


def setup_sklearn(problem: Problem, threads: int = 1) -> Timed:
    """scikit-learn's ``MLPRegressor`` (solver='sgd', no momentum, no L2), one ``partial_fit``
    call per epoch, its BLAS limited to ``threads``."""
    wl = problem.workload
    batch_size = min(wl.batch_size, wl.samples)  # sklearn warns about a batch larger than n
    model = sklearn_model(problem, batch_size)
    X, Y = problem.X, sklearn_targets(problem.Y)

    def run_epochs(epochs: int) -> None:
        for _ in range(epochs):
            model.partial_fit(X, Y)

    settings = partial(blas_threads, threads)
    return Timed(run_epochs, wl.samples, batch_size, settings, threads, blas_note(threads))


# --------------------------------------------------------------------------------------------
# Problem set-up
# --------------------------------------------------------------------------------------------


def make_problem(workload: Workload, scale: float, dtype: str, seed: int) -> Problem:
    """Synthetic data (standard normal inputs and targets) and nncore's initial weights."""
    samples = max(1, round(workload.samples * scale))
    wl = Workload(
        workload.name,
        workload.layers,
        workload.batch_size,
        samples,
        min(workload.pure_python_samples, samples),
    )
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((samples, wl.layers[0])).astype(dtype)
    Y = rng.standard_normal((samples, wl.layers[-1])).astype(dtype)
    model = nncore.MLP(wl.layers, activation="tanh", dtype=dtype, seed=seed)
    weights, biases = model.get_parameters()
    return Problem(wl, X, Y, weights, biases, seed)


# --------------------------------------------------------------------------------------------
# Running and reporting
# --------------------------------------------------------------------------------------------

#: Column order of the tables: (key in the JSON results, column header).
COLUMNS = (
    ("nncore_1_thread", "nncore 1T"),
    ("nncore_2_threads", "nncore 2T"),
    ("numpy_peer_best", "NumPy best 1-2T"),
    ("numpy_reference", "NumPy ref"),
    ("pure_python", "pure Python"),
    ("torch_best", "torch best 1-2T"),
    ("torch_compile_best", "torch.compile best 1-2T"),
    ("jax_step_best", "jax-step best 1-2T"),
    ("jax_scan_best", "jax-scan best 1-2T"),
    ("sklearn_best", "sklearn best 1-2T"),
)
#: Implementations measured at every thread count of ``THREAD_COUNTS``; "<name>_best" sums up.
THREADED = ("nncore", "numpy_peer", "torch", "torch_compile", "jax_step", "jax_scan", "sklearn")
#: The bars of the chart: (key in the JSON results, legend label).
CHART_SERIES = (
    ("nncore_best", "nncore (best 1-2T)"),
    ("numpy_peer_best", "NumPy, careful (best 1-2T)"),
    ("numpy_reference", "NumPy reference"),
    ("pure_python", "pure Python"),
    ("torch_best", "PyTorch (best 1-2T)"),
    ("torch_compile_best", "torch.compile (best 1-2T)"),
    ("jax_step_best", "JAX, jitted step (best 1-2T)"),
    ("jax_scan_best", "JAX, jitted lax.scan epoch (best 1-2T)"),
    ("sklearn_best", "scikit-learn (best 1-2T)"),
)
METRIC = "samples_per_s"


def best_other(results: dict[str, Any], metric: str) -> tuple[str, float] | None:
    """The fastest implementation other than nncore: ``(key, value)``, or None.

    Thread variants count through their "_best" summary only.
    """
    others = {
        key: value[metric]
        for key, value in results.items()
        if not key.startswith("nncore")
        and not any(key.startswith(f"{name}_") and not key.endswith("_best") for name in THREADED)
    }
    if not others:
        return None
    key = max(others, key=lambda k: others[k])
    return key, others[key]


def target_for(size: str, dtype: str) -> tuple[float, str] | None:
    """The required ratio for ``size`` and what it is measured against (None: no target)."""
    if dtype == "float64":
        return FLOAT64_TARGET, "numpy_peer_best"
    if size in TARGETS:
        return TARGETS[size], "best_other"
    return None


def peer_setups(problem: Problem) -> dict[str, dict[str, Callable[[int], Timed]]]:
    """Per peer of ``PEERS``: its implementations' result-key prefixes and set-ups (by threads)."""
    return {
        "torch": {"torch": partial(setup_torch, problem)},
        "sklearn": {"sklearn": partial(setup_sklearn, problem)},
        "torch_compile": {"torch_compile": partial(setup_torch_compile, problem)},
        "jax": {prefix: partial(setup_jax, problem, mode) for prefix, mode in JAX_MODES.items()},
    }


def run_workload(
    problem: Problem,
    peers: Sequence[str],
    repeats: int,
    min_time: float,
    log: Callable[[str], None],
    gemm_gflops: float | None = None,
) -> dict[str, Any]:
    """All implementations on one problem; returns the workload's JSON entry.

    ``gemm_gflops`` (NumPy's square matmul in this run, same dtype) is the yardstick for the
    GFLOP/s ratio reported for nncore.
    """
    wl = problem.workload
    setups: list[tuple[str, Callable[[], Timed]]] = []
    for threads in THREAD_COUNTS:
        setups.append((f"nncore_{thread_suffix(threads)}", partial(setup_nncore, problem, threads)))
    for threads in THREAD_COUNTS:
        setups.append(
            (f"numpy_peer_{thread_suffix(threads)}", partial(setup_numpy_peer, problem, threads))
        )
    setups += [
        ("numpy_reference", partial(setup_numpy_reference, problem)),
        ("pure_python", partial(setup_pure_python, problem)),
    ]
    for peer, implementations in peer_setups(problem).items():
        if peer in peers:
            for prefix, setup_peer in implementations.items():
                for threads in THREAD_COUNTS:
                    setups.append(
                        (f"{prefix}_{thread_suffix(threads)}", partial(setup_peer, threads))
                    )

    names: list[str] = []
    timed: list[Timed] = []
    skipped: dict[str, str] = {}
    for name, setup in setups:
        try:
            timed.append(setup())
            names.append(name)
        except Skip as reason:
            skipped[name] = str(reason)
            log(f"  {wl.name} {name} skipped: {reason}")
    log(f"  {wl.name}: {len(timed)} implementations, {repeats} rounds taking turns ...")
    try:
        measurements = time_rounds(timed, repeats, min_time)
    finally:
        for one in timed:
            one.close()
    results: dict[str, Any] = {}
    for name, measurement in zip(names, measurements, strict=True):
        entry = measurement.as_dict()
        entry["gflops"] = measurement.samples_per_s * wl.flops_per_sample / 1e9
        results[name] = entry
        log(f"    {name}: {measurement.samples_per_s:,.0f} samples/s  {measurement.note}".rstrip())
    for name in THREADED:
        add_best_of_threads(results, name, METRIC)

    ratios: dict[str, Any] = {}
    ours = results.get("nncore_best")
    if ours is not None:
        rate = ours[METRIC]
        for key in ("numpy_reference", "numpy_peer_best"):
            if key in results:
                ratios[f"nncore_over_{key}"] = rate / results[key][METRIC]
        fastest = best_other(results, METRIC)
        if fastest is not None:
            ratios["best_other"] = fastest[0]
            ratios["nncore_over_best_other"] = rate / fastest[1]
        ratios["nncore_gflops"] = rate * wl.flops_per_sample / 1e9
        if gemm_gflops:
            ratios["nncore_gflops_over_numpy_matmul"] = ratios["nncore_gflops"] / gemm_gflops
        target = target_for(wl.name, str(problem.X.dtype))
        if target is not None:
            required, against = target
            achieved = ratios.get(
                "nncore_over_best_other" if against == "best_other" else f"nncore_over_{against}"
            )
            ratios["target"] = {"ratio": required, "against": against, "met": None}
            if achieved is not None:
                ratios["target"]["met"] = achieved >= required
    return {
        "layers": list(wl.layers),
        "batch_size": wl.batch_size,
        "samples": wl.samples,
        "dtype": str(problem.X.dtype),
        "flops_per_sample": wl.flops_per_sample,
        "results": results,
        "skipped": skipped,
        "ratios": ratios,
    }


def rate_text(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def target_text(ratios: dict[str, Any]) -> str:
    """``≥ 2.5× ✓`` / ``≥ 2.5× ✗`` / ``–``."""
    target = ratios.get("target")
    if target is None:
        return "–"
    mark = {True: " ✓", False: " ✗", None: ""}[target["met"]]
    return f"≥ {target['ratio']:g}×{mark}"


def table_rows(report: dict[str, Any]) -> tuple[list[str], list[list[str]], list[str]]:
    """Header, rows and footnotes shared by the stdout and Markdown tables."""
    header = ["size", "layers", "batch", "samples"]
    header += [title for _, title in COLUMNS]
    header += ["nncore / NumPy best", "nncore / best other", "target"]
    rows: list[list[str]] = []
    notes: list[str] = []
    for name, entry in report["workloads"].items():
        results = entry["results"]
        row = [name, "-".join(map(str, entry["layers"])), str(entry["batch_size"])]
        row.append(f"{entry['samples']:,}")
        for key, _ in COLUMNS:
            result = results.get(key)
            if result is None:
                row.append("–")
                continue
            cell = rate_text(result[METRIC])
            if key.endswith("_best"):
                cell += f" ({result['threads']}T)"
            if result.get("note") and key == "pure_python":
                cell += "*"
                notes.append(f"{name}: pure Python timed on a {result['note']}.")
            row.append(cell)
        ratios = entry["ratios"]
        numpy_ratio = ratios.get("nncore_over_numpy_peer_best")
        row.append(f"{numpy_ratio:.2f}×" if numpy_ratio is not None else "–")
        best_ratio = ratios.get("nncore_over_best_other")
        row.append(f"{best_ratio:.2f}× ({ratios['best_other']})" if best_ratio is not None else "–")
        row.append(target_text(ratios))
        rows.append(row)
    return header, rows, notes


#: Below this 2-thread/1-thread speed-up of the matmul yardstick, a core was busy during the run
#: (a GEMM of 2048² scales by 1.8–2.2× on two free cores of the development machine).
BUSY_CORE_SCALING = 1.3


def matmul_scaling(gemm: dict[str, Any]) -> float | None:
    """The matmul's GFLOP/s at 2 threads over 1 thread, when both were measured with limits."""
    rates = {r["threads"]: r["gflops"] for r in gemm["runs"] if r["threads_limited"]}
    if 1 not in rates or 2 not in rates or rates[1] <= 0:
        return None
    return float(rates[2] / rates[1])


def gemm_lines(report: dict[str, Any]) -> list[str]:
    """Sentences on NumPy's matmul speed and nncore's GFLOP/s on the GEMM-bound sizes."""
    gemm = report.get("numpy_matmul")
    if not gemm:
        return []
    per_thread = ", ".join(
        f"{run['gflops']:.1f} at {run['threads']}T"
        + ("" if run["threads_limited"] else " (unlimited)")
        for run in gemm["runs"]
    )
    lines = [
        f"NumPy {gemm['dtype']} {gemm['n']}×{gemm['n']} matmul: {per_thread} GFLOP/s "
        f"(best {gemm['best_gflops']:.1f})."
    ]
    narrower = _blas.narrower_kernels(gemm.get("kernels", ""), nncore.config()["simd"])
    if narrower:
        coretype = os.environ.get("OPENBLAS_CORETYPE")
        lines.append(
            f"{narrower} (OPENBLAS_CORETYPE={coretype or 'unset'}): this matmul is not the "
            "machine's best (JAX's jitted matmul is below)."
        )
    scaling = matmul_scaling(gemm)
    if scaling is not None and scaling < BUSY_CORE_SCALING:
        lines.append(
            f"**Warning:** the 2-thread matmul ran only {scaling:.2f}× as fast as the 1-thread "
            "one: another process (or the host of a virtual machine) held a core, so this run's "
            "2-thread figures do not compare."
        )
    for name, entry in report["workloads"].items():
        ratios = entry["ratios"]
        if name in ("M", "L") and "nncore_gflops" in ratios:
            fraction = ratios.get("nncore_gflops_over_numpy_matmul")
            line = f"{name}: nncore trains at {ratios['nncore_gflops']:.1f} GFLOP/s"
            if fraction is not None:
                mark = "✓" if fraction >= GEMM_FRACTION_TARGET else "✗"
                line += f" = {fraction:.0%} of that matmul"
                line += f" (target ≥ {GEMM_FRACTION_TARGET:.0%} {mark})"
            lines.append(line + ".")
    return lines


#: Below this relative difference two rates count as equal in thread_rule_lines: where the
#: policy keeps a network on one thread, 2T and 1T run the same code and differ by noise alone
#: (T, which hands no work to a second thread, measured 2T/1T from 0.95 to 1.00 in runs of
#: 2026-12-07: the two vCPUs of the development machine run at different speeds).
THREAD_RULE_NOISE = 0.05


def thread_rule_lines(report: dict[str, Any]) -> list[str]:
    """Per size, nncore's 2-thread rate over its 1-thread rate: the rule is that 2 threads are
    never slower than 1 (its default thread policy must choose per network and batch)."""
    parts = []
    for name, entry in report["workloads"].items():
        results = entry["results"]
        one = results.get(f"nncore_{thread_suffix(1)}")
        two = results.get(f"nncore_{thread_suffix(2)}")
        if one is None or two is None:
            continue
        # judged as shown, to 2 decimals, so that a reader never sees 0.95× marked ✗
        ratio = round(two[METRIC] / one[METRIC], 2)
        parts.append(f"{name} {ratio:.2f}× {'✓' if ratio >= 1.0 - THREAD_RULE_NOISE else '✗'}")
    if not parts:
        return []
    return [
        f"nncore 2T / 1T (rule ≥ 1, within {THREAD_RULE_NOISE:.0%} timing noise): "
        + ", ".join(parts)
        + "."
    ]


#: The compiling peers' result-key prefixes and names, in table order.
COMPILED_PEERS = {"torch_compile": "torch.compile", "jax_step": "jax-step", "jax_scan": "jax-scan"}


def compiled_peer_lines(report: dict[str, Any]) -> list[str]:
    """Per size, the compile seconds (spent at set-up, outside the timing) of torch.compile and
    JAX; then JAX's thread check by thread count (medians over the workers of the run)."""
    lines = []
    checks: dict[int, list[dict[str, Any]]] = {}
    for name, entry in report["workloads"].items():
        parts = []
        for prefix, title in COMPILED_PEERS.items():
            runs = [
                f"{threads}T {result['compile_seconds']:.1f}"
                for threads in THREAD_COUNTS
                if (result := entry["results"].get(f"{prefix}_{thread_suffix(threads)}"))
            ]
            if runs:
                parts.append(f"{title} {', '.join(runs)}")
        for key, result in entry["results"].items():
            if key.startswith("jax_") and "thread_check_cpu_over_wall" in result:
                checks.setdefault(result["threads"], []).append(result)
        if parts:
            lines.append(f"{name}: compile seconds (at set-up, not timed): {'; '.join(parts)}.")
    for threads, results in sorted(checks.items()):
        busy = sorted({r.get("thread_check_busy_threads") for r in results}, key=str)
        gflops = statistics.median(r["thread_check_matmul_gflops"] for r in results)
        ratio = statistics.median(r["thread_check_cpu_over_wall"] for r in results)
        lines.append(
            f"JAX workers with PJRT_NPROC={threads} ({len(results)}): a jitted "
            f"{CHECK_MATMUL}² matmul ran on {'/'.join(map(str, busy))} thread(s), median "
            f"{gflops:.0f} GFLOP/s, CPU/wall {ratio:.2f}."
        )
    return lines


def text_table(rows: Sequence[Sequence[str]]) -> list[str]:
    """Right-aligned plain-text lines of ``rows`` (the first is the header, ruled off)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.rjust(widths[i]) for i, cell in enumerate(r)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def format_text_table(report: dict[str, Any]) -> str:
    header, rows, notes = table_rows(report)
    lines = text_table([header, *rows])
    lines.append("")
    lines.append("samples/s, median of the repeats (higher is better); T = threads.")
    lines += [f"* {note}" for note in notes]
    lines += gemm_lines(report) + thread_rule_lines(report)
    lines += compiled_peer_lines(report)
    for name, entry in report["workloads"].items():
        for impl, reason in entry["skipped"].items():
            lines.append(f"{name}: {impl} skipped: {reason}")
    return "\n".join(lines)


def format_markdown(report: dict[str, Any]) -> str:
    header, rows, notes = table_rows(report)
    config = report["config"]
    lines = [
        f"Training throughput, samples/s (median of {config['repeats']} repeats; higher is "
        f'better), {config["dtype"]}. T = threads; "best other" is the fastest implementation '
        "that is not nncore; the target is the issue's required ratio"
        + (" (against NumPy, careful)." if config["dtype"] == "float64" else "."),
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" if i < 2 else "---:" for i in range(len(header))) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines.append("")
    lines += [f"\\* {note}" for note in notes]
    footnotes = gemm_lines(report) + thread_rule_lines(report) + compiled_peer_lines(report)
    lines += [f"- {line}" for line in footnotes]
    lines += [
        f"- {name}: {impl} skipped ({reason})"
        for name, entry in report["workloads"].items()
        for impl, reason in entry["skipped"].items()
    ]
    lines += [
        "",
        f"- Command: `{report['command']}`",
        f"- Date: {report['created']}",
        *describe_machine(report["machine"]),
    ]
    return "\n".join(lines) + "\n"


def write_chart(report: dict[str, Any], path: Path) -> str:
    """The PNG bar chart of samples/s by size (log scale); returns what was done."""
    title = (
        f"MLP training, {report['config']['dtype']}, samples/s (higher is better) — "
        f"{report['machine']['cpu_model']}, {report['created']}"
    )
    ylabel = "training samples / s (log scale)"
    return size_chart(path, report["workloads"], CHART_SERIES, METRIC, title, ylabel)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--sizes",
        default=DEFAULT_SIZES,
        help=f"comma-separated workloads among {','.join(WORKLOADS)} (default {DEFAULT_SIZES})",
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats (default 3)")
    parser.add_argument(
        "--min-time",
        type=float,
        default=0.5,
        help="a timed repeat runs whole epochs for at least this many seconds (default 0.5)",
    )
    parser.add_argument(
        "--samples-scale",
        type=float,
        default=1.0,
        help="multiply every workload's sample count by this (default 1.0)",
    )
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data and the weights")
    parser.add_argument(
        "--peers",
        default=",".join(PEERS),
        help=f"comma-separated peer libraries to include when importable: {', '.join(PEERS)}; "
        f"'none' for none of them (default {','.join(PEERS)})",
    )
    parser.add_argument(
        "--matmul-size",
        type=int,
        default=2048,
        help="n of NumPy's n×n matmul timed as the GEMM yardstick; 0 skips it (default 2048)",
    )
    local = "benchmarks/results/local"
    parser.add_argument("--json", type=Path, help=f"default {local}/latest.json (float64.json)")
    parser.add_argument("--markdown", type=Path, help=f"default {local}/latest.md (float64.md)")
    parser.add_argument(
        "--png", type=Path, help=f"the chart (needs matplotlib); default {local}/latest.png"
    )
    args = parser.parse_args(argv)
    stem = "latest" if args.dtype == "float32" else "float64"
    for option, suffix in (("json", "json"), ("markdown", "md"), ("png", "png")):
        if getattr(args, option) is None:
            setattr(args, option, LOCAL_DIR / f"{stem}.{suffix}")

    args.sizes = parse_sizes(parser, args.sizes)
    args.peers = parse_peers(parser, args.peers)
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    if args.samples_scale <= 0:
        parser.error("--samples-scale must be > 0")
    if args.min_time < 0:
        parser.error("--min-time must be >= 0")
    if args.matmul_size < 0:
        parser.error("--matmul-size must be >= 0")
    return args


def parse_sizes(parser: argparse.ArgumentParser, text: str) -> list[str]:
    """``--sizes``: comma-separated names of ``WORKLOADS`` (any case)."""
    sizes = [s.strip().upper() for s in text.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in WORKLOADS]
    if unknown or not sizes:
        parser.error(f"--sizes: unknown size(s) {unknown}; choose among {','.join(WORKLOADS)}")
    return sizes


def parse_peers(
    parser: argparse.ArgumentParser, text: str, choices: Sequence[str] = PEERS
) -> list[str]:
    """``--peers``: a comma-separated subset of ``choices``, or ``none``."""
    peers = [p.strip().lower() for p in text.split(",") if p.strip()]
    if peers == ["none"]:
        return []
    bad = [p for p in peers if p not in choices]
    if bad:
        parser.error(f"--peers: unknown peer(s) {bad}; choose among {','.join(choices)} or none")
    return peers


def measure_matmul(n: int, dtype: str) -> dict[str, Any] | None:
    """NumPy's n×n matmul GFLOP/s at each thread count, and the best (None for n = 0)."""
    if n == 0:
        return None
    runs = [numpy_matmul_gflops(n, dtype, threads) for threads in THREAD_COUNTS]
    return {
        "n": n,
        "dtype": dtype,
        "runs": runs,
        "best_gflops": max(r["gflops"] for r in runs),
        "kernels": openblas_kernels(),
    }


def openblas_kernels() -> str:
    """The kernel family NumPy's bundled OpenBLAS runs in this process ('' without one)."""
    path = _blas.numpy_openblas()
    return _blas.corename(ctypes.CDLL(path)) if path is not None else ""


def write_outputs(outputs: Sequence[tuple[Path, str]]) -> None:
    """Write each ``(path, text)`` of ``outputs``, saying so on stderr."""
    for path, text in outputs:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}", file=sys.stderr, flush=True)


def log(message: str) -> None:
    """Progress goes to stderr; the tables go to stdout."""
    print(message, file=sys.stderr, flush=True)


def report_header(
    script: str, benchmark: str, schema_version: int, argv: Sequence[str] | None
) -> dict[str, Any]:
    """The first keys of every report: what, when, and the command line that reproduces it
    (also when the script's ``main(argv)`` is called from Python, as ``run_all.py`` does)."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    return {
        "benchmark": benchmark,
        "schema_version": schema_version,
        "created": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "command": " ".join(["python", f"benchmarks/{script}", *arguments]),
    }


def finish(
    report: dict[str, Any],
    args: argparse.Namespace,
    format_text: Callable[[dict[str, Any]], str],
    format_markdown: Callable[[dict[str, Any]], str],
    write_chart: Callable[[dict[str, Any], Path], str],
) -> None:
    """Close a report: the load average at the end, the table to stdout, then the JSON, the
    Markdown and the chart to ``args.json``, ``args.markdown`` and ``args.png``."""
    report["machine"]["load_average_at_end"] = load_average()
    print(format_text(report))
    write_outputs(
        [
            (args.json, json.dumps(report, indent=2) + "\n"),
            (args.markdown, format_markdown(report)),
        ]
    )
    log(write_chart(report, args.png))


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    report: dict[str, Any] = {
        **report_header("bench_training.py", "nncore training throughput", 2, argv),
        "config": {
            "sizes": args.sizes,
            "repeats": args.repeats,
            "min_time_s": args.min_time,
            "samples_scale": args.samples_scale,
            "dtype": args.dtype,
            "seed": args.seed,
            "peers": args.peers,
            "thread_counts": list(THREAD_COUNTS),
            "loss": LOSS,
            "learning_rate": LEARNING_RATE,
            "hidden_activation": "tanh",
            "output_activation": "identity",
            "shuffle": True,
            "timing": "one warm-up epoch each, then repeats in rounds where the "
            "implementations take turns; median over repeats of whole epochs "
            "(time.perf_counter), one process",
            "flops_per_sample": "3 · 2·Σ n_in·n_out (forward, then twice that backward)",
        },
        "machine": machine_info(args.peers),
        "workloads": {},
    }
    log(f"NumPy {args.dtype} {args.matmul_size}² matmul ...")
    report["numpy_matmul"] = measure_matmul(args.matmul_size, args.dtype)
    gemm = report["numpy_matmul"]["best_gflops"] if report["numpy_matmul"] else None
    for size in args.sizes:
        problem = make_problem(WORKLOADS[size], args.samples_scale, args.dtype, args.seed)
        report["workloads"][size] = run_workload(
            problem, args.peers, args.repeats, args.min_time, log, gemm
        )

    finish(report, args, format_text_table, format_markdown, write_chart)
    return report


if __name__ == "__main__":
    main()
