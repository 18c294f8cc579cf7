"""Training throughput of nncore against its references and (optionally) PyTorch and scikit-learn.

Every implementation trains the same network (tanh hidden layers, identity output, mean squared
error, plain mini-batch SGD with learning rate 0.01, shuffling every epoch) from the same initial
weights on the same synthetic data, generated once from a fixed seed before any timing. For each
implementation the benchmark runs one warm-up epoch, then ``--repeats`` timed repeats of whole
epochs (``time.perf_counter``); a repeat runs enough epochs to last at least ``--min-time``
seconds. The reported figure is the median over the repeats of samples per second.

The pure-Python reference is timed on a subset of the samples (the first few hundred rows, fewer
on the big sizes) so that it finishes in seconds; the output says so wherever that applies.

Run ``python benchmarks/bench_training.py --help`` for the options; results go to a JSON file and
a Markdown table (by default ``benchmarks/results/latest.{json,md}``) and to stdout.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

import nncore
from nncore.reference import numpy_reference, pure_python

Array = npt.NDArray[Any]

RESULTS_DIR = Path(__file__).resolve().parent / "results"
LOSS = "mean_squared_error"
LEARNING_RATE = 0.01
PEERS = ("torch", "sklearn")
#: Environment variables that change how the numerical libraries run; recorded in the JSON.
THREAD_ENV = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "OPENBLAS_VERBOSE",
)


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


def time_epochs(
    run_epochs: RunEpochs,
    samples_per_epoch: int,
    batch_size: int,
    repeats: int,
    min_time: float,
    note: str = "",
) -> Measurement:
    """Warm up with one epoch, then time ``repeats`` runs of ``k`` whole epochs each.

    ``k`` is the smallest number of epochs that the warm-up epoch says will last ``min_time``.
    """
    start = time.perf_counter()
    run_epochs(1)
    warmup = time.perf_counter() - start
    epochs = max(1, math.ceil(min_time / warmup)) if warmup > 0 else 1
    seconds: list[float] = []
    for _ in range(repeats):
        start = time.perf_counter()
        run_epochs(epochs)
        seconds.append(time.perf_counter() - start)
    rates = [epochs * samples_per_epoch / s for s in seconds]
    return Measurement(
        samples_per_s=statistics.median(rates),
        repeats=rates,
        seconds=seconds,
        epochs_per_repeat=epochs,
        samples_per_epoch=samples_per_epoch,
        batch_size=batch_size,
        warmup_seconds=warmup,
        note=note,
    )


# --------------------------------------------------------------------------------------------
# Implementations: one function each, taking the shared problem and returning a Measurement
# --------------------------------------------------------------------------------------------


def bench_nncore(problem: Problem, repeats: int, min_time: float) -> Measurement:
    """nncore's native training loop: ``MLP.fit(..., epochs=k)``."""
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

    return time_epochs(run_epochs, wl.samples, wl.batch_size, repeats, min_time)


def bench_numpy_reference(problem: Problem, repeats: int, min_time: float) -> Measurement:
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

    return time_epochs(run_epochs, wl.samples, wl.batch_size, repeats, min_time)


def bench_pure_python(problem: Problem, repeats: int, min_time: float) -> Measurement:
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
    return time_epochs(run_epochs, subset, batch_size, repeats, min_time, note)


