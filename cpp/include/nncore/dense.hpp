// A dense (fully connected) layer: a view of its weights and biases inside the network's flat
// parameter buffer, and of their gradients inside the flat gradient buffer. Shapes, for a batch of
// n samples:  A_prev (n, n_in)   W (n_in, n_out)   b (n_out)   Z, A, dZ (n, n_out)
// Small products (below kMinParallelWork) run on the register-tiled kernels of
// nncore/tiled_product.hpp in AVX2+FMA builds, the bias added in the same pass (a forward product
// narrower than a tile, and dA_prev of depth below 16, stay on Eigen; see there). Large products
// run on the registered BLAS when there is one (nncore/blas.hpp), threaded by it, with the bias and
// activation passes then on the calling thread; else they are split into blocks of output columns
// on the thread pool (nncore/parallel.hpp), each block with its part of the bias and activation
// passes.
#pragma once

#include "nncore/activation.hpp"
#include "nncore/blas.hpp"
#include "nncore/parallel.hpp"
#include "nncore/tiled_product.hpp"
#include "nncore/types.hpp"

namespace nncore {

template <class T>
struct Dense {
  MatrixMap<T> W;      // (n_in, n_out)
  RowVectorMap<T> b;   // (n_out), or size 0 without bias
  MatrixMap<T> dW;     // dL/dW, (n_in, n_out)
  RowVectorMap<T> db;  // dL/db, (n_out), or size 0 without bias
  const Activation& activation;

  bool has_bias() const { return b.size() != 0; }

  // Forward propagation:  Z = A_prev·W + b,  A = g(Z)
  void forward(const ConstMatrixRef<T>& A_prev, Eigen::Ref<Matrix<T>> Z,
               Eigen::Ref<Matrix<T>> A) const {
    if (A_prev.rows() == 1 && small()) {
      forward_one(A_prev.data(), Z.data());
      return activate<T>(activation, Z, A);
    }
    const Index rows = A_prev.rows(), n_in = W.rows(), n_out = W.cols();
    if (tiled::suits(rows, n_in, n_out) && n_out >= tiled::kTileWidth<T>) {
      tiled::multiply<T>(rows, n_out, n_in, {A_prev.data(), A_prev.outerStride(), 1}, W.data(),
                         n_out, has_bias() ? b.data() : nullptr, Z.data(), Z.outerStride());
      return activate<T>(activation, Z, A);
    }
    const bool row_wise = activation.kind == ActivationKind::softmax;  // needs whole rows
    const bool done = blas_product<T>(A_prev, false, W, false, Z);
    // After a BLAS product the pool stays asleep: its spinning workers would compete with the
    // BLAS's own for the cores.
    const int k = done ? 1 : column_blocks(A_prev.rows(), W.rows(), W.cols());
    parallel_for(k, [&](int i) {
      const auto [c0, c1] = block_range(W.cols(), i, k);
      auto Zb = Z.middleCols(c0, c1 - c0);
      if (!done) Zb.noalias() = A_prev * W.middleCols(c0, c1 - c0);
      if (has_bias()) Zb.rowwise() += b.segment(c0, c1 - c0);
      if (!row_wise) activate<T>(activation, Zb, A.middleCols(c0, c1 - c0));
    });
    if (row_wise) activate<T>(activation, Z, A);
  }

  // Backward propagation, given dZ = dL/dZ of this layer:
  //   dL/dW = A_prev^T · dZ      dL/db = Σ_rows dZ
  // Only the rows [r0, r1) of dL/dW and the entries [c0, c1) of dL/db: a batch's gradient split
  // between threads (Network::accumulate_gradients).
  void accumulate_gradients(const ConstMatrixRef<T>& A_prev, const ConstMatrixRef<T>& dZ, Index r0,
                            Index r1, Index c0, Index c1) {
    const Index rows = dZ.rows(), n_in = r1 - r0, n_out = W.cols();
    if (rows == 1)  // one sample: db = dz (c1 = c0 = 0 without a bias)
      for (Index j = c0; j < c1; ++j) db[j] = dZ(0, j);
    else if (c1 > c0)
      db.segment(c0, c1 - c0).noalias() = dZ.middleCols(c0, c1 - c0).colwise().sum();
    if (n_in == 0) return;
    if (rows == 1 && small()) return accumulate_gradients_one(A_prev.data(), dZ.data(), r0, r1);
    if (tiled::suits(n_in, rows, n_out))
      return tiled::multiply<T>(n_in, n_out, rows, {A_prev.data() + r0, 1, A_prev.outerStride()},
                                dZ.data(), dZ.outerStride(), nullptr, dW.data() + r0 * n_out,
                                n_out);
    auto dW_rows = dW.middleRows(r0, n_in);
    const auto A_cols = A_prev.middleCols(r0, n_in);
    if (blas_product<T>(A_cols, true, dZ, false, dW_rows)) return;
    const int k = column_blocks(n_in, rows, n_out);
    parallel_for(k, [&](int i) {
      const auto [j0, j1] = block_range(n_out, i, k);
      dW_rows.middleCols(j0, j1 - j0).noalias() = A_cols.transpose() * dZ.middleCols(j0, j1 - j0);
    });
  }

