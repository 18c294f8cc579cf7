// A multi-layer perceptron: a Sequential of Dense layers (each with its activation fused), the
// hidden ones optionally followed by (inverted) Dropout. Described as the Python MLP describes it:
// the layer sizes, one activation per layer, whether the layers have biases, one dropout rate per
// hidden layer. Its parameters are the Sequential's: layer by layer, W row-major, then b.
#pragma once

#include <string>
#include <vector>

#include "nncore/activation.hpp"
#include "nncore/sequential.hpp"
#include "nncore/types.hpp"

namespace nncore {

template <class T>
class Network : public Sequential<T> {
 public:
  // layer_sizes = [n_0 (inputs), n_1, ..., n_L (outputs)]; one activation per layer (L of them);
  // dropout: empty, or one rate p in [0, 1) per hidden layer (L − 1 of them).
  Network(std::vector<Index> layer_sizes, std::vector<Activation> activations, bool use_bias,
          std::vector<double> dropout = {});

  Index n_layers() const { return static_cast<Index>(activations_.size()); }  // dense layers
  const std::vector<Index>& layer_sizes() const { return layer_sizes_; }
  const std::vector<Activation>& activations() const { return activations_; }
  const std::vector<double>& dropout() const { return dropout_; }
  bool use_bias() const { return use_bias_; }
  // Offsets of dense layer l's W and b (0-based) in the flat buffers.
  Index weight_offset(Index layer) const;
  Index bias_offset(Index layer) const;

 private:
  std::vector<Index> layer_sizes_;
  std::vector<Activation> activations_;
  bool use_bias_;
  std::vector<double> dropout_;  // per hidden layer; empty = none
  std::vector<Index> dense_;     // the index of each dense layer in the sequence
};

extern template class Network<float>;
extern template class Network<double>;

}  // namespace nncore
