#include "nncore/rmsprop.hpp"

#include <algorithm>
#include <cmath>
#include <optional>

#include "exact_sqrt.hpp"
#include "hyperparameter_checks.hpp"

namespace nncore {

namespace {

const RMSPropOptions& checked(const RMSPropOptions& options) {
  checks::unit_interval_open(options.alpha, "alpha");
  checks::positive(options.eps, "eps");
  checks::at_least(options.momentum, "momentum", 0.0);
  return options;
}

std::vector<StateVectorSpec> layout(const RMSPropOptions& options) {
  std::vector<StateVectorSpec> vectors{{"square_avg", 0.0, true}};
  if (options.momentum > 0.0) vectors.push_back({"momentum_buffer", 0.0});
  if (options.centered) vectors.push_back({"grad_avg", 0.0});
  return vectors;
}

// The last line of the rule, for a denominator d (an array expression); buffer is b, or none
// without momentum.
template <class T, class Denominator>
void descend(VectorRef<T> parameters, const ConstVectorRef<T>& gradients,
             const Denominator& denominator, T learning_rate, T momentum,
             std::optional<VectorRef<T>>& buffer) {
  if (buffer) {
    buffer->array() = momentum * buffer->array() + gradients.array() / denominator;
    parameters.noalias() -= learning_rate * *buffer;  // b ← μb + g/d,  θ ← θ − ηb
  } else {
    parameters.array() -= learning_rate * (gradients.array() / denominator);  // θ ← θ − η·g/d
  }
}

}  // namespace

template <class T>
RMSProp<T>::RMSProp(const RMSPropOptions& options)
    : Optimizer<T>(checked(options), WeightDecay::coupled, layout(options)),
      alpha_(options.alpha),
      eps_(options.eps),
      momentum_(options.momentum),
      centered_(options.centered) {}

template <class T>
double RMSProp<T>::step_bound(double max_abs_gradient) const {
  const double none = Optimizer<T>::step_bound(0.0);
  const auto eps = static_cast<double>(static_cast<T>(eps_));
  if (centered_ || this->weight_decay() != 0.0 || !(eps > 0.0)) return none;
  const double rounding = Optimizer<T>::kRoundingSlack, g = max_abs_gradient;
  const auto learning_rate = static_cast<double>(static_cast<T>(this->learning_rate()));
  // v' = αv + (1−α)g², a weighted mean up to rounding (v' finite implies g² finite).
  const double v_bound = std::max(this->state_largest("square_avg"), g * g) * rounding;
  double change = g / eps * rounding;  // |g_i/d_i|, d_i = √v'_i + ε ≥ ε
  if (momentum_ > 0.0)                 // |b'_i| = |μ·b_i + g_i/d_i|
    change =
        (static_cast<double>(static_cast<T>(momentum_)) * this->state_largest("momentum_buffer") +
         change) *
        rounding;
  if (!(v_bound <= Optimizer<T>::kSafeMagnitude) || !(change <= Optimizer<T>::kSafeMagnitude))
    return none;
  return Optimizer<T>::safe_or_none(learning_rate * change * rounding);
}

template <class T>
void RMSProp<T>::update(VectorRef<T> parameters, const ConstVectorRef<T>& gradients, Index offset) {
  const T alpha = static_cast<T>(alpha_);
  const T one_minus_alpha = static_cast<T>(1.0 - alpha_);
  const T eps = static_cast<T>(eps_);
  const T learning_rate = static_cast<T>(this->learning_rate());
  const T momentum = static_cast<T>(momentum_);
  const Index n = parameters.size();
  std::optional<VectorRef<T>> buffer;  // b, without momentum none
  if (momentum_ > 0.0) buffer.emplace(this->state_vector("momentum_buffer", offset, n));
  VectorRef<T> v = this->state_vector("square_avg", offset, n);
  v = alpha * v + one_minus_alpha * gradients.cwiseAbs2();  // v ← αv + (1−α)g²
  if (centered_) {
    VectorRef<T> g_avg = this->state_vector("grad_avg", offset, n);
    g_avg = alpha * g_avg + one_minus_alpha * gradients;  // ḡ ← αḡ + (1−α)g
    descend<T>(parameters, gradients, exact_sqrt(v.array() - g_avg.array().square()) + eps,
               learning_rate, momentum, buffer);
  } else {
    descend<T>(parameters, gradients, exact_sqrt(v.array()) + eps, learning_rate, momentum, buffer);
  }
}

template class RMSProp<float>;
template class RMSProp<double>;

}  // namespace nncore
