"""What a benchmark run records about the machine, and the machine's GEMM reference speed.

Shared by every ``bench_*.py`` script beside this file (they run with this folder on
``sys.path``). Nothing here times nncore; :func:`numpy_matmul_gflops` times NumPy's own matrix
product, the yardstick the issue sets for the large training size.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import nncore
from thread_control import blas_threads, nncore_config

#: Environment variables that change how the numerical libraries run; recorded in the JSON.
THREAD_ENV = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "OPENBLAS_VERBOSE",
    "NNCORE_NUM_THREADS",
    "NNCORE_ISA",
    "NNCORE_BLAS",
)


def cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def cpu_flags() -> list[str]:
    """The instruction-set flags that matter for the kernels, as /proc/cpuinfo lists them."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                wanted = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_bf16", "amx_tile")
                return [flag for flag in wanted if flag in flags]
    except OSError:
        pass
    return []


def numpy_blas() -> Any:
    try:
        config = np.show_config(mode="dicts")  # numpy >= 1.26
    except TypeError:
        return None
    if not isinstance(config, dict):
        return None
    return config.get("Build Dependencies", {}).get("blas")


def threadpools() -> Any:
    try:
        import threadpoolctl
    except ImportError:
        return None
    return [
        {key: pool.get(key) for key in ("user_api", "internal_api", "num_threads", "version")}
        for pool in threadpoolctl.threadpool_info()
    ]


def load_average() -> list[float] | None:
    """1-, 5- and 15-minute load averages: other work on the machine skews the timings."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def git_commit() -> str | None:
    """``git describe --always``, with ``-dirty`` when a tracked file outside
    ``benchmarks/results/`` has changes (a run rewrites the results it is part of)."""
    here = Path(__file__).resolve().parent

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=here, capture_output=True, text=True, timeout=10, check=True
        )
        return done.stdout.strip()

    try:
        revision = git("describe", "--always")
        changed = git("status", "--porcelain", "--untracked-files=no", "--", ":/", ":!results")
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{revision}-dirty" if changed else revision or None


def installed_version(distribution: str) -> str | None:
    """The installed version of ``distribution``, without importing it (None: not installed)."""
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def machine_info(peers: Sequence[str]) -> dict[str, Any]:
    """CPU, OS, versions, nncore's build configuration and the threading settings of this run."""
    config = nncore_config()
    info: dict[str, Any] = {
        "cpu_model": cpu_model(),
        "cpu_flags": cpu_flags(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "numpy": np.__version__,
        "nncore": nncore.__version__,
        # nncore.config() when this build has it; None for a build that predates it.
        "nncore_config": config,
        "nncore_isa": config.get("isa") if config else None,
        "nncore_default_threads": config.get("num_threads", 1) if config else 1,
        "git": git_commit(),
        "env": {name: os.environ.get(name) for name in THREAD_ENV},
        "load_average_at_start": load_average(),
        "numpy_blas": numpy_blas(),
    }
    if "torch" in peers:
        try:
            import torch

            info["torch"] = torch.__version__
            info["torch_default_threads"] = torch.get_num_threads()
        except ImportError:
            info["torch"] = None
    if "sklearn" in peers:
        try:
            import sklearn

            info["sklearn"] = sklearn.__version__
        except ImportError:
            info["sklearn"] = None
    if "jax" in peers:
        info["jax"] = installed_version("jax")  # not imported: JAX runs in worker processes
    info["threadpools"] = threadpools()  # after the imports, so their pools show up too
    return info


def describe_machine(machine: dict[str, Any]) -> list[str]:
    """Markdown bullet lines describing ``machine`` (as returned by :func:`machine_info`)."""
    env = ", ".join(f"{k}={v}" for k, v in machine["env"].items() if v is not None) or "none set"
    pools = machine.get("threadpools") or []
    pools_text = ", ".join(
        f"{p['internal_api']}{' ' + p['version'] if p['version'] else ''} "
        f"({p['num_threads']} thread{'s' if p['num_threads'] != 1 else ''})"
        for p in pools
    )
    isa = machine.get("nncore_isa") or "not reported by this build"
    return [
        f"- Machine: {machine['cpu_model']}, {machine['cpus_usable']} usable CPUs "
        f"({', '.join(machine['cpu_flags'])}), {machine['platform']}",
        f"- Versions: Python {machine['python']}, NumPy {machine['numpy']}, "
        f"nncore {machine['nncore']} ({machine['git']})"
        + (f", torch {machine['torch']}" if machine.get("torch") else "")
        + (f", scikit-learn {machine['sklearn']}" if machine.get("sklearn") else "")
        + (f", JAX {machine['jax']}" if machine.get("jax") else ""),
        f"- nncore: ISA level {isa}, default threads {machine['nncore_default_threads']}",
        f"- BLAS/OpenMP pools: {pools_text or 'unknown'}",
        f"- Threading/BLAS environment: {env}",
        f"- Load average (1, 5, 15 min) at start: {machine['load_average_at_start']}, "
        f"at end: {machine.get('load_average_at_end')}",
    ]


def numpy_matmul_gflops(
    n: int = 2048, dtype: str = "float32", threads: int | None = None, repeats: int = 5
) -> dict[str, Any]:
    """GFLOP/s of NumPy's ``(n, n) @ (n, n)`` product (``2·n³`` flops), median of ``repeats``.

    ``threads`` limits NumPy's BLAS through threadpoolctl; ``None`` (or threadpoolctl missing)
    leaves it as it is, which the result says in ``threads_limited``.
    """
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    out = np.empty((n, n), dtype=dtype)
    with blas_threads(threads) as limited:
        np.matmul(a, b, out=out)  # warm-up: threads started, pages touched
        seconds = []
        for _ in range(repeats):
            start = time.perf_counter()
            np.matmul(a, b, out=out)
            seconds.append(time.perf_counter() - start)
    median = statistics.median(seconds)
    return {
        "n": n,
        "dtype": dtype,
        "threads": threads,
        "threads_limited": limited,
        "seconds": seconds,
        "gflops": 2.0 * n**3 / median / 1e9,
    }
