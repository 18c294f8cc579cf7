"""Data-parallel training throughput: the 784-256-256-10 network at global batch 256 (float32,
SGD) trained by one process, by ``mpiexec -n 2`` processes (local batch 128) with each process
single-threaded, and by one process with two threads (when ``nncore.set_num_threads`` exists);
samples/s and scaling efficiency. Also writes the on-paper communication model for the training
benchmark's networks (bytes per step, step times at 10 and 100 Gb/s, predicted efficiency at 8
and 64 machines).

    python benchmarks/bench_distributed.py                  # the measurement, ~1 minute
    python benchmarks/bench_distributed.py --samples 512 --epochs 1 --repeats 1   # a smoke run

Writes ``benchmarks/results/distributed.json`` and ``.md``. Timings are whole epochs measured
with ``time.perf_counter`` after one warm-up epoch, between barriers in the MPI runs; the
reported figure is the median over repeats.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import nncore

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_training import WORKLOADS
from machine import cpu_model, git_commit, load_average

RESULTS_DIR = Path(__file__).resolve().parent / "results"
LAYERS = (784, 256, 256, 10)
GLOBAL_BATCH = 256
SINGLE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NNCORE_NUM_THREADS": "1",
}
# Assumptions of the on-paper model (stated in the output).
LATENCY_S = 5e-6  # per message of the ring (a typical TCP/Ethernet hop inside a cluster)
BANDWIDTHS_GBIT = (10, 100)
MACHINES = (8, 64)


def problem(samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(samples, LAYERS[0])).astype(np.float32)
    y = rng.integers(0, LAYERS[-1], size=samples)
    return X, y


def new_model(seed: int) -> nncore.MLP:
    return nncore.MLP(list(LAYERS), "relu", "softmax", seed=seed)


def fit_options(epochs: int) -> dict[str, Any]:
    return {
        "epochs": epochs,
        "optimizer": "sgd",
        "learning_rate": 0.01,
        "shuffle": True,
        "n_iter_no_change": None,
    }


def timed_epochs(train: Any, repeats: int, barrier: Any = None) -> list[float]:
    """Seconds of each repeat of ``train()`` (after one warm-up call)."""
    train(warmup=True)
    seconds = []
    for _ in range(repeats):
        if barrier is not None:
            barrier()
        start = time.perf_counter()
        train(warmup=False)
        if barrier is not None:
            barrier()
        seconds.append(time.perf_counter() - start)
    return seconds


def single_process(args: argparse.Namespace, threads: int) -> dict[str, Any]:
    X, y = problem(args.samples, args.seed)
    model = new_model(args.seed)

    def train(warmup: bool) -> None:
        model.fit(X, y, batch_size=GLOBAL_BATCH, **fit_options(1 if warmup else args.epochs))

    seconds = timed_epochs(train, args.repeats)
    return result(args, seconds, processes=1, threads=threads, local_batch=GLOBAL_BATCH)


def result(
    args: argparse.Namespace, seconds: list[float], processes: int, threads: int, local_batch: int
) -> dict[str, Any]:
    rates = [args.samples * args.epochs / s for s in seconds]
    return {
        "processes": processes,
        "threads_per_process": threads,
        "local_batch": local_batch,
        "global_batch": GLOBAL_BATCH,
        "samples_per_s": statistics.median(rates),
        "repeats_samples_per_s": rates,
        "repeats_seconds": seconds,
        "epochs_per_repeat": args.epochs,
        "samples_per_epoch": args.samples,
    }


def worker(args: argparse.Namespace) -> None:
    """One rank of ``mpiexec -n K``: trains on its balanced shard with local batch 256/K."""
    from mpi4py import MPI

    from nncore import distributed

    comm = MPI.COMM_WORLD
    size = comm.Get_size()
    X, y = problem(args.samples, args.seed)
    rows = distributed.shard_rows(args.samples, comm)
    X_local, y_local = np.ascontiguousarray(X[rows]), y[rows]
    del X, y
    model = new_model(args.seed)
    local_batch = GLOBAL_BATCH // size

    def train(warmup: bool) -> None:
        distributed.fit(
            model,
            X_local,
            y_local,
            comm,
            batch_size=local_batch,
            **fit_options(1 if warmup else args.epochs),
        )

    seconds = timed_epochs(train, args.repeats, barrier=comm.Barrier)
    if comm.Get_rank() == 0:
        print("RESULT " + json.dumps(result(args, seconds, size, 1, local_batch)), flush=True)


def mpi_run(args: argparse.Namespace, processes: int) -> dict[str, Any] | str:
    mpiexec = Path(sys.executable).parent / "mpiexec"
    command = str(mpiexec) if mpiexec.exists() else shutil.which("mpiexec")
    if command is None:
        return "n/a (no mpiexec: pip install 'nncore[mpi]')"
    out = subprocess.run(
        [command, "-n", str(processes), sys.executable, __file__, "--worker", *worker_args(args)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **SINGLE_THREAD_ENV},
        timeout=3600,
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"mpiexec -n {processes} failed:\n{out.stdout}\n{out.stderr}")
    measured: dict[str, Any] = json.loads(lines[0][len("RESULT ") :])
    return measured


def worker_args(args: argparse.Namespace) -> list[str]:
    return [
        f"--samples={args.samples}",
        f"--epochs={args.epochs}",
        f"--repeats={args.repeats}",
        f"--seed={args.seed}",
    ]


def two_threads(args: argparse.Namespace) -> dict[str, Any] | str:
    set_threads = getattr(nncore, "set_num_threads", None)
    if set_threads is None:
        return "n/a (this nncore has no set_num_threads: the core is single-threaded)"
    set_threads(2)
    try:
        return single_process(args, threads=2)
    finally:
        set_threads(1)


# ----------------------------------------------------------------------------- on paper


def communication_model(step_seconds_at: dict[str, float]) -> list[dict[str, Any]]:
    """Ring all-reduce of the float32 gradient, no overlap with compute (nncore all-reduces
    after the backward pass): per rank and step it sends ``2(K−1)/K · 4P`` bytes in
    ``2(K−1)`` messages, so ``t_comm = 2(K−1)/K · 4P / bandwidth + 2(K−1) · latency``.
    Compute per step at local batch ``b`` is ``b / r₁`` with ``r₁`` the measured single-process
    samples/s; efficiency = ``t_compute / (t_compute + t_comm)``, for a fixed global batch
    (``b = B/K``, strong scaling) and a fixed local batch (``b = B``, weak scaling)."""
    rows = []
    for name, workload in WORKLOADS.items():
        layers = workload.layers
        parameters = sum(a * b + b for a, b in itertools.pairwise(layers))
        rate = step_seconds_at.get(name)
        batch = workload.batch_size if name != "M" else GLOBAL_BATCH
        row: dict[str, Any] = {
            "workload": name,
            "layers": "-".join(map(str, layers)),
            "parameters": parameters,
            "gradient_bytes": 4 * parameters,
            "global_batch": batch,
            "single_process_samples_per_s": rate,
        }
        for machines in MACHINES:
            sent = 2 * (machines - 1) / machines * 4 * parameters
            row[f"bytes_sent_per_rank_K{machines}"] = sent
            for gbit in BANDWIDTHS_GBIT:
                comm_s = sent * 8 / (gbit * 1e9) + 2 * (machines - 1) * LATENCY_S
                row[f"comm_s_K{machines}_{gbit}G"] = comm_s
                if rate:
                    for scaling, local in (("strong", batch / machines), ("weak", batch)):
                        compute_s = local / rate
                        row[f"efficiency_{scaling}_K{machines}_{gbit}G"] = compute_s / (
                            compute_s + comm_s
                        )
        rows.append(row)
    return rows


def measured_rates(single: dict[str, Any]) -> dict[str, float]:
    """Single-process samples/s per workload, from the training benchmark's stored results
    (benchmarks/results/latest.json and L.json, measured on a quiet machine at each workload's
    own batch size); M from this run when they are missing."""
    rates = {"M": float(single["samples_per_s"])}
    for path in (RESULTS_DIR / "latest.json", RESULTS_DIR / "L.json"):
        if path.exists():
            stored = json.loads(path.read_text())
            for name, workload in stored.get("workloads", {}).items():
                nncore_result = workload.get("results", {}).get("nncore")
                if nncore_result:
                    rates[name] = float(nncore_result["samples_per_s"])
    return rates


# ----------------------------------------------------------------------------- output


def markdown(report: dict[str, Any]) -> str:
    runs = report["runs"]
    base = runs["1 process, 1 thread"]["samples_per_s"]
    lines = [
        f"Data-parallel training throughput, {'-'.join(map(str, LAYERS))}, float32, SGD, "
        f"global batch {GLOBAL_BATCH} (median of {report['config']['repeats']} repeats; "
        "efficiency = samples/s ÷ (workers × 1-process samples/s)).",
        "",
        "| configuration | local batch | samples/s | speed-up | efficiency |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, run in runs.items():
        if isinstance(run, str):
            lines.append(f"| {name} | | {run} | | |")
            continue
        workers = run["processes"] * run["threads_per_process"]
        speedup = run["samples_per_s"] / base
        lines.append(
            f"| {name} | {run['local_batch']} | {run['samples_per_s']:,.0f} | {speedup:.2f}× "
            f"| {speedup / workers:.0%} |"
        )
    lines += [
        "",
        f"On paper: ring all-reduce of the float32 gradient, latency {LATENCY_S * 1e6:g} µs "
        "per message, no overlap of communication and compute; compute per step from the "
        "single-process samples/s of benchmarks/results/latest.json and L.json (see "
        "`communication_model` and `measured_rates` in the script).",
        "",
        "| net | parameters | gradient | sent per rank and step (K=8 / 64) "
        "| comm per step 10 Gb/s K=8 / 64 | 100 Gb/s K=8 / 64 "
        "| efficiency, global batch fixed, 10 Gb/s K=8 / 64 | 100 Gb/s K=8 / 64 "
        "| efficiency, local batch fixed, 10 Gb/s K=8 / 64 | 100 Gb/s K=8 / 64 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def eff(row: dict[str, Any], scaling: str, gbit: int) -> str:
        values = [row.get(f"efficiency_{scaling}_K{k}_{gbit}G") for k in MACHINES]
        return " / ".join("–" if v is None else f"{v:.0%}" for v in values)

    for row in report["on_paper"]:
        sent = " / ".join(f"{row[f'bytes_sent_per_rank_K{k}'] / 1e6:.3g} MB" for k in MACHINES)
        comm = {
            g: " / ".join(f"{row[f'comm_s_K{k}_{g}G'] * 1e3:.3g} ms" for k in MACHINES)
            for g in BANDWIDTHS_GBIT
        }
        lines.append(
            f"| {row['workload']} {row['layers']} (batch {row['global_batch']}) "
            f"| {row['parameters']:,} | {row['gradient_bytes'] / 1e6:.3g} MB | {sent} "
            f"| {comm[10]} | {comm[100]} | {eff(row, 'strong', 10)} | {eff(row, 'strong', 100)} "
            f"| {eff(row, 'weak', 10)} | {eff(row, 'weak', 100)} |"
        )
    machine = report["machine"]
    lines += [
        "",
        f"- Command: `{report['command']}`",
        f"- Date: {report['created']}",
        f"- Machine: {machine['cpu_model']}, {machine['cpus_usable']} usable CPUs; "
        f"nncore {machine['nncore']} ({machine['git']}), mpi: {machine['mpi']}",
        f"- Load average (1, 5, 15 min) at start: {machine['load_average_at_start']}, "
        f"at end: {machine['load_average_at_end']}",
    ]
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--samples", type=int, default=20_480, help="rows of training data")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per timed repeat")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=RESULTS_DIR / "distributed.json")
    parser.add_argument("--markdown", type=Path, default=RESULTS_DIR / "distributed.md")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def mpi_version() -> str:
    try:
        from mpi4py import MPI  # only to describe the run; the runs use mpiexec

        library = MPI.Get_library_version().strip().splitlines()[0]
        return f"mpi4py {__import__('mpi4py').__version__}, {library}"
    except ImportError:
        return "none"


def main(argv: Sequence[str] | None = None) -> dict[str, Any] | None:
    args = parse_args(argv)
    if args.worker:
        worker(args)
        return None
    start_load = load_average()
    single = single_process(args, threads=1)
    runs: dict[str, Any] = {
        "1 process, 1 thread": single,
        "mpiexec -n 1 (nncore.distributed)": mpi_run(args, 1),
        "mpiexec -n 2, 1 thread each": mpi_run(args, 2),
        "1 process, 2 threads": two_threads(args),
    }
    report = {
        "benchmark": "nncore data-parallel training throughput",
        "created": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "command": "python " + " ".join(["benchmarks/bench_distributed.py", *sys.argv[1:]]),
        "config": {
            "layers": LAYERS,
            "global_batch": GLOBAL_BATCH,
            "dtype": "float32",
            "optimizer": "sgd",
            "samples": args.samples,
            "epochs": args.epochs,
            "repeats": args.repeats,
            "seed": args.seed,
            "single_thread_env_of_mpi_runs": SINGLE_THREAD_ENV,
            "latency_s": LATENCY_S,
        },
        "machine": {
            "cpu_model": cpu_model(),
            "cpus_usable": len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else os.cpu_count(),
            "nncore": nncore.__version__,
            "git": git_commit(),
            "mpi": mpi_version_in_subprocess(),
            "load_average_at_start": start_load,
            "load_average_at_end": load_average(),
        },
        "runs": runs,
        "on_paper": communication_model(measured_rates(single)),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    args.markdown.write_text(markdown(report))
    print(markdown(report))
    return report


def mpi_version_in_subprocess() -> str:
    # Importing mpi4py here would initialise MPI in the parent of the mpiexec runs; ask a child.
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r});"
            "import bench_distributed as b; print(b.mpi_version())",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    return out.stdout.strip() or "unknown"


if __name__ == "__main__":
    main()
