#include "nncore/layers/layer.hpp"

#include <stdexcept>
#include <string>

namespace nncore {

Initializer initializer_from_name(const std::string& name) {
  if (name == "glorot_uniform") return Initializer::glorot_uniform;
  if (name == "glorot_normal") return Initializer::glorot_normal;
  if (name == "he_uniform") return Initializer::he_uniform;
  if (name == "he_normal") return Initializer::he_normal;
  throw std::invalid_argument("unknown initializer '" + name +
                              "'; expected one of glorot_uniform, glorot_normal, he_uniform, "
                              "he_normal");
}

template <class T>
Layer<T>::Layer(Index n_inputs, Index n_outputs) : n_inputs_(n_inputs), n_outputs_(n_outputs) {
  constexpr Index max_width = Index{1} << 24;
  if (n_inputs < 1 || n_outputs < 1 || n_inputs > max_width || n_outputs > max_width)
    throw std::invalid_argument("layer sizes must be between 1 and 2^24, got " +
                                std::to_string(n_inputs) + " and " + std::to_string(n_outputs));
}

template <class T>
const Activation& Layer<T>::activation() const {
  static const Activation identity{};
  return identity;
}

template <class T>
LayerWorkspace<T> Layer<T>::make_workspace(Index capacity, bool training) const {
  LayerWorkspace<T> workspace;
  workspace.output.resize(capacity, n_outputs_);
  workspace.error.resize(training ? capacity : 0, n_outputs_);
  return workspace;
}

template class Layer<float>;
template class Layer<double>;

}  // namespace nncore
