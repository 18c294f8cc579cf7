// A network as a sequence of layers: what the training loop trains.
//
// What a layer is in the core (nncore/layers/layer.hpp). A Layer<T> is a description (widths,
// activation, rate) with forward and backward rules, one file per type (nncore/layers/). It
// declares its parameters (trained) and its state (not trained: running statistics) as named
// arrays with shapes; the numbers live in the Sequential's buffers, which the layer sees through
// maps of its slices, and in a workspace, where a forward pass leaves what backward needs. A
// layer knows nothing of its neighbours: forward maps its input X to its output Y (in training or
// inference mode, with the model's generator when it draws: dropout), propagate maps dL/dY to
// dL/dX (and may keep dL/dZ for its gradient), accumulate_gradients forms dL/dθ from all of a
// batch's rows.
//
// How the buffers are laid out. One flat parameter buffer, one flat gradient buffer of the same
// layout, one flat state buffer: layer after layer, each layer's arrays in the order it declares
// them (Dense: W (n_in, n_out) row-major, then b), named by index path ("2.W"; a layer made of
// layers numbers its own inside: "5.0.gamma"). Optimizers, serialization and gradient
// reductions see flat vectors; optimizers never see the state. Layers read the state in forward
// (Slices::state); a layer that learns it from batches (a batch normalisation's running
// statistics) is to update it in a step of its own after a training batch, not in forward, so
// that a gradient computation changes nothing: the training loop calls update_state after each
// training batch's forward pass.
//
// How a batch is split into blocks of rows. The training loop (training.cpp) may run a batch as
// blocks of rows, each block's forward and propagate_errors on a thread of its own in one shared
// workspace, then the gradient in parts (gradient_part), each from all the batch's rows. It does
// so only when rows_independent(): every layer is row-local (row i of Y and dL/dX depends on row i
// alone; a batch normalisation is not, and then the batch stays whole, normalised with the whole
// batch's statistics) and none draws from the generator (whose draws follow the rows in order).
// Whether it pays is row_blocks's choice (nncore/parallel.hpp), from work_per_row().
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "nncore/layers/chain.hpp"
#include "nncore/layers/layer.hpp"
#include "nncore/loss.hpp"
#include "nncore/random.hpp"
#include "nncore/types.hpp"

namespace nncore {

// Every buffer one forward and backward pass of up to `capacity` rows needs, allocated once.
template <class T>
struct Workspace {
  Index capacity = 0;
  bool training = false;        // made for training: errors kept, layers in training mode
  bool dropout_active = false;  // whether the last forward pass drew dropout masks
  std::vector<LayerWorkspace<T>> layers;
};

// Where a named array is: its name (index path), shape, and offset in its flat buffer.
struct ArrayLayout {
  std::string name;
  std::vector<Index> shape;
  Index offset = 0;
};

template <class T>
class Sequential {
 public:
  // Throws std::invalid_argument unless the layers chain (each one's inputs the previous one's
  // outputs). Parameters and gradients start at zero (initialize draws the parameters), the state
  // as the layers initialize it (Layer::initialize_state).
  explicit Sequential(std::vector<LayerPointer<T>> layers);

  const Chain<T>& layers() const { return chain_; }
  Index n_inputs() const { return chain_.n_inputs(); }
  Index n_outputs() const { return chain_.n_outputs(); }
  // The activation the output ends with, which the loss must suit.
  const Activation& output_activation() const { return last().activation(); }

  Vector<T>& parameters() { return parameters_; }
  const Vector<T>& parameters() const { return parameters_; }
  Vector<T>& gradients() { return gradients_; }
  const Vector<T>& gradients() const { return gradients_; }
  Vector<T>& state() { return state_; }
  const Vector<T>& state() const { return state_; }
  const std::vector<ArrayLayout>& parameter_layout() const { return parameter_layout_; }
  const std::vector<ArrayLayout>& state_layout() const { return state_layout_; }

