// A dense (fully connected) layer: a view of its weights and biases inside the network's flat
// parameter buffer, and of their gradients inside the flat gradient buffer. Shapes, for a batch of
// n samples:  A_prev (n, n_in)   W (n_in, n_out)   b (n_out)   Z, A, dZ (n, n_out)
// How each product is computed (loops, tiled kernels, BLAS, the pool) is nncore/product.hpp's.
#pragma once

#include "nncore/activation.hpp"
#include "nncore/product.hpp"
#include "nncore/types.hpp"

namespace nncore {

template <class T>
struct Dense {
  ConstMatrixMap<T> W;     // (n_in, n_out)
  ConstRowVectorMap<T> b;  // (n_out), or size 0 without bias
  MatrixMap<T> dW;         // dL/dW, (n_in, n_out)
  RowVectorMap<T> db;      // dL/db, (n_out), or size 0 without bias
  const Activation& activation;

  // Forward propagation:  Z = A_prev·W + b,  A = g(Z)
  void forward(const ConstMatrixRef<T>& A_prev, Eigen::Ref<Matrix<T>> Z,
               Eigen::Ref<Matrix<T>> A) const {
    product::times<T>(A_prev, W, b, activation, Z, A);
  }

  // Backward propagation, given dZ = dL/dZ of this layer:
  //   dL/dW = A_prevᵀ·dZ      dL/db = Σ_rows dZ
  // Only the rows [r0, r1) of dL/dW and the entries [c0, c1) of dL/db: a batch's gradient split
  // between threads (Network::accumulate_gradients).
  void accumulate_gradients(const ConstMatrixRef<T>& A_prev, const ConstMatrixRef<T>& dZ, Index r0,
                            Index r1, Index c0, Index c1) {
    product::column_sums<T>(dZ, c0, c1, db);
    product::transposed_times<T>(A_prev, dZ, dW, r0, r1);
  }

  // and the error passed to the layer below:  dL/dA_prev = dZ·Wᵀ
  void propagate(const ConstMatrixRef<T>& dZ, Eigen::Ref<Matrix<T>> dA_prev) const {
    product::times_transposed<T>(dZ, W, dA_prev);
  }
};

}  // namespace nncore
