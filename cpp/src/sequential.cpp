#include "nncore/sequential.hpp"

#include <stdexcept>
#include <string>

#include "finite.hpp"
#include "nncore/parallel.hpp"

namespace nncore {

namespace {

// Where each array lies in a buffer of the arrays laid out one after another.
std::vector<ArrayLayout> laid_out(const std::vector<ArraySpec>& arrays) {
  std::vector<ArrayLayout> layout;
  Index offset = 0;
  for (const ArraySpec& array : arrays) {
    layout.push_back({array.name, array.shape, offset});
    offset += array.size();
  }
  return layout;
}

}  // namespace

template <class T>
Sequential<T>::Sequential(std::vector<LayerPointer<T>> layers)
    : chain_(std::move(layers)),
      parameter_layout_(laid_out(chain_.parameters())),
      state_layout_(laid_out(chain_.state())),
      parameters_(Vector<T>::Zero(chain_.parameter_size())),
      gradients_(Vector<T>::Zero(chain_.parameter_size())),
      state_(Vector<T>::Zero(chain_.state_size())) {
  chain_.initialize_state(state_.data());
}

template <class T>
void Sequential<T>::initialize(Initializer initializer, Random& random) {
  chain_.initialize(parameters_.data(), initializer, random);
}

template <class T>
Workspace<T> Sequential<T>::make_workspace(Index capacity, bool training) const {
  if (capacity < 1) throw std::invalid_argument("workspace capacity must be at least 1");
  Workspace<T> workspace;
  workspace.capacity = capacity;
  workspace.training = training;
  workspace.layers = chain_.make_workspace(capacity, training);
  return workspace;
}

template <class T>
void Sequential<T>::check_batch(const ConstMatrixRef<T>& X, const ConstMatrixRef<T>* Y,
                                const ConstVectorRef<T>* weights) const {
  if (X.rows() < 1) throw std::invalid_argument("X must have at least one row");
  if (X.cols() != n_inputs())
    throw std::invalid_argument("X must have " + std::to_string(n_inputs()) + " columns, got " +
                                std::to_string(X.cols()));
  if (Y != nullptr && (Y->rows() != X.rows() || Y->cols() != n_outputs()))
    throw std::invalid_argument("Y must have shape (" + std::to_string(X.rows()) + ", " +
                                std::to_string(n_outputs()) + "), got (" +
                                std::to_string(Y->rows()) + ", " + std::to_string(Y->cols()) + ")");
  if (!all_finite<T>(X))
    throw std::invalid_argument("X contains NaN or infinity; clean or scale it first");
  try {
    chain_.layer(0).check_input(X);
  } catch (const std::invalid_argument& error) {  // named as the Python layers name it
    throw std::invalid_argument("layer 0 (" + chain_.layer(0).kind() + "): " + error.what());
  }
  if (Y != nullptr && !all_finite<T>(*Y))
    throw std::invalid_argument("Y contains NaN or infinity; clean or scale it first");
  if (weights != nullptr && weights->size() != 0) {
    if (weights->size() != X.rows())
      throw std::invalid_argument("sample_weight must have " + std::to_string(X.rows()) +
                                  " entries, got " + std::to_string(weights->size()));
    if (!all_finite(*weights) || (weights->array() < T(0)).any())
      throw std::invalid_argument("sample_weight must be finite and >= 0");
  }
}

template <class T>
ConstMatrixRef<T> Sequential<T>::forward(const ConstMatrixRef<T>& X, Workspace<T>& workspace,
                                         Random* dropout_random, Index first) const {
  const Index n = X.rows();
  if (first < 0 || first + n > workspace.capacity)
    throw std::invalid_argument("batch larger than the workspace");
  if (workspace.layers.size() != chain_.layers().size())
    throw std::invalid_argument("the workspace was made for another network");
  // Written only when it changes: the blocks of a split batch share one workspace (and run
  // without dropout).
  const bool drawing = dropout_random != nullptr && workspace.training;
  if (workspace.dropout_active != drawing) workspace.dropout_active = drawing;
  chain_.forward(slices(), X, workspace.layers, first, mode(workspace), dropout_random);
  return output(workspace, first, n);
}

template <class T>
ConstMatrixRef<T> Sequential<T>::output(const Workspace<T>& workspace, Index first, Index n) const {
  return chain_.output(workspace.layers, first, n);
}

template <class T>
double Sequential<T>::summed_error(const Loss& loss, const ConstMatrixRef<T>& Y,
                                   const ConstVectorRef<T>& weights, const Workspace<T>& workspace,
                                   Index first) const {
  const Index n = Y.rows();
  const LayerWorkspace<T>& out = workspace.layers.back();
  return nncore::summed_error<T>(loss, last().logits(out).middleRows(first, n),
                                 out.output.middleRows(first, n), Y, weights);
}

template <class T>
void Sequential<T>::backward(const Loss& loss, const ConstMatrixRef<T>& X,
                             const ConstMatrixRef<T>& Y, const ConstVectorRef<T>& weights,
                             double weight_sum, Workspace<T>& workspace) {
  backward(loss, X, Y, weights, weight_sum, workspace, gradients_);
}

template <class T>
void Sequential<T>::backward(const Loss& loss, const ConstMatrixRef<T>& X,
                             const ConstMatrixRef<T>& Y, const ConstVectorRef<T>& weights,
                             double weight_sum, Workspace<T>& workspace,
                             VectorRef<T> gradients) const {
  if (gradients.size() != gradients_.size())
    throw std::invalid_argument("the gradient buffer has the wrong length");
  propagate_errors(loss, X, Y, weights, weight_sum, workspace);
  accumulate_gradients(X, workspace, gradients);
}

template <class T>
void Sequential<T>::propagate_errors(const Loss& loss, const ConstMatrixRef<T>& X,
                                     const ConstMatrixRef<T>& Y, const ConstVectorRef<T>& weights,
                                     double weight_sum, Workspace<T>& workspace,
                                     Index first) const {
  if (Y.rows() != X.rows()) throw std::invalid_argument("Y must have as many rows as X");
  output_errors(loss, Y, weights, weight_sum, workspace, first);  // (checks the workspace)
  chain_.propagate(slices(), X, workspace.layers, first, mode(workspace), /*error_at_logits=*/true,
                   /*dX=*/nullptr);
}

template <class T>
void Sequential<T>::output_errors(const Loss& loss, const ConstMatrixRef<T>& Y,
                                  const ConstVectorRef<T>& weights, double weight_sum,
                                  Workspace<T>& workspace, Index first) const {
  const Index n = Y.rows();
  if (!workspace.training || first < 0 || first + n > workspace.capacity)
    throw std::invalid_argument("workspace was not made for training");
  LayerWorkspace<T>& out = workspace.layers.back();
  output_delta<T>(loss, output_activation(), last().logits(out).middleRows(first, n),
                  out.output.middleRows(first, n), Y, weights, weight_sum,
                  out.error.middleRows(first, n));
}

template <class T>
void Sequential<T>::accumulate_gradients(const ConstMatrixRef<T>& X, const Workspace<T>& workspace,
                                         VectorRef<T> gradients, Index begin, Index end) const {
  if (gradients.size() != gradients_.size())
    throw std::invalid_argument("the gradient buffer has the wrong length");
  if (!workspace.training || X.rows() > workspace.capacity)
    throw std::invalid_argument("workspace was not made for training");
  if (end < 0) end = gradients.size();
  if (begin < 0 || begin > end || end > gradients.size())
    throw std::invalid_argument("accumulate_gradients: [begin, end) must lie in the gradient");
  chain_.accumulate_gradients(slices(), X, workspace.layers, gradients.data(), begin, end);
}

template <class T>
void Sequential<T>::update_state(const Workspace<T>& workspace, Index n) {
  if (!workspace.training || n < 1 || n > workspace.capacity)
    throw std::invalid_argument("update_state needs a training workspace and its batch's rows");
  chain_.update_state(state_.data(), workspace.layers, n);
}

template <class T>
std::pair<Index, Index> Sequential<T>::gradient_part(int part, int parts) const {
  if (parts < 1 || part < 0 || part >= parts)
    throw std::invalid_argument("gradient_part: need 0 <= part < parts");
  const auto [begin, end] = block_range(gradients_.size(), part, parts);
  return {chain_.part_start(begin), chain_.part_start(end)};
}

template class Sequential<float>;
template class Sequential<double>;

}  // namespace nncore
