"""Memory of nncore: peak resident memory during ``fit`` on M, and what ``import nncore`` costs.

Each measurement runs in a fresh interpreter (this script with ``--child ...``) and reads the
kernel's counters from ``/proc/self/status`` (Linux only): ``VmRSS`` (resident now) and
``VmHWM`` (peak resident, reset before ``fit`` by writing 5 to ``/proc/self/clear_refs``).

* **fit**: after ``import numpy, nncore`` the child records its resident memory (the
  interpreter's baseline), draws the M data directly in float32 (no float64 temporary), builds
  the model and resets the peak; then ``fit`` trains ``--epochs`` epochs (MSE, plain SGD, batch
  128, shuffled). The budget the issue sets is::

      baseline + training data (X, Y) + parameters + optimizer state (none for plain SGD)
               + one batch's activations (batch · Σ layer widths, the input included)

  and the ratio peak / budget must stay within 1.2. ``growth_over_data`` (the peak minus the
  memory before ``fit``, over the bytes of ``X``) would be 1 or more if ``fit`` copied the data.
* **import**: resident memory and wall time of ``import nncore`` in a bare interpreter (NumPy
  included, since nncore imports it) and with NumPy already imported; the median of ``--runs``
  fresh interpreters. Target: under 50 MB and 0.3 s.

Results go to ``benchmarks/results/memory.{json,md}`` and stdout.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
STATUS = Path("/proc/self/status")
#: Peak RSS during fit on M may exceed the budget by this factor at most (issue 5).
FIT_BUDGET_RATIO = 1.2
IMPORT_TARGET_MB = 50.0
IMPORT_TARGET_S = 0.3
MB = 1024 * 1024


def status_bytes(field: str) -> int:
    """A ``kB`` field of /proc/self/status (``VmRSS``, ``VmHWM``) in bytes."""
    for line in STATUS.read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} is not in {STATUS}")


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); returns whether the kernel allowed it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


# --------------------------------------------------------------------------------------------
# The children (run in a fresh interpreter each)
# --------------------------------------------------------------------------------------------


def child_fit(samples: int, epochs: int) -> dict[str, Any]:
    """Peak RSS of ``fit`` on M; see the module docstring for the budget."""
    import numpy as np

    import nncore

    baseline = status_bytes("VmRSS")
    layers, batch_size = (784, 256, 256, 10), 128
    rng = np.random.default_rng(0)
    X = rng.standard_normal((samples, layers[0]), dtype=np.float32)
    Y = rng.standard_normal((samples, layers[-1]), dtype=np.float32)
    model = nncore.MLP(layers, activation="tanh", output_activation="identity", seed=0)
    before_fit = status_bytes("VmRSS")
    peak_reset = reset_peak()
    model.fit(
        X,
        Y,
        loss="mean_squared_error",
        learning_rate=0.01,
        epochs=epochs,
        batch_size=batch_size,
        shuffle=True,
        n_iter_no_change=None,
    )
    peak = status_bytes("VmHWM")
    itemsize = X.itemsize
    parts = {
        "baseline_after_import": baseline,
        "training_data": X.nbytes + Y.nbytes,
        "parameters": model.n_parameters * itemsize,
        "optimizer_state": 0,  # plain SGD keeps none
        "batch_activations": min(batch_size, samples) * sum(layers) * itemsize,
    }
    budget = sum(parts.values())
    return {
        "layers": list(layers),
        "samples": samples,
        "batch_size": batch_size,
        "epochs": epochs,
        "dtype": "float32",
        "budget_parts_bytes": parts,
        "budget_bytes": budget,
        "rss_before_fit_bytes": before_fit,
        "peak_bytes": peak,
        "peak_reset_before_fit": peak_reset,
        "peak_over_budget": peak / budget,
        "growth_over_data": (peak - before_fit) / X.nbytes,
        "meets_target": peak / budget <= FIT_BUDGET_RATIO,
    }


def child_import(numpy_first: bool) -> dict[str, Any]:
    """RSS and time that ``import nncore`` adds (after ``import numpy`` if ``numpy_first``)."""
    if numpy_first:
        import numpy  # noqa: F401
    rss = status_bytes("VmRSS")
    start = time.perf_counter()
    import nncore  # noqa: F401

    seconds = time.perf_counter() - start
    return {"rss_added_bytes": status_bytes("VmRSS") - rss, "seconds": seconds}


def run_child(args: Sequence[str]) -> dict[str, Any]:
    """Run this script with ``--child ARGS`` in a fresh interpreter; its JSON result."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"child {args} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


