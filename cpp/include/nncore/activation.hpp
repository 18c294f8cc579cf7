// Activation functions g, applied element-wise (softmax: row-wise) to a batch of
// pre-activations Z, with the rule for backward propagation dZ = g'(Z) ⊙ dA:
// clang-format off
//   identity    g = z                                g' = 1
//   sigmoid     g = σ(z) = 1 / (1 + e^−z)            g' = a (1 − a)
//   tanh        g = tanh z                           g' = 1 − a²
//   relu        g = max(z, 0)                        g' = [z > 0]  (0 at z = 0, as PyTorch)
//   leaky_relu  g = z if z > 0 else s·z              g' = 1 if z > 0 else s  (slope s ≥ 0)
//   elu         g = z if z > 0 else α(e^z − 1)       g' = 1 if z > 0 else a + α
//   gelu        g = z Φ(z) = ½ z (1 + erf(z/√2))     g' = Φ(z) + z φ(z)
//   gelu_tanh   g = ½ z (1 + tanh u),  u = √(2/π)(z + 0.044715 z³)
//               g' = ½ (1 + tanh u) + ½ z (1 − tanh² u) √(2/π)(1 + 3·0.044715 z²)
//   softplus    g = log(1 + e^z) = max(z, 0) + log(1 + e^−|z|)    g' = σ(z) = 1 − e^−a
//   swish       g = z σ(z)  (SiLU)                   g' = σ(z) (1 + z (1 − σ(z)))
//   softmax     g_k = e^z_k / Σ_j e^z_j              dZ = A ⊙ (dA − Σ_k dA_k A_k)  (row-wise)
// clang-format on
#pragma once

#include <string>
#include <vector>

#include "nncore/names.hpp"
#include "nncore/types.hpp"

namespace nncore {

enum class ActivationKind {
  identity,
  sigmoid,
  tanh,
  relu,
  leaky_relu,
  elu,
  gelu,
  gelu_tanh,
  softplus,
  swish,
  softmax
};

// The one list of activation names: every kind under its own name, then the aliases (other names
// of a kind listed before). from_name and name() read it, and so does Python
// (nncore._core.activation_names()): a new activation is an entry here, its enum value and its
// two formulas.
const std::vector<Name<ActivationKind>>& activation_names();

struct Activation {
  ActivationKind kind = ActivationKind::identity;
  double slope = 0.01;  // leaky_relu: s
  double alpha = 1.0;   // elu: α

  // Parses any name of activation_names(); throws std::invalid_argument for any other name, a
  // negative or non-finite slope, or a non-positive or non-finite alpha.
  static Activation from_name(const std::string& name, double slope = 0.01, double alpha = 1.0);
  // The kind's own name (its first entry in activation_names()).
  std::string name() const;
};

// A = g(Z) for a batch (rows are samples). A may be the same buffer as Z.
template <class T>
void activate(const Activation& activation, const ConstMatrixRef<T>& Z, Eigen::Ref<Matrix<T>> A);

// dZ = g'(Z) ⊙ dA, given Z and A = g(Z); dZ may be the same buffer as dA.
template <class T>
void apply_jacobian(const Activation& activation, const ConstMatrixRef<T>& Z,
                    const ConstMatrixRef<T>& A, const ConstMatrixRef<T>& dA,
                    Eigen::Ref<Matrix<T>> dZ);

// activate and apply_jacobian on one row of n entries at z, a, da, dz (fit's one-sample path).
template <class T>
void activate_row(const Activation& activation, const T* z, T* a, Index n);
template <class T>
void apply_jacobian_row(const Activation& activation, const T* z, const T* a, const T* da, T* dz,
                        Index n);

}  // namespace nncore
