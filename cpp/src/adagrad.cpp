#include "nncore/adagrad.hpp"

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
