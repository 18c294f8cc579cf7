#include "nncore/network.hpp"

#include <cmath>
#include <limits>
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
Network<T>::Network(std::vector<Index> layer_sizes, std::vector<Activation> activations,
                    bool use_bias)
    : layer_sizes_(std::move(layer_sizes)), activations_(std::move(activations)),
      use_bias_(use_bias) {
  if (layer_sizes_.size() < 2)
    throw std::invalid_argument("layer_sizes needs at least an input and an output size");
  if (activations_.size() != layer_sizes_.size() - 1)
    throw std::invalid_argument("need one activation per layer: " +
                                std::to_string(layer_sizes_.size() - 1) + " expected, got " +
                                std::to_string(activations_.size()));
  // Sizes are bounded so that the parameter count cannot overflow Index.
  constexpr Index max_width = Index{1} << 24;
  Index offset = 0;
  for (size_t l = 0; l + 1 < layer_sizes_.size(); ++l) {
    const Index n_in = layer_sizes_[l], n_out = layer_sizes_[l + 1];
    if (n_in < 1 || n_out < 1 || n_in > max_width || n_out > max_width)
      throw std::invalid_argument("layer sizes must be between 1 and 2^24, got " +
                                  std::to_string(n_in) + " and " + std::to_string(n_out));
    weight_offsets_.push_back(offset);
    offset += n_in * n_out;
    bias_offsets_.push_back(offset);
    if (use_bias_) offset += n_out;
    if (offset > (Index{1} << 40)) throw std::invalid_argument("network has too many parameters");
  }
  for (size_t l = 0; l + 1 < activations_.size(); ++l)
    if (activations_[l].kind == ActivationKind::softmax)
      throw std::invalid_argument("softmax is only available on the output layer");
  parameters_ = Vector<T>::Zero(offset);
  gradients_ = Vector<T>::Zero(offset);
}

template <class T>
Dense<T> Network<T>::layer(Index l) {
  const auto i = static_cast<size_t>(l);
  const Index n_in = layer_sizes_.at(i), n_out = layer_sizes_.at(i + 1);
  const Index n_bias = use_bias_ ? n_out : 0;
  return Dense<T>{MatrixMap<T>(parameters_.data() + weight_offsets_[i], n_in, n_out),
                  RowVectorMap<T>(parameters_.data() + bias_offsets_[i], n_bias),
                  MatrixMap<T>(gradients_.data() + weight_offsets_[i], n_in, n_out),
                  RowVectorMap<T>(gradients_.data() + bias_offsets_[i], n_bias),
                  activations_[i]};
}

template <class T>
void Network<T>::initialize(Initializer initializer, Random& random) {
  for (Index l = 0; l < n_layers(); ++l) {
    Dense<T> dense = layer(l);
    const double fan_in = static_cast<double>(dense.W.rows());
    const double fan_out = static_cast<double>(dense.W.cols());
    const bool glorot =
        initializer == Initializer::glorot_uniform || initializer == Initializer::glorot_normal;
    const double fan = glorot ? (fan_in + fan_out) / 2.0 : fan_in / 2.0;
    // Both families give Var(w) = 1/fan: U(±sqrt(3/fan)) or N(0, sqrt(1/fan)).
    const bool uniform =
        initializer == Initializer::glorot_uniform || initializer == Initializer::he_uniform;
    const double limit = std::sqrt(3.0 / fan), stddev = std::sqrt(1.0 / fan);
    T* w = dense.W.data();
    for (Index i = 0; i < dense.W.size(); ++i)
      w[i] = static_cast<T>(uniform ? random.uniform(-limit, limit) : stddev * random.normal());
    dense.b.setZero();
  }
}

template <class T>
Workspace<T> Network<T>::make_workspace(Index capacity) const {
  if (capacity < 1) throw std::invalid_argument("workspace capacity must be at least 1");
  Workspace<T> workspace;
  workspace.capacity = capacity;
  for (Index l = 1; l <= n_layers(); ++l) {
    workspace.activations.emplace_back(capacity, layer_sizes_[static_cast<size_t>(l)]);
    workspace.deltas.emplace_back(capacity, layer_sizes_[static_cast<size_t>(l)]);
  }
  workspace.logits.resize(capacity, n_outputs());
  return workspace;
}

template <class T>
void Network<T>::check_batch(const ConstMatrixRef<T>& X, const ConstMatrixRef<T>* Y) const {
  if (X.rows() < 1) throw std::invalid_argument("X must have at least one row");
  if (X.cols() != n_inputs())
    throw std::invalid_argument("X must have " + std::to_string(n_inputs()) + " columns, got " +
                                std::to_string(X.cols()));
  if (Y != nullptr && (Y->rows() != X.rows() || Y->cols() != n_outputs()))
    throw std::invalid_argument("Y must have shape (" + std::to_string(X.rows()) + ", " +
                                std::to_string(n_outputs()) + "), got (" +
                                std::to_string(Y->rows()) + ", " + std::to_string(Y->cols()) +
                                ")");
}

template <class T>
ConstMatrixRef<T> Network<T>::forward(const ConstMatrixRef<T>& X,
                                            Workspace<T>& workspace) const {
  const Index n = X.rows();
  if (n > workspace.capacity) throw std::invalid_argument("batch larger than the workspace");
  const Index last = n_layers() - 1;
  for (Index l = 0; l < last; ++l) {
    const auto A_prev = l == 0 ? X : ConstMatrixRef<T>(workspace.activations[l - 1].topRows(n));
    layer(l).forward(A_prev, workspace.activations[static_cast<size_t>(l)].topRows(n));
  }
  // The output layer keeps its logits Z_L: the cross-entropies are evaluated on them.
  const auto A_prev = last == 0 ? X : ConstMatrixRef<T>(workspace.activations[last - 1].topRows(n));
  auto Z = workspace.logits.topRows(n);
  auto A = workspace.activations[static_cast<size_t>(last)].topRows(n);
  layer(last).affine(A_prev, Z);
  A = Z;
  activate_in_place<T>(activations_.back(), A);
  return A;
}

template <class T>
double Network<T>::summed_error(const Loss& loss, const ConstMatrixRef<T>& Y,
                                Workspace<T>& workspace) const {
  const Index n = Y.rows();
  return nncore::summed_error<T>(loss, workspace.logits.topRows(n),
                                 workspace.activations.back().topRows(n), Y);
}

template <class T>
void Network<T>::backward(const Loss& loss, const ConstMatrixRef<T>& X, const ConstMatrixRef<T>& Y,
                          Workspace<T>& workspace) {
  const Index n = X.rows();
  const Index last = n_layers() - 1;
  auto& A = workspace.activations;
  auto& dZ = workspace.deltas;
  output_delta<T>(loss, activations_.back(), A[static_cast<size_t>(last)].topRows(n), Y,
                  dZ[static_cast<size_t>(last)].topRows(n));
  for (Index l = last; l >= 0; --l) {
    const auto i = static_cast<size_t>(l);
    const auto A_prev = l == 0 ? X : ConstMatrixRef<T>(A[i - 1].topRows(n));
    Dense<T> dense = layer(l);
    dense.accumulate_gradients(A_prev, dZ[i].topRows(n));
    if (l > 0)
      dense.propagate(dZ[i].topRows(n), activations_[i - 1], A_prev, dZ[i - 1].topRows(n));
  }
}

template class Network<float>;
template class Network<double>;

}  // namespace nncore
