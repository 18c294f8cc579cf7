"""nncore.sklearn against scikit-learn's own MLPs: held-out score and fit time.

Both libraries fit the same pipelines with the same hyper-parameters on the same fixed split
(``train_test_split(test_size=0.25, random_state=0)``):

- ``digits``: ``load_digits``, ``StandardScaler`` then ``MLPClassifier(hidden_layer_sizes=(64,),
  max_iter=200)``; score: accuracy.
- ``diabetes``: ``load_diabetes``, ``StandardScaler`` then ``MLPRegressor(hidden_layer_sizes=
  (64,), max_iter=300)``, the target standardised by ``TransformedTargetRegressor``; score: R².
- The same two with ``early_stopping=True`` (``digits+es``, ``diabetes+es``).

Every other parameter is the default of both libraries (Adam, ``learning_rate_init=0.001``,
``batch_size=min(200, n)``, ``alpha=1e-4``, ``tol=1e-4``, ``n_iter_no_change=10``). Each
configuration is fitted with ``random_state`` = 0 .. seeds-1; the score is the mean over the
seeds. Each (configuration, seed) fit is timed ``--repeats`` times (``time.perf_counter`` around
the pipeline's ``fit``; the scaler is a negligible part) and the median kept; the time reported
is the mean of those medians over the seeds (seconds per fit), "speed-up" divides scikit-learn's
by nncore's. nncore runs with ``dtype="float64"`` (the estimators' default) and, as a second row,
``"float32"``. nncore's core is single-threaded; scikit-learn is timed twice, with its BLAS's
default threads and limited to one thread (``threadpoolctl``; ``--no-single-thread`` skips
that). ConvergenceWarnings are silenced (max_iter is reached in some fits by both).

Run ``python benchmarks/bench_sklearn.py --help`` for the options; the table goes to stdout and,
with the configuration and the machine, to ``benchmarks/results/sklearn.{json,md}``.
``python benchmarks/bench_sklearn.py --markdown-from-json RUN.json OUT.md`` re-renders the
Markdown of a saved run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import nncore

# The machine description is shared with the other benchmarks beside this script.
from machine import cpu_model, git_commit, load_average, threadpools

RESULTS_DIR = Path(__file__).resolve().parent / "results"
CONFIGS = ("digits", "diabetes", "digits+es", "diabetes+es")


def make_model(config: str, library: str, seed: int, dtype: str) -> tuple[Any, Any]:
    """``(pipeline, data)`` of ``config`` for ``library`` ("sklearn" or "nncore")."""
    from sklearn import neural_network
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.datasets import load_diabetes, load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import nncore.sklearn

    module: Any = neural_network if library == "sklearn" else nncore.sklearn
    extra: dict[str, Any] = {} if library == "sklearn" else {"dtype": dtype}
    name, _, suffix = config.partition("+")
    if suffix == "es":
        extra["early_stopping"] = True
    model: Any
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        estimator = module.MLPClassifier(
            hidden_layer_sizes=(64,), max_iter=200, random_state=seed, **extra
        )
        model = make_pipeline(StandardScaler(), estimator)
    else:
        X, y = load_diabetes(return_X_y=True)
        estimator = module.MLPRegressor(
            hidden_layer_sizes=(64,), max_iter=300, random_state=seed, **extra
        )
        model = TransformedTargetRegressor(
            make_pipeline(StandardScaler(), estimator), transformer=StandardScaler()
        )
    return model, train_test_split(X, y, test_size=0.25, random_state=0)


def _estimator(model: Any) -> Any:
    return model.regressor_[-1] if hasattr(model, "regressor_") else model[-1]


def measure(config: str, library: str, seeds: int, repeats: int, dtype: str) -> dict[str, Any]:
    """Scores, epochs and fit times of ``config`` for every seed."""
    per_seed = []
    for seed in range(seeds):
        times, scores, epochs = [], [], []
        for _ in range(repeats):
            model, (X_train, X_test, y_train, y_test) = make_model(config, library, seed, dtype)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                start = time.perf_counter()
                model.fit(X_train, y_train)
                times.append(time.perf_counter() - start)
            scores.append(float(model.score(X_test, y_test)))
            epochs.append(int(_estimator(model).n_iter_))
        per_seed.append(
            {
                "seed": seed,
                "score": scores[0],
                "scores_identical_over_repeats": len(set(scores)) == 1,
                "epochs": epochs[0],
                "seconds_median": statistics.median(times),
                "seconds": times,
            }
        )
    return {
        "score": statistics.fmean(s["score"] for s in per_seed),
        "seconds": statistics.fmean(s["seconds_median"] for s in per_seed),
        "epochs": statistics.fmean(s["epochs"] for s in per_seed),
        "per_seed": per_seed,
    }


# --------------------------------------------------------------------- machine description
def machine_info() -> dict[str, Any]:
    import sklearn

    return {
        "cpu_model": cpu_model(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "sklearn": sklearn.__version__,
        "nncore": nncore.__version__,
        "nncore_threads": 1,  # the core is single-threaded
        "git": git_commit(),
        "threadpools": threadpools(),
        "load_average_at_start": load_average(),
    }


# --------------------------------------------------------------------- reporting
def table(report: dict[str, Any]) -> str:
    """The Markdown table of ``report``."""
    single = report["options"]["single_thread"]
    header = (
        "| dataset | nncore dtype | sklearn score | nncore score | sklearn epochs | nncore epochs "
        "| sklearn time (s) | nncore time (s) | speed-up |"
    )
    rule = "|---|---|---:|---:|---:|---:|---:|---:|---:|"
    if single:
        header += " sklearn 1-thread time (s) | speed-up vs 1 thread |"
        rule += "---:|---:|"
    lines = [header, rule]
    for row in report["rows"]:
        theirs, ours = row["sklearn"], row["nncore"]
        line = (
            f"| {row['config']} | {row['dtype']} | {theirs['score']:.4f} | {ours['score']:.4f} "
            f"| {theirs['epochs']:.1f} | {ours['epochs']:.1f} | {theirs['seconds']:.3f} "
            f"| {ours['seconds']:.3f} | {theirs['seconds'] / ours['seconds']:.1f}× |"
        )
        if single:
            one = row["sklearn_1_thread"]
            line += f" {one['seconds']:.3f} | {one['seconds'] / ours['seconds']:.1f}× |"
        lines.append(line)
    return "\n".join(lines)


def markdown(report: dict[str, Any]) -> str:
    options = report["options"]
    machine = report["machine"]
    pools = ", ".join(
        f"{pool['internal_api']} {pool['version']} ({pool['num_threads']} threads)"
        for pool in machine["threadpools"] or []
    )
    return "\n".join(
        [
            "# nncore.sklearn vs scikit-learn",
            "",
            f"Held-out score (mean over random_state 0..{options['seeds'] - 1}) and seconds per "
            f"fit (median of {options['repeats']} fits per seed, mean over the seeds); "
            "accuracy for digits, R² for diabetes; `+es`: `early_stopping=True`. "
            "Configurations in `benchmarks/bench_sklearn.py`'s docstring.",
            "",
            table(report),
            "",
            f"- Command: `{report['command']}`",
            f"- Date: {report['date']}",
            f"- Machine: {machine['cpu_model']}, {machine['cpus_usable']} usable CPUs, "
            f"{machine['platform']}",
            f"- Versions: Python {machine['python']}, NumPy {machine['numpy']}, scikit-learn "
            f"{machine['sklearn']}, nncore {machine['nncore']} ({machine['git']})",
            f"- Threads: nncore 1 (single-threaded core); scikit-learn's BLAS: {pools or 'n/a'}"
            + ("; and limited to 1 thread by threadpoolctl" if options["single_thread"] else ""),
            f"- Load average (1, 5, 15 min) at start: {machine['load_average_at_start']}, at end: "
            f"{report['load_average_at_end']}",
            "",
            "Notes:",
            "",
            "- Both libraries start from the same initial weights (nncore.sklearn draws them from "
            "`random_state` as scikit-learn does) and split the early-stopping validation set the "
            "same way; the batches differ only in the shuffling order (each library's own "
            "generator), so per-seed scores differ a little and the means agree.",
            "- The epochs differ slightly for the same reason (the `tol`/`n_iter_no_change` rule "
            "is the same). Time per epoch is the fairer speed comparison when they differ.",
            "- diabetes without early stopping: 64 hidden units for 331 training rows overfit in "
            "300 epochs (a `RidgeCV` scores R² 0.369 on this split); early stopping helps both.",
            "- scikit-learn's MLP spends its time in NumPy/BLAS calls per mini-batch; on these "
            "small layers a second BLAS thread barely helps it (and on a busy machine it can make "
            "it many times slower: keep the load average in mind).",
            "",
        ]
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated")
    parser.add_argument("--dtypes", default="float64,float32", help="nncore's dtypes")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--no-single-thread",
        dest="single_thread",
        action="store_false",
        help="do not also time scikit-learn with its BLAS limited to one thread",
    )
    parser.add_argument("--json", type=Path, default=RESULTS_DIR / "sklearn.json")
    parser.add_argument("--markdown", type=Path, default=RESULTS_DIR / "sklearn.md")
    args = parser.parse_args(argv)
    args.configs = [c for c in args.configs.split(",") if c]
    args.dtypes = [d for d in args.dtypes.split(",") if d]
    unknown = set(args.configs) - set(CONFIGS)
    if unknown:
        parser.error(f"unknown configs {sorted(unknown)}; choose from {', '.join(CONFIGS)}")
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    report: dict[str, Any] = {
        "command": " ".join(["python", "benchmarks/bench_sklearn.py", *(argv or sys.argv[1:])]),
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "options": {
            "configs": args.configs,
            "dtypes": args.dtypes,
            "seeds": args.seeds,
            "repeats": args.repeats,
            "single_thread": args.single_thread,
        },
        "machine": machine_info(),
        "rows": [],
    }
    for config in args.configs:
        print(f"{config}: scikit-learn ...", file=sys.stderr, flush=True)
        theirs = measure(config, "sklearn", args.seeds, args.repeats, "float64")
        single = None
        if args.single_thread:
            from threadpoolctl import threadpool_limits

            print(f"{config}: scikit-learn, 1 BLAS thread ...", file=sys.stderr, flush=True)
            with threadpool_limits(1):
                single = measure(config, "sklearn", args.seeds, args.repeats, "float64")
        for dtype in args.dtypes:
            print(f"{config}: nncore {dtype} ...", file=sys.stderr, flush=True)
            ours = measure(config, "nncore", args.seeds, args.repeats, dtype)
            row = {"config": config, "dtype": dtype, "sklearn": theirs, "nncore": ours}
            if single is not None:
                row["sklearn_1_thread"] = single
            report["rows"].append(row)
    report["load_average_at_end"] = load_average()
    for path in (args.json, args.markdown):
        path.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    args.markdown.write_text(markdown(report))
    print(table(report))
    return report


if __name__ == "__main__":
    if sys.argv[1:2] == ["--markdown-from-json"]:  # re-render a saved run: JSON in, Markdown out
        saved = json.loads(Path(sys.argv[2]).read_text())
        Path(sys.argv[3]).write_text(markdown(saved))
    else:
        main()
