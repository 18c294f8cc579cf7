#include "nncore/adagrad.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "exact_sqrt.hpp"
#include "hyperparameter_checks.hpp"

namespace nncore {

namespace {

const AdagradOptions& checked(const AdagradOptions& options) {
  checks::at_least(options.lr_decay, "lr_decay", 0.0);
  checks::at_least(options.initial_accumulator_value, "initial_accumulator_value", 0.0);
  checks::positive(options.eps, "eps");
  return options;
}

}  // namespace

template <class T>
Adagrad<T>::Adagrad(const AdagradOptions& options)
    : Optimizer<T>(checked(options), WeightDecay::coupled,
                   {{"sum", options.initial_accumulator_value, true}}),
      lr_decay_(options.lr_decay),
      initial_accumulator_value_(options.initial_accumulator_value),
      eps_(options.eps) {}

template <class T>
double Adagrad<T>::step_bound(double max_abs_gradient) const {
  const double none = Optimizer<T>::step_bound(0.0);
  const auto eps = static_cast<double>(static_cast<T>(eps_));
  if (this->weight_decay() != 0.0 || !(eps > 0.0)) return none;
  const double rounding = Optimizer<T>::kRoundingSlack, g = max_abs_gradient;
  // s' = s + g² (s ≥ 0): finite, and ≥ g² unless g² underflows (|g| below √(smallest normal))
  if (!((this->state_largest("sum") + g * g) * rounding <= Optimizer<T>::kSafeMagnitude))
    return none;
  const double underflow = std::sqrt(static_cast<double>(std::numeric_limits<T>::min())) / eps;
  const double ratio = std::min(g / eps, std::max(1.0, underflow)) * rounding;  // |g_i/(√s'_i+ε)|
  // η_t exactly as update computes it at step t + 1
  const double t = static_cast<double>(this->step_count() + 1);
  const auto learning_rate =
      static_cast<double>(static_cast<T>(this->learning_rate() / (1.0 + (t - 1.0) * lr_decay_)));
  return Optimizer<T>::safe_or_none(learning_rate * ratio * rounding);
}

template <class T>
void Adagrad<T>::update(VectorRef<T> parameters, const ConstVectorRef<T>& gradients, Index offset) {
  const double t = static_cast<double>(this->step_count());
  const T learning_rate = static_cast<T>(this->learning_rate() / (1.0 + (t - 1.0) * lr_decay_));
  VectorRef<T> s = this->state_vector("sum", offset, parameters.size());
  s += gradients.cwiseAbs2();  // s ← s + g²
  // θ ← θ − η_t · g / (√s + ε)
  parameters.array() -=
      learning_rate * (gradients.array() / (exact_sqrt(s.array()) + static_cast<T>(eps_)));
}

template class Adagrad<float>;
template class Adagrad<double>;

}  // namespace nncore
