// RMSProp (torch.optim.RMSprop).
#pragma once

#include "nncore/optimizer.hpp"

namespace nncore {

struct RMSPropOptions : OptimizerOptions {
  double alpha = 0.99;    // α ∈ [0, 1)
  double eps = 1e-8;      // ε > 0
  double momentum = 0.0;  // μ ≥ 0
  bool centered = false;
  RMSPropOptions() { learning_rate = 1e-2; }
};

// RMSProp, optionally centred and with momentum: exactly torch.optim.RMSprop (maximize=False).
// With g the gradient after clipping and weight decay (optimizer.hpp), smoothing constant α,
// ε, momentum μ and learning rate η:
//   v ← α·v + (1 − α)·g²
//   centred:      ḡ ← α·ḡ + (1 − α)·g,   d = √(v − ḡ²) + ε
//   not centred:  d = √v + ε
//   μ > 0:        b ← μ·b + g/d,   θ ← θ − η·b
//   μ = 0:        θ ← θ − η·g/d
// State: "square_avg" v, "momentum_buffer" b (when μ > 0), "grad_avg" ḡ (when centred), all
// starting at 0.
template <class T>
class RMSProp final : public Optimizer<T> {
 public:
  // Throws std::invalid_argument for a hyper-parameter out of range.
  explicit RMSProp(const RMSPropOptions& options = RMSPropOptions());
  std::string name() const override { return "rmsprop"; }
  // |Δθ_i| ≤ η·(μ·max|b| + max|g|/ε), since d ≥ ε. Finite only when not centred (√(v − ḡ²) can
  // be NaN where rounding makes v − ḡ² negative), without weight decay (λ·θ would be added to g)
  // and when v and b stay finite.
  double step_bound(double max_abs_gradient) const override;
  double alpha() const { return alpha_; }
  double eps() const { return eps_; }
  double momentum() const { return momentum_; }
  bool centered() const { return centered_; }
  // The hyper-parameters beyond OptimizerOptions', by their Python names: (name, option,
  // getter) each. The bindings and the Python classes derive from this list.
  template <class Visit>
  static void hyperparameters(Visit&& visit) {
    visit("alpha", &RMSPropOptions::alpha, &RMSProp::alpha);
    visit("eps", &RMSPropOptions::eps, &RMSProp::eps);
    visit("momentum", &RMSPropOptions::momentum, &RMSProp::momentum);
    visit("centered", &RMSPropOptions::centered, &RMSProp::centered);
  }

 private:
  void update(VectorRef<T> parameters, const ConstVectorRef<T>& gradients, Index offset) override;
  bool tracks_state_largest() const override { return true; }

  double alpha_;
  double eps_;
  double momentum_;
  bool centered_;
};

extern template class RMSProp<float>;
extern template class RMSProp<double>;

}  // namespace nncore
