"""Runtime CPU dispatch: which compiled variant of the native module to import.

A build contains the native module once per instruction-set level, as ``nncore._core_<level>``
(``x86_64_v2``: SSE4.2; ``x86_64_v3``: AVX2 + FMA; ``x86_64_v4``: AVX-512), or a single
``_core_native`` (built with ``NNCORE_NATIVE=ON`` for the build machine) or ``_core_generic``
(other architectures). The best level that is both built and supported by this CPU is chosen;
the environment variable ``NNCORE_ISA`` forces one (``x86-64-v2``/``sse4.2``,
``x86-64-v3``/``avx2``, ``x86-64-v4``/``avx512``, ``native``, ``generic``).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from types import ModuleType

from . import _cpu

#: Levels from best to worst; each name is also the module suffix with "-" replaced by "_".
LEVELS = ("native", "x86-64-v4", "x86-64-v3", "x86-64-v2", "generic")
ALIASES = {"avx512": "x86-64-v4", "avx2": "x86-64-v3", "sse4.2": "x86-64-v2"}
ENVIRONMENT_VARIABLE = "NNCORE_ISA"


def module_name(level: str) -> str:
    return "nncore._core_" + level.replace("-", "_")


def built_levels() -> list[str]:
    """The variants present in this installation, best first."""
    return [level for level in LEVELS if importlib.util.find_spec(module_name(level)) is not None]


def runnable_levels() -> list[str]:
    """The built variants this CPU can run, best first."""
    supported = set(_cpu.supported_levels()) | {"native", "generic"}
    return [level for level in built_levels() if level in supported]


def choose(forced: str | None) -> str:
    """The level to import: ``forced`` (from NNCORE_ISA) if given, else the best runnable one."""
    built, runnable = built_levels(), runnable_levels()
    if not built:
        raise ImportError("nncore's native module is missing from this installation")
    if forced is None or forced.strip() == "":
        if not runnable:
            raise ImportError(
                f"this CPU supports none of the instruction-set levels nncore was built for "
                f"({', '.join(built)})"
            )
        return runnable[0]
    level = ALIASES.get(forced.strip().lower(), forced.strip().lower())
    if level not in built:
        raise ImportError(
            f"{ENVIRONMENT_VARIABLE}={forced!r}: this build of nncore has the levels "
            f"{', '.join(built)}"
        )
    if level not in runnable:
        raise ImportError(
            f"{ENVIRONMENT_VARIABLE}={forced!r}: this CPU does not support {level} "
            f"(it supports {', '.join(runnable) or 'none of the built levels'})"
        )
    return level


def load() -> ModuleType:
    """Imports and returns the chosen variant of the native module."""
    return importlib.import_module(module_name(choose(os.environ.get(ENVIRONMENT_VARIABLE))))
