"""A C-contiguous input of the model's dtype crosses into the core without a copy.

Two proofs:

- Address: ``nncore._core._last_input_address()`` is the data address of the last input matrix the
  core received. After a call with a C-contiguous X of the model's dtype it must be
  ``X.ctypes.data``; after a call with any other X it must differ (the conversion is visible).
- Memory: NumPy reports its allocations to ``tracemalloc``, so a hidden copy of X made in Python or
  by NumPy shows up in the traced peak. ``fit`` (with shuffling) and ``forward`` on ~40 MB of X
  must peak far below ``X.nbytes``. Allocations made by the C++ core with ``malloc`` are not
  traced, so a third test measures the peak resident set size of a fresh process (Linux only).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import nncore
from nncore import _core

N_FEATURES = 4
N_OUTPUTS = 2

# A hidden copy of X would cost X.nbytes; what fit/forward may allocate besides their output is
# O(batch) or O(chunk) buffers, O(n_samples) bookkeeping at most. 10 % leaves ample room for that
# and is still an order of magnitude below a copy.
MEMORY_BOUND_FRACTION = 0.10


def _data(dtype: Any, n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, N_FEATURES)).astype(dtype)
    y = rng.normal(size=(n, N_OUTPUTS)).astype(dtype)
    return X, y


def _model(dtype: str) -> nncore.MLP:
    return nncore.MLP([N_FEATURES, 8, N_OUTPUTS], dtype=dtype, seed=0)


CALLS: dict[str, Callable[[nncore.MLP, np.ndarray, np.ndarray], Any]] = {
    "forward": lambda m, X, y: m.forward(X),
    "predict": lambda m, X, y: m.predict(X),
    "fit": lambda m, X, y: m.fit(X, y, epochs=1, batch_size=16),
    "fit_no_shuffle": lambda m, X, y: m.fit(X, y, epochs=1, batch_size=16, shuffle=False),
    "loss": lambda m, X, y: m.loss(X, y),
    "backward": lambda m, X, y: m.backward(X, y),
}


def _reset_hook(model: nncore.MLP) -> None:
    """Point the hook somewhere else first, so that a stale value cannot pass a test."""
    other = np.zeros((1, N_FEATURES), dtype=model.dtype)
    model.forward(other)
    assert _core._last_input_address() == other.ctypes.data


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("call", list(CALLS))
def test_matching_input_is_not_copied(dtype: str, call: str) -> None:
    model = _model(dtype)
    X, y = _data(dtype)
    assert X.flags.c_contiguous and X.dtype == model.dtype
    _reset_hook(model)
    CALLS[call](model, X, y)
    assert _core._last_input_address() == X.ctypes.data


def _unaligned(a: np.ndarray) -> np.ndarray:
    raw = np.zeros(a.nbytes + 1, dtype=np.uint8)
    out = raw[1:].view(a.dtype).reshape(a.shape)
    out[...] = a
    return out


CONVERTED: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "other_float_dtype": lambda X: X.astype(np.float64 if X.dtype == np.float32 else np.float32),
    "float16": lambda X: X.astype(np.float16),
    "int64": lambda X: (X * 10).astype(np.int64),
    "fortran_order": np.asfortranarray,
    "strided": lambda X: np.repeat(X, 2, axis=0)[::2],
    "big_endian": lambda X: X.astype(X.dtype.newbyteorder(">")),
    "unaligned": _unaligned,
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("call", list(CALLS))
@pytest.mark.parametrize("convert", list(CONVERTED))
def test_other_input_is_converted(dtype: str, call: str, convert: str) -> None:
    model = _model(dtype)
    X0, y = _data(dtype)
    X = CONVERTED[convert](X0)
    assert not (X.flags.c_contiguous and X.flags.aligned and X.dtype == model.dtype)
    _reset_hook(model)
    CALLS[call](model, X, y)
    address = _core._last_input_address()
    # X is alive, so a converted copy cannot live at its address.
    assert address != X.ctypes.data
    assert address != 0


def test_forward_result_does_not_alias_input() -> None:
    model = _model("float32")
    X, _ = _data(np.float32)
    before = X.copy()
    out = model.forward(X)
    assert not np.shares_memory(out, X)
    np.testing.assert_array_equal(X, before)


@pytest.mark.parametrize("call", ["fit", "fit_no_shuffle", "backward", "loss"])
def test_input_is_not_modified(call: str) -> None:
    model = _model("float32")
    X, y = _data(np.float32)
    X_before, y_before = X.copy(), y.copy()
    CALLS[call](model, X, y)
    assert X.tobytes() == X_before.tobytes()
    assert y.tobytes() == y_before.tobytes()


# --------------------------------------------------------------------------------------------
# Memory: tracemalloc
# --------------------------------------------------------------------------------------------

BIG_SAMPLES = 100_000
BIG_FEATURES = 100  # 100_000 x 100 float32 = 40 MB (the shuffling order is 0.8 MB)


@pytest.fixture(scope="module")
def big_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = np.empty((BIG_SAMPLES, BIG_FEATURES), dtype=np.float32)
    rng.standard_normal(dtype=np.float32, out=X)
    y = np.empty((BIG_SAMPLES, 1), dtype=np.float32)
    rng.standard_normal(dtype=np.float32, out=y)
    assert X.nbytes == 40_000_000
    return X, y


def _traced_peak(call: Callable[[], Any]) -> tuple[int, Any]:
    """Peak of traced memory (bytes above the start) while ``call`` runs, and its result."""
    tracemalloc.start()
    try:
        start, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        result = call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - start, result


def test_tracemalloc_sees_a_copy() -> None:
    """Sanity check of the method: a NumPy copy of X is visible to tracemalloc."""
    X = np.ones((1000, 100), dtype=np.float32)
    peak, _ = _traced_peak(lambda: X.astype(np.float64))
    assert peak >= 2 * X.nbytes


def test_fit_with_shuffle_does_not_copy_X(big_data: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = big_data
    model = nncore.MLP([BIG_FEATURES, 4, 1], seed=0)
    peak, history = _traced_peak(
        lambda: model.fit(X, y, epochs=1, batch_size=256, shuffle=True, n_iter_no_change=None)
    )
    assert history.epochs == 1
    assert peak < MEMORY_BOUND_FRACTION * X.nbytes, (
        f"fit allocated {peak / 1e6:.1f} MB at peak for a {X.nbytes / 1e6:.0f} MB X"
    )


def test_forward_does_not_copy_X(big_data: tuple[np.ndarray, np.ndarray]) -> None:
    X, _ = big_data
    model = nncore.MLP([BIG_FEATURES, 4, 1], seed=0)
    peak, output = _traced_peak(lambda: model.forward(X))
    assert output.shape == (BIG_SAMPLES, 1)
    extra = peak - output.nbytes
    assert extra < MEMORY_BOUND_FRACTION * X.nbytes, (
        f"forward allocated {extra / 1e6:.1f} MB besides its {output.nbytes / 1e6:.1f} MB output "
        f"for a {X.nbytes / 1e6:.0f} MB X"
    )


def test_loss_does_not_copy_X(big_data: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = big_data
    model = nncore.MLP([BIG_FEATURES, 4, 1], seed=0)
    peak, value = _traced_peak(lambda: model.loss(X, y))
    assert np.isfinite(value)
    assert peak < MEMORY_BOUND_FRACTION * X.nbytes, f"loss allocated {peak / 1e6:.1f} MB"


# --------------------------------------------------------------------------------------------
# Memory: peak resident set size of a fresh process (sees the C++ side too)
# --------------------------------------------------------------------------------------------

RSS_SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    import nncore

    def peak_rss():
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError("no VmHWM")

    rng = np.random.default_rng(0)
    X = np.empty(({n}, {d}), dtype=np.float32)
    rng.standard_normal(dtype=np.float32, out=X)
    y = np.empty(({n}, 1), dtype=np.float32)
    rng.standard_normal(dtype=np.float32, out=y)
    model = nncore.MLP([{d}, 4, 1], seed=0)
    # Warm up with a small fit (thread pools, lazily allocated library state).
    model.fit(X[:1000], y[:1000], epochs=1, batch_size=256)
    model.forward(X[:1000])
    before = peak_rss()
    model.fit(X, y, epochs=1, batch_size=256, shuffle=True, n_iter_no_change=None)
    after_fit = peak_rss()
    output = model.forward(X)
    after_forward = peak_rss()
    print(X.nbytes, before, after_fit, after_forward, output.nbytes)
    """
)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc (VmHWM)")
@pytest.mark.skipif(
    nncore._core._sanitized, reason="ASan's shadow memory and quarantine raise the peak RSS"
)
def test_peak_rss_of_fit_and_forward_stays_below_a_copy() -> None:
    script = RSS_SCRIPT.format(n=BIG_SAMPLES, d=BIG_FEATURES)
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert completed.returncode == 0, completed.stderr
    nbytes, before, after_fit, after_forward, output_nbytes = map(int, completed.stdout.split())
    bound = MEMORY_BOUND_FRACTION * nbytes
    assert after_fit - before < bound, (
        f"fit raised the peak RSS by {(after_fit - before) / 1e6:.1f} MB for a {nbytes / 1e6:.0f} "
        "MB X"
    )
    assert after_forward - after_fit - output_nbytes < bound, (
        f"forward raised the peak RSS by {(after_forward - after_fit) / 1e6:.1f} MB "
        f"(output {output_nbytes / 1e6:.1f} MB) for a {nbytes / 1e6:.0f} MB X"
    )
