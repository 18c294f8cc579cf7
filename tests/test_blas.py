"""The external BLAS of the large products (nncore/_blas.py, cpp/src/blas.cpp): NumPy's bundled
OpenBLAS is found, registered and used; every product it takes (A·W, Aᵀ·dZ, dZ·Wᵀ, one row)
agrees with NumPy's reference and with Eigen's own products; a thread setting repeats bit for bit;
OpenBLAS's own thread count is restored after nncore's products, also when two threads run them
at once; ``NNCORE_BLAS`` chooses; and by default OpenBLAS is left out when its kernels are
narrower than the variant's instructions (``OPENBLAS_CORETYPE=Haswell`` on an AVX-512 CPU)."""

from __future__ import annotations

import ast
import ctypes
import os
import platform
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import nncore
from nncore import _blas, _core
from nncore.config import _use_blas_from_environment
from nncore.reference import numpy_reference

BUNDLED = _blas.numpy_openblas()
needs_openblas = pytest.mark.skipif(
    BUNDLED is None, reason="this NumPy does not bundle OpenBLAS (built against another BLAS)"
)

# At batch 64 the products of the first two layers (forward A·W, gradient Aᵀ·dZ, error dZ·Wᵀ)
# have 4.1-5.2 million multiply-adds, above the core's minimum for the BLAS; no two dimensions are
# equal, so a swapped transpose or leading dimension cannot go unnoticed.
LAYERS = [200, 320, 256, 3]
ACTIVATIONS = ["tanh", "relu", "identity"]


@pytest.fixture
def restore() -> Iterator[None]:
    threads = nncore.get_num_threads()
    yield
    nncore.set_num_threads(threads)
    _use_blas_from_environment()