# --------------------------------------------------------------------------------------------
# The parent
# --------------------------------------------------------------------------------------------


def measure_import(runs: int) -> dict[str, Any]:
    """Median over ``runs`` fresh interpreters, bare and with NumPy imported first."""
    report: dict[str, Any] = {}
    for key, numpy_first in (("bare_interpreter", False), ("numpy_already_imported", True)):
        samples = [run_child(["import", str(int(numpy_first))]) for _ in range(runs)]
        report[key] = {
            "rss_added_mb": statistics.median(s["rss_added_bytes"] for s in samples) / MB,
            "seconds": statistics.median(s["seconds"] for s in samples),
            "runs": samples,
        }
    bare = report["bare_interpreter"]
    report["meets_target"] = bare["rss_added_mb"] < IMPORT_TARGET_MB and (
        bare["seconds"] < IMPORT_TARGET_S
    )
    return report


def format_markdown(report: dict[str, Any]) -> str:
    fit, imp = report["fit"], report["import"]
    parts = fit["budget_parts_bytes"]
    lines = [
        f"Peak resident memory of `fit` on M ({'-'.join(map(str, fit['layers']))}, "
        f"{fit['samples']:,} samples, batch {fit['batch_size']}, {fit['epochs']} epochs, "
        f"float32), in a fresh interpreter:",
        "",
        "| quantity | MB |",
        "|---|---:|",
        *(
            f"| budget: {name.replace('_', ' ')} | {value / MB:.1f} |"
            for name, value in parts.items()
        ),
        f"| **budget** | **{fit['budget_bytes'] / MB:.1f}** |",
        f"| resident before fit | {fit['rss_before_fit_bytes'] / MB:.1f} |",
        f"| **peak during fit** | **{fit['peak_bytes'] / MB:.1f}** |",
        "",
        f"Peak / budget = {fit['peak_over_budget']:.3f} (target ≤ {FIT_BUDGET_RATIO}: "
        f"{'✓' if fit['meets_target'] else '✗'}); growth during fit / bytes of X = "
        f"{fit['growth_over_data']:.3f} (≥ 1 would mean a copy of the data)"
        + ("" if fit["peak_reset_before_fit"] else "; the peak could not be reset before fit")
        + ".",
        "",
        f"`import nncore` (median of {report['config']['runs']} fresh interpreters):",
        "",
        "| starting from | RSS added (MB) | time (s) |",
        "|---|---:|---:|",
        *(
            f"| {key.replace('_', ' ')} | {imp[key]['rss_added_mb']:.1f} | "
            f"{imp[key]['seconds']:.3f} |"
            for key in ("bare_interpreter", "numpy_already_imported")
        ),
        "",
        f"Target (from a bare interpreter, NumPy included): < {IMPORT_TARGET_MB:g} MB and "
        f"< {IMPORT_TARGET_S:g} s: {'✓' if imp['meets_target'] else '✗'}.",
        "",
        f"- Command: `{report['command']}`",
        f"- Date: {report['created']}",
        f"- Python {report['python']}, nncore {report['nncore']}, load average at start "
        f"{report['load_average_at_start']}",
    ]
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--samples", type=int, default=20_000, help="rows of M (default 20,000)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--runs", type=int, default=5, help="fresh interpreters per import case")
    parser.add_argument("--json", type=Path, default=RESULTS_DIR / "memory.json")
    parser.add_argument("--markdown", type=Path, default=RESULTS_DIR / "memory.md")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.samples < 1 or args.epochs < 1 or args.runs < 1:
        parser.error("--samples, --epochs and --runs must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.child:
        kind, *rest = args.child
        result = child_fit(*map(int, rest)) if kind == "fit" else child_import(rest == ["1"])
        print(json.dumps(result))
        return result
    if not STATUS.exists():
        raise SystemExit("bench_memory.py needs Linux (/proc/self/status)")

    # Imported here, not at the top: the children must start from a bare interpreter.
    import nncore
    from bench_training import report_header, write_outputs
    from machine import load_average

    report: dict[str, Any] = {
        **report_header("bench_memory.py", "nncore memory", 1, argv),
        "config": {"samples": args.samples, "epochs": args.epochs, "runs": args.runs},
        "python": sys.version.split()[0],
        "nncore": nncore.__version__,
        "load_average_at_start": load_average(),
        "fit": run_child(["fit", str(args.samples), str(args.epochs)]),
        "import": measure_import(args.runs),
    }
    markdown = format_markdown(report)
    print(markdown)
    write_outputs([(args.json, json.dumps(report, indent=2) + "\n"), (args.markdown, markdown)])
    return report


if __name__ == "__main__":
    main()
