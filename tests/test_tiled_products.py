"""The dense layers' products for a few rows (``cpp/include/nncore/tiled_product.hpp``: register
tiles of 6 rows by 2 SIMD packets, a zero-padded copy of the last columns, a transposed copy for
dL/dA_prev) against ``nncore.reference.numpy_reference``, at widths and row counts on either side
of every tile boundary.

Every product here is below the size that is threaded (2^20 multiply-adds), so in x86 builds
with AVX2 and FMA (the x86-64-v3 and v4 variants) they run on the tiled kernels; in others on
Eigen, against the same reference."""

from __future__ import annotations

import numpy as np
import pytest

import nncore
from conftest import assert_close_scaled, random_problem, reference_parameters
from nncore.reference import numpy_reference as nref

# Packets hold 2, 4, 8 or 16 entries (SSE double … AVX-512 float) and a tile is 2 packets wide:
# widths just below, at and above 4, 8, 16, 32 and 64.
WIDTHS = [1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65]
# Tiles are 6 rows: every remainder 0..5, and 32 or more rows for a full-width strip of the
# transposed product (dL/dA_prev) with AVX-512's 16-float packets.
ROWS = [1, 2, 3, 4, 5, 6, 7, 9, 10, 12, 13, 31, 32, 33, 48]
# float64: the same sums in another order than NumPy's BLAS, a few ulps times the depth (<= 65).
# float32 against the float64 reference of the same values: float32 rounding over that depth.
RTOL = {"float64": 1e-10, "float32": 1e-4}


def check_against_reference(model: nncore.MLP, X: np.ndarray, Y: np.ndarray, what: str) -> None:
    """``model``'s forward pass and every layer's dW and db (mean squared error) against the
    float64 NumPy reference of the same weights and inputs."""
    rtol = RTOL[str(model.dtype)]
    weights, biases = reference_parameters(model)
    X64 = X.astype(np.float64)
    _, As = nref.forward(weights, biases, X64, model.activations)
    assert_close_scaled(model.forward(X), As[-1], rtol, rtol, f"forward {what}")
    dWs, dbs = nref.backward(weights, biases, X64, Y, model.activations, "mean_squared_error", 0.01)
    for layer, (dW, db) in enumerate(model.backward(X, Y, "mse")):
        assert_close_scaled(dW, dWs[layer], rtol, rtol, f"dW[{layer}] {what}")
        assert_close_scaled(db, dbs[layer], rtol, rtol, f"db[{layer}] {what}")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("rows", ROWS)
@pytest.mark.parametrize("width", WIDTHS)
def test_forward_and_gradients_match_the_reference(width: int, rows: int, dtype: str) -> None:
    rng = np.random.default_rng(1000 * width + rows)
    # Every layer width in turn an output width (forward, dW), a depth (dA) and an input width.
    # [width, 1, ...]: a dL/dA_prev of one column, written straight into place.
    layouts = (
        [width, width, width],
        [5, 2 * width + 1, width],
        [width, 3, 2 * width],
        [width, 1, 7],
    )
    for sizes in layouts:
        model, X, _, Y = random_problem(rng, sizes, "tanh", "identity", "mse", n=rows, dtype=dtype)
        check_against_reference(model, X, Y, f"{sizes} x {rows} rows, {dtype}")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_one_row_of_a_large_layer_matches_the_reference(dtype: str) -> None:
    """One row takes the tiled kernels once W has more than 2^14 entries (smaller layers have a
    one-row path of their own)."""
    rng = np.random.default_rng(3)
    model, X, _, Y = random_problem(
        rng, [200, 100, 40], "tanh", "identity", "mse", n=1, dtype=dtype
    )
    check_against_reference(model, X, Y, f"one row, {dtype}")


def test_the_kernels_are_in_use_where_they_should_be() -> None:
    """AVX2 with FMA (the x86-64-v3 and v4 variants, native builds on such CPUs) runs the small
    products on the tiled kernels; anything else on Eigen."""
    config = nncore.config()
    simd = config["simd"].split()
    assert config["tiled_products"] == ("AVX2" in simd and "FMA" in simd)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_inputs_with_a_row_stride_give_the_same_bits(dtype: str) -> None:
    """A column slice of a wider array (rows further apart than their length) multiplies exactly
    as its contiguous copy."""
    rng = np.random.default_rng(7)
    model = nncore.MLP([20, 24, 3], activation="tanh", dtype=dtype, seed=3)
    wide = rng.standard_normal((13, 29)).astype(dtype)
    X = wide[:, 4:24]
    Y = rng.standard_normal((13, 3)).astype(dtype)
    assert not X.flags.c_contiguous
    contiguous = np.ascontiguousarray(X)
    np.testing.assert_array_equal(model.forward(X), model.forward(contiguous))
    for (dW, db), (dW2, db2) in zip(
        model.backward(X, Y, "mse"), model.backward(contiguous, Y, "mse"), strict=True
    ):
        np.testing.assert_array_equal(dW, dW2)
        np.testing.assert_array_equal(db, db2)
