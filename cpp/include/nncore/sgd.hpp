// SGD: stochastic gradient descent with optional momentum (torch.optim.SGD).
#pragma once

#include "nncore/optimizer.hpp"

namespace nncore {

struct SGDOptions : OptimizerOptions {
  double momentum = 0.0;                  // μ ≥ 0
  double dampening = 0.0;                 // τ ∈ [0, 1]
  bool nesterov = false;                  // needs μ > 0 and τ = 0 (as torch)
  SGDOptions() { learning_rate = 0.01; }  // torch has no default; 0.01 is ours
};

// Stochastic gradient descent with optional momentum, dampening and Nesterov momentum: exactly
// torch.optim.SGD (maximize=False). With g the gradient after clipping and weight decay
// (optimizer.hpp), momentum μ, dampening τ, learning rate η and t the step count:
//   μ = 0:   θ ← θ − η·g
//   μ > 0:   b ← g                          if t = 1
//            b ← μ·b + (1 − τ)·g            otherwise
//            θ ← θ − η·(g + μ·b)            with Nesterov
//            θ ← θ − η·b                    without
// State: "momentum_buffer" b (only when μ > 0).
template <class T>
class SGD final : public Optimizer<T> {
 public:
  // Throws std::invalid_argument for a hyper-parameter out of range.
  explicit SGD(const SGDOptions& options = SGDOptions());
  std::string name() const override { return "sgd"; }
  double momentum() const { return momentum_; }
  double dampening() const { return dampening_; }
  bool nesterov() const { return nesterov_; }
  // The hyper-parameters beyond OptimizerOptions', by their Python names: (name, option,
  // getter) each. The bindings and the Python classes derive from this list.
  template <class Visit>
  static void hyperparameters(Visit&& visit) {
    visit("momentum", &SGDOptions::momentum, &SGD::momentum);
    visit("dampening", &SGDOptions::dampening, &SGD::dampening);
    visit("nesterov", &SGDOptions::nesterov, &SGD::nesterov);
  }
  // Without weight decay (clipping only shrinks g): η·max|g|; with momentum η·max|b'|, where
  // max|b'| ≤ μ·max|b| + (1−τ)·max|g| (max|g| at the first step), or η·(max|g| + μ·max|b'|)
  // with Nesterov's. +∞ with weight decay (λ·θ is added to g) or where b' could overflow.
  double step_bound(double max_abs_gradient) const override;

 private:
  void update(VectorRef<T> parameters, const ConstVectorRef<T>& gradients, Index offset) override;
  bool tracks_state_largest() const override { return true; }

  double momentum_;
  double dampening_;
  bool nesterov_;
};

extern template class SGD<float>;
extern template class SGD<double>;

}  // namespace nncore
