// Adagrad (torch.optim.Adagrad).
#pragma once

#include "nncore/optimizer.hpp"

namespace nncore {

struct AdagradOptions : OptimizerOptions {
  double lr_decay = 0.0;                   // δ ≥ 0
  double initial_accumulator_value = 0.0;  // ≥ 0
  double eps = 1e-10;                      // ε > 0
  AdagradOptions() { learning_rate = 1e-2; }
};

// Adagrad: exactly torch.optim.Adagrad (maximize=False). With g the gradient after clipping and
// weight decay (optimizer.hpp), t the step count, learning rate η, learning-rate decay δ and ε:
//   η_t = η / (1 + (t − 1)·δ)
//   s ← s + g²
//   θ ← θ − η_t · g / (√s + ε)
// State: "sum" s, starting at initial_accumulator_value.
template <class T>
class Adagrad final : public Optimizer<T> {
 public:
  // Throws std::invalid_argument for a hyper-parameter out of range.
  explicit Adagrad(const AdagradOptions& options = AdagradOptions());
  std::string name() const override { return "adagrad"; }
  // |Δθ_i| ≤ η_t: s'_i ≥ g_i², so |g_i|/(√s'_i + ε) ≤ 1 (and ≤ max|g|/ε, also where g_i² would
  // underflow), with rounding. Finite only without weight decay (λ·θ would be added to g) and
  // while s stays finite.
  double step_bound(double max_abs_gradient) const override;
  double lr_decay() const { return lr_decay_; }
  double initial_accumulator_value() const { return initial_accumulator_value_; }
  double eps() const { return eps_; }
  // The hyper-parameters beyond OptimizerOptions', by their Python names: (name, option,
  // getter) each. The bindings and the Python classes derive from this list.
  template <class Visit>
  static void hyperparameters(Visit&& visit) {
    visit("lr_decay", &AdagradOptions::lr_decay, &Adagrad::lr_decay);
    visit("initial_accumulator_value", &AdagradOptions::initial_accumulator_value,
          &Adagrad::initial_accumulator_value);
    visit("eps", &AdagradOptions::eps, &Adagrad::eps);
  }

 private:
  void update(VectorRef<T> parameters, const ConstVectorRef<T>& gradients, Index offset) override;
  bool tracks_state_largest() const override { return true; }

  double lr_decay_;
  double initial_accumulator_value_;
  double eps_;
};

extern template class Adagrad<float>;
extern template class Adagrad<double>;

}  // namespace nncore
