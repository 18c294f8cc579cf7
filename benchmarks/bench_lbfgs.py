"""nncore.sklearn with ``solver="lbfgs"`` against scikit-learn's (scipy's L-BFGS-B): fit time and
held-out score on scikit-learn's bundled data sets.

Both libraries fit the same estimator with the same hyper-parameters on the same split
(``train_test_split(random_state=0)``, features standardised on the training part, regression
targets too): ``MLPClassifier``/``MLPRegressor(hidden_layer_sizes=H, solver="lbfgs", alpha=a,
max_iter=300, random_state=seed)`` with, per data set, ``H`` and ``a`` as in DATA_SETS below
(those of ``tests/test_sklearn_lbfgs.py``), so both start from the same weights. Timing: one
warm-up fit each, then ``--rounds`` rounds in which the two libraries take turns (the order
alternating from round to round), ``time.perf_counter`` around ``fit``; the median per library
is kept, and "speed-up" divides scikit-learn's by nncore's. Seeds ``0 .. --seeds-1`` each give
one such measurement; the table shows the mean over seeds of the medians, the mean held-out
score, the mean iterations (``n_iter_``). scikit-learn runs twice, with its BLAS's default
threads and limited to one (``threadpoolctl``, "sklearn 1T"); nncore with its own default.
ConvergenceWarnings are silenced.

    python benchmarks/bench_lbfgs.py [--rounds 5] [--seeds 3] [--out benchmarks/results/lbfgs]

writes ``lbfgs.json`` (every time) and ``lbfgs.md`` (the table).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from machine import cpu_model, git_commit, load_average

RESULTS_DIR = Path(__file__).resolve().parent / "results"
#: name: (loader name, classification, hidden layers, alpha)
DATA_SETS: dict[str, tuple[str, bool, tuple[int, ...], float]] = {
    "iris": ("load_iris", True, (16,), 1e-3),
    "wine": ("load_wine", True, (16,), 1e-3),
    "breast_cancer": ("load_breast_cancer", True, (16,), 1e-3),
    "digits": ("load_digits", True, (32,), 1e-3),
    "diabetes": ("load_diabetes", False, (8,), 10.0),
}


def split(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn import datasets
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    loader, classification, _, _ = DATA_SETS[name]
    X, y = getattr(datasets, loader)(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    if not classification:
        mean, std = y_train.mean(), y_train.std()
        y_train, y_test = (y_train - mean) / std, (y_test - mean) / std
    return X_train, X_test, y_train, y_test


def estimator(library: str, name: str, seed: int) -> Any:
    from sklearn import neural_network

    import nncore.sklearn

    module: Any = neural_network if library == "sklearn" else nncore.sklearn
    _, classification, hidden, alpha = DATA_SETS[name]
    cls = module.MLPClassifier if classification else module.MLPRegressor
    return cls(
        hidden_layer_sizes=hidden, solver="lbfgs", alpha=alpha, max_iter=300, random_state=seed
    )


def timed_fit(library: str, name: str, seed: int, X: np.ndarray, y: np.ndarray) -> Any:
    """The fitted estimator and the seconds its fit took ("sklearn-1t": BLAS on one thread)."""
    from threadpoolctl import threadpool_limits

    model = estimator(library.removesuffix("-1t"), name, seed)
    with threadpool_limits(1 if library.endswith("-1t") else None):
        start = time.perf_counter()
        model.fit(X, y)
        return model, time.perf_counter() - start


def measure(name: str, seed: int, rounds: int) -> dict[str, Any]:
    """Per library: the fit times of every round, the held-out score and n_iter_."""
    X_train, X_test, y_train, y_test = split(name)
    libraries = ["sklearn", "sklearn-1t", "nncore"]
    times: dict[str, list[float]] = {library: [] for library in libraries}
    result: dict[str, Any] = {}
    for library in libraries:  # warm-up (imports, first allocations)
        timed_fit(library, name, seed, X_train, y_train)
    for round_index in range(rounds):
        for library in libraries if round_index % 2 == 0 else libraries[::-1]:
            model, seconds = timed_fit(library, name, seed, X_train, y_train)
            times[library].append(seconds)
            result[library] = {
                "score": float(model.score(X_test, y_test)),
                "n_iter": int(model.n_iter_),
            }
    for library in libraries:
        result[library]["times"] = times[library]
        result[library]["median"] = statistics.median(times[library])
    return result


def table(results: dict[str, list[dict[str, Any]]], command: str) -> str:
    lines = [
        f"`{command}`",
        "",
        "| data set | rows (train) | nncore fit (ms) | sklearn fit (ms) | speed-up | "
        "sklearn 1T fit (ms) | speed-up vs 1T | nncore score | sklearn score | "
        "nncore iterations | sklearn iterations |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, runs in results.items():

        def mean(library: str, key: str, runs: list[dict[str, Any]] = runs) -> float:
            return float(np.mean([run[library][key] for run in runs]))

        ours, theirs = mean("nncore", "median"), mean("sklearn", "median")
        single = mean("sklearn-1t", "median")
        lines.append(
            f"| {name} | {runs[0]['rows']} | {1e3 * ours:.1f} | {1e3 * theirs:.1f} | "
            f"{theirs / ours:.1f}× | {1e3 * single:.1f} | {single / ours:.1f}× | "
            f"{mean('nncore', 'score'):.3f} | "
            f"{mean('sklearn', 'score'):.3f} | {mean('nncore', 'n_iter'):.0f} | "
            f"{mean('sklearn', 'n_iter'):.0f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--data-sets", default=",".join(DATA_SETS))
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "lbfgs")
    args = parser.parse_args(argv)
    from sklearn.exceptions import ConvergenceWarning

    warnings.simplefilter("ignore", ConvergenceWarning)
    command = "python benchmarks/bench_lbfgs.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    results: dict[str, list[dict[str, Any]]] = {}
    for name in args.data_sets.split(","):
        results[name] = []
        for seed in range(args.seeds):
            run = measure(name, seed, args.rounds)
            run["rows"] = len(split(name)[0])
            results[name].append(run)
            print(
                f"{name} seed {seed}: nncore {run['nncore']['median'] * 1e3:.1f} ms, "
                f"sklearn {run['sklearn']['median'] * 1e3:.1f} ms",
                file=sys.stderr,
            )
    markdown = table(results, command.strip())
    print(markdown)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    machine = {"cpu": cpu_model(), "load_average": load_average(), "commit": git_commit()}
    report = {"command": command.strip(), "machine": machine, "results": results}
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=1))
    args.out.with_suffix(".md").write_text(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
