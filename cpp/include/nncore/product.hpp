// The products of a dense layer, and how each is computed, decided here from the shapes alone:
//   times             Z = A·W + 1·bᵀ, Y = g(Z)            A (n, n_in)   W (n_in, n_out)   b (n_out)
//   transposed_times  dW[r0:r1, :] = A[:, r0:r1]ᵀ·dZ       dZ (n, n_out) (some rows of dW)
//   times_transposed  dA = dZ·Wᵀ                           dA (n, n_in)
//   column_sums       db[c0:c1] = Σ_rows dZ[:, c0:c1]
// The first of these that applies computes a product:
//   1. one row and a W of at most kSmallLayer entries: plain loops over W, without a matrix
//      product's set-up (stochastic gradient descent, single-row predict);
//   2. below kMinParallelWork multiply-adds, in AVX2+FMA builds: the register-tiled kernels of
//      nncore/tiled_product.hpp, the bias added in the same pass (a forward product narrower than
//      a tile, and dA of depth below 16, stay on Eigen; see there);
//   3. a registered BLAS (nncore/blas.hpp), for products of at least kMinParallelWork, threaded by
//      it; the pool then stays asleep (its spinning workers would compete with the BLAS's own);
//   4. Eigen, split into blocks of output columns on the thread pool when large enough
//      (column_blocks in nncore/parallel.hpp), each block an independent product.
// Every path sums in an order fixed by the shapes and the thread setting.
#pragma once

#include "nncore/activation.hpp"
#include "nncore/blas.hpp"
#include "nncore/parallel.hpp"
#include "nncore/tiled_product.hpp"
#include "nncore/types.hpp"

// Each product is inlined where a layer calls it, with its one-row loops: a one-sample training
// step is a few hundred multiply-adds, and a call per product showed in its time.
#if defined(__GNUC__)
#define NNCORE_PRODUCT inline __attribute__((always_inline))
#else
#define NNCORE_PRODUCT inline
#endif