def bench_torch(problem: Problem, repeats: int, min_time: float, threads: int) -> Measurement:
    """PyTorch, CPU eager: ``nn.Sequential`` of ``Linear``+``Tanh``, ``MSELoss``, ``optim.SGD``."""
    try:
        import torch
    except ImportError as error:
        raise Skip(f"torch is not importable ({error})") from None
    wl = problem.workload
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        dtype = torch.float32 if problem.X.dtype == np.float32 else torch.float64
        layers: list[torch.nn.Module] = []
        for i, (W, b) in enumerate(zip(problem.weights, problem.biases, strict=True)):
            linear = torch.nn.Linear(W.shape[0], W.shape[1], dtype=dtype)
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(W.T.copy()))
                linear.bias.copy_(torch.from_numpy(b))
            layers.append(linear)
            if i < len(problem.weights) - 1:
                layers.append(torch.nn.Tanh())
        model = torch.nn.Sequential(*layers)
        loss_fn = torch.nn.MSELoss()
        optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=0.0)
        X = torch.from_numpy(problem.X)
        Y = torch.from_numpy(problem.Y)
        generator = torch.Generator().manual_seed(problem.seed)
        epoch_losses: list[float] = []
        n, batch_size = wl.samples, wl.batch_size

        def run_epochs(epochs: int) -> None:
            for _ in range(epochs):
                order = torch.randperm(n, generator=generator)
                total = torch.zeros((), dtype=dtype)
                for start in range(0, n, batch_size):
                    rows = order[start : start + batch_size]
                    x, y = X[rows], Y[rows]
                    optimizer.zero_grad(set_to_none=True)
                    loss = loss_fn(model(x), y)
                    loss.backward()
                    optimizer.step()
                    total += loss.detach() * len(rows)  # the epoch loss, as the others keep it
                epoch_losses.append(float(total) / n)

        measurement = time_epochs(run_epochs, n, batch_size, repeats, min_time)
    finally:
        torch.set_num_threads(previous_threads)
    measurement.extra["threads"] = threads
    measurement.note = f"{threads} thread{'s' if threads > 1 else ''}"
    return measurement


def bench_sklearn(problem: Problem, repeats: int, min_time: float) -> Measurement:
    """scikit-learn's ``MLPRegressor`` (solver='sgd', no momentum, no L2), one ``partial_fit``
    call per epoch."""
    try:
        from sklearn.neural_network import MLPRegressor
    except ImportError as error:
        raise Skip(f"scikit-learn is not importable ({error})") from None
    wl = problem.workload
    batch_size = min(wl.batch_size, wl.samples)  # sklearn warns about a batch larger than n
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
    X = problem.X
    Y = problem.Y[:, 0] if problem.Y.shape[1] == 1 else problem.Y  # 1-D y for one output
    model.partial_fit(X, Y)  # creates the parameters; then start from the shared weights
    model.coefs_ = [W.copy() for W in problem.weights]
    model.intercepts_ = [b.copy() for b in problem.biases]

    def run_epochs(epochs: int) -> None:
        for _ in range(epochs):
            model.partial_fit(X, Y)

    return time_epochs(run_epochs, wl.samples, batch_size, repeats, min_time)


# --------------------------------------------------------------------------------------------
# Problem set-up and machine description
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


def cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _cpu_flags() -> list[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                wanted = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_bf16", "amx_tile")
                return [flag for flag in wanted if flag in flags]
    except OSError:
        pass
    return []


def _numpy_blas() -> Any:
    try:
        config = np.show_config(mode="dicts")  # numpy >= 1.26
    except TypeError:
        return None
    if not isinstance(config, dict):
        return None
    return config.get("Build Dependencies", {}).get("blas")


def threadpools() -> Any:
    try:
        import threadpoolctl
    except ImportError:
        return None
    return [
        {key: pool.get(key) for key in ("user_api", "internal_api", "num_threads", "version")}
        for pool in threadpoolctl.threadpool_info()
    ]


def load_average() -> list[float] | None:
    """1-, 5- and 15-minute load averages: other work on the machine skews the timings."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def machine_info(peers: Sequence[str]) -> dict[str, Any]:
    """CPU, OS, versions and threading settings of this run."""
    info: dict[str, Any] = {
        "cpu_model": cpu_model(),
        "cpu_flags": _cpu_flags(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "numpy": np.__version__,
        "nncore": nncore.__version__,
        "nncore_threads": 1,  # the core is built with EIGEN_DONT_PARALLELIZE
        "git": git_commit(),
        "env": {name: os.environ.get(name) for name in THREAD_ENV},
        "load_average_at_start": load_average(),
        "numpy_blas": _numpy_blas(),
    }
    if "torch" in peers:
        try:
            import torch

            info["torch"] = torch.__version__
            info["torch_default_threads"] = torch.get_num_threads()
        except ImportError:
            info["torch"] = None
    if "sklearn" in peers:
        try:
            import sklearn

            info["sklearn"] = sklearn.__version__
        except ImportError:
            info["sklearn"] = None
    info["threadpools"] = threadpools()  # after the imports, so their pools show up too
    return info


# --------------------------------------------------------------------------------------------
# Running and reporting
# --------------------------------------------------------------------------------------------

#: Column order of the tables: (key in the JSON results, column header).
COLUMNS = (
    ("nncore", "nncore"),
    ("numpy_reference", "NumPy ref"),
    ("pure_python", "pure Python"),
    ("torch_1_thread", "torch 1T"),
    ("torch_best", "torch best 1-2T"),
    ("sklearn", "sklearn"),
)


def run_workload(
    problem: Problem,
    peers: Sequence[str],
    repeats: int,
    min_time: float,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """All implementations on one problem; returns the workload's JSON entry."""
    wl = problem.workload
    benches: list[tuple[str, Callable[[], Measurement]]] = [
        ("nncore", lambda: bench_nncore(problem, repeats, min_time)),
        ("numpy_reference", lambda: bench_numpy_reference(problem, repeats, min_time)),
        ("pure_python", lambda: bench_pure_python(problem, repeats, min_time)),
    ]
    if "torch" in peers:
        for threads in (1, 2):
            name = f"torch_{threads}_thread{'s' if threads > 1 else ''}"
            benches.append((name, partial(bench_torch, problem, repeats, min_time, threads)))
    if "sklearn" in peers:
        benches.append(("sklearn", lambda: bench_sklearn(problem, repeats, min_time)))

    results: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for name, bench in benches:
        log(f"  {wl.name} {name} ...")
        try:
            measurement = bench()
        except Skip as reason:
            skipped[name] = str(reason)
            log(f"    skipped: {reason}")
            continue
        results[name] = measurement.as_dict()
        log(f"    {measurement.samples_per_s:,.0f} samples/s  {measurement.note}".rstrip())

    torch_runs = [results[k] for k in ("torch_1_thread", "torch_2_threads") if k in results]
    if torch_runs:
        best = max(torch_runs, key=lambda r: r["samples_per_s"])
        results["torch_best"] = {"samples_per_s": best["samples_per_s"], "threads": best["threads"]}

    ratios: dict[str, Any] = {}
    if "nncore" in results:
        ours = results["nncore"]["samples_per_s"]
        others = {
            k: v["samples_per_s"] for k, v in results.items() if k not in ("nncore", "torch_best")
        }
        if "numpy_reference" in others:
            ratios["nncore_over_numpy_reference"] = ours / others["numpy_reference"]
        if others:
            best_name = max(others, key=lambda k: others[k])
            ratios["best_other"] = best_name
            ratios["nncore_over_best_other"] = ours / others[best_name]
    return {
        "layers": list(wl.layers),
        "batch_size": wl.batch_size,
        "samples": wl.samples,
        "dtype": str(problem.X.dtype),
        "results": results,
        "skipped": skipped,
        "ratios": ratios,
    }


def _rate(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def table_rows(report: dict[str, Any]) -> tuple[list[str], list[list[str]], list[str]]:
    """Header, rows and footnotes shared by the stdout and Markdown tables."""
    header = ["size", "layers", "batch", "samples"]
    header += [title for _, title in COLUMNS]
    header += ["nncore / NumPy ref", "nncore / best other"]
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
            cell = _rate(result["samples_per_s"])
            if key == "torch_best":
                cell += f" ({result['threads']}T)"
            if result.get("note") and key == "pure_python":
                cell += "*"
                notes.append(f"{name}: pure Python timed on a {result['note']}.")
            row.append(cell)
        ratios = entry["ratios"]
        numpy_ratio = ratios.get("nncore_over_numpy_reference")
        row.append(f"{numpy_ratio:.1f}×" if numpy_ratio is not None else "–")
        best_ratio = ratios.get("nncore_over_best_other")
        row.append(f"{best_ratio:.2f}× ({ratios['best_other']})" if best_ratio is not None else "–")
        rows.append(row)
    return header, rows, notes


def format_text_table(report: dict[str, Any]) -> str:
    header, rows, notes = table_rows(report)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.rjust(widths[i]) for i, cell in enumerate(r)) for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("")
    lines.append("samples/s, median of the repeats (higher is better); T = threads.")
    lines += [f"* {note}" for note in notes]
    for name, entry in report["workloads"].items():
        for impl, reason in entry["skipped"].items():
            lines.append(f"{name}: {impl} skipped: {reason}")
    return "\n".join(lines)


def format_markdown(report: dict[str, Any]) -> str:
    header, rows, notes = table_rows(report)
    machine = report["machine"]
    config = report["config"]
    lines = [
        f"Training throughput, samples/s (median of {config['repeats']} repeats; higher is "
        f"better), {config['dtype']}.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" if i < 2 else "---:" for i in range(len(header))) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines.append("")
    lines += [f"\\* {note}" for note in notes]
    skipped = [
        f"{name}: {impl} skipped ({reason})"
        for name, entry in report["workloads"].items()
        for impl, reason in entry["skipped"].items()
    ]
    lines += skipped
    env = ", ".join(f"{k}={v}" for k, v in machine["env"].items() if v is not None) or "none set"
    blas = machine.get("threadpools") or []
    blas_text = ", ".join(
        f"{p['internal_api']}{' ' + p['version'] if p['version'] else ''} "
        f"({p['num_threads']} thread{'s' if p['num_threads'] != 1 else ''})"
        for p in blas
    )
    lines += [
        "",
        f"- Command: `{report['command']}`",
        f"- Date: {report['created']}",
        f"- Machine: {machine['cpu_model']}, {machine['cpus_usable']} usable CPUs "
        f"({', '.join(machine['cpu_flags'])}), {machine['platform']}",
        f"- Versions: Python {machine['python']}, NumPy {machine['numpy']}, "
        f"nncore {machine['nncore']} ({machine['git']})"
        + (f", torch {machine['torch']}" if machine.get("torch") else "")
        + (f", scikit-learn {machine['sklearn']}" if machine.get("sklearn") else ""),
        f"- Threads: nncore 1 (single-threaded core); BLAS pools: {blas_text or 'unknown'}",
        f"- Threading/BLAS environment: {env}",
        f"- Load average (1, 5, 15 min) at start: {machine['load_average_at_start']}, "
        f"at end: {machine.get('load_average_at_end')}",
    ]
    return "\n".join(lines) + "\n"


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
        help="comma-separated peer libraries to include when importable: torch, sklearn; "
        "'none' for neither (default torch,sklearn)",
    )
    parser.add_argument("--json", type=Path, default=RESULTS_DIR / "latest.json")
    parser.add_argument("--markdown", type=Path, default=RESULTS_DIR / "latest.md")
    args = parser.parse_args(argv)

    sizes = [s.strip().upper() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in WORKLOADS]
    if unknown or not sizes:
        parser.error(f"--sizes: unknown size(s) {unknown}; choose among {','.join(WORKLOADS)}")
    args.sizes = sizes
    peers = [p.strip().lower() for p in args.peers.split(",") if p.strip()]
    if peers == ["none"]:
        peers = []
    bad = [p for p in peers if p not in PEERS]
    if bad:
        parser.error(f"--peers: unknown peer(s) {bad}; choose among {','.join(PEERS)} or none")
    args.peers = peers
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    if args.samples_scale <= 0:
        parser.error("--samples-scale must be > 0")
    if args.min_time < 0:
        parser.error("--min-time must be >= 0")
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    command = " ".join(["python", "benchmarks/bench_training.py", *sys.argv[1:]])
    report: dict[str, Any] = {
        "benchmark": "nncore training throughput",
        "schema_version": 1,
        "created": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "command": command if argv is None else " ".join(["bench_training.main", *argv]),
        "config": {
            "sizes": args.sizes,
            "repeats": args.repeats,
            "min_time_s": args.min_time,
            "samples_scale": args.samples_scale,
            "dtype": args.dtype,
            "seed": args.seed,
            "peers": args.peers,
            "loss": LOSS,
            "learning_rate": LEARNING_RATE,
            "hidden_activation": "tanh",
            "output_activation": "identity",
            "shuffle": True,
            "timing": "one warm-up epoch, then median over repeats of whole epochs "
            "(time.perf_counter), one process",
        },
        "machine": machine_info(args.peers),
        "workloads": {},
    }
    for size in args.sizes:
        problem = make_problem(WORKLOADS[size], args.samples_scale, args.dtype, args.seed)
        report["workloads"][size] = run_workload(
            problem, args.peers, args.repeats, args.min_time, log
        )

    report["machine"]["load_average_at_end"] = load_average()
    print(format_text_table(report))
    for path, text in (
        (args.json, json.dumps(report, indent=2) + "\n"),
        (args.markdown, format_markdown(report)),
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        log(f"wrote {path}")
    return report


if __name__ == "__main__":
    main()