  // and the error passed to the layer below:  dL/dA_prev = dZ · W^T
  void propagate(const ConstMatrixRef<T>& dZ, Eigen::Ref<Matrix<T>> dA_prev) const {
    if (dZ.rows() == 1 && small()) return propagate_one(dZ.data(), dA_prev.data());
    const Index rows = dZ.rows(), n_in = W.rows(), n_out = W.cols();
    if (tiled::suits(rows, n_out, n_in) && n_out >= tiled::kMinTransposedDepth)
      return tiled::multiply_transposed<T>(rows, n_in, n_out, dZ.data(), dZ.outerStride(), W.data(),
                                           n_out, dA_prev.data(), dA_prev.outerStride());
    if (blas_product<T>(dZ, false, W, true, dA_prev)) return;
    const int k = column_blocks(dZ.rows(), W.cols(), W.rows());
    parallel_for(k, [&](int i) {
      const auto [c0, c1] = block_range(W.rows(), i, k);
      dA_prev.middleCols(c0, c1 - c0).noalias() = dZ * W.middleRows(c0, c1 - c0).transpose();
    });
  }

  // One sample of a small layer (stochastic gradient descent, single-row predict): the same
  // formulas as plain loops over W, without a matrix product's set-up.
  bool small() const { return W.size() <= kSmallLayer; }
  static constexpr Index kSmallLayer = 1 << 14;
  // Below this many outputs, the one-sample loops run a column of W at a time: row by row, their
  // inner loops are a few entries long, and forward_one stores and reloads z at every step.
  static constexpr Index kNarrow = 8;

  // z = b + Σ_i a_i W[i, :]
  void forward_one(const T* __restrict a, T* __restrict z) const {
    const Index n_in = W.rows(), n_out = W.cols();
    if (n_out < kNarrow) {  // z_j = b_j + Σ_i a_i W[i, j], summed in a register (same order)
      for (Index j = 0; j < n_out; ++j) {
        T sum = has_bias() ? b[j] : T(0);
        for (Index i = 0; i < n_in; ++i) sum += a[i] * W.data()[i * n_out + j];
        z[j] = sum;
      }
      return;
    }
    for (Index j = 0; j < n_out; ++j) z[j] = has_bias() ? b[j] : T(0);
    for (Index i = 0; i < n_in; ++i) {
      const T* __restrict w = W.data() + i * n_out;
      for (Index j = 0; j < n_out; ++j) z[j] += a[i] * w[j];
    }
  }
  // dW[i, j] = a_i dz_j for the rows r0 ≤ i < r1
  void accumulate_gradients_one(const T* __restrict a, const T* __restrict dz, Index r0, Index r1) {
    const Index n_out = W.cols();
    T* __restrict dw = dW.data();
    if (n_out < kNarrow) {  // a column at a time: the inner loop runs over the inputs
      for (Index j = 0; j < n_out; ++j)
        for (Index i = r0; i < r1; ++i) dw[i * n_out + j] = a[i] * dz[j];
    } else {
      for (Index i = r0; i < r1; ++i)
        for (Index j = 0; j < n_out; ++j) dw[i * n_out + j] = a[i] * dz[j];
    }
  }
  // dA_prev_i = Σ_j W[i, j] dz_j
  void propagate_one(const T* __restrict dz, T* __restrict da) const {
    const Index n_in = W.rows(), n_out = W.cols();
    if (n_out < kNarrow) {  // a column at a time, each sum still in the order of j
      for (Index i = 0; i < n_in; ++i) da[i] = 0;
      for (Index j = 0; j < n_out; ++j)
        for (Index i = 0; i < n_in; ++i) da[i] += W.data()[i * n_out + j] * dz[j];
      return;
    }
    for (Index i = 0; i < n_in; ++i) {
      const T* __restrict w = W.data() + i * n_out;
      T sum = 0;
      for (Index j = 0; j < n_out; ++j) sum += w[j] * dz[j];
      da[i] = sum;
    }
  }
};

}  // namespace nncore
