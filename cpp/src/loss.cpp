#include "nncore/loss.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace nncore {

Loss Loss::from_name(const std::string& name) {
  if (name == "mean_squared_error") return {LossKind::mean_squared_error};
  if (name == "binary_cross_entropy") return {LossKind::binary_cross_entropy};
  if (name == "categorical_cross_entropy") return {LossKind::categorical_cross_entropy};
  throw std::invalid_argument("unknown loss '" + name +
                              "'; expected one of mean_squared_error, binary_cross_entropy, "
                              "categorical_cross_entropy");
}

std::string Loss::name() const {
  switch (kind) {
    case LossKind::mean_squared_error: return "mean_squared_error";
    case LossKind::binary_cross_entropy: return "binary_cross_entropy";
    case LossKind::categorical_cross_entropy: return "categorical_cross_entropy";
  }
  return "unknown";
}

void Loss::check_output_activation(const Activation& output) const {
  if (kind == LossKind::binary_cross_entropy && output.kind != ActivationKind::sigmoid)
    throw std::invalid_argument("binary_cross_entropy needs a sigmoid output layer, got " +
                                output.name());
  if (kind == LossKind::categorical_cross_entropy && output.kind != ActivationKind::softmax)
    throw std::invalid_argument("categorical_cross_entropy needs a softmax output layer, got " +
                                output.name());
}

template <class T>
double summed_error(const Loss& loss, const ConstMatrixRef<T>& Z, const ConstMatrixRef<T>& A,
                    const ConstMatrixRef<T>& Y) {
  const double k = static_cast<double>(Y.cols());
  double total = 0.0;
  switch (loss.kind) {
    case LossKind::mean_squared_error:
      for (Index i = 0; i < Y.rows(); ++i)
        total += static_cast<double>((A.row(i) - Y.row(i)).squaredNorm()) / k;
      return total;
    case LossKind::binary_cross_entropy:
      for (Index i = 0; i < Y.rows(); ++i) {
        const auto z = Z.row(i).array();
        // max(z,0) − z·y + log(1 + e^−|z|)
        total += static_cast<double>(
                     (z.max(T(0)) - z * Y.row(i).array() + (-z.abs()).exp().log1p()).sum()) /
                 k;
      }
      return total;
    case LossKind::categorical_cross_entropy:
      for (Index i = 0; i < Y.rows(); ++i) {
        const auto z = Z.row(i).array();
        const T shift = z.maxCoeff();
        const T log_sum_exp = shift + std::log((z - shift).exp().sum());
        total += static_cast<double>(log_sum_exp * Y.row(i).sum() -
                                     (Y.row(i).array() * z).sum());
      }
      return total;
  }
  return total;
}

template <class T>
void output_delta(const Loss& loss, const Activation& output, const ConstMatrixRef<T>& A,
                  const ConstMatrixRef<T>& Y, Eigen::Ref<Matrix<T>> dZ) {
  const T n = static_cast<T>(Y.rows());
  const T k = static_cast<T>(Y.cols());
  switch (loss.kind) {
    case LossKind::mean_squared_error:
      dZ = (T(2) / (n * k)) * (A - Y);  // dL/dA, then chain through g'
      apply_jacobian<T>(output, A, dZ, dZ);
      return;
    case LossKind::binary_cross_entropy: dZ = (A - Y) / (n * k); return;
    case LossKind::categorical_cross_entropy: dZ = (A - Y) / n; return;
  }
}

#define NNCORE_INSTANTIATE(T)                                                                  \
  template double summed_error<T>(const Loss&, const ConstMatrixRef<T>&,                       \
                                  const ConstMatrixRef<T>&, const ConstMatrixRef<T>&);         \
  template void output_delta<T>(const Loss&, const Activation&, const ConstMatrixRef<T>&,      \
                                const ConstMatrixRef<T>&, Eigen::Ref<Matrix<T>>);
NNCORE_INSTANTIATE(float)
NNCORE_INSTANTIATE(double)
#undef NNCORE_INSTANTIATE

}  // namespace nncore
