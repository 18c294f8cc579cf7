"""The BLAS behind the large matrix products: the OpenBLAS that NumPy's wheels already carry.

NumPy's wheels bundle OpenBLAS (the ``scipy-openblas64`` build: 64-bit integers, symbols named
``scipy_cblas_sgemm64_`` and so on) in ``numpy.libs/`` (Linux, Windows) or ``numpy/.dylibs/``
(macOS), and NumPy has loaded it by the time nncore is imported. nncore takes the addresses of its
``sgemm``/``dgemm`` and registers them with the core, which then runs every product of at least
2^20 multiply-adds on it with nncore's thread count; smaller products stay on Eigen, where a call
into a threaded BLAS would cost more than it saves. OpenBLAS's thread count is process-wide: when
it differs from nncore's, each product sets it and sets it back (under a lock), so NumPy calls
on other threads see nncore's count meanwhile; by default both are the CPU count. Nothing is
installed, built or downloaded for this: without such a library (a NumPy built against another
BLAS) the products are Eigen's own.

``NNCORE_BLAS`` chooses: ``auto`` (default: NumPy's OpenBLAS when found, else Eigen), ``openblas``
(required: import fails without it) or ``eigen`` (never a BLAS).
"""

from __future__ import annotations

import ctypes
import os

import numpy as np

from . import _core

ENVIRONMENT_VARIABLE = "NNCORE_BLAS"
CHOICES = ("auto", "openblas", "eigen")

# ILP64 names of the scipy-openblas64 build.
SGEMM, DGEMM = "scipy_cblas_sgemm64_", "scipy_cblas_dgemm64_"
GET_THREADS, SET_THREADS = "scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"
GET_CONFIG = "scipy_openblas_get_config64_"


def numpy_openblas() -> str | None:
    """The path of the OpenBLAS library bundled with this NumPy, if there is one. (``os.path``,
    not ``pathlib``: every ``import nncore`` runs this, and pathlib would add to its time.)"""
    package = os.path.dirname(os.path.realpath(np.__file__))
    for folder in (
        os.path.join(os.path.dirname(package), "numpy.libs"),
        os.path.join(package, ".dylibs"),
    ):
        try:
            names = sorted(os.listdir(folder))
        except OSError:  # no such folder
            continue
        for name in names:
            if name.startswith("libscipy_openblas64_") and (
                os.path.splitext(name)[1] in (".so", ".dylib", ".dll") or ".so." in name
            ):
                return os.path.join(folder, name)
    return None


def _describe(library: ctypes.CDLL, path: str) -> str:
    config = "OpenBLAS"
    function = getattr(library, GET_CONFIG, None)
    if function is not None:  # e.g. "OpenBLAS 0.3.31 USE64BITINT DYNAMIC_ARCH ... Haswell ..."
        function.restype = ctypes.c_char_p
        config = " ".join((function() or b"OpenBLAS").decode(errors="replace").split())
    return f"{config} (bundled with NumPy: {os.path.basename(path)})"


def register(path: str) -> str:
    """Registers the OpenBLAS at ``path`` with the core; returns its description.

    Raises ``OSError`` if it cannot be loaded and ``AttributeError`` if it lacks a function.
    """
    library = ctypes.CDLL(path)  # already loaded by NumPy: the same handle, kept for good

    def address(name: str) -> int:
        value = ctypes.cast(getattr(library, name), ctypes.c_void_p).value
        if not value:
            raise AttributeError(f"{os.path.basename(path)} has no {name}")
        return value

    name = _describe(library, path)
    _core._set_blas(
        address(SGEMM), address(DGEMM), address(GET_THREADS), address(SET_THREADS), name
    )
    return name


def use(choice: str) -> str:
    """Applies an ``NNCORE_BLAS`` choice; returns the registered BLAS's description, or ''."""
    choice = choice.strip().lower() or "auto"
    if choice not in CHOICES:
        raise ValueError(
            f"{ENVIRONMENT_VARIABLE} must be one of {', '.join(CHOICES)}, got {choice!r}"
        )
    _core._clear_blas()
    if choice == "eigen":
        return ""
    path = numpy_openblas()
    try:
        if path is None:
            raise OSError("this NumPy does not bundle OpenBLAS (scipy-openblas64)")
        return register(path)
    except (OSError, AttributeError) as error:
        if choice == "openblas":
            raise ImportError(f"{ENVIRONMENT_VARIABLE}=openblas: {error}") from error
        return ""
