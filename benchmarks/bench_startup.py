"""Import to trained model: a fresh process that imports a library, trains and predicts.

On scikit-learn's digits (1,797 × 64, pixels scaled to [0, 1], float32), each library trains a
64-128-10 network (ReLU, softmax output and cross-entropy, Adam with learning rate 0.001, 20
epochs, batches of 32) and predicts the labels of the training rows: nncore, scikit-learn
(``MLPClassifier``), JAX (jitted ``lax.scan`` epochs, compilation included) and PyTorch (eager),
each at its default thread settings. ``startup_tasks.py`` is the task; this script runs it as
``python startup_tasks.py LIBRARY digits.npz`` and times the whole process from outside
(``time.perf_counter`` around ``subprocess.run``: interpreter start, NumPy, loading the data, the
library's import, training, prediction). ``--runs`` (3) rounds, every library once per round in
turn; the figure is the median. The child's own phase timings (import, train, predict) and the
training accuracy (a check that it trained) are reported beside it.

The children run as an installed user's would: without ``PYTHONDONTWRITEBYTECODE`` (removed from
their environment if set), so that Python's bytecode caches (``.pyc``, which pip writes when it
installs a wheel) exist and are used, and after ``--warm-up`` (1) untimed rounds, every library
once per round, which write those caches for a library run from a source tree (``PYTHONPATH``)
and bring its files into the OS's cache. Without this, an in-place nncore would recompile every
module in every process (about 50 ms more on the recording machine) and be timed as no installed
nncore ever runs.

nncore must take at most 1/8 of the time of the fastest other library (``TARGET_RATIO``). A
library that is not installed is listed as skipped. Results go to
``benchmarks/results/startup.{json,md}`` and stdout.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench_training import RESULTS_DIR, finish, log, report_header, text_table
from machine import describe_machine, machine_info
from startup_tasks import BATCH_SIZE, EPOCHS, HIDDEN, LEARNING_RATE, TASKS

TASK_SCRIPT = Path(__file__).resolve().parent / "startup_tasks.py"
#: nncore's whole-process time must be this many times shorter than the fastest peer's.
TARGET_RATIO = 8.0
#: The module whose presence makes a library runnable here.
MODULES = {"nncore": "nncore", "sklearn": "sklearn", "jax": "jax", "torch": "torch"}
#: Below this training accuracy a run did not learn the digits: the report says so.
MIN_ACCURACY = 0.9


def digits() -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """scikit-learn's digits: ``X`` (1797, 64) float32 in [0, 1], ``y`` int64 labels 0-9."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:
        raise SystemExit(f"bench_startup.py needs scikit-learn for the digits ({error})") from None
    data = load_digits()
    return (data.data / 16.0).astype(np.float32), data.target.astype(np.int64)


def run_task(library: str, data: Path, timeout: float) -> dict[str, Any]:
    """One fresh process of ``startup_tasks.py``: its wall seconds and what it printed."""
    command = [sys.executable, str(TASK_SCRIPT), library, str(data)]
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    start = time.perf_counter()
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, check=False, env=environment
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{library} failed (exit {done.returncode}): {done.stderr[-2000:]}")
    child = json.loads(done.stdout.strip().splitlines()[-1])
    return {"wall_seconds": wall, **child}


def measure(
    libraries: Sequence[str], runs: int, timeout: float, warm_up: int = 1
) -> dict[str, Any]:
    """``warm_up`` untimed rounds, then ``runs`` rounds, each library once per round in turn;
    per library every timed run and medians."""
    X, y = digits()
    runs_of: dict[str, list[dict[str, Any]]] = {name: [] for name in libraries}
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "digits.npz"
        np.savez(data, X=X, y=y)
        for round_ in range(warm_up):
            for name in libraries:
                log(f"  warm-up {round_ + 1}/{warm_up} (untimed): {name} ...")
                run_task(name, data, timeout)
        for round_ in range(runs):
            for name in libraries:
                log(f"  round {round_ + 1}/{runs}: {name} ...")
                runs_of[name].append(run_task(name, data, timeout))
    results = {}
    for name, done in runs_of.items():
        keys = done[0]["seconds"]
        phases = {key: statistics.median(r["seconds"][key] for r in done) for key in keys}
        results[name] = {
            "wall_seconds": statistics.median(r["wall_seconds"] for r in done),
            "phase_seconds_median": phases,
            "accuracy": statistics.median(r["accuracy"] for r in done),
            "runs": done,
        }
    return results


def ratios(results: dict[str, Any]) -> dict[str, Any]:
    """Each peer's wall time over nncore's, the fastest peer, and whether the target is met."""
    if "nncore" not in results:
        return {}
    ours = results["nncore"]["wall_seconds"]
    over = {name: r["wall_seconds"] / ours for name, r in results.items() if name != "nncore"}
    out: dict[str, Any] = {"peer_over_nncore": over, "target": TARGET_RATIO}
    if over:
        fastest = min(over, key=lambda name: over[name])
        out.update(fastest_peer=fastest, ratio=over[fastest], met=over[fastest] >= TARGET_RATIO)
    return out


