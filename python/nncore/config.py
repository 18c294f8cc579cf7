"""Threads and build configuration: ``set_num_threads``, ``get_num_threads``, ``config``,
``show_config``.

The large matrix products of a layer (forward, gradient and back-propagated error) run on the
OpenBLAS that NumPy bundles, threaded by it, when its kernels are as wide as this variant's
instructions (``_blas``; ``NNCORE_BLAS=eigen`` turns it off), or, without one, on Eigen split into
blocks of output columns on nncore's own pool of threads. Products below a fixed amount of work
stay on Eigen on the calling thread, so small networks are never slowed down by threading. The
default thread count comes from ``NNCORE_NUM_THREADS``, else ``OMP_NUM_THREADS``, else the CPUs
this process may run on.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any

import numpy as np

from . import _blas, _core, _cpu, _dispatch
from ._validation import MAX_THREADS, check_int

THREAD_VARIABLES = ("NNCORE_NUM_THREADS", "OMP_NUM_THREADS")


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def default_num_threads() -> int:
    """The thread count at import: the first valid of NNCORE_NUM_THREADS, OMP_NUM_THREADS, else
    the available CPUs."""
    for name in THREAD_VARIABLES:
        value = os.environ.get(name, "").strip()
        if not value:
            continue
        # OMP_NUM_THREADS may be a list for nested levels ("4,2"): the first is ours.
        first = value.split(",")[0].strip()
        if first.isdigit() and int(first) >= 1:
            return int(first)
        warnings.warn(
            f"nncore: ignoring {name}={value!r} (expected a positive integer)",
            RuntimeWarning,
            stacklevel=2,
        )
    return available_cpus()


def set_num_threads(n: int) -> None:
    """Use ``n`` threads (the calling one included) for the core's large products; 1 = none.

    Applies to everything nncore computes from then on, in every thread of the process.
    ``n`` is an integer in ``[1, 1024]``: ``TypeError`` for a non-integer (a bool or float
    included), ``ValueError`` out of range.

    Threads and ``fork()``: forking the process (``os.fork``, or ``multiprocessing`` with the
    ``"fork"`` start method, the default on Linux before Python 3.14) while another thread is
    inside a large product on OpenBLAS can hang the process inside ``fork()``, in OpenBLAS's own
    fork handler (NumPy's products alone do the same). Either keep the large products on Eigen
    (``NNCORE_BLAS=eigen`` in the environment before importing nncore; nncore's own pool is
    rebuilt after ``fork()``), or start worker processes with the ``"spawn"`` or
    ``"forkserver"`` start method.
    """
    n = check_int(n, "n", minimum=1, maximum=MAX_THREADS)
    _core.set_num_threads(n)


def get_num_threads() -> int:
    """The number of threads the core uses for large products."""
    return _core.get_num_threads()


def config() -> dict[str, Any]:
    """The version, the chosen instruction-set level and what else was possible, the threads, the
    BLAS of the large products, and how the native module was compiled (compiler, Eigen version,
    SIMD, and whether small products run on nncore's tiled kernels)."""
    build = _core.build_info()
    return {
        "version": _core.__version__,
        "isa": build["isa"],
        "isa_supported": _cpu.supported_levels(),
        "isa_built": _dispatch.built_levels(),
        "isa_forced": os.environ.get(_dispatch.ENVIRONMENT_VARIABLE) or None,
        "num_threads": get_num_threads(),
        "available_cpus": available_cpus(),
        "min_parallel_work": build["min_parallel_work"],
        "min_parallel_elements": build["min_parallel_elements"],
        "simd": build["simd"],
        "tiled_products": build["tiled_products"],
        "eigen": build["eigen"],
        "blas": _core.blas_name() or _no_blas(),
        "blas_forced": os.environ.get(_blas.ENVIRONMENT_VARIABLE) or None,
        "compiler": build["compiler"],
        "sanitized": build["sanitized"],
        "python": sys.version.split()[0],
        "numpy": np.__version__,
    }


def _no_blas() -> str:
    """config()'s "blas" without one: Eigen's products, and why NumPy's OpenBLAS was left out."""
    if not _blas.declined:
        return "none (Eigen's own matrix products)"
    return f"none (Eigen's own matrix products: {_blas.declined}; NNCORE_BLAS=openblas uses it)"


def show_config() -> None:
    """Prints ``config()`` one item per line."""
    for key, value in config().items():
        print(f"{key + ':':<19} {value}")


def _use_blas_from_environment() -> None:
    value = os.environ.get(_blas.ENVIRONMENT_VARIABLE, "")
    try:
        _blas.use(value)
    except ValueError as error:
        warnings.warn(f"nncore: ignoring {error}", RuntimeWarning, stacklevel=2)
        _blas.use("auto")


set_num_threads(default_num_threads())
_use_blas_from_environment()
