// Adam and AdamW (torch.optim.Adam, torch.optim.AdamW).
#pragma once

#include <utility>

#include "nncore/optimizer.hpp"

namespace nncore {

struct AdamOptions : OptimizerOptions {
  double beta1 = 0.9;    // β₁ ∈ [0, 1)
  double beta2 = 0.999;  // β₂ ∈ [0, 1)
  double eps = 1e-8;     // ε > 0
  AdamOptions() { learning_rate = 1e-3; }
};

// AdamW's defaults are Adam's but weight_decay = 1e-2 (torch's).
struct AdamWOptions : AdamOptions {
  AdamWOptions() { weight_decay = 1e-2; }
};

// Adam and AdamW: exactly torch.optim.Adam and torch.optim.AdamW (amsgrad=False,
// maximize=False). With g the gradient after clipping (and, for Adam, coupled weight decay
// g ← g + λ·θ; see optimizer.hpp), t the step count, learning rate η, betas (β₁, β₂) and ε:
//   m ← β₁·m + (1 − β₁)·g
//   v ← β₂·v + (1 − β₂)·g²
//   θ ← θ − (η / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
// AdamW is the same update after the decoupled decay θ ← θ − η·λ·θ instead of the coupled one.
// State: "exp_avg" m and "exp_avg_sq" v, both starting at 0.
template <class T>
class Adam : public Optimizer<T> {
 public:
  // Throws std::invalid_argument for a hyper-parameter out of range.
  explicit Adam(const AdamOptions& options = AdamOptions());
  std::string name() const override { return "adam"; }
  // |Δθ_i| ≤ (η/(1−β₁ᵗ⁺¹))·max|m'|/ε: the denominator √v̂ + ε is at least ε. Finite only when m
  // and v stay finite (max|m'| ≤ max(max|m|, G), max v' ≤ max(max v, G²), with rounding) and
  // the weight decay is decoupled or none (coupled decay adds λ·θ to g).
  double step_bound(double max_abs_gradient) const override;
  double beta1() const { return beta1_; }
  double beta2() const { return beta2_; }
  double eps() const { return eps_; }
  std::pair<double, double> betas() const { return {beta1_, beta2_}; }
  // The hyper-parameters beyond OptimizerOptions', by their Python names: (name, option
  // or pair of options, getter) each. The bindings and the Python classes derive from this list.
  template <class Visit>
  static void hyperparameters(Visit&& visit) {
    visit("betas", std::make_pair(&AdamOptions::beta1, &AdamOptions::beta2), &Adam::betas);
    visit("eps", &AdamOptions::eps, &Adam::eps);
  }

 protected:
  Adam(const AdamOptions& options, WeightDecay weight_decay_kind);

 private:
  void update(VectorRef<T> parameters, const ConstVectorRef<T>& gradients, Index offset) override;
  bool tracks_state_largest() const override { return true; }

  double beta1_;
  double beta2_;
  double eps_;
};

// AdamW, Adam with decoupled weight decay (Loshchilov & Hutter): exactly torch.optim.AdamW.
// With g the gradient after clipping only:  θ ← θ − η·λ·θ, then m, v and θ as in Adam above.
template <class T>
class AdamW final : public Adam<T> {
 public:
  explicit AdamW(const AdamWOptions& options = AdamWOptions());
  std::string name() const override { return "adamw"; }
};

extern template class Adam<float>;
extern template class Adam<double>;
extern template class AdamW<float>;
extern template class AdamW<double>;

}  // namespace nncore
