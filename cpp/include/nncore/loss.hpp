// Error functions: the mean over the batch of a per-sample error, fused with the output
// activation where that makes dL/dZ simple and stable. n = rows of the batch, k = outputs.
//   mean_squared_error         L = 1/(n·k) Σ_ij (a_ij − y_ij)²          any output activation
//                              dL/dA = 2 (A − Y) / (n·k), then through g'
//   binary_cross_entropy       L = 1/(n·k) Σ_ij [max(z,0) − z·y + log(1 + e^−|z|)]   (sigmoid)
//                              dL/dZ = (σ(Z) − Y) / (n·k)
//   categorical_cross_entropy  L = 1/n Σ_i [logsumexp(z_i) − Σ_k y_ik z_ik]          (softmax)
//                              dL/dZ = (softmax(Z) − Y) / n     (rows of Y sum to 1)
// The cross-entropies are evaluated on the logits Z, never as log(σ(z)), so no log(0) and no
// overflow for logits of any finite size.
#pragma once

#include <string>

#include "nncore/activation.hpp"
#include "nncore/types.hpp"

namespace nncore {

enum class LossKind { mean_squared_error, binary_cross_entropy, categorical_cross_entropy };

struct Loss {
  LossKind kind = LossKind::mean_squared_error;

  // Parses the names above; throws std::invalid_argument for any other.
  static Loss from_name(const std::string& name);
  std::string name() const;
  // Throws std::invalid_argument unless this loss can follow the given output activation.
  void check_output_activation(const Activation& output) const;
};

// The per-sample errors of a batch summed over its rows (divide by n for the mean).
// Z: logits (n, k); A = g(Z); Y: targets (n, k).
template <class T>
double summed_error(const Loss& loss, const ConstMatrixRef<T>& Z, const ConstMatrixRef<T>& A,
                    const ConstMatrixRef<T>& Y);

// dL/dZ of the batch-mean loss for the output layer.
template <class T>
void output_delta(const Loss& loss, const Activation& output, const ConstMatrixRef<T>& A,
                  const ConstMatrixRef<T>& Y, Eigen::Ref<Matrix<T>> dZ);

}  // namespace nncore
