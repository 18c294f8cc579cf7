"""Training-toolkit benchmark: Adam in the native loop against the NumPy reference's Adam, and
the cost of validation and an epoch-end callback on top of a plain ``fit``.

    python benchmarks/bench_toolkit.py [--repeats 3] [--scale 1.0] [--markdown PATH]

Workloads (float32, mean squared error, tanh hidden layers, identity output, fixed-seed data):
T 2-16-1 batch 1 (2,000 samples), S 64-128-128-10 batch 32 (20,000), M 784-256-256-10 batch 128
(20,000). Throughput is samples per second over whole epochs after a warm-up epoch; the median of
``--repeats`` runs is reported. The NumPy reference trains on a subset (``REFERENCE_SAMPLES``) so
that it finishes in seconds; its rate is per sample, so the ratio is unaffected.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import nncore
from nncore.reference import numpy_reference

WORKLOADS = {
    "T": ([2, 16, 1], 1, 2_000),
    "S": ([64, 128, 128, 10], 32, 20_000),
    "M": ([784, 256, 256, 10], 128, 20_000),
}
REFERENCE_SAMPLES = {"T": 1_000, "S": 2_000, "M": 1_000}
LEARNING_RATE = 1e-3


def median_rate(run: Callable[[], None], samples: int, repeats: int) -> float:
    """Median samples/s of ``run`` (one epoch over ``samples`` samples), after a warm-up run."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return samples / statistics.median(times)


def data(sizes: list[int], n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, sizes[0])).astype(np.float32)
    Y = rng.normal(size=(n, sizes[-1])).astype(np.float32)
    return X, Y


def adam_rates(name: str, repeats: int, scale: float) -> dict[str, float]:
    sizes, batch, n = WORKLOADS[name]
    n = max(batch, int(n * scale))
    X, Y = data(sizes, n)
    model = nncore.MLP(sizes, activation="tanh", seed=0)
    optimizer = nncore.optim.Adam(learning_rate=LEARNING_RATE)

    def native() -> None:
        model.fit(X, Y, optimizer=optimizer, epochs=1, batch_size=batch, n_iter_no_change=None)

    weights, biases = model.get_parameters()
    m = max(batch, min(n, int(REFERENCE_SAMPLES[name] * max(scale, 0.05))))
    activations = ["tanh"] * (len(sizes) - 2) + ["identity"]

    def reference() -> None:
        numpy_reference.fit(
            weights,
            biases,
            X[:m],
            Y[:m],
            activations,
            "mean_squared_error",
            LEARNING_RATE,
            1,
            batch,
            shuffle=True,
            optimizer="adam",
        )

    return {
        "nncore": median_rate(native, n, repeats),
        "numpy_reference": median_rate(reference, m, repeats),
    }


def overhead(repeats: int, scale: float) -> dict[str, float]:
    """Seconds per epoch on S: plain, and with 10% validation data plus a no-op callback."""
    sizes, batch, n = WORKLOADS["S"]
    n = max(batch, int(n * scale))
    X, Y = data(sizes, n)
    Xv, Yv = data(sizes, max(1, n // 10), seed=1)
    model = nncore.MLP(sizes, activation="tanh", seed=0)
    calls = []

    def plain() -> None:
        model.fit(X, Y, epochs=1, batch_size=batch, n_iter_no_change=None)

    def with_extras() -> None:
        model.fit(
            X,
            Y,
            epochs=1,
            batch_size=batch,
            n_iter_no_change=None,
            validation_data=(Xv, Yv),
            early_stopping=False,
            callbacks=calls.append,
        )

    # Interleave the two so that drifts of a shared machine affect both alike.
    plain_times, extra_times = [], []
    plain(), with_extras()
    for _ in range(repeats):
        for run, times in ((plain, plain_times), (with_extras, extra_times)):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
    base, extra = statistics.median(plain_times), statistics.median(extra_times)
    return {"plain_s": base, "validation_and_callback_s": extra, "overhead": extra / base - 1}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the sample counts")
    parser.add_argument("--sizes", default="T,S,M")
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args(argv)
    rows = []
    report: dict[str, Any] = {"adam": {}, "nncore": nncore.__version__}
    for name in args.sizes.split(","):
        rates = adam_rates(name, args.repeats, args.scale)
        report["adam"][name] = rates
        ratio = rates["nncore"] / rates["numpy_reference"]
        rows.append(
            f"| {name} | {rates['nncore']:.3g} | {rates['numpy_reference']:.3g} | {ratio:.1f}× |"
        )
    cost = overhead(args.repeats, args.scale)
    report["overhead"] = cost
    text = "\n".join(
        [
            "| size | nncore Adam (samples/s) | NumPy reference Adam (samples/s) | ratio |",
            "|---|---:|---:|---:|",
            *rows,
            "",
            f"S, 10% validation data + a callback: "
            f"{cost['validation_and_callback_s'] * 1e3:.1f} ms per epoch vs "
            f"{cost['plain_s'] * 1e3:.1f} ms plain ({cost['overhead']:+.1%}).",
        ]
    )
    print(text)
    if args.markdown is not None:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(text + "\n", encoding="utf-8")
    return report


if __name__ == "__main__":
    main()
