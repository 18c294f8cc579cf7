// What a layer of a network is to the core: a function of a batch, Y = f(X; θ), with its backward
// rule, written over its slices of the network's flat buffers (see nncore/sequential.hpp for how
// the layers are put together). Shapes, for a batch of n rows: X (n, n_inputs), Y (n, n_outputs).
// A layer object holds only its description (widths, rate, activation): the numbers live in the
// network's buffers (parameters, gradients, state) and in a workspace (what one batch computes),
// so one layer object serves any number of threads and workspaces at once.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "nncore/activation.hpp"
#include "nncore/random.hpp"
#include "nncore/types.hpp"

namespace nncore {

enum class Initializer { glorot_uniform, glorot_normal, he_uniform, he_normal };

// Parses "glorot_uniform", "glorot_normal", "he_uniform", "he_normal"; throws otherwise.
Initializer initializer_from_name(const std::string& name);

// An array a layer declares by name: one of its parameters (trained) or of its state (not
// trained: running statistics). Row-major in its buffer.
struct ArraySpec {
  std::string name;
  std::vector<Index> shape;
  Index size() const {
    Index size = 1;
    for (const Index extent : shape) size *= extent;
    return size;
  }
};

// A layer's slices of the network's buffers, laid out as it declares its arrays.
template <class T>
struct Slices {
  const T* parameters = nullptr;
  const T* state = nullptr;
};

// What a forward pass is for; the backward pass after it is given the same.
struct Mode {
  bool training = false;  // training (batch statistics, errors kept); else inference
  bool drawing = false;   // training with the model's generator: dropout draws masks
};

// Multiply-adds per row of a batch of a training step (forward pass, parameter gradients and, if
// asked, the error passed down), and those of its largest single product: what decides whether a
// batch is worth splitting into blocks of rows (nncore/parallel.hpp's row_blocks).
struct Work {
  double per_row = 0.0;
  double widest_per_row = 0.0;
};

// One layer's buffers for batches of up to `capacity` rows, allocated once.
template <class T>
struct LayerWorkspace {
  Matrix<T> output;             // Y (capacity, n_outputs)
  Matrix<T> error;              // dL/dY (capacity, n_outputs); training only, else no rows
  std::vector<Matrix<T>> kept;  // what forward keeps for backward, in the layer's own shapes
  std::vector<LayerWorkspace<T>> children;  // a layer made of layers: theirs (Residual)
};

template <class T>
class Layer {
 public:
  // Throws std::invalid_argument unless both widths are between 1 and 2^24 (so that no product
  // of two widths overflows Index).
  Layer(Index n_inputs, Index n_outputs);
  virtual ~Layer() = default;

  Index n_inputs() const { return n_inputs_; }
  Index n_outputs() const { return n_outputs_; }
  virtual std::string kind() const = 0;  // its type's name, for messages: "Dense"

  // The arrays it declares, in buffer order: its parameters (what optimizers update) and its
  // state (what they never see).
  virtual std::vector<ArraySpec> parameters() const { return {}; }
  virtual std::vector<ArraySpec> state() const { return {}; }

  // Whether row i of Y, and of dL/dX, depends on row i of X (and dL/dY) alone: then a batch may
  // be split into blocks of rows on threads. A batch normalisation is not.
  virtual bool row_local() const { return true; }
  // Whether a training pass draws from the model's generator (dropout masks, in row order).
  virtual bool draws() const { return false; }
  // The fewest rows a batch may have in training mode (a batch normalisation's variance needs 2).
  virtual Index min_training_rows() const { return 1; }
  // The activation Y ends with: what the loss pairs with when this is the output layer.
  virtual const Activation& activation() const;
  // The work of a training step; `propagates`: whether it computes dL/dX.
  virtual Work work(bool /*propagates*/) const { return {}; }
  // The start of the piece of its gradient that the entry `at` (of its gradient slice) falls in:
  // a batch's gradient is computed in parts on threads, each part starting there (Dense: at a
  // row of W). Every entry by default.
  virtual Index part_start(Index at) const { return at; }

  // Initial parameters, drawn from the generator in buffer order (none by default).
  virtual void initialize(T* /*parameters*/, Initializer /*initializer*/,
                          Random& /*random*/) const {}
  // Initial state (a batch normalisation's running variance: ones), once, when the Sequential is
  // made; zeros by default.
  virtual void initialize_state(T* /*state*/) const {}
  // Throws std::invalid_argument unless X is an input this layer accepts as the first layer,
  // beyond its width (an embedding: integer codes in range). Checked before fit, forward or
  // gradient uses X; nothing by default.
  virtual void check_input(const ConstMatrixRef<T>& /*X*/) const {}

  // Its buffers; the default: Y and (training) dL/dY, nothing kept.
  virtual LayerWorkspace<T> make_workspace(Index capacity, bool training) const;
  // The output layer's logits for the loss (its Y before the activation): Y by default.
  virtual const Matrix<T>& logits(const LayerWorkspace<T>& workspace) const {
    return workspace.output;
  }

  // Forward propagation, Y = f(X), of the rows X (n rows) into rows [first, first + n) of the
  // workspace. `random`: the generator when mode.drawing, else null.
  virtual void forward(const Slices<T>& slices, const ConstMatrixRef<T>& X,
                       LayerWorkspace<T>& workspace, Index first, const Mode& mode,
                       Random* random) const = 0;

  // Backward propagation through the same rows, from dL/dY in workspace.error (dL/d logits when
  // `error_at_logits`: the loss's error of the output layer). The layer may rewrite that error
  // (Dense turns dL/dY into dL/dZ for its gradient), and writes dL/dX into the rows
  // [first, first + n) of dX (the error buffer of the layer below), unless dX is null (no layer
  // below needs it). X: the same rows as forward's.
  virtual void propagate(const Slices<T>& slices, const ConstMatrixRef<T>& X,
                         LayerWorkspace<T>& workspace, Index first, const Mode& mode,
                         bool error_at_logits, Matrix<T>* dX) const = 0;

  // After propagate on all n rows of X: the entries [begin, end) (0 <= begin < end <= the
  // parameters' size, begin a part_start) of dL/dθ into `gradient`, its gradient slice (none
  // without parameters).
  virtual void accumulate_gradients(const Slices<T>& /*slices*/, const ConstMatrixRef<T>& /*X*/,
                                    const LayerWorkspace<T>& /*workspace*/, T* /*gradient*/,
                                    Index /*begin*/, Index /*end*/) const {}

  // After a training forward pass of a batch of n rows in fit (never in a gradient computation,
  // which changes nothing): the state learned from batches (a batch normalisation's running
  // statistics) into `state`, the layer's state slice, from what forward kept. Nothing by default.
  virtual void update_state(T* /*state*/, const LayerWorkspace<T>& /*workspace*/,
                            Index /*n*/) const {}

 private:
  Index n_inputs_, n_outputs_;
};

template <class T>
using LayerPointer = std::shared_ptr<const Layer<T>>;

extern template class Layer<float>;
extern template class Layer<double>;

}  // namespace nncore