def table(report: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = ["library", "process, s (median)", "import, s", "train, s", "predict, s"]
    header += ["train accuracy", "× nncore's time"]
    rows = []
    over = report["ratios"].get("peer_over_nncore", {})
    for name, result in report["results"].items():
        phases = result["phase_seconds_median"]
        row = [name, f"{result['wall_seconds']:.2f}"]
        row += [f"{phases[key]:.3f}" for key in ("import", "train", "predict")]
        row.append(f"{result['accuracy']:.3f}")
        row.append("1 (itself)" if name == "nncore" else f"{over[name]:.1f}×")
        rows.append(row)
    return header, rows


def summary_lines(report: dict[str, Any]) -> list[str]:
    lines = []
    r = report["ratios"]
    if "ratio" in r:
        mark = "✓" if r["met"] else "✗"
        lines.append(
            f"nncore / fastest peer ({r['fastest_peer']}): {r['ratio']:.1f}× "
            f"(target ≥ {r['target']:g}× {mark})"
        )
    for name, result in report["results"].items():
        if result["accuracy"] < MIN_ACCURACY:
            lines.append(f"{name}: training accuracy {result['accuracy']:.3f} < {MIN_ACCURACY}")
    lines += [f"{name} skipped: {reason}" for name, reason in report["skipped"].items()]
    return lines


def format_text(report: dict[str, Any]) -> str:
    header, rows = table(report)
    return "\n".join([*text_table([header, *rows]), "", *summary_lines(report)])


def format_markdown(report: dict[str, Any]) -> str:
    header, rows = table(report)
    config = report["config"]
    warm_up = config["warm_up_rounds"]
    lines = [
        f"Import to trained model on scikit-learn's digits ({config['samples']:,} × 64, "
        f"64-{HIDDEN}-10, ReLU, Adam lr {LEARNING_RATE:g}, {EPOCHS} epochs, batch {BATCH_SIZE}): "
        "seconds of a fresh process that imports the library, trains and predicts (median of "
        f"{config['runs']} runs taken in turns, after {warm_up} untimed warm-up "
        f"round{'' if warm_up == 1 else 's'}; bytecode caches on, as in an installed package; "
        "lower is better). "
        "Import, train (JAX's "
        "compilation included) and predict are the process's own timings of its phases; the "
        "rest of the process time is the interpreter, NumPy and loading the data.",
        "",
        "| " + " | ".join(header) + " |",
        "|---|" + "---:|" * (len(header) - 1),
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
        *(f"- {line}" for line in summary_lines(report)),
        f"- Command: `{report['command']}`",
        f"- Date: {report['created']}",
        *describe_machine(report["machine"]),
    ]
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3, help="rounds of fresh processes (3)")
    parser.add_argument(
        "--libraries",
        default=",".join(TASKS),
        help=f"comma-separated, among {','.join(TASKS)} (default all; nncore always first)",
    )
    parser.add_argument(
        "--warm-up",
        type=int,
        default=1,
        help="untimed rounds first, which write the bytecode caches (1)",
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per process")
    parser.add_argument("--json", type=Path, default=RESULTS_DIR / "startup.json")
    parser.add_argument("--markdown", type=Path, default=RESULTS_DIR / "startup.md")
    args = parser.parse_args(argv)
    names = [name.strip().lower() for name in args.libraries.split(",") if name.strip()]
    unknown = [name for name in names if name not in TASKS]
    if unknown or not names:
        parser.error(f"--libraries: unknown {unknown}; choose among {','.join(TASKS)}")
    args.libraries = [name for name in TASKS if name in names]
    if args.runs < 1:
        parser.error("--runs must be >= 1")
    if args.warm_up < 0:
        parser.error("--warm-up must be >= 0")
    if args.timeout <= 0:
        parser.error("--timeout must be > 0")
    args.png = None
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    available = [n for n in args.libraries if importlib.util.find_spec(MODULES[n]) is not None]
    missing = [name for name in args.libraries if name not in available]
    skipped = {name: f"{MODULES[name]} is not importable" for name in missing}
    report: dict[str, Any] = {
        **report_header("bench_startup.py", "nncore import to trained model", 1, argv),
        "config": {
            "runs": args.runs,
            "warm_up_rounds": args.warm_up,
            "libraries": args.libraries,
            "dataset": "sklearn.datasets.load_digits, X / 16 as float32",
            "samples": 1797,
            "layers": [64, HIDDEN, 10],
            "optimizer": f"adam, lr {LEARNING_RATE}",
            "epochs": EPOCHS,
            "batch_size": BATCH_SIZE,
            "threads": "each library's default",
            "timing": "wall time of the whole child process, median of rounds taken in turns, "
            "after untimed warm-up rounds; bytecode caches on (PYTHONDONTWRITEBYTECODE unset)",
        },
        "machine": machine_info(["torch", "sklearn", "jax"]),
        "skipped": skipped,
    }
    log(f"import to trained model: {', '.join(available)}, {args.runs} rounds ...")
    report["results"] = measure(available, args.runs, args.timeout, args.warm_up)
    report["ratios"] = ratios(report["results"])
    finish(report, args, format_text, format_markdown, lambda _, __: "(no chart for this table)")
    return report


if __name__ == "__main__":
    main()
