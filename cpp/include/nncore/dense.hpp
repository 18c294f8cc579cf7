// A dense (fully connected) layer: a view of its weights and biases inside the network's flat
// parameter buffer, and of their gradients inside the flat gradient buffer. Shapes, for a batch of
// n samples:  A_prev (n, n_in)   W (n_in, n_out)   b (n_out)   Z, A, dZ (n, n_out)
// Large products are split into blocks of output columns [c0, c1) run on the thread pool
// (nncore/parallel.hpp); each block does its whole share: product, bias and activation.
#pragma once

#include "nncore/activation.hpp"
#include "nncore/parallel.hpp"
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
    const bool row_wise = activation.kind == ActivationKind::softmax;  // needs whole rows
    const int k = column_blocks(A_prev.rows(), W.rows(), W.cols());
    parallel_for(k, [&](int i) {
      const auto [c0, c1] = block_range(W.cols(), i, k);
      auto Zb = Z.middleCols(c0, c1 - c0);
      if (A_prev.rows() == 1)  // one sample: a matrix-vector product, no GEMM set-up
        Zb.row(0).noalias() = A_prev.row(0) * W.middleCols(c0, c1 - c0);
      else
        Zb.noalias() = A_prev * W.middleCols(c0, c1 - c0);
      if (has_bias()) Zb.rowwise() += b.segment(c0, c1 - c0);
      if (!row_wise) activate<T>(activation, Zb, A.middleCols(c0, c1 - c0));
    });
    if (row_wise) activate<T>(activation, Z, A);
  }

  // Backward propagation, given dZ = dL/dZ of this layer:
  //   dL/dW = A_prev^T · dZ      dL/db = Σ_rows dZ
  void accumulate_gradients(const ConstMatrixRef<T>& A_prev, const ConstMatrixRef<T>& dZ) {
    const int k = column_blocks(A_prev.cols(), A_prev.rows(), dZ.cols());
    parallel_for(k, [&](int i) {
      const auto [c0, c1] = block_range(dZ.cols(), i, k);
      auto dWb = dW.middleCols(c0, c1 - c0);
      if (A_prev.rows() == 1)  // one sample: an outer product
        dWb.noalias() = A_prev.row(0).transpose() * dZ.row(0).segment(c0, c1 - c0);
      else
        dWb.noalias() = A_prev.transpose() * dZ.middleCols(c0, c1 - c0);
      if (has_bias())
        db.segment(c0, c1 - c0).noalias() = dZ.middleCols(c0, c1 - c0).colwise().sum();
    });
  }

  // and the error passed to the layer below:  dL/dA_prev = dZ · W^T
  void propagate(const ConstMatrixRef<T>& dZ, Eigen::Ref<Matrix<T>> dA_prev) const {
    const int k = column_blocks(dZ.rows(), W.cols(), W.rows());
    parallel_for(k, [&](int i) {
      const auto [c0, c1] = block_range(W.rows(), i, k);
      auto dAb = dA_prev.middleCols(c0, c1 - c0);
      if (dZ.rows() == 1)
        dAb.row(0).noalias() = dZ.row(0) * W.middleRows(c0, c1 - c0).transpose();
      else
        dAb.noalias() = dZ * W.middleRows(c0, c1 - c0).transpose();
    });
  }
};

}  // namespace nncore
