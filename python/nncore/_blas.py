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

OpenBLAS picks its kernels for the CPU when it is loaded, unless ``OPENBLAS_CORETYPE`` names others.
Kernels narrower than the vector instructions nncore's variant was compiled for lose to Eigen's
own products: on an AVX-512 machine with ``OPENBLAS_CORETYPE=Haswell`` (AVX2 kernels), NumPy's
float32 2048² matmul ran at 103 GFLOP/s on 1 thread against 204 with OpenBLAS's own choice
(SkylakeX), and nncore's 784-256-256-10 network trained 1.6× as fast on Eigen's AVX-512 products as
on those kernels. So ``auto`` uses OpenBLAS only when its kernels are at least as wide as the
variant's (``kernel_level`` against ``variant_level``; kernels it does not know: used).

``NNCORE_BLAS`` chooses: ``auto`` (default: NumPy's OpenBLAS when found and its kernels are that
wide, else Eigen), ``openblas`` (required: import fails without it; used whatever its kernels) or
``eigen`` (never a BLAS).
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
GET_CORENAME = "scipy_openblas_get_corename64_"

# The vector instructions of OpenBLAS's x86-64 kernel families (its core names, lower case), as
# levels comparable with nncore's x86-64 variants: 4 AVX-512, 3 AVX2 and FMA, 2 narrower.
KERNEL_LEVELS = {
    **dict.fromkeys(("skylakex", "cooperlake", "sapphirerapids"), 4),
    **dict.fromkeys(("haswell", "zen"), 3),
    **dict.fromkeys(
        (
            "sandybridge", "nehalem", "core2", "penryn", "dunnington", "atom", "prescott",
            "barcelona", "bulldozer", "piledriver", "steamroller", "excavator", "opteron",
            "opteron_sse3", "nano",
        ),
        2,
    ),
}  # fmt: skip
LEVEL_NAMES = {4: "AVX-512", 3: "AVX2", 2: "SSE or AVX without FMA"}

# Why ``auto`` left NumPy's OpenBLAS out at the last ``use``, or '' (it did not).
declined = ""


def kernel_level(core: str) -> int | None:
    """The level of an OpenBLAS core name's kernels (``KERNEL_LEVELS``), or None if unknown."""
    return KERNEL_LEVELS.get(core.strip().lower())


def variant_level(simd: str) -> int | None:
    """The level of nncore's variant from its instruction sets (``build_info()["simd"]``): 4 with
    AVX-512, 3 with AVX2 and FMA, 2 for other x86-64; None elsewhere (ARM)."""
    sets = simd.split()
    if "SSE2" not in sets:
        return None
    if "AVX-512F" in sets:
        return 4
    return 3 if "AVX2" in sets and "FMA" in sets else 2


def narrower_kernels(core: str, simd: str) -> str:
    """Why OpenBLAS's ``core`` kernels are narrower than the variant's ``simd``, or '' if they
    are not (or either is unknown)."""
    ours, theirs = variant_level(simd), kernel_level(core)
    if ours is None or theirs is None or theirs >= ours:
        return ""
    return (
        f"NumPy's OpenBLAS runs its {core} kernels ({LEVEL_NAMES[theirs]}), narrower than this "
        f"variant's {LEVEL_NAMES[ours]}"
    )


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


def corename(library: ctypes.CDLL) -> str:
    """The kernel family OpenBLAS chose at load (``OPENBLAS_CORETYPE`` or the CPU), or ''."""
    function = getattr(library, GET_CORENAME, None)
    if function is None:
        return ""
    function.restype = ctypes.c_char_p
    return (function() or b"").decode(errors="replace").strip()


def _describe(library: ctypes.CDLL, path: str) -> str:
    config = "OpenBLAS"
    function = getattr(library, GET_CONFIG, None)
    if function is not None:  # e.g. "OpenBLAS 0.3.31 USE64BITINT DYNAMIC_ARCH ... Haswell ..."
        function.restype = ctypes.c_char_p
        config = " ".join((function() or b"OpenBLAS").decode(errors="replace").split())
    return f"{config} (bundled with NumPy: {os.path.basename(path)})"


def register(path: str, require_width: bool = False) -> str:
    """Registers the OpenBLAS at ``path`` with the core; returns its description, or '' when
    ``require_width`` and its kernels are narrower than the variant's (``declined`` says so).

    Raises ``OSError`` if it cannot be loaded and ``AttributeError`` if it lacks a function.
    """
    global declined
    library = ctypes.CDLL(path)  # already loaded by NumPy: the same handle, kept for good
    if require_width:
        declined = narrower_kernels(corename(library), _core.build_info()["simd"])
        if declined:
            return ""

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
    global declined
    choice = choice.strip().lower() or "auto"
    if choice not in CHOICES:
        raise ValueError(
            f"{ENVIRONMENT_VARIABLE} must be one of {', '.join(CHOICES)}, got {choice!r}"
        )
    _core._clear_blas()
    declined = ""
    if choice == "eigen":
        return ""
    path = numpy_openblas()
    try:
        if path is None:
            raise OSError("this NumPy does not bundle OpenBLAS (scipy-openblas64)")
        return register(path, require_width=choice == "auto")
    except (OSError, AttributeError) as error:
        if choice == "openblas":
            raise ImportError(f"{ENVIRONMENT_VARIABLE}=openblas: {error}") from error
        return ""
