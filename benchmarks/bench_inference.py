"""Inference speed of nncore against the careful NumPy forward pass, PyTorch and scikit-learn.

Two measurements, on the networks of the training benchmark (same sizes, same initial weights):

* **Throughput**: ``predict`` on ``--rows`` rows (default 10,000) at every size, in rows per
  second. nncore's ``MLP.predict``, the careful NumPy forward pass (``numpy_peer.NumpyMLP.predict``,
  preallocated buffers), PyTorch under ``torch.inference_mode()`` (``model(torch.from_numpy(X))
  .numpy()``: both conversions are free) and scikit-learn's ``MLPRegressor.predict``, each with
  1 and 2 threads, the best of the two reported. Timing as in ``bench_training.py``: one warm-up
  call, then ``--repeats`` repeats of ``k`` calls lasting at least ``--min-time`` seconds; the
  median repeat counts.
* **Latency**: one row of S (``(1, 64)`` float32) through ``model.predict(x)``, ``model.forward(x)``
  and the native ``model._network.forward(x)`` (what the Python layer costs on top), against the
  same row through PyTorch (1 thread, ``inference_mode``), the careful NumPy forward pass and
  scikit-learn's ``predict``: the median of ``--calls`` individually timed calls
  (``time.perf_counter_ns``) after as many warm-up calls, with the 10th and 90th percentiles.

The issue's targets: nncore at least as fast as PyTorch at every size, and one ``predict`` on S
in at most 10 µs. Results go to ``benchmarks/results/local/inference.{json,md,png}``
(``run_all.py`` writes the published ``benchmarks/results/inference.*``) and stdout.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

import nncore
from bench_training import (
    LOCAL_DIR,
    PEERS,
    WORKLOADS,
    Measurement,
    Problem,
    Skip,
    best_other,
    finish,
    import_torch,
    log,
    make_problem,
    parse_peers,
    parse_sizes,
    rate_text,
    report_header,
    require_nncore_threads,
    sklearn_model,
    text_table,
    time_epochs,
    torch_model,
    torch_threads,
    with_threads,
)
from charts import size_chart
from machine import describe_machine, machine_info
from numpy_peer import NumpyMLP
from thread_control import (
    THREAD_COUNTS,
    add_best_of_threads,
    blas_threads,
    nncore_threads,
    thread_suffix,
)

Array = Any
METRIC = "samples_per_s"  # rows per second: a "sample" here is a row predicted
#: Single-row predict on S must take at most this many microseconds (issue 5).
LATENCY_TARGET_US = 10.0
#: nncore's predict must be at least this many times as fast as PyTorch's at every size.
THROUGHPUT_TARGET = 1.0
THREADED = ("nncore", "numpy_peer", "torch", "sklearn")
#: The peers of ``PEERS`` whose inference is measured (JAX and torch.compile only train here).
INFERENCE_PEERS = ("torch", "sklearn")
COLUMNS = (
    ("nncore_1_thread", "nncore 1T"),
    ("nncore_2_threads", "nncore 2T"),
    ("numpy_peer_best", "NumPy best 1-2T"),
    ("torch_best", "torch best 1-2T"),
    ("sklearn_best", "sklearn best 1-2T"),
)
CHART_SERIES = (
    ("nncore_best", "nncore (best 1-2T)"),
    ("numpy_peer_best", "NumPy, careful (best 1-2T)"),
    ("torch_best", "PyTorch inference_mode (best 1-2T)"),
    ("sklearn_best", "scikit-learn (best 1-2T)"),
)


def nncore_model(problem: Problem) -> nncore.MLP:
    """An nncore MLP (tanh hidden layers, identity output) holding the problem's weights."""
    wl = problem.workload
    model = nncore.MLP(
        wl.layers, activation="tanh", output_activation="identity", dtype=problem.X.dtype
    )
    model.set_parameters(problem.weights, problem.biases)
    return model


def time_calls(call: Callable[[], object], rows: int, repeats: int, min_time: float) -> Measurement:
    """Throughput of ``call`` (which predicts ``rows`` rows), timed like training epochs."""

    def run(calls: int) -> None:
        for _ in range(calls):
            call()

    return time_epochs(run, rows, rows, repeats, min_time)


# --------------------------------------------------------------------------------------------
# Throughput: one function per implementation
# --------------------------------------------------------------------------------------------