  // What the training loop asks before splitting batches into blocks of rows (see above).
  bool rows_independent() const { return chain_.row_local() && !chain_.draws(); }
  bool draws() const { return chain_.draws(); }  // a training pass draws from the generator
  Work work_per_row() const { return chain_.work(/*propagates=*/false); }
  // The fewest rows a training batch may have (2 with a batch normalisation, else 1).
  Index min_training_rows() const { return chain_.min_training_rows(); }
  bool has_state() const { return state_.size() > 0; }

  // Every layer's parameters from the generator, layer by layer (Dense: W from `initializer`).
  void initialize(Initializer initializer, Random& random);

  Workspace<T> make_workspace(Index capacity, bool training) const;

  // Forward propagation of a batch X (n, n_inputs) through rows [first, first + n) of the
  // workspace (first + n <= capacity; first > 0 for a block of a batch split into blocks of
  // rows), in the workspace's mode. With a generator (and a training workspace), dropout draws
  // masks; without, it is off. Returns the output (n, n_outputs), a view into the workspace.
  ConstMatrixRef<T> forward(const ConstMatrixRef<T>& X, Workspace<T>& workspace,
                            Random* dropout_random = nullptr, Index first = 0) const;
  // The output of the last forward pass, rows [first, first + n).
  ConstMatrixRef<T> output(const Workspace<T>& workspace, Index first, Index n) const;

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
  // threads. First, after forward on the same X and rows: the error of every layer, from the
  // loss's dL/dZ of the output layer down (Layer::propagate), into the workspace at rows
  // [first, first + n).
  void propagate_errors(const Loss& loss, const ConstMatrixRef<T>& X, const ConstMatrixRef<T>& Y,
                        const ConstVectorRef<T>& weights, double weight_sum,
                        Workspace<T>& workspace, Index first = 0) const;
  // Its first step alone: the loss's dL/dZ of the output layer into the output layer's error, at
  // the rows [first, first + n) (n: Y's rows) of a training workspace after forward.
  void output_errors(const Loss& loss, const ConstMatrixRef<T>& Y, const ConstVectorRef<T>& weights,
                     double weight_sum, Workspace<T>& workspace, Index first = 0) const;
  // Then, with the errors of all n rows of X in the workspace: dL/dθ into `gradients`, only the
  // entries [begin, end) of the flat vector (default: all). begin and end must be where
  // gradient_part's ranges begin (Layer::part_start; Dense: the start of a row of W).
  void accumulate_gradients(const ConstMatrixRef<T>& X, const Workspace<T>& workspace,
                            VectorRef<T> gradients, Index begin = 0, Index end = -1) const;
  // Part `part` of `parts` of the flat gradient, for threads that each compute one: the range
  // block_range(size, part, parts) (the one parallel_ranges hands to that part) with each end
  // moved back to the start of its piece (Layer::part_start). The parts cover the vector once.
  std::pair<Index, Index> gradient_part(int part, int parts) const;

  // After forward on a batch of n rows in a training workspace, in fit: the state the layers
  // learn from batches (running statistics), Layer::update_state.
  void update_state(const Workspace<T>& workspace, Index n);

  // Throws std::invalid_argument unless X is (n >= 1, n_inputs), finite and accepted by the first
  // layer (Layer::check_input), Y (if given) is (n, n_outputs) and weights (if given and not
  // empty) has n non-negative finite entries.
  void check_batch(const ConstMatrixRef<T>& X, const ConstMatrixRef<T>* Y = nullptr,
                   const ConstVectorRef<T>* weights = nullptr) const;

 private:
  const Layer<T>& last() const { return chain_.layer(chain_.size() - 1); }
  Slices<T> slices() const { return {parameters_.data(), state_.data()}; }
  static Mode mode(const Workspace<T>& workspace) {
    return {workspace.training, workspace.dropout_active};
  }

  Chain<T> chain_;
  std::vector<ArrayLayout> parameter_layout_, state_layout_;
  Vector<T> parameters_;
  Vector<T> gradients_;
  Vector<T> state_;
};

extern template class Sequential<float>;
extern template class Sequential<double>;

}  // namespace nncore
