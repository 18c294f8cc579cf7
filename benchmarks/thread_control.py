"""Setting the thread count of nncore and of NumPy's BLAS for one measurement, then restoring it.

nncore gains ``set_num_threads``/``get_num_threads``/``config`` with its threaded core; the
benchmarks look them up with ``getattr`` so that they also run against a build without them (one
thread, reported as such). NumPy's BLAS is limited through ``threadpoolctl`` when it is installed;
without it the BLAS runs as configured and the measurement says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import nncore

THREAD_COUNTS = (1, 2)
"""The thread counts every multi-threaded implementation is measured at (the best is reported)."""


def nncore_can_set_threads() -> bool:
    """Whether this nncore build has ``set_num_threads`` (otherwise it runs on one thread)."""
    return callable(getattr(nncore, "set_num_threads", None))


def nncore_config() -> dict[str, Any] | None:
    """``nncore.config()`` (version, ISA level, threads, compiler, Eigen, BLAS), or None."""
    config = getattr(nncore, "config", None)
    if not callable(config):
        return None
    result = config()
    return dict(result) if isinstance(result, dict) else {"config": repr(result)}


@contextmanager
def nncore_threads(threads: int) -> Iterator[None]:
    """Run the block with ``nncore.set_num_threads(threads)``; the previous count is restored.

    Raises ``RuntimeError`` for ``threads > 1`` on a build without ``set_num_threads``.
    """
    if not nncore_can_set_threads():
        if threads != 1:
            raise RuntimeError("this nncore build has no set_num_threads (single-threaded)")
        yield
        return
    previous = nncore.get_num_threads()  # type: ignore[attr-defined]
    nncore.set_num_threads(threads)  # type: ignore[attr-defined]
    try:
        yield
    finally:
        nncore.set_num_threads(previous)  # type: ignore[attr-defined]


def can_limit_blas() -> bool:
    """Whether ``blas_threads`` can limit the BLAS (threadpoolctl is importable)."""
    try:
        import threadpoolctl  # noqa: F401
    except ImportError:
        return False
    return True


@contextmanager
def blas_threads(threads: int | None) -> Iterator[bool]:
    """Limit NumPy's BLAS (and OpenMP) pools to ``threads`` for the block, via threadpoolctl.

    Yields whether the limit is in force: False for ``threads=None`` or without threadpoolctl.
    """
    if threads is None:
        yield False
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield False
        return
    with threadpool_limits(limits=threads):
        yield True


def thread_suffix(threads: int) -> str:
    """The result-key suffix of a thread count: ``1_thread``, ``2_threads``."""
    return f"{threads}_thread{'s' if threads != 1 else ''}"


def add_best_of_threads(results: dict[str, Any], name: str, metric: str) -> None:
    """Add ``results[name + "_best"]``: the fastest of ``name``'s thread variants by ``metric``.

    The variants are the entries ``name_1_thread``, ``name_2_threads``, ... that were measured;
    the summary holds the metric and the thread count (nothing is added when none was measured).
    """
    runs = [results[k] for t in THREAD_COUNTS if (k := f"{name}_{thread_suffix(t)}") in results]
    if runs:
        best = max(runs, key=lambda run: run[metric])
        results[f"{name}_best"] = {metric: best[metric], "threads": best["threads"]}
