#include "nncore/optimizer.hpp"

#include <cmath>
#include <stdexcept>

namespace nncore {

template <class T>
SGD<T>::SGD(double learning_rate) : learning_rate_(learning_rate) {
  if (!std::isfinite(learning_rate) || learning_rate < 0.0)
    throw std::invalid_argument("learning_rate must be finite and >= 0, got " +
                                std::to_string(learning_rate));
}

template <class T>
void SGD<T>::step(VectorRef<T> parameters, const ConstVectorRef<T>& gradients) {
  if (parameters.size() != gradients.size())
    throw std::invalid_argument("parameters and gradients differ in length");
  parameters.noalias() -= static_cast<T>(learning_rate_) * gradients;  // θ ← θ − η·g
}

template class SGD<float>;
template class SGD<double>;

}  // namespace nncore
