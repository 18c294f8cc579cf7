// A dense (fully connected) layer: a view of its weights and biases inside the network's flat
// parameter buffer, and of their gradients inside the flat gradient buffer. Shapes, for a batch of
// n samples:  A_prev (n, n_in)   W (n_in, n_out)   b (n_out)   Z, A, dZ (n, n_out)
#pragma once

#include "nncore/activation.hpp"
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
    if (A_prev.rows() == 1)  // one sample: a matrix-vector product, no GEMM set-up
      Z.row(0).noalias() = A_prev.row(0) * W;
    else
      Z.noalias() = A_prev * W;
    if (has_bias()) Z.rowwise() += b;
    activate<T>(activation, Z, A);
  }

  // Backward propagation, given dZ = dL/dZ of this layer:
  //   dL/dW = A_prev^T · dZ      dL/db = Σ_rows dZ
  void accumulate_gradients(const ConstMatrixRef<T>& A_prev, const ConstMatrixRef<T>& dZ) {
    if (A_prev.rows() == 1)  // one sample: an outer product
      dW.noalias() = A_prev.row(0).transpose() * dZ.row(0);
    else
      dW.noalias() = A_prev.transpose() * dZ;
    if (has_bias()) db.noalias() = dZ.colwise().sum();
  }
  // and the error passed to the layer below:  dL/dA_prev = dZ · W^T
  void propagate(const ConstMatrixRef<T>& dZ, Eigen::Ref<Matrix<T>> dA_prev) const {
    if (dZ.rows() == 1)
      dA_prev.row(0).noalias() = dZ.row(0) * W.transpose();
    else
      dA_prev.noalias() = dZ * W.transpose();
  }
};

}  // namespace nncore
