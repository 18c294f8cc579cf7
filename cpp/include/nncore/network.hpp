// A multi-layer perceptron: dense layers whose parameters all live in one contiguous buffer
// (layer by layer: W row-major, then b) and whose gradients live in a second buffer of the same
// layout. Optimizers, serialization and gradient reductions work on those flat vectors and never
// need to know what a layer is.
#pragma once

#include <string>
#include <vector>

#include "nncore/activation.hpp"
#include "nncore/dense.hpp"
#include "nncore/loss.hpp"
#include "nncore/random.hpp"
#include "nncore/types.hpp"

namespace nncore {

enum class Initializer { glorot_uniform, glorot_normal, he_uniform, he_normal };

// Parses "glorot_uniform", "glorot_normal", "he_uniform", "he_normal"; throws otherwise.
Initializer initializer_from_name(const std::string& name);

// Every buffer one forward and backward pass of up to `capacity` rows needs, allocated once.
template <class T>
struct Workspace {
  Index capacity = 0;
  std::vector<Matrix<T>> activations;  // A_l for l = 1..L, each (capacity, n_l)
  Matrix<T> logits;                    // Z_L, the output layer before its activation
  std::vector<Matrix<T>> deltas;       // dL/dZ_l for l = 1..L
};

template <class T>
class Network {
 public:
  // layer_sizes = [n_0 (inputs), n_1, ..., n_L (outputs)]; one activation per layer (L of them).
  Network(std::vector<Index> layer_sizes, std::vector<Activation> activations, bool use_bias);

  Index n_layers() const { return static_cast<Index>(activations_.size()); }
  Index n_inputs() const { return layer_sizes_.front(); }
  Index n_outputs() const { return layer_sizes_.back(); }
  const std::vector<Index>& layer_sizes() const { return layer_sizes_; }
  const std::vector<Activation>& activations() const { return activations_; }
  bool use_bias() const { return use_bias_; }

  Vector<T>& parameters() { return parameters_; }
  const Vector<T>& parameters() const { return parameters_; }
  Vector<T>& gradients() { return gradients_; }
  const Vector<T>& gradients() const { return gradients_; }
  Index weight_offset(Index layer) const { return weight_offsets_.at(static_cast<size_t>(layer)); }
  Index bias_offset(Index layer) const { return bias_offsets_.at(static_cast<size_t>(layer)); }

  // Views of layer l (0-based) into the parameter and gradient buffers.
  Dense<T> layer(Index l);
  const Dense<T> layer(Index l) const { return const_cast<Network*>(this)->layer(l); }

  // Weights from the named distribution (fan-in n_in, fan-out n_out), biases zero:
  //   glorot_uniform U(±sqrt(6/(n_in+n_out)))   glorot_normal N(0, sqrt(2/(n_in+n_out)))
  //   he_uniform     U(±sqrt(6/n_in))            he_normal     N(0, sqrt(2/n_in))
  void initialize(Initializer initializer, Random& random);

  Workspace<T> make_workspace(Index capacity) const;

  // Forward propagation of a batch X (n, n_0), n <= capacity, through the workspace.
  // Returns the output activations A_L, (n, n_L), a view into the workspace.
  ConstMatrixRef<T> forward(const ConstMatrixRef<T>& X, Workspace<T>& workspace) const;

  // After forward on the same X: the per-sample errors summed over the batch.
  double summed_error(const Loss& loss, const ConstMatrixRef<T>& Y, Workspace<T>& workspace) const;

  // After forward on the same X: backward propagation of the batch-mean loss into gradients().
  void backward(const Loss& loss, const ConstMatrixRef<T>& X, const ConstMatrixRef<T>& Y,
                Workspace<T>& workspace);

  // Throws std::invalid_argument unless X is (n >= 1, n_0) and, if given, Y is (n, n_L).
  void check_batch(const ConstMatrixRef<T>& X, const ConstMatrixRef<T>* Y = nullptr) const;

 private:
  std::vector<Index> layer_sizes_;
  std::vector<Activation> activations_;
  bool use_bias_;
  std::vector<Index> weight_offsets_, bias_offsets_;
  Vector<T> parameters_;
  Vector<T> gradients_;
};

extern template class Network<float>;
extern template class Network<double>;

}  // namespace nncore
