#include "nncore/adam.hpp"

#include <algorithm>
#include <cmath>

#include "exact_sqrt.hpp"
#include "hyperparameter_checks.hpp"

namespace nncore {

namespace {

const AdamOptions& checked(const AdamOptions& options) {
  checks::unit_interval_open(options.beta1, "beta1");
  checks::unit_interval_open(options.beta2, "beta2");
  checks::positive(options.eps, "eps");
  return options;
}

}  // namespace

template <class T>
Adam<T>::Adam(const AdamOptions& options) : Adam(options, WeightDecay::coupled) {}

template <class T>
Adam<T>::Adam(const AdamOptions& options, WeightDecay weight_decay_kind)
    : Optimizer<T>(checked(options), weight_decay_kind,
                   {{"exp_avg", 0.0}, {"exp_avg_sq", 0.0, true}}),
      beta1_(options.beta1),
      beta2_(options.beta2),
      eps_(options.eps) {}

template <class T>
double Adam<T>::step_bound(double max_abs_gradient) const {
  const double none = Optimizer<T>::step_bound(0.0), rounding = Optimizer<T>::kRoundingSlack;
  const double g = max_abs_gradient;
  const auto eps = static_cast<double>(static_cast<T>(eps_));
  if (!(eps > 0.0)) return none;
  if (this->weight_decay() != 0.0) {
    if (this->weight_decay_kind() == WeightDecay::coupled) return none;
    // θ·(1 − η·λ) first (run_step's decay): no larger when |1 − η·λ| ≤ 1.
    const T decay = static_cast<T>(1.0 - this->learning_rate() * this->weight_decay());
    if (!(std::abs(decay) <= T(1))) return none;
  }
  // m' = β₁m + (1−β₁)g and v' = β₂v + (1−β₂)g², each a weighted mean up to rounding (v' finite
  // implies g² finite).
  const double m_bound = std::max(this->state_largest("exp_avg"), g) * rounding;
  const double v_bound = std::max(this->state_largest("exp_avg_sq"), g * g) * rounding;
  const double ratio_bound = m_bound / eps * rounding;  // |m'_i| / (√v'_i/√(1−β₂ᵗ) + ε)
  if (!(v_bound <= Optimizer<T>::kSafeMagnitude) || !(ratio_bound <= Optimizer<T>::kSafeMagnitude))
    return none;
  // The step size exactly as update computes it at step t + 1.
  const double t = static_cast<double>(this->step_count() + 1);
  const auto step_size =
      static_cast<double>(static_cast<T>(this->learning_rate() / (1.0 - std::pow(beta1_, t))));
  return Optimizer<T>::safe_or_none(step_size * ratio_bound * rounding);
}

template <class T>
void Adam<T>::update(VectorRef<T> parameters, const ConstVectorRef<T>& gradients, Index offset) {
  VectorRef<T> m = this->state_vector("exp_avg", offset, parameters.size());
  VectorRef<T> v = this->state_vector("exp_avg_sq", offset, parameters.size());
  m = static_cast<T>(beta1_) * m + static_cast<T>(1.0 - beta1_) * gradients;  // m ← β₁m + (1−β₁)g
  v = static_cast<T>(beta2_) * v +
      static_cast<T>(1.0 - beta2_) * gradients.cwiseAbs2();  // v ← β₂v + (1−β₂)g²

  // The bias corrections in double, as torch computes them from its Python-float step.
  const double t = static_cast<double>(this->step_count());
  const T step_size = static_cast<T>(this->learning_rate() / (1.0 - std::pow(beta1_, t)));
  const T correction2_sqrt = static_cast<T>(std::sqrt(1.0 - std::pow(beta2_, t)));
  // θ ← θ − (η/(1−β₁ᵗ)) · m / (√v/√(1−β₂ᵗ) + ε)
  parameters.array() -=
      step_size * (m.array() / (exact_sqrt(v.array()) / correction2_sqrt + static_cast<T>(eps_)));
}

template <class T>
AdamW<T>::AdamW(const AdamWOptions& options) : Adam<T>(options, WeightDecay::decoupled) {}

template class Adam<float>;
template class Adam<double>;
template class AdamW<float>;
template class AdamW<double>;

}  // namespace nncore
