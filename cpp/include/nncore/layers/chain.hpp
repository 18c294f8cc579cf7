// Layers applied one after another, Y = f_k(… f_1(f_0(X))), over consecutive slices of the
// buffers: layer l's parameters (and state) follow layer l − 1's, each in its declared order, and
// its arrays are named by their index path ("2.W"). The body of a Sequential, and of any layer
// made of layers (a residual block's f).
#pragma once

#include <utility>
#include <vector>

#include "nncore/layers/layer.hpp"

namespace nncore {

template <class T>
class Chain {
 public:
  // Throws std::invalid_argument for no layers, a null one, or a layer whose input width is not
  // the output width of the one before it (naming the layer by its index).
  explicit Chain(std::vector<LayerPointer<T>> layers);

  const std::vector<LayerPointer<T>>& layers() const { return layers_; }
  const Layer<T>& layer(Index l) const { return *layers_.at(static_cast<size_t>(l)); }
  Index size() const { return static_cast<Index>(layers_.size()); }
  Index n_inputs() const { return layers_.front()->n_inputs(); }
  Index n_outputs() const { return layers_.back()->n_outputs(); }

  // Entries of the parameter (state) slice of all layers, and where layer l's begins in it.
  Index parameter_size() const { return parameter_offsets_.back(); }
  Index state_size() const { return state_offsets_.back(); }
  Index parameter_offset(Index l) const { return parameter_offsets_.at(static_cast<size_t>(l)); }
  Index state_offset(Index l) const { return state_offsets_.at(static_cast<size_t>(l)); }
  // Every layer's arrays, in buffer order, named by index path: {"0.W", …}, {"1.b", …}.
  std::vector<ArraySpec> parameters() const;
  std::vector<ArraySpec> state() const;

  bool row_local() const;           // every layer is
  bool draws() const;               // some layer does
  Index min_training_rows() const;  // the most any layer needs
  // The layers' work, summed (the widest product: the largest); `propagates`: whether dL/dX is
  // needed (otherwise the layers up to the first with parameters need not pass errors down).
  Work work(bool propagates) const;
  // Layer::part_start of the layer `at` falls in (`at` an entry of the chain's parameter slice).
  Index part_start(Index at) const;

  void initialize(T* parameters, Initializer initializer, Random& random) const;
  void initialize_state(T* state) const;  // every layer's Layer::initialize_state
  std::vector<LayerWorkspace<T>> make_workspace(Index capacity, bool training) const;
  // The last layer's output, rows [first, first + n).
  ConstMatrixRef<T> output(const std::vector<LayerWorkspace<T>>& workspace, Index first,
                           Index n) const;

  // Layer::forward, propagate and accumulate_gradients of the chain: each layer's in turn
  // (backward: in reverse), each on its slices and its input (X, or the output of the one
  // before). propagate starts from dL/dY in the last layer's error; dX as for Layer::propagate.
  void forward(const Slices<T>& slices, const ConstMatrixRef<T>& X,
               std::vector<LayerWorkspace<T>>& workspace, Index first, const Mode& mode,
               Random* random) const;
  void propagate(const Slices<T>& slices, const ConstMatrixRef<T>& X,
                 std::vector<LayerWorkspace<T>>& workspace, Index first, const Mode& mode,
                 bool error_at_logits, Matrix<T>* dX) const;
  void accumulate_gradients(const Slices<T>& slices, const ConstMatrixRef<T>& X,
                            const std::vector<LayerWorkspace<T>>& workspace, T* gradient,
                            Index begin, Index end) const;
  // Layer::update_state of every layer with state, each into its slice of `state`.
  void update_state(T* state, const std::vector<LayerWorkspace<T>>& workspace, Index n) const;

 private:
  Slices<T> slices_of(const Slices<T>& slices, size_t l) const {
    return {slices.parameters + parameter_offsets_[l], slices.state + state_offsets_[l]};
  }
  // The input of layer l for the rows [first, first + n): X, or the output of layer l − 1.
  static ConstMatrixRef<T> input(size_t l, const ConstMatrixRef<T>& X,
                                 const std::vector<LayerWorkspace<T>>& workspace, Index first) {
    if (l == 0) return X;
    return workspace[l - 1].output.middleRows(first, X.rows());
  }

  std::vector<LayerPointer<T>> layers_;
  std::vector<Index> parameter_offsets_, state_offsets_;  // per layer, then the total
  size_t first_with_parameters_;  // layers before it pass no errors down unless dL/dX is needed
};

extern template class Chain<float>;
extern template class Chain<double>;

}  // namespace nncore
