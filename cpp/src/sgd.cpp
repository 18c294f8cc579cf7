#include "nncore/sgd.hpp"

#include <cmath>
#include <stdexcept>

#include "hyperparameter_checks.hpp"

namespace nncore {

namespace {

const SGDOptions& checked(const SGDOptions& options) {
  checks::at_least(options.momentum, "momentum", 0.0);
  checks::unit_interval_closed(options.dampening, "dampening");
  if (options.nesterov && (options.momentum <= 0.0 || options.dampening != 0.0))
    throw std::invalid_argument("nesterov requires momentum > 0 and dampening = 0");
  return options;
}

std::vector<StateVectorSpec> layout(const SGDOptions& options) {
  if (options.momentum > 0.0) return {{"momentum_buffer", 0.0}};  // set to g at t = 1
  return {};
}

}  // namespace

template <class T>
SGD<T>::SGD(const SGDOptions& options)
    : Optimizer<T>(checked(options), WeightDecay::coupled, layout(options)),
      momentum_(options.momentum),
      dampening_(options.dampening),
      nesterov_(options.nesterov) {}

template <class T>
double SGD<T>::step_bound(double max_abs_gradient) const {
  const double none = Optimizer<T>::step_bound(0.0);
  // The η the update multiplies by is rounded to T (and may overflow there).
  const auto learning_rate = static_cast<double>(static_cast<T>(this->learning_rate()));
  if (this->weight_decay() != 0.0 || !std::isfinite(learning_rate)) return none;
  const double g = max_abs_gradient;
  if (momentum_ == 0.0) return learning_rate * g;  // |Δθ_i| = η·|g_i|
  const double rounding = Optimizer<T>::kRoundingSlack;
  const auto momentum = static_cast<double>(static_cast<T>(momentum_));
  // |b'_i|: g_i at the first step, else |μ·b_i + (1−τ)·g_i|
  const double buffer = this->step_count() == 0
                            ? g
                            : (momentum * this->state_largest("momentum_buffer") +
                               static_cast<double>(static_cast<T>(1.0 - dampening_)) * g) *
                                  rounding;
  const double change = nesterov_ ? (g + momentum * buffer) * rounding : buffer;  // g + μ·b'
  if (!(buffer <= Optimizer<T>::kSafeMagnitude) || !(change <= Optimizer<T>::kSafeMagnitude))
    return none;
  return Optimizer<T>::safe_or_none(learning_rate * change * rounding);
}

template <class T>
void SGD<T>::update(VectorRef<T> parameters, const ConstVectorRef<T>& gradients, Index offset) {
  const T learning_rate = static_cast<T>(this->learning_rate());
  if (momentum_ == 0.0) {
    parameters.noalias() -= learning_rate * gradients;  // θ ← θ − η·g
    return;
  }
  const T momentum = static_cast<T>(momentum_);
  VectorRef<T> buffer = this->state_vector("momentum_buffer", offset, parameters.size());
  if (this->step_count() == 1)
    buffer = gradients;  // b ← g
  else
    buffer = momentum * buffer + static_cast<T>(1.0 - dampening_) * gradients;  // b ← μ·b + (1−τ)·g
  if (nesterov_)
    parameters.noalias() -= learning_rate * (gradients + momentum * buffer);  // θ ← θ − η·(g + μ·b)
  else
    parameters.noalias() -= learning_rate * buffer;  // θ ← θ − η·b
}

template class SGD<float>;
template class SGD<double>;

}  // namespace nncore