namespace nncore::product {

// Path 1 is for a W of at most this many entries.
inline constexpr Index kSmallLayer = 1 << 14;
inline bool one_row(Index rows, Index weights) { return rows == 1 && weights <= kSmallLayer; }

namespace detail {

// Below this many outputs, the one-row loops run a column of W at a time: row by row, their
// inner loops are a few entries long, and times_one stores and reloads z at every step.
inline constexpr Index kNarrow = 8;

// z = b + Σ_i a_i W[i, :]   (b null: no bias)
template <class T>
NNCORE_PRODUCT void times_one(const T* __restrict a, const T* __restrict W, const T* __restrict b,
                              Index n_in, Index n_out, T* __restrict z) {
  if (n_out < kNarrow) {  // z_j = b_j + Σ_i a_i W[i, j], summed in a register (same order)
    for (Index j = 0; j < n_out; ++j) {
      T sum = b != nullptr ? b[j] : T(0);
      for (Index i = 0; i < n_in; ++i) sum += a[i] * W[i * n_out + j];
      z[j] = sum;
    }
    return;
  }
  for (Index j = 0; j < n_out; ++j) z[j] = b != nullptr ? b[j] : T(0);
  for (Index i = 0; i < n_in; ++i) {
    const T* __restrict w = W + i * n_out;
    for (Index j = 0; j < n_out; ++j) z[j] += a[i] * w[j];
  }
}

// dW[i, j] = a_i dz_j for the rows r0 ≤ i < r1
template <class T>
NNCORE_PRODUCT void transposed_times_one(const T* __restrict a, const T* __restrict dz, Index r0,
                                         Index r1, Index n_out, T* __restrict dW) {
  if (n_out == 1) {  // one column, contiguous: the loop the compiler vectorises
    for (Index i = r0; i < r1; ++i) dW[i] = a[i] * dz[0];
  } else if (n_out < kNarrow) {  // a column at a time: the inner loop runs over the inputs
    for (Index j = 0; j < n_out; ++j)
      for (Index i = r0; i < r1; ++i) dW[i * n_out + j] = a[i] * dz[j];
  } else {
    for (Index i = r0; i < r1; ++i)
      for (Index j = 0; j < n_out; ++j) dW[i * n_out + j] = a[i] * dz[j];
  }
}

// da_i = Σ_j W[i, j] dz_j
template <class T>
NNCORE_PRODUCT void times_transposed_one(const T* __restrict dz, const T* __restrict W, Index n_in,
                                         Index n_out, T* __restrict da) {
  if (n_out == 1) {  // one column, contiguous (0 + W·dz, as below: a product of −0 gives +0)
    for (Index i = 0; i < n_in; ++i) da[i] = T(0) + W[i] * dz[0];
    return;
  }
  if (n_out < kNarrow) {  // a column at a time, each sum still in the order of j
    for (Index i = 0; i < n_in; ++i) da[i] = 0;
    for (Index j = 0; j < n_out; ++j)
      for (Index i = 0; i < n_in; ++i) da[i] += W[i * n_out + j] * dz[j];
    return;
  }
  for (Index i = 0; i < n_in; ++i) {
    const T* __restrict w = W + i * n_out;
    T sum = 0;
    for (Index j = 0; j < n_out; ++j) sum += w[j] * dz[j];
    da[i] = sum;
  }
}

}  // namespace detail

// Z = A·W + 1·bᵀ (b of size 0: no bias), then Y = g(Z): on each column block on the thread that
// computed it (path 4), else over all of Z after the product; a softmax, which needs whole rows,
// always after the product.
template <class T>
NNCORE_PRODUCT void times(const ConstMatrixRef<T>& A, const ConstMatrixMap<T>& W,
                          const ConstRowVectorMap<T>& b, const Activation& g,
                          Eigen::Ref<Matrix<T>> Z, Eigen::Ref<Matrix<T>> Y) {
  const Index rows = A.rows(), n_in = W.rows(), n_out = W.cols();
  const bool bias = b.size() != 0;
  if (one_row(rows, W.size())) {
    detail::times_one<T>(A.data(), W.data(), bias ? b.data() : nullptr, n_in, n_out, Z.data());
    return activate<T>(g, Z, Y);
  }
  if (tiled::suits(rows, n_in, n_out) && n_out >= tiled::kTileWidth<T>) {
    tiled::multiply<T>(rows, n_out, n_in, {A.data(), A.outerStride(), 1}, W.data(), n_out,
                       bias ? b.data() : nullptr, Z.data(), Z.outerStride());
    return activate<T>(g, Z, Y);
  }
  const bool by_blocks = g.kind != ActivationKind::softmax;
  const bool done = blas_product<T>(A, false, W, false, Z);
  const int k = done ? 1 : column_blocks(rows, n_in, n_out);
  parallel_for(k, [&](int i) {
    const auto [c0, c1] = block_range(n_out, i, k);
    auto Zb = Z.middleCols(c0, c1 - c0);
    if (!done) Zb.noalias() = A * W.middleCols(c0, c1 - c0);
    if (bias) Zb.rowwise() += b.segment(c0, c1 - c0);
    if (by_blocks) activate<T>(g, Zb, Y.middleCols(c0, c1 - c0));
  });
  if (!by_blocks) activate<T>(g, Z, Y);
}

// dW[r0:r1, :] = A[:, r0:r1]ᵀ·dZ: the rows [r0, r1) of dW (a batch's gradient split between
// threads computes a range of rows on each).
template <class T>
NNCORE_PRODUCT void transposed_times(const ConstMatrixRef<T>& A, const ConstMatrixRef<T>& dZ,
                                     MatrixMap<T> dW, Index r0, Index r1) {
  const Index rows = dZ.rows(), n_in = r1 - r0, n_out = dW.cols();
  if (n_in == 0) return;
  if (one_row(rows, dW.size()))
    return detail::transposed_times_one<T>(A.data(), dZ.data(), r0, r1, n_out, dW.data());
  if (tiled::suits(n_in, rows, n_out))
    return tiled::multiply<T>(n_in, n_out, rows, {A.data() + r0, 1, A.outerStride()}, dZ.data(),
                              dZ.outerStride(), nullptr, dW.data() + r0 * n_out, n_out);
  auto dW_rows = dW.middleRows(r0, n_in);
  const auto A_cols = A.middleCols(r0, n_in);
  if (blas_product<T>(A_cols, true, dZ, false, dW_rows)) return;
  const int k = column_blocks(n_in, rows, n_out);
  parallel_for(k, [&](int i) {
    const auto [j0, j1] = block_range(n_out, i, k);
    dW_rows.middleCols(j0, j1 - j0).noalias() = A_cols.transpose() * dZ.middleCols(j0, j1 - j0);
  });
}

// dA = dZ·Wᵀ
template <class T>
NNCORE_PRODUCT void times_transposed(const ConstMatrixRef<T>& dZ, const ConstMatrixMap<T>& W,
                                     Eigen::Ref<Matrix<T>> dA) {
  const Index rows = dZ.rows(), n_in = W.rows(), n_out = W.cols();
  if (one_row(rows, W.size()))
    return detail::times_transposed_one<T>(dZ.data(), W.data(), n_in, n_out, dA.data());
  if (tiled::suits(rows, n_out, n_in) && n_out >= tiled::kMinTransposedDepth)
    return tiled::multiply_transposed<T>(rows, n_in, n_out, dZ.data(), dZ.outerStride(), W.data(),
                                         n_out, dA.data(), dA.outerStride());
  if (blas_product<T>(dZ, false, W, true, dA)) return;
  const int k = column_blocks(rows, n_out, n_in);
  parallel_for(k, [&](int i) {
    const auto [c0, c1] = block_range(n_in, i, k);
    dA.middleCols(c0, c1 - c0).noalias() = dZ * W.middleRows(c0, c1 - c0).transpose();
  });
}

// db[c0:c1] = Σ_rows dZ[:, c0:c1] (one row: the row itself, without a reduction's set-up)
template <class T>
NNCORE_PRODUCT void column_sums(const ConstMatrixRef<T>& dZ, Index c0, Index c1,
                                RowVectorMap<T> db) {
  if (dZ.rows() == 1)
    for (Index j = c0; j < c1; ++j) db[j] = dZ(0, j);
  else if (c1 > c0)
    db.segment(c0, c1 - c0).noalias() = dZ.middleCols(c0, c1 - c0).colwise().sum();
}

}  // namespace nncore::product
