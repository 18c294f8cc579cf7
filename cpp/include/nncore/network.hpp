// A multi-layer perceptron: dense layers whose parameters all live in one contiguous buffer
// (layer by layer: W row-major, then b) and whose gradients live in a second buffer of the same
// layout. Optimizers, serialization and gradient reductions work on those flat vectors and never
// need to know what a layer is. Hidden layers may be followed by (inverted) dropout.
#pragma once

#include <string>
#include <utility>
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
// For layer l (0-based), each (capacity, n_{l+1}):
template <class T>
struct Workspace {
  Index capacity = 0;
  std::vector<Matrix<T>> Z;        // pre-activations Z_l = A_{l-1}·W_l + b_l
  std::vector<Matrix<T>> A;        // activations A_l = g_l(Z_l)
  std::vector<Matrix<T>> dropped;  // A_l ⊙ M_l for layers with dropout (else empty)
  std::vector<Matrix<T>> mask;     // M_l ∈ {0, 1/(1−p)} for layers with dropout (else empty)
  std::vector<Matrix<T>> delta;    // dL/dZ_l (dL/dA_l while being formed)
  bool dropout_active = false;     // whether the last forward pass applied dropout masks
};

template <class T>
class Network {
 public:
  // layer_sizes = [n_0 (inputs), n_1, ..., n_L (outputs)]; one activation per layer (L of them);
  // dropout: empty, or one rate p in [0, 1) per hidden layer (L − 1 of them).
  Network(std::vector<Index> layer_sizes, std::vector<Activation> activations, bool use_bias,
          std::vector<double> dropout = {});

  Index n_layers() const { return static_cast<Index>(activations_.size()); }
  Index n_inputs() const { return layer_sizes_.front(); }
  Index n_outputs() const { return layer_sizes_.back(); }
  const std::vector<Index>& layer_sizes() const { return layer_sizes_; }
  const std::vector<Activation>& activations() const { return activations_; }
  const std::vector<double>& dropout() const { return dropout_; }
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

  Workspace<T> make_workspace(Index capacity, bool training) const;

  // Forward propagation of a batch X (n, n_0) through rows [first, first + n) of the workspace
  // (first + n <= capacity; first > 0 for a block of a batch split into blocks of rows). With a
  // generator (training), hidden layers with dropout draw a fresh mask; without, dropout is off.
  // Returns the output activations A_L (n, n_L), a view into the workspace.
  ConstMatrixRef<T> forward(const ConstMatrixRef<T>& X, Workspace<T>& workspace,
                            Random* dropout_random = nullptr, Index first = 0) const;

  // After forward on the same X and rows: Σ_i w_i ℓ_i over the batch (weights empty: all ones).
  double summed_error(const Loss& loss, const ConstMatrixRef<T>& Y,
                      const ConstVectorRef<T>& weights, const Workspace<T>& workspace,
                      Index first = 0) const;

  // After forward on the same X: backward propagation of L = Σ_i w_i ℓ_i / weight_sum into
  // gradients().
  void backward(const Loss& loss, const ConstMatrixRef<T>& X, const ConstMatrixRef<T>& Y,
                const ConstVectorRef<T>& weights, double weight_sum, Workspace<T>& workspace);
  // The same into `gradients` (the layout of gradients()) instead, leaving the network unchanged.
  // It is propagate_errors, then accumulate_gradients.
  void backward(const Loss& loss, const ConstMatrixRef<T>& X, const ConstMatrixRef<T>& Y,
                const ConstVectorRef<T>& weights, double weight_sum, Workspace<T>& workspace,
                VectorRef<T> gradients) const;

  // Backward propagation in two halves, so that a batch split into blocks of rows can run each on
  // threads. First, after forward on the same X and rows: the error of every layer,
  //   dZ_L = dL/dZ_L (the loss),  dZ_l = (dZ_{l+1}·W_{l+1}ᵀ) ⊙ g_l'(Z_l),
  // into workspace.delta at rows [first, first + n), a row at a time independent of the others.
  void propagate_errors(const Loss& loss, const ConstMatrixRef<T>& X, const ConstMatrixRef<T>& Y,
                        const ConstVectorRef<T>& weights, double weight_sum,
                        Workspace<T>& workspace, Index first = 0) const;
  // Then, with the errors of all n rows of X in the workspace: dL/dW_l = A_{l-1}ᵀ·dZ_l and
  // dL/db_l = Σ_rows dZ_l into `gradients`, only the entries [begin, end) of the flat vector
  // (default: all). begin and end must fall at the start of a row of a W or on a bias entry, as
  // gradient_part's do.
  void accumulate_gradients(const ConstMatrixRef<T>& X, const Workspace<T>& workspace,
                            VectorRef<T> gradients, Index begin = 0, Index end = -1) const;
  // Part `part` of `parts` of the flat gradient, for threads that each compute one: the range
  // block_range(size, part, parts) (the one parallel_ranges hands to that part) with each end
  // moved back to the start of the row of W it falls in. The parts cover the vector once.
  std::pair<Index, Index> gradient_part(int part, int parts) const;

  // Throws std::invalid_argument unless X is (n >= 1, n_0), Y (if given) is (n, n_L) and
  // weights (if given and not empty) has n non-negative finite entries.
  void check_batch(const ConstMatrixRef<T>& X, const ConstMatrixRef<T>* Y = nullptr,
                   const ConstVectorRef<T>* weights = nullptr) const;

 private:
  // Layer l with its gradients in `gradients` (a buffer of gradients()'s layout).
  Dense<T> layer_with_gradients(Index l, T* gradients) const;
  // The input of layer l for the rows [first, first + X.rows()): X for l = 0, else the
  // (dropped-out) output of layer l − 1.
  ConstMatrixRef<T> layer_input(Index l, const ConstMatrixRef<T>& X, const Workspace<T>& workspace,
                                bool dropout_on, Index first) const;

  std::vector<Index> layer_sizes_;
  std::vector<Activation> activations_;
  bool use_bias_;
  std::vector<double> dropout_;  // per hidden layer; empty = none
  std::vector<Index> weight_offsets_, bias_offsets_;
  Vector<T> parameters_;
  Vector<T> gradients_;
};

extern template class Network<float>;
extern template class Network<double>;

}  // namespace nncore