def problem(dtype: str, n: int = 64) -> tuple[nncore.MLP, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    X = rng.standard_normal((n, LAYERS[0])).astype(dtype)
    Y = rng.standard_normal((n, LAYERS[-1])).astype(dtype)
    model = nncore.MLP(LAYERS, activation=ACTIVATIONS[:-1], dtype=dtype, seed=5)
    return model, X, Y


def outputs(model: nncore.MLP, X: np.ndarray, Y: np.ndarray) -> list[np.ndarray]:
    gradients = model.backward(X, Y, loss="mse")
    return [model.forward(X), *[array for pair in gradients for array in pair]]


def reference(model: nncore.MLP, X: np.ndarray, Y: np.ndarray) -> list[np.ndarray]:
    weights, biases = model.get_parameters()
    W = [w.astype(np.float64) for w in weights]
    b = [v.astype(np.float64) for v in biases]
    X64, Y64 = X.astype(np.float64), Y.astype(np.float64)
    _, As = numpy_reference.forward(W, b, X64, ACTIVATIONS)
    dW, db = numpy_reference.backward(W, b, X64, Y64, ACTIVATIONS, "mean_squared_error")
    return [As[-1], *[array for pair in zip(dW, db, strict=True) for array in pair]]


def test_products_are_large_enough_for_the_blas() -> None:
    smallest = min(64 * LAYERS[0] * LAYERS[1], 64 * LAYERS[1] * LAYERS[2])
    assert smallest >= nncore.config()["min_parallel_work"]


def bundled_corename() -> str:
    """The kernel family the bundled OpenBLAS chose in this process."""
    assert BUNDLED is not None
    return _blas.corename(ctypes.CDLL(BUNDLED))


def auto_takes_openblas() -> bool:
    """Whether NNCORE_BLAS=auto registers the bundled OpenBLAS on this machine: there is one, and
    its kernels are not narrower than this variant's instructions."""
    return BUNDLED is not None and not _blas.narrower_kernels(
        bundled_corename(), _core.build_info()["simd"]
    )


@needs_openblas
def test_numpy_openblas_is_registered_by_default_unless_its_kernels_are_narrower() -> None:
    if os.environ.get(_blas.ENVIRONMENT_VARIABLE, "auto") != "auto":
        pytest.skip("NNCORE_BLAS chooses for this run")
    core = bundled_corename()
    assert core  # every scipy-openblas64 build names its kernels
    reason = _blas.narrower_kernels(core, _core.build_info()["simd"])
    if reason:
        assert _core.blas_name() == ""
        assert nncore.config()["blas"] == (
            f"none (Eigen's own matrix products: {reason}; NNCORE_BLAS=openblas uses it)"
        )
    else:
        assert BUNDLED is not None and os.path.basename(BUNDLED) in _core.blas_name()
        assert nncore.config()["blas"] == _core.blas_name()


AVX512 = "SSE2 SSE4.2 AVX AVX2 FMA AVX-512F AVX-512BW"
AVX2 = "SSE2 SSE4.2 AVX AVX2 FMA"
SSE = "SSE2 SSE4.2"


@pytest.mark.parametrize(
    ("core", "simd", "narrower"),
    [
        ("Haswell", AVX512, "its Haswell kernels (AVX2), narrower than this variant's AVX-512"),
        ("Zen", AVX512, "its Zen kernels (AVX2), narrower than this variant's AVX-512"),
        ("Sandybridge", AVX2, "(SSE or AVX without FMA), narrower than this variant's AVX2"),
        ("Nehalem", AVX512, "(SSE or AVX without FMA), narrower than this variant's AVX-512"),
        ("SkylakeX", AVX512, ""),
        ("Cooperlake", AVX512, ""),
        ("SapphireRapids", AVX512, ""),
        ("Haswell", AVX2, ""),
        ("SkylakeX", AVX2, ""),
        ("Nehalem", SSE, ""),
        ("Haswell", SSE, ""),
        ("Prescott", "SSE2", ""),
        ("NEOVERSEN1", "NEON", ""),  # not x86-64: no levels to compare
        ("SomeFutureCore", AVX512, ""),  # unknown kernels are used
    ],
)
def test_openblas_is_left_out_only_for_known_narrower_kernels(
    core: str, simd: str, narrower: str
) -> None:
    reason = _blas.narrower_kernels(core, simd)
    assert (reason == "") == (narrower == "")
    assert narrower in reason


@pytest.mark.parametrize("blas", ["openblas", "eigen"])
@pytest.mark.parametrize(
    ("dtype", "rtol", "atol"), [("float32", 2e-4, 2e-6), ("float64", 1e-11, 1e-13)]
)
def test_products_match_the_reference(
    blas: str, dtype: str, rtol: float, atol: float, restore: None
) -> None:
    if blas == "openblas" and BUNDLED is None:
        pytest.skip("this NumPy does not bundle OpenBLAS")
    _blas.use(blas)
    assert ("OpenBLAS" in _core.blas_name()) == (blas == "openblas")
    model, X, Y = problem(dtype)
    calls = _core._blas_calls()
    ours_all = outputs(model, X, Y)
    # forward: 2 products on the BLAS; backward: forward again, then 2 gradients and 1 error.
    assert _core._blas_calls() - calls == (7 if blas == "openblas" else 0)
    for ours, expected in zip(ours_all, reference(model, X, Y), strict=True):
        scale = float(np.abs(expected).max())
        np.testing.assert_allclose(ours, expected, rtol=rtol, atol=atol * max(scale, 1.0))


@needs_openblas
@pytest.mark.parametrize(("dtype", "rtol"), [("float32", 1e-4), ("float64", 1e-12)])
def test_openblas_and_eigen_agree_on_training(dtype: str, rtol: float, restore: None) -> None:
    results = {}
    for blas in ("openblas", "eigen"):
        _blas.use(blas)
        model, X, Y = problem(dtype, n=256)
        model.fit(X, Y, loss="mse", learning_rate=0.01, epochs=2, batch_size=64, shuffle=False)
        results[blas] = model._network.parameters.copy()
    np.testing.assert_allclose(results["openblas"], results["eigen"], rtol=rtol, atol=rtol * 1e-2)


@needs_openblas
def test_one_row_through_a_large_layer(restore: None) -> None:
    # 1·2048·1024 multiply-adds: products of one row on the BLAS (forward A·W, and the gradient
    # Aᵀ·dZ of depth 1), whose leading dimensions must still be valid (BLAS refuses lda < n_cols
    # even for one row, and then computes nothing).
    _blas.use("openblas")
    model = nncore.MLP([2048, 1024], activation="identity", dtype="float64", seed=1)
    rng = np.random.default_rng(2)
    X, Y = rng.standard_normal((3, 2048)), rng.standard_normal((3, 1024))
    (W,), (b,) = model.get_parameters()
    for row in range(3):
        x, y = X[row : row + 1], Y[row : row + 1]
        calls = _core._blas_calls()
        np.testing.assert_allclose(model.forward(x), x @ W + b, rtol=1e-10)
        ((dW, db),) = model.backward(x, y, loss="mse")
        assert _core._blas_calls() - calls == 3  # forward, forward again, gradient
        dZ = 2 * (x @ W + b - y) / y.size  # mean squared error over every entry
        np.testing.assert_allclose(dW, x.T @ dZ, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(db, dZ[0], rtol=1e-10, atol=1e-14)


@needs_openblas
def test_a_thread_setting_repeats_bit_for_bit_and_settings_agree(restore: None) -> None:
    _blas.use("openblas")
    runs: dict[int, list[np.ndarray]] = {}
    for threads in (1, 2, 1, 2):
        nncore.set_num_threads(threads)
        model, X, Y = problem("float32", n=128)
        model.fit(X, Y, loss="mse", learning_rate=0.01, epochs=1, batch_size=64, shuffle=False)
        result = [model._network.parameters.copy(), model.predict(X)]
        if threads in runs:
            for a, b in zip(runs[threads], result, strict=True):
                np.testing.assert_array_equal(a, b)
        runs[threads] = result
    for a, b in zip(runs[1], runs[2], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def openblas_threads() -> tuple[Callable[[], int], Callable[[int], None]]:
    """Getter and setter of the bundled OpenBLAS's (process-wide) thread count."""
    library = ctypes.CDLL(BUNDLED)
    get = getattr(library, _blas.GET_THREADS)
    get.restype = ctypes.c_int
    set_ = getattr(library, _blas.SET_THREADS)
    set_.argtypes = [ctypes.c_int]
    return get, set_


@needs_openblas
@pytest.mark.parametrize(("openblas", "ours"), [(1, 2), (2, 1), (2, 2)])
def test_openblas_thread_count_is_restored(openblas: int, ours: int, restore: None) -> None:
    get, set_ = openblas_threads()
    before = get()
    try:
        set_(openblas)
        _blas.use("openblas")
        nncore.set_num_threads(ours)
        model, X, Y = problem("float32")
        calls = _core._blas_calls()
        model.fit(X, Y, loss="mse", epochs=1, batch_size=64)
        assert _core._blas_calls() > calls
        assert get() == openblas
    finally:
        set_(before)


@needs_openblas
def test_concurrent_products_restore_the_openblas_thread_count(restore: None) -> None:
    # Four Python threads (the GIL released in fit) each run products that change OpenBLAS's
    # count from 1 to nncore's 2 and back: the lock keeps them from leaving it changed.
    get, set_ = openblas_threads()
    before = get()
    try:
        set_(1)
        _blas.use("openblas")
        nncore.set_num_threads(2)
        _, X, Y = problem("float64", n=256)

        def train() -> np.ndarray:
            model = nncore.MLP(LAYERS, activation=ACTIVATIONS[:-1], dtype="float64", seed=5)
            model.fit(X, Y, loss="mse", learning_rate=0.01, epochs=2, batch_size=64, shuffle=False)
            return model._network.parameters.copy()

        serial = train()
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(lambda _: train(), range(4)))
        assert get() == 1
        for result in results:
            np.testing.assert_allclose(result, serial, rtol=1e-12, atol=1e-15)
    finally:
        set_(before)


def run_with(value: str, **variables: str) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter with NNCORE_BLAS=value (and `variables`): its registered BLAS's name
    ('' for none) on the first line, config()'s "blas" on the second."""
    code = (
        "import warnings, nncore; from nncore import _core; "
        "print(repr(_core.blas_name())); print(repr(nncore.config()['blas']))"
    )
    env = dict(os.environ, **{_blas.ENVIRONMENT_VARIABLE: value}, **variables)
    return subprocess.run(
        [sys.executable, "-W", "always", "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_environment_variable_eigen_turns_the_blas_off() -> None:
    result = run_with("eigen")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["''", repr("none (Eigen's own matrix products)")]


@needs_openblas
def test_environment_variable_openblas_and_auto() -> None:
    auto = auto_takes_openblas()
    for value, registered in (("openblas", True), ("OpenBLAS", True), ("auto", auto), ("", auto)):
        result = run_with(value)
        assert result.returncode == 0, result.stderr
        assert ("OpenBLAS" in result.stdout.splitlines()[0]) == registered, value


# OPENBLAS_CORETYPE=Haswell (AVX2 kernels) against each x86-64 variant this CPU runs: left out
# by the AVX-512 variant only, unless NNCORE_BLAS=openblas asks for it.
@needs_openblas
@pytest.mark.parametrize(
    ("isa", "choice", "registered"),
    [
        ("x86-64-v4", "auto", False),
        ("x86-64-v4", "openblas", True),
        ("x86-64-v3", "auto", True),
        ("x86-64-v2", "auto", True),
    ],
)
def test_haswell_kernels_are_left_out_by_the_avx512_variant(
    isa: str, choice: str, registered: bool
) -> None:
    if platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip("OpenBLAS's x86-64 kernel families")
    if isa not in nncore.config()["isa_supported"] or isa not in nncore.config()["isa_built"]:
        pytest.skip(f"this CPU or build has no {isa}")
    result = run_with(choice, OPENBLAS_CORETYPE="Haswell", NNCORE_ISA=isa)
    assert result.returncode == 0, result.stderr
    name, described = (ast.literal_eval(line) for line in result.stdout.splitlines())
    assert ("Haswell" in name) == registered
    if registered:
        assert described == name
    else:
        assert name == "" and described == (
            "none (Eigen's own matrix products: NumPy's OpenBLAS runs its Haswell kernels (AVX2), "
            "narrower than this variant's AVX-512; NNCORE_BLAS=openblas uses it)"
        )


def test_environment_variable_with_a_bad_value_warns_and_uses_auto() -> None:
    result = run_with("mkl")
    assert result.returncode == 0, result.stderr
    assert "NNCORE_BLAS must be one of auto, openblas, eigen" in result.stderr
    assert ("OpenBLAS" in result.stdout.splitlines()[0]) == auto_takes_openblas()


def test_forced_openblas_without_one_is_an_import_error(tmp_path: os.PathLike[str]) -> None:
    # A NumPy without a bundled OpenBLAS is simulated by pointing the search at an empty folder.
    code = (
        "import numpy, sys\n"
        "from nncore import _blas\n"
        "_blas.numpy_openblas = lambda: None\n"
        "try:\n"
        "    _blas.use('openblas')\n"
        "except ImportError as error:\n"
        "    print('ImportError:', error)\n"
        "print('auto ->', repr(_blas.use('auto')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=dict(os.environ, **{_blas.ENVIRONMENT_VARIABLE: "eigen"}),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "ImportError: NNCORE_BLAS=openblas: this NumPy does not bundle OpenBLAS" in result.stdout
    assert "auto -> ''" in result.stdout


def test_a_bad_choice_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="NNCORE_BLAS must be one of"):
        _blas.use("cublas")
