#include "nncore/activation.hpp"

#include <cmath>
#include <stdexcept>

namespace nncore {

Activation Activation::from_name(const std::string& name, double slope) {
  if (!std::isfinite(slope) || slope < 0.0)
    throw std::invalid_argument("leaky_relu slope must be finite and >= 0, got " +
                                std::to_string(slope));
  if (name == "identity") return {ActivationKind::identity, slope};
  if (name == "sigmoid") return {ActivationKind::sigmoid, slope};
  if (name == "tanh") return {ActivationKind::tanh, slope};
  if (name == "relu") return {ActivationKind::relu, slope};
  if (name == "leaky_relu") return {ActivationKind::leaky_relu, slope};
  if (name == "softmax") return {ActivationKind::softmax, slope};
  throw std::invalid_argument("unknown activation '" + name +
                              "'; expected one of identity, sigmoid, tanh, relu, leaky_relu, "
                              "softmax");
}

std::string Activation::name() const {
  switch (kind) {
    case ActivationKind::identity: return "identity";
    case ActivationKind::sigmoid: return "sigmoid";
    case ActivationKind::tanh: return "tanh";
    case ActivationKind::relu: return "relu";
    case ActivationKind::leaky_relu: return "leaky_relu";
    case ActivationKind::softmax: return "softmax";
  }
  return "unknown";
}

template <class T>
void activate_in_place(const Activation& activation, Eigen::Ref<Matrix<T>> A) {
  auto a = A.array();
  const T slope = static_cast<T>(activation.slope);
  switch (activation.kind) {
    case ActivationKind::identity: return;
    case ActivationKind::sigmoid: a = a.logistic(); return;
    case ActivationKind::tanh: a = a.tanh(); return;
    case ActivationKind::relu: a = a.max(T(0)); return;
    case ActivationKind::leaky_relu: a = (a > T(0)).select(a, slope * a); return;
    case ActivationKind::softmax:
      // Shift by the row maximum so that exp never overflows: softmax(z) = softmax(z - max z).
      for (Index i = 0; i < A.rows(); ++i) {
        auto row = A.row(i).array();
        row = (row - row.maxCoeff()).exp();
        row /= row.sum();
      }
      return;
  }
}

template <class T>
void apply_jacobian(const Activation& activation, const ConstMatrixRef<T>& A,
                    const ConstMatrixRef<T>& dA, Eigen::Ref<Matrix<T>> dZ) {
  const auto a = A.array();
  const auto da = dA.array();
  const T slope = static_cast<T>(activation.slope);
  switch (activation.kind) {
    case ActivationKind::identity: dZ = dA; return;
    case ActivationKind::sigmoid: dZ.array() = da * a * (T(1) - a); return;
    case ActivationKind::tanh: dZ.array() = da * (T(1) - a.square()); return;
    case ActivationKind::relu: dZ.array() = (a > T(0)).select(da, T(0)); return;
    case ActivationKind::leaky_relu: dZ.array() = (a > T(0)).select(da, slope * da); return;
    case ActivationKind::softmax:
      for (Index i = 0; i < A.rows(); ++i) {
        const T weighted = (dA.row(i).array() * A.row(i).array()).sum();  // Σ_k dA_k A_k
        dZ.row(i).array() = A.row(i).array() * (dA.row(i).array() - weighted);
      }
      return;
  }
}

template void activate_in_place<float>(const Activation&, Eigen::Ref<Matrix<float>>);
template void activate_in_place<double>(const Activation&, Eigen::Ref<Matrix<double>>);
template void apply_jacobian<float>(const Activation&, const ConstMatrixRef<float>&,
                                    const ConstMatrixRef<float>&, Eigen::Ref<Matrix<float>>);
template void apply_jacobian<double>(const Activation&, const ConstMatrixRef<double>&,
                                     const ConstMatrixRef<double>&, Eigen::Ref<Matrix<double>>);

}  // namespace nncore