def predict_nncore(
    problem: Problem, X: Array, repeats: int, min_time: float, threads: int
) -> Measurement:
    """``MLP.predict(X)`` on ``threads`` threads."""
    require_nncore_threads(threads)
    model = nncore_model(problem)
    with nncore_threads(threads):
        measurement = time_calls(partial(model.predict, X), len(X), repeats, min_time)
    return with_threads(measurement, threads)


def predict_numpy_peer(
    problem: Problem, X: Array, repeats: int, min_time: float, threads: int
) -> Measurement:
    """The careful NumPy forward pass, its BLAS limited to ``threads``."""
    model = NumpyMLP(problem.weights, problem.biases, problem.X.dtype)
    with blas_threads(threads):
        measurement = time_calls(partial(model.predict, X), len(X), repeats, min_time)
    return with_threads(measurement, threads)


def predict_torch(
    problem: Problem, X: Array, repeats: int, min_time: float, threads: int
) -> Measurement:
    """PyTorch ``model(torch.from_numpy(X)).numpy()`` under ``torch.inference_mode()``."""
    torch = import_torch()
    with torch_threads(torch, threads):
        model = torch_model(problem)

        def call() -> Array:
            with torch.inference_mode():
                return model(torch.from_numpy(X)).numpy()

        measurement = time_calls(call, len(X), repeats, min_time)
    return with_threads(measurement, threads)


def predict_sklearn(
    problem: Problem, X: Array, repeats: int, min_time: float, threads: int
) -> Measurement:
    """scikit-learn's ``MLPRegressor.predict(X)``, its BLAS limited to ``threads``."""
    model = sklearn_model(problem, min(problem.workload.batch_size, problem.workload.samples))
    with blas_threads(threads):
        measurement = time_calls(partial(model.predict, X), len(X), repeats, min_time)
    return with_threads(measurement, threads)


IMPLEMENTATIONS = {
    "nncore": predict_nncore,
    "numpy_peer": predict_numpy_peer,
    "torch": predict_torch,
    "sklearn": predict_sklearn,
}


