"""How fast nncore trains on this machine, next to its NumPy and pure-Python references.

``nncore bench`` prints the table; the functions here are the pieces (``time_training`` is the
timing rule, ``run`` the whole benchmark) for scripts that want the numbers.

Every implementation trains the same network — tanh hidden layers, identity output, mean squared
error, plain mini-batch SGD (learning rate 0.01) with shuffling — from the same initial weights
on the same standard-normal data. The timing rule: one warm-up epoch, then ``repeats`` timed
runs of ``k`` whole epochs, ``k`` being the fewest epochs the warm-up says will take
``min_time`` seconds; the result is the median of ``k · samples / seconds`` over the runs.

The references train on the first rows only (``Size.numpy_samples``, ``Size.python_samples``)
so that a run finishes in seconds; the table marks those figures (a reference's samples per
second hardly depend on how many samples an epoch has).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from .mlp import MLP
from .reference import numpy_reference, pure_python

Array = npt.NDArray[Any]

LEARNING_RATE = 0.01
LOSS = "mean_squared_error"
#: The implementations, in table order.
IMPLEMENTATIONS = ("nncore", "numpy", "python")
TITLES = {"nncore": "nncore", "numpy": "NumPy ref", "python": "pure Python"}


@dataclass(frozen=True)
class Size:
    """A workload: the layer sizes, the batch size, the training samples per epoch, and how many
    of them (the first rows) the NumPy and the pure-Python references train on."""

    name: str
    layers: tuple[int, ...]
    batch_size: int
    samples: int
    numpy_samples: int
    python_samples: int

    @property
    def label(self) -> str:
        return "-".join(map(str, self.layers))

    def scaled(self, samples: int, python_samples: int) -> Size:
        """The same network with (at most) the given sample counts."""
        samples = min(samples, self.samples)
        numpy_samples = min(self.numpy_samples, samples)
        python_samples = min(python_samples, self.python_samples, samples)
        return Size(self.name, self.layers, self.batch_size, samples, numpy_samples, python_samples)


#: The workloads by name (the same networks and batch sizes as benchmarks/bench_training.py).
SIZES = {
    "T": Size("T", (2, 16, 1), 1, 2_000, 500, 500),
    "S": Size("S", (64, 128, 128, 10), 32, 20_000, 2_000, 64),
    "M": Size("M", (784, 256, 256, 10), 128, 20_000, 1_024, 16),
    "L": Size("L", (1024, 2048, 2048, 1024), 256, 4_096, 256, 4),
}
#: ``quick=True``: sample counts small enough for a run of a few seconds.
QUICK_SAMPLES, QUICK_PYTHON_SAMPLES = 256, 8


@dataclass
class Timing:
    """Samples per second of one implementation: the median and every timed run."""

    samples_per_s: float
    runs: list[float]
    epochs_per_run: int
    samples: int
    note: str = ""


@dataclass
class Result:
    """The timings of every implementation on one workload."""

    size: Size
    timings: dict[str, Timing] = field(default_factory=dict)

    def speedup(self, other: str) -> float:
        """nncore's samples per second divided by ``other``'s."""
        return self.timings["nncore"].samples_per_s / self.timings[other].samples_per_s


def time_training(
    train: Callable[[int], object],
    samples: int,
    repeats: int = 3,
    min_time: float = 0.2,
    note: str = "",
) -> Timing:
    """Time ``train(k)``, which must train ``k`` epochs of ``samples`` samples each (see the
    module docstring for the rule)."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    start = time.perf_counter()
    train(1)
    warm_up = time.perf_counter() - start
    epochs = max(1, math.ceil(min_time / warm_up)) if warm_up > 0 else 1
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        train(epochs)
        runs.append(epochs * samples / max(time.perf_counter() - start, 1e-9))
    return Timing(statistics.median(runs), runs, epochs, samples, note)


