#include "nncore/loss.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>

#include "exp.hpp"

namespace nncore {

const std::vector<Name<LossKind>>& loss_names() {
  static const std::vector<Name<LossKind>> names = {
      {"mean_squared_error", LossKind::mean_squared_error},
      {"mean_absolute_error", LossKind::mean_absolute_error},
      {"huber", LossKind::huber},
      {"binary_cross_entropy", LossKind::binary_cross_entropy},
      {"categorical_cross_entropy", LossKind::categorical_cross_entropy},
      {"poisson", LossKind::poisson},
      // aliases
      {"mse", LossKind::mean_squared_error},
      {"mae", LossKind::mean_absolute_error},
      {"bce", LossKind::binary_cross_entropy},
      {"cce", LossKind::categorical_cross_entropy},
      {"cross_entropy", LossKind::categorical_cross_entropy},
  };
  return names;
}

Loss Loss::from_name(const std::string& name, double delta) {
  if (!std::isfinite(delta) || delta <= 0.0)
    throw std::invalid_argument("huber delta must be finite and > 0, got " + std::to_string(delta));
  return {kind_named(loss_names(), name, "loss"), delta};
}

std::string Loss::name() const { return own_name(loss_names(), kind); }

void Loss::check_output_activation(const Activation& output) const {
  if (kind == LossKind::binary_cross_entropy && output.kind != ActivationKind::sigmoid)
    throw std::invalid_argument("binary_cross_entropy needs a sigmoid output layer, got " +
                                output.name());
  if (kind == LossKind::categorical_cross_entropy && output.kind != ActivationKind::softmax)
    throw std::invalid_argument("categorical_cross_entropy needs a softmax output layer, got " +
                                output.name());
  if (kind == LossKind::poisson && output.kind != ActivationKind::identity)
    throw std::invalid_argument(
        "poisson takes the log-rate z (the rate is e^z): it needs an identity output layer, got " +
        output.name());
}

template <class T>
void Loss::check_targets(const ConstMatrixRef<T>& Y) const {
  if (kind == LossKind::poisson && (Y.array() < T(0)).any())
    throw std::invalid_argument("poisson needs targets y >= 0 (counts or rates)");
}

namespace {

// y·log(y), 0 at y = 0.
template <class Y>
auto xlogy_self(const Y& y) {
  using T = typename Y::Scalar;
  return (y > T(0)).select(y * y.max(std::numeric_limits<T>::min()).log(), T(0));
}

// ℓ of one sample from the arrays of its row, k entries each: z the logits, a = g(z), y the
// targets. The formulas of every loss, for the rows of a batch (sample_error) and for fit's
// rows of one output (one_output_error), which instantiate them for a single entry.
template <class T, class Z, class A, class Y>
double row_error(const Loss& loss, const Z& z, const A& a, const Y& y) {
  const double k = static_cast<double>(y.size());
  const auto r = a - y;  // residual a − y
  const T delta = static_cast<T>(loss.delta);
  switch (loss.kind) {
    case LossKind::mean_squared_error: return static_cast<double>(r.square().sum()) / k;
    case LossKind::mean_absolute_error: return static_cast<double>(r.abs().sum()) / k;
    case LossKind::huber:
      return static_cast<double>(
                 (r.abs() <= delta)
                     .select(T(0.5) * r.square(), delta * (r.abs() - T(0.5) * delta))
                     .sum()) /
             k;
    case LossKind::binary_cross_entropy:
      return static_cast<double>((z.max(T(0)) - z * y + exp_array(-z.abs()).log1p()).sum()) / k;
    case LossKind::categorical_cross_entropy: {
      const T shift = z.maxCoeff();
      const T log_sum_exp = shift + std::log(exp_array(z - shift).sum());
      // Σ_k y_k as an expression (y · 1): Eigen sums a plain row of memory in an order that
      // follows its address, an expression always from its first element, so ℓ_i does not
      // depend on where the row lies (a row read in place in X's array, or a gathered copy).
      const T y_sum = (y * T(1)).sum();
      return static_cast<double>(log_sum_exp * y_sum - (y * z).sum());
    }
    case LossKind::poisson:
      return static_cast<double>((exp_array(z) - y * z + xlogy_self(y) - y).sum()) / k;
  }
  return 0.0;
}

// ℓ_i of one sample (row i).
template <class T>
double sample_error(const Loss& loss, const ConstMatrixRef<T>& Z, const ConstMatrixRef<T>& A,
                    const ConstMatrixRef<T>& Y, Index i) {
  return row_error<T>(loss, Z.row(i).array(), A.row(i).array(), Y.row(i).array());
}

// dL/dZ for L = Σ_i w_i ℓ_i / weight_sum into dZ, for the matrices of a batch (output_delta) or
// the 1 × 1 ones of a row of one output (one_output_delta): the same formulas either way.
template <class T, class MZ, class MA, class MY, class MW, class MD>
void delta_of(const Loss& loss, const Activation& output, const MZ& Z, const MA& A, const MY& Y,
              const MW& weights, double weight_sum, MD& dZ) {
  if (weight_sum <= 0.0) {
    dZ.setZero();
    return;
  }
  const T k = static_cast<T>(Y.cols());
  const T delta = static_cast<T>(loss.delta);
  // dℓ_i/dA (or dℓ_i/dZ for the fused cross-entropies), unweighted
  switch (loss.kind) {
    case LossKind::mean_squared_error: dZ = (T(2) / k) * (A - Y); break;
    case LossKind::mean_absolute_error: dZ = (A - Y).array().sign().matrix() / k; break;
    case LossKind::huber: dZ = (A - Y).array().max(-delta).min(delta).matrix() / k; break;
    case LossKind::binary_cross_entropy: dZ = (A - Y) / k; break;
    case LossKind::categorical_cross_entropy: dZ = A - Y; break;
    case LossKind::poisson: dZ = (exp_array(Z.array()) - Y.array()).matrix() / k; break;
  }
  // × w_i / Σw
  if (weights.size() == 0)
    dZ /= static_cast<T>(weight_sum);
  else
    dZ.array().colwise() *= weights.array() / static_cast<T>(weight_sum);
  const bool fused = loss.kind == LossKind::binary_cross_entropy ||
                     loss.kind == LossKind::categorical_cross_entropy ||
                     loss.kind == LossKind::poisson;
  // dL/dZ = g'(Z) ⊙ dL/dA (= dL/dA for an identity output)
  if (!fused && output.kind != ActivationKind::identity)
    apply_jacobian<T>(output, ConstMatrixRef<T>(Z), ConstMatrixRef<T>(A), ConstMatrixRef<T>(dZ),
                      Eigen::Ref<Matrix<T>>(dZ));
}

// One entry, as the 1 × 1 arrays and matrices that one_output_error and one_output_delta
// instantiate row_error and delta_of for, and a row's weight: one entry, or none (all ones).
template <class T>
using Cell = Eigen::Matrix<T, 1, 1>;
template <class T>
using MaybeWeight = Eigen::Matrix<T, Eigen::Dynamic, 1, Eigen::ColMajor, 1, 1>;

}  // namespace

template <class T>
double summed_error(const Loss& loss, const ConstMatrixRef<T>& Z, const ConstMatrixRef<T>& A,
                    const ConstMatrixRef<T>& Y, const ConstVectorRef<T>& weights) {
  double total = 0.0;
  for (Index i = 0; i < Y.rows(); ++i) {
    const double w = weights.size() == 0 ? 1.0 : static_cast<double>(weights[i]);
    if (w != 0.0) total += w * sample_error<T>(loss, Z, A, Y, i);
  }
  return total;
}

template <class T>
void output_delta(const Loss& loss, const Activation& output, const ConstMatrixRef<T>& Z,
                  const ConstMatrixRef<T>& A, const ConstMatrixRef<T>& Y,
                  const ConstVectorRef<T>& weights, double weight_sum, Eigen::Ref<Matrix<T>> dZ) {
  delta_of<T>(loss, output, Z, A, Y, weights, weight_sum, dZ);
}

template <class T>
double one_output_error(const Loss& loss, T z, T a, T y, const T* weight) {
  const double w = weight == nullptr ? 1.0 : static_cast<double>(*weight);
  double total = 0.0;  // as summed_error on one row
  if (w != 0.0) {
    const Cell<T> Z = Cell<T>::Constant(z), A = Cell<T>::Constant(a), Y = Cell<T>::Constant(y);
    total += w * row_error<T>(loss, Z.array(), A.array(), Y.array());
  }
  return total;
}

template <class T>
T one_output_delta(const Loss& loss, const Activation& output, T z, T a, T y, const T* weight,
                   double weight_sum) {
  const Cell<T> Z = Cell<T>::Constant(z), A = Cell<T>::Constant(a), Y = Cell<T>::Constant(y);
  MaybeWeight<T> w(weight == nullptr ? 0 : 1);
  if (weight != nullptr) w[0] = *weight;
  Cell<T> dZ;
  delta_of<T>(loss, output, Z, A, Y, w, weight_sum, dZ);
  return dZ(0, 0);
}

#define NNCORE_INSTANTIATE(T)                                                                      \
  template void Loss::check_targets<T>(const ConstMatrixRef<T>&) const;                            \
  template double summed_error<T>(const Loss&, const ConstMatrixRef<T>&, const ConstMatrixRef<T>&, \
                                  const ConstMatrixRef<T>&, const ConstVectorRef<T>&);             \
  template void output_delta<T>(const Loss&, const Activation&, const ConstMatrixRef<T>&,          \
                                const ConstMatrixRef<T>&, const ConstMatrixRef<T>&,                \
                                const ConstVectorRef<T>&, double, Eigen::Ref<Matrix<T>>);          \
  template double one_output_error<T>(const Loss&, T, T, T, const T*);                             \
  template T one_output_delta<T>(const Loss&, const Activation&, T, T, T, const T*, double);
NNCORE_INSTANTIATE(float)
NNCORE_INSTANTIATE(double)
#undef NNCORE_INSTANTIATE

}  // namespace nncore