def run_throughput(
    problem: Problem,
    rows: int,
    peers: Sequence[str],
    repeats: int,
    min_time: float,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Every implementation's ``predict`` on ``rows`` rows of one size: its JSON entry."""
    wl = problem.workload
    X = np.random.default_rng(problem.seed + 1).standard_normal((rows, wl.layers[0]))
    X = X.astype(problem.X.dtype)
    results: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for name, predict in IMPLEMENTATIONS.items():
        if name in PEERS and name not in peers:
            continue
        for threads in THREAD_COUNTS:
            key = f"{name}_{thread_suffix(threads)}"
            log(f"  {wl.name} {key} ...")
            try:
                measurement = predict(problem, X, repeats, min_time, threads)
            except Skip as reason:
                skipped[key] = str(reason)
                log(f"    skipped: {reason}")
                continue
            results[key] = measurement.as_dict()
            log(f"    {measurement.samples_per_s:,.0f} rows/s  {measurement.note}")
    for name in THREADED:
        add_best_of_threads(results, name, METRIC)
    ratios: dict[str, Any] = {}
    if "nncore_best" in results:
        ours = results["nncore_best"][METRIC]
        fastest = best_other(results, METRIC)
        if fastest is not None:
            ratios["best_other"] = fastest[0]
            ratios["nncore_over_best_other"] = ours / fastest[1]
        if "torch_best" in results:
            ratios["nncore_over_torch_best"] = ours / results["torch_best"][METRIC]
            ratios["meets_target"] = ratios["nncore_over_torch_best"] >= THROUGHPUT_TARGET
    return {
        "layers": list(wl.layers),
        "rows": rows,
        "dtype": str(problem.X.dtype),
        "results": results,
        "skipped": skipped,
        "ratios": ratios,
    }


# --------------------------------------------------------------------------------------------
# Latency of a single row
# --------------------------------------------------------------------------------------------


def latency(call: Callable[[], object], calls: int) -> dict[str, Any]:
    """Median, 10th and 90th percentile in µs of ``calls`` timed calls, after as many warm-ups."""
    for _ in range(calls):
        call()
    timings = []
    for _ in range(calls):
        start = time.perf_counter_ns()
        call()
        timings.append(time.perf_counter_ns() - start)
    deciles = statistics.quantiles(timings, n=10)
    return {
        "median_us": statistics.median(timings) / 1e3,
        "p10_us": deciles[0] / 1e3,
        "p90_us": deciles[-1] / 1e3,
        "calls": calls,
    }


def latency_calls(problem: Problem, x: Array, peers: Sequence[str]) -> dict[str, Any]:
    """Name → zero-argument call predicting the single row ``x``; missing peers map to a reason."""
    model = nncore_model(problem)
    network = model._network
    peer = NumpyMLP(problem.weights, problem.biases, problem.X.dtype)
    calls: dict[str, Any] = {
        "nncore_predict": partial(model.predict, x),
        "nncore_forward": partial(model.forward, x),
        "nncore_native_forward": partial(network.forward, x),
        "numpy_peer": partial(peer.predict, x),
    }
    if "torch" in peers:
        try:
            torch = import_torch()
            module = torch_model(problem)

            def torch_call() -> Array:
                with torch.inference_mode():
                    return module(torch.from_numpy(x)).numpy()

            calls["torch_1_thread"] = torch_call
        except Skip as reason:
            calls["torch_1_thread"] = str(reason)
    if "sklearn" in peers:
        try:
            estimator = sklearn_model(problem, min(problem.workload.batch_size, len(problem.X)))
            calls["sklearn"] = partial(estimator.predict, x)
        except Skip as reason:
            calls["sklearn"] = str(reason)
    return calls


def run_latency(problem: Problem, peers: Sequence[str], calls: int) -> dict[str, Any]:
    """Single-row latency of every implementation on ``problem``'s network, all on 1 thread."""
    x = np.random.default_rng(problem.seed + 2).standard_normal((1, problem.workload.layers[0]))
    x = x.astype(problem.X.dtype)
    results: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    torch = None
    if "torch" in peers:
        try:
            torch = import_torch()
        except Skip:
            torch = None
    torch_one = torch_threads(torch, 1) if torch is not None else nullcontext()
    with torch_one, nncore_threads(1), blas_threads(1):
        for name, call in latency_calls(problem, x, peers).items():
            if isinstance(call, str):
                skipped[name] = call
            else:
                results[name] = latency(call, calls)
    entry: dict[str, Any] = {
        "size": problem.workload.name,
        "layers": list(problem.workload.layers),
        "dtype": str(problem.X.dtype),
        "threads": 1,
        "results": results,
        "skipped": skipped,
        "target_us": LATENCY_TARGET_US,
        "meets_target": results["nncore_predict"]["median_us"] <= LATENCY_TARGET_US,
    }
    return entry


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------


def throughput_table(report: dict[str, Any]) -> list[list[str]]:
    """Header row, then one row per size."""
    header = ["size", "layers", "rows"] + [title for _, title in COLUMNS]
    header += ["nncore / torch best", "nncore / best other"]
    rows = [header]
    for name, entry in report["throughput"].items():
        results, ratios = entry["results"], entry["ratios"]
        row = [name, "-".join(map(str, entry["layers"])), f"{entry['rows']:,}"]
        for key, _ in COLUMNS:
            result = results.get(key)
            cell = "–" if result is None else rate_text(result[METRIC])
            if result is not None and key.endswith("_best"):
                cell += f" ({result['threads']}T)"
            row.append(cell)
        torch_ratio = ratios.get("nncore_over_torch_best")
        row.append(
            "–"
            if torch_ratio is None
            else f"{torch_ratio:.2f}× {'✓' if ratios['meets_target'] else '✗'}"
        )
        best = ratios.get("nncore_over_best_other")
        row.append("–" if best is None else f"{best:.2f}× ({ratios['best_other']})")
        rows.append(row)
    return rows


def latency_table(report: dict[str, Any]) -> list[list[str]]:
    entry = report["latency"]
    rows = [["implementation", "median µs", "p10 µs", "p90 µs"]]
    for name, result in entry["results"].items():
        rows.append([name] + [f"{result[k]:.2f}" for k in ("median_us", "p10_us", "p90_us")])
    return rows


def format_markdown(report: dict[str, Any]) -> str:
    config = report["config"]
    latency_entry = report["latency"]

    def markdown_table(rows: list[list[str]]) -> list[str]:
        rule = "|" + "|".join("---" if i == 0 else "---:" for i in range(len(rows[0]))) + "|"
        return ["| " + " | ".join(rows[0]) + " |", rule] + [
            "| " + " | ".join(row) + " |" for row in rows[1:]
        ]

    lines = [
        f"Inference throughput, rows/s of `predict` on {config['rows']:,} rows (median of "
        f"{config['repeats']} repeats; higher is better), {config['dtype']}; T = threads; "
        f"target: nncore ≥ {THROUGHPUT_TARGET:g}× PyTorch (`inference_mode`).",
        "",
        *markdown_table(throughput_table(report)),
        "",
    ]
    if latency_entry:
        mark = "✓" if latency_entry["meets_target"] else "✗"
        lines += [
            f"Single-row latency on {latency_entry['size']} "
            f"({'-'.join(map(str, latency_entry['layers']))}, one row of {config['dtype']}), "
            f"1 thread, {latency_entry['results']['nncore_predict']['calls']:,} calls each; "
            f"target: `predict` ≤ {latency_entry['target_us']:g} µs "
            f"({latency_entry['results']['nncore_predict']['median_us']:.2f} µs {mark}).",
            "",
            *markdown_table(latency_table(report)),
            "",
        ]
    skipped = [
        f"- {size}: {impl} skipped ({reason})"
        for size, entry in report["throughput"].items()
        for impl, reason in entry["skipped"].items()
    ]
    lines += skipped
    lines += [
        f"- Command: `{report['command']}`",
        f"- Date: {report['created']}",
        *describe_machine(report["machine"]),
    ]
    return "\n".join(lines) + "\n"


def format_text(report: dict[str, Any]) -> str:
    lines = text_table(throughput_table(report))
    if report["latency"]:
        lines += ["", *text_table(latency_table(report))]
    return "\n".join(lines)


def write_chart(report: dict[str, Any], path: Path) -> str:
    title = (
        f"MLP inference, predict on {report['config']['rows']:,} rows, {report['config']['dtype']}"
        f" — {report['machine']['cpu_model']}, {report['created']}"
    )
    ylabel = "rows / s (log scale)"
    return size_chart(path, report["throughput"], CHART_SERIES, METRIC, title, ylabel)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--sizes", default="T,S,M,L", help="comma-separated sizes (default all)")
    parser.add_argument("--rows", type=int, default=10_000, help="rows per predict call")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--min-time", type=float, default=0.5)
    parser.add_argument(
        "--calls", type=int, default=2000, help="timed single-row calls (0: no latency)"
    )
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--peers",
        default=",".join(INFERENCE_PEERS),
        help="torch,sklearn or none (training's other peers are accepted and left out here)",
    )
    parser.add_argument("--json", type=Path, default=LOCAL_DIR / "inference.json")
    parser.add_argument("--markdown", type=Path, default=LOCAL_DIR / "inference.md")
    parser.add_argument("--png", type=Path, default=LOCAL_DIR / "inference.png")
    args = parser.parse_args(argv)
    args.sizes = parse_sizes(parser, args.sizes)
    args.peers = [peer for peer in parse_peers(parser, args.peers) if peer in INFERENCE_PEERS]
    if args.rows < 1 or args.repeats < 1 or args.min_time < 0 or args.calls < 0:
        parser.error("--rows and --repeats must be >= 1, --min-time and --calls >= 0")
    if args.calls == 1:
        parser.error("--calls must be 0 or at least 2 (percentiles need two timings)")
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    report: dict[str, Any] = {
        **report_header("bench_inference.py", "nncore inference", 1, argv),
        "config": {
            "sizes": args.sizes,
            "rows": args.rows,
            "repeats": args.repeats,
            "min_time_s": args.min_time,
            "calls": args.calls,
            "dtype": args.dtype,
            "seed": args.seed,
            "peers": args.peers,
            "thread_counts": list(THREAD_COUNTS),
        },
        "machine": machine_info(args.peers),
        "throughput": {},
        "latency": None,
    }
    for size in args.sizes:
        problem = make_problem(WORKLOADS[size], 0.0, args.dtype, args.seed)  # weights only
        report["throughput"][size] = run_throughput(
            problem, args.rows, args.peers, args.repeats, args.min_time, log
        )
    if args.calls:
        log("  single-row latency on S ...")
        problem = make_problem(WORKLOADS["S"], 0.0, args.dtype, args.seed)
        report["latency"] = run_latency(problem, args.peers, args.calls)
    finish(report, args, format_text, format_markdown, write_chart)
    return report


if __name__ == "__main__":
    main()
