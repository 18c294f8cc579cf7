// Activation functions g, applied element-wise (softmax: row-wise) to a batch of pre-activations.
// Every activation here has a derivative that can be written with its output A = g(Z) alone,
// so backward propagation needs only the stored activations:
//   identity    g(z) = z                       g' = 1
//   sigmoid     g(z) = 1 / (1 + e^-z)          g' = a (1 - a)
//   tanh        g(z) = tanh z                  g' = 1 - a²
//   relu        g(z) = max(z, 0)               g' = [a > 0]             (0 at z = 0, as PyTorch)
//   leaky_relu  g(z) = z if z > 0 else s·z     g' = 1 if a > 0 else s   (slope s ≥ 0)
//   softmax     g(z)_k = e^z_k / Σ_j e^z_j     dZ = A ⊙ (dA − Σ_k dA_k A_k)  (row-wise Jacobian)
#pragma once

#include <string>

#include "nncore/types.hpp"

namespace nncore {

enum class ActivationKind { identity, sigmoid, tanh, relu, leaky_relu, softmax };

struct Activation {
  ActivationKind kind = ActivationKind::identity;
  double slope = 0.01;  // leaky_relu only

  // Parses "identity", "sigmoid", "tanh", "relu", "leaky_relu", "softmax"; throws
  // std::invalid_argument for any other name or a negative/non-finite slope.
  static Activation from_name(const std::string& name, double slope = 0.01);
  std::string name() const;
};

// A = g(A) in place, for a batch (rows are samples).
template <class T>
void activate_in_place(const Activation& activation, Eigen::Ref<Matrix<T>> A);

// dZ = g'(Z) ⊙ dA, written with the activation's output A; dZ may be the same buffer as dA.
template <class T>
void apply_jacobian(const Activation& activation, const ConstMatrixRef<T>& A,
                    const ConstMatrixRef<T>& dA, Eigen::Ref<Matrix<T>> dZ);

}  // namespace nncore
