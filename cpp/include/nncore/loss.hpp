// Error functions. Each is a weighted mean over the batch of a per-sample error ℓ_i,
//   L = Σ_i w_i ℓ_i / Σ_i w_i      (w_i = 1 without sample weights, so L = (1/n) Σ_i ℓ_i),
// fused with the output activation where that makes dL/dZ simple and stable (k = outputs):
//   mean_squared_error         ℓ_i = 1/k Σ_j (a_ij − y_ij)²                      any output
//                              dℓ_i/da_ij = 2 (a_ij − y_ij) / k, then through g'
//   mean_absolute_error        ℓ_i = 1/k Σ_j |a_ij − y_ij|                       any output
//                              dℓ_i/da_ij = sign(a_ij − y_ij) / k   (sign(0) = 0, as PyTorch)
//   huber (δ)                  ℓ_i = 1/k Σ_j h(a_ij − y_ij), h(r) = ½r² if |r| ≤ δ else δ(|r| − ½δ)
//                              dℓ_i/da_ij = clamp(a_ij − y_ij, −δ, δ) / k        any output
//   binary_cross_entropy       ℓ_i = 1/k Σ_j [max(z,0) − z·y + log(1 + e^−|z|)]  sigmoid output
//                              dℓ_i/dz_ij = (σ(z_ij) − y_ij) / k
//   categorical_cross_entropy  ℓ_i = logsumexp(z_i) − Σ_j y_ij z_ij              softmax output
//                              dℓ_i/dz_ij = softmax(z_i)_j − y_ij     (rows of Y sum to 1)
//   poisson                    ℓ_i = 1/k Σ_j [e^z − y·z + xlogy(y, y) − y]         identity output
//                              dℓ_i/dz_ij = (e^z_ij − y_ij) / k       (targets y >= 0)
//     the half Poisson deviance y·log(y/μ) − y + μ of the rate μ = e^z: the output z is the
//     log-rate (PyTorch's PoissonNLLLoss(log_input=True) plus the constant xlogy(y, y) − y, which
//     makes ℓ = 0 at μ = y); xlogy(0, 0) = 0. Evaluated on z, never as log(μ): no log(0).
// The cross-entropies are evaluated on the logits Z, never as log(σ(z)): no log(0), no overflow.
// A batch whose weights sum to 0 has loss 0 and gradient 0.
#pragma once

#include <string>
#include <vector>

#include "nncore/activation.hpp"
#include "nncore/names.hpp"
#include "nncore/types.hpp"

namespace nncore {

enum class LossKind {
  mean_squared_error,
  mean_absolute_error,
  huber,
  binary_cross_entropy,
  categorical_cross_entropy,
  poisson
};

// The one list of loss names: every kind under its own name, then the aliases (other names of a
// kind listed before). from_name and name() read it, and so does Python
// (nncore._core.loss_names()).
const std::vector<Name<LossKind>>& loss_names();

struct Loss {
  LossKind kind = LossKind::mean_squared_error;
  double delta = 1.0;  // huber: δ

  // Parses any name of loss_names(); throws std::invalid_argument for any other, or a
  // non-positive δ.
  static Loss from_name(const std::string& name, double delta = 1.0);
  // The kind's own name (its first entry in loss_names()).
  std::string name() const;
  // Throws std::invalid_argument unless this loss can follow the given output activation.
  void check_output_activation(const Activation& output) const;
  // Throws std::invalid_argument unless the targets are in this loss's domain (poisson: y >= 0).
  template <class T>
  void check_targets(const ConstMatrixRef<T>& Y) const;
};

// Σ_i w_i ℓ_i over the rows of a batch. Z: logits (n, k); A = g(Z); Y: targets (n, k);
// weights: (n) or empty for all ones.
template <class T>
double summed_error(const Loss& loss, const ConstMatrixRef<T>& Z, const ConstMatrixRef<T>& A,
                    const ConstMatrixRef<T>& Y, const ConstVectorRef<T>& weights);

// dL/dZ of the output layer for L = Σ_i w_i ℓ_i / weight_sum (weight_sum = n without weights).
template <class T>
void output_delta(const Loss& loss, const Activation& output, const ConstMatrixRef<T>& Z,
                  const ConstMatrixRef<T>& A, const ConstMatrixRef<T>& Y,
                  const ConstVectorRef<T>& weights, double weight_sum, Eigen::Ref<Matrix<T>> dZ);

// A row of a network of one output (fit's one-sample path): w ℓ (0 for a weight of 0) and dL/dz
// for L = w ℓ / weight_sum, from its logit z, output a = g(z), target y and weight (nullptr: 1).
// The arithmetic of summed_error and output_delta on that row, bit for bit: the same formulas,
// instantiated for one entry instead of through the matrix views of a batch.
template <class T>
double one_output_error(const Loss& loss, T z, T a, T y, const T* weight);
template <class T>
T one_output_delta(const Loss& loss, const Activation& output, T z, T a, T y, const T* weight,
                   double weight_sum);

}  // namespace nncore
