#include "nncore/network.hpp"

#include <memory>
#include <stdexcept>
#include <string>

#include "nncore/layers/dense.hpp"
#include "nncore/layers/dropout.hpp"

namespace nncore {

namespace {

// The MLP's layers: Dense, each hidden one followed by Dropout when its rate is above 0.
template <class T>
std::vector<LayerPointer<T>> mlp_layers(const std::vector<Index>& sizes,
                                        const std::vector<Activation>& activations, bool use_bias,
                                        const std::vector<double>& dropout) {
  if (sizes.size() < 2)
    throw std::invalid_argument("layer_sizes needs at least an input and an output size");
  if (activations.size() != sizes.size() - 1)
    throw std::invalid_argument(
        "need one activation per layer: " + std::to_string(sizes.size() - 1) + " expected, got " +
        std::to_string(activations.size()));
  std::vector<LayerPointer<T>> dense;
  for (size_t l = 0; l + 1 < sizes.size(); ++l)
    dense.push_back(std::make_shared<Dense<T>>(sizes[l], sizes[l + 1], activations[l], use_bias));
  for (size_t l = 0; l + 1 < activations.size(); ++l)
    if (activations[l].kind == ActivationKind::softmax)
      throw std::invalid_argument("softmax is only available on the output layer");
  if (!dropout.empty() && dropout.size() != sizes.size() - 2)
    throw std::invalid_argument(
        "need one dropout rate per hidden layer: " + std::to_string(sizes.size() - 2) +
        " expected, got " + std::to_string(dropout.size()));
  std::vector<LayerPointer<T>> layers;
  for (size_t l = 0; l < dense.size(); ++l) {
    layers.push_back(dense[l]);
    if (l < dropout.size()) {
      auto rate = std::make_shared<Dropout<T>>(sizes[l + 1], dropout[l]);  // checks the rate
      if (rate->draws()) layers.push_back(std::move(rate));
    }
  }
  return layers;
}

}  // namespace

template <class T>
Network<T>::Network(std::vector<Index> layer_sizes, std::vector<Activation> activations,
                    bool use_bias, std::vector<double> dropout)
    : Sequential<T>(mlp_layers<T>(layer_sizes, activations, use_bias, dropout)),
      layer_sizes_(std::move(layer_sizes)),
      activations_(std::move(activations)),
      use_bias_(use_bias),
      dropout_(std::move(dropout)) {
  const Chain<T>& layers = this->layers();
  for (Index l = 0; l < layers.size(); ++l)
    if (dynamic_cast<const Dense<T>*>(&layers.layer(l)) != nullptr) dense_.push_back(l);
}

template <class T>
Index Network<T>::weight_offset(Index layer) const {
  return this->layers().parameter_offset(dense_.at(static_cast<size_t>(layer)));
}

template <class T>
Index Network<T>::bias_offset(Index layer) const {
  const auto l = static_cast<size_t>(layer);
  return weight_offset(layer) + layer_sizes_.at(l) * layer_sizes_.at(l + 1);
}

template class Network<float>;
template class Network<double>;

}  // namespace nncore
