// Update rules. An optimizer sees only the flat parameter vector θ and the flat gradient vector
// g = dL/dθ of the same layout, so a new rule never touches a layer.
#pragma once

#include <string>

#include "nncore/types.hpp"

namespace nncore {

template <class T>
class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // One update of θ from g. Both have the same length.
  virtual void step(VectorRef<T> parameters, const ConstVectorRef<T>& gradients) = 0;
  virtual std::string name() const = 0;
};

// Plain gradient descent:  θ ← θ − η·g
template <class T>
class SGD final : public Optimizer<T> {
 public:
  explicit SGD(double learning_rate);
  void step(VectorRef<T> parameters, const ConstVectorRef<T>& gradients) override;
  std::string name() const override { return "sgd"; }
  double learning_rate() const { return learning_rate_; }

 private:
  double learning_rate_;
};

extern template class SGD<float>;
extern template class SGD<double>;

}  // namespace nncore
