#include "nncore/layers/chain.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace nncore {

namespace {

std::string describe(Index l, const std::string& kind) {
  return "layer " + std::to_string(l) + " (" + kind + ")";
}

// The arrays of every layer of `layers`, as declare(layer) lists them, named by index path.
template <class T, class Declare>
std::vector<ArraySpec> named(const std::vector<LayerPointer<T>>& layers, const Declare& declare) {
  std::vector<ArraySpec> arrays;
  for (size_t l = 0; l < layers.size(); ++l)
    for (ArraySpec array : declare(*layers[l])) {
      array.name = std::to_string(l) + "." + array.name;
      arrays.push_back(std::move(array));
    }
  return arrays;
}

Index total_size(const std::vector<ArraySpec>& arrays) {
  Index size = 0;
  for (const ArraySpec& array : arrays) size += array.size();
  return size;
}

}  // namespace

template <class T>
Chain<T>::Chain(std::vector<LayerPointer<T>> layers) : layers_(std::move(layers)) {
  if (layers_.empty()) throw std::invalid_argument("a chain of layers needs at least one layer");
  parameter_offsets_.push_back(0);
  state_offsets_.push_back(0);
  first_with_parameters_ = layers_.size();
  for (size_t l = 0; l < layers_.size(); ++l) {
    const Index i = static_cast<Index>(l);
    if (layers_[l] == nullptr)
      throw std::invalid_argument("layer " + std::to_string(l) + " is null");
    const Layer<T>& layer = *layers_[l];
    if (l > 0 && layer.n_inputs() != layers_[l - 1]->n_outputs())
      throw std::invalid_argument(describe(i, layer.kind()) + " takes " +
                                  std::to_string(layer.n_inputs()) + " inputs, but " +
                                  describe(i - 1, layers_[l - 1]->kind()) + " gives " +
                                  std::to_string(layers_[l - 1]->n_outputs()));
    const Index parameters = total_size(layer.parameters());
    if (parameters > 0 && first_with_parameters_ == layers_.size()) first_with_parameters_ = l;
    parameter_offsets_.push_back(parameter_offsets_.back() + parameters);
    state_offsets_.push_back(state_offsets_.back() + total_size(layer.state()));
    // Each layer's widths are at most 2^24, so no layer's arrays overflow Index; their sum
    // is bounded here.
    if (parameter_offsets_.back() > (Index{1} << 40) || state_offsets_.back() > (Index{1} << 40))
      throw std::invalid_argument("network has too many parameters");
  }
}

template <class T>
std::vector<ArraySpec> Chain<T>::parameters() const {
  return named<T>(layers_, [](const Layer<T>& layer) { return layer.parameters(); });
}

template <class T>
std::vector<ArraySpec> Chain<T>::state() const {
  return named<T>(layers_, [](const Layer<T>& layer) { return layer.state(); });
}

template <class T>
bool Chain<T>::row_local() const {
  return std::all_of(layers_.begin(), layers_.end(), [](const auto& l) { return l->row_local(); });
}

template <class T>
bool Chain<T>::draws() const {
  return std::any_of(layers_.begin(), layers_.end(), [](const auto& l) { return l->draws(); });
}

template <class T>
Index Chain<T>::min_training_rows() const {
  Index rows = 1;
  for (const auto& layer : layers_) rows = std::max(rows, layer->min_training_rows());
  return rows;
}

template <class T>
Work Chain<T>::work(bool propagates) const {
  Work total;
  for (size_t l = 0; l < layers_.size(); ++l) {
    const Work work = layers_[l]->work(propagates || l > first_with_parameters_);
    total.per_row += work.per_row;
    total.widest_per_row = std::max(total.widest_per_row, work.widest_per_row);
  }
  return total;
}

template <class T>
Index Chain<T>::part_start(Index at) const {
  for (size_t l = 0; l < layers_.size(); ++l)
    if (at >= parameter_offsets_[l] && at < parameter_offsets_[l + 1])
      return parameter_offsets_[l] + layers_[l]->part_start(at - parameter_offsets_[l]);
  return at;
}

template <class T>
void Chain<T>::initialize(T* parameters, Initializer initializer, Random& random) const {
  for (size_t l = 0; l < layers_.size(); ++l)
    layers_[l]->initialize(parameters + parameter_offsets_[l], initializer, random);
}

template <class T>
void Chain<T>::initialize_state(T* state) const {
  for (size_t l = 0; l < layers_.size(); ++l)
    layers_[l]->initialize_state(state + state_offsets_[l]);
}

template <class T>
std::vector<LayerWorkspace<T>> Chain<T>::make_workspace(Index capacity, bool training) const {
  std::vector<LayerWorkspace<T>> workspace;
  for (const auto& layer : layers_) workspace.push_back(layer->make_workspace(capacity, training));
  return workspace;
}

template <class T>
ConstMatrixRef<T> Chain<T>::output(const std::vector<LayerWorkspace<T>>& workspace, Index first,
                                   Index n) const {
  return workspace.back().output.middleRows(first, n);
}

template <class T>
void Chain<T>::forward(const Slices<T>& slices, const ConstMatrixRef<T>& X,
                       std::vector<LayerWorkspace<T>>& workspace, Index first, const Mode& mode,
                       Random* random) const {
  for (size_t l = 0; l < layers_.size(); ++l)
    layers_[l]->forward(slices_of(slices, l), input(l, X, workspace, first), workspace[l], first,
                        mode, random);
}

template <class T>
void Chain<T>::propagate(const Slices<T>& slices, const ConstMatrixRef<T>& X,
                         std::vector<LayerWorkspace<T>>& workspace, Index first, const Mode& mode,
                         bool error_at_logits, Matrix<T>* dX) const {
  // Without dL/dX, the layers below the first with parameters need no errors, and that one
  // passes none down.
  const size_t lowest = dX != nullptr ? 0 : first_with_parameters_, last = layers_.size() - 1;
  for (size_t l = last + 1; l-- > lowest;) {
    Matrix<T>* below =
        l > lowest || dX != nullptr ? (l > 0 ? &workspace[l - 1].error : dX) : nullptr;
    layers_[l]->propagate(slices_of(slices, l), input(l, X, workspace, first), workspace[l], first,
                          mode, error_at_logits && l == last, below);
  }
}

template <class T>
void Chain<T>::accumulate_gradients(const Slices<T>& slices, const ConstMatrixRef<T>& X,
                                    const std::vector<LayerWorkspace<T>>& workspace, T* gradient,
                                    Index begin, Index end) const {
  for (size_t l = 0; l < layers_.size(); ++l) {
    const Index offset = parameter_offsets_[l], size = parameter_offsets_[l + 1] - offset;
    const Index from = std::clamp(begin - offset, Index{0}, size);
    const Index to = std::clamp(end - offset, Index{0}, size);
    if (from < to)
      layers_[l]->accumulate_gradients(slices_of(slices, l), input(l, X, workspace, 0),
                                       workspace[l], gradient + offset, from, to);
  }
}

template <class T>
void Chain<T>::update_state(T* state, const std::vector<LayerWorkspace<T>>& workspace,
                            Index n) const {
  for (size_t l = 0; l < layers_.size(); ++l)
    if (state_offsets_[l + 1] > state_offsets_[l])
      layers_[l]->update_state(state + state_offsets_[l], workspace[l], n);
}

template class Chain<float>;
template class Chain<double>;

}  // namespace nncore