def _trainers(
    size: Size, dtype: str, seed: int
) -> dict[str, tuple[Callable[[int], object], int, str]]:
    """``name -> (train(k), samples per epoch, note)`` for every implementation, all starting
    from the same weights (nncore's initialisation) on the same data."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((size.samples, size.layers[0])).astype(dtype)
    Y = rng.standard_normal((size.samples, size.layers[-1])).astype(dtype)
    model = MLP(size.layers, activation="tanh", dtype=dtype, seed=seed)
    weights, biases = model.get_parameters()
    activations = list(model.activations)

    def train_nncore(epochs: int) -> None:
        model.fit(
            X,
            Y,
            loss=LOSS,
            learning_rate=LEARNING_RATE,
            epochs=epochs,
            batch_size=size.batch_size,
            n_iter_no_change=None,
        )

    n_numpy = size.numpy_samples
    X_numpy, Y_numpy = X[:n_numpy], Y[:n_numpy]
    np_state: list[Any] = [weights, biases, 0]

    def train_numpy(epochs: int) -> None:
        np_state[2] += 1  # a new shuffling order for every call
        np_state[0], np_state[1], _ = numpy_reference.fit(
            np_state[0],
            np_state[1],
            X_numpy,
            Y_numpy,
            activations,
            LOSS,
            LEARNING_RATE,
            epochs,
            size.batch_size,
            shuffle=True,
            seed=np_state[2],
        )

    n_python = size.python_samples
    python_batch = min(size.batch_size, n_python)
    X_list, Y_list = X[:n_python].tolist(), Y[:n_python].tolist()
    py_state: list[Any] = [[w.tolist() for w in weights], [b.tolist() for b in biases], 0]

    def train_python(epochs: int) -> None:
        py_state[2] += 1
        py_state[0], py_state[1], _ = pure_python.fit(
            py_state[0],
            py_state[1],
            X_list,
            Y_list,
            activations,
            LOSS,
            LEARNING_RATE,
            epochs,
            python_batch,
            shuffle=True,
            seed=py_state[2],
        )

    def note(n: int, batch_size: int) -> str:
        if n == size.samples:
            return ""
        text = f"first {n} of {size.samples} samples"
        return text + (f", batch {batch_size}" if batch_size != size.batch_size else "")

    return {
        "nncore": (train_nncore, size.samples, ""),
        "numpy": (train_numpy, n_numpy, note(n_numpy, size.batch_size)),
        "python": (train_python, n_python, note(n_python, python_batch)),
    }


def run(
    sizes: Sequence[str] = ("T", "S"),
    quick: bool = False,
    repeats: int = 3,
    min_time: float = 0.2,
    dtype: str = "float32",
    seed: int = 0,
    progress: Callable[[str], object] | None = None,
) -> list[Result]:
    """Benchmark every implementation on the named ``SIZES``; ``quick`` uses at most
    ``QUICK_SAMPLES`` samples (``QUICK_PYTHON_SAMPLES`` for pure Python), one run each and a
    tiny ``min_time``. ``progress`` is called with a short line before each measurement."""
    unknown = [name for name in sizes if name not in SIZES]
    if unknown:
        raise ValueError(f"unknown size {unknown[0]!r}; sizes: {', '.join(SIZES)}")
    if quick:
        repeats, min_time = 1, min(min_time, 0.01)
    results = []
    for name in sizes:
        size = SIZES[name]
        if quick:
            size = size.scaled(QUICK_SAMPLES, QUICK_PYTHON_SAMPLES)
        result = Result(size)
        for implementation, (train, samples, note) in _trainers(size, dtype, seed).items():
            if progress is not None:
                progress(f"{name} {size.label}: {TITLES[implementation]}")
            result.timings[implementation] = time_training(train, samples, repeats, min_time, note)
        results.append(result)
    return results


def _rate(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def format_table(results: Sequence[Result]) -> str:
    """The results as a Markdown table of samples per second (``*``: a reference timed on a
    subset of the samples, explained under the table)."""
    header = ["size", "layers", "batch", *(TITLES[name] for name in IMPLEMENTATIONS)]
    header += ["nncore / NumPy", "nncore / Python"]
    lines = [header]
    notes = []
    for result in results:
        cells = [result.size.name, result.size.label, str(result.size.batch_size)]
        for name in IMPLEMENTATIONS:
            timing = result.timings[name]
            mark = ""
            if timing.note:
                mark = "*"
                notes.append(f"* {result.size.name}, {TITLES[name]}: {timing.note}")
            cells.append(_rate(timing.samples_per_s) + mark)
        cells += [f"{result.speedup('numpy'):.1f}x", f"{result.speedup('python'):.0f}x"]
        lines.append(cells)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = []
    for number, line in enumerate(lines):
        padded = [
            cell.ljust(width) if i < 2 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        ]
        text.append("| " + " | ".join(padded) + " |")
        if number == 0:
            rule = ["-" * w if i < 2 else "-" * (w - 1) + ":" for i, w in enumerate(widths)]
            text.append("| " + " | ".join(rule) + " |")
    footer = ["", *notes] if notes else []
    return "\n".join(["samples per second (higher is better)", "", *text, *footer])
