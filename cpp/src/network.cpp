#include "nncore/network.hpp"

#include <algorithm>
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
                    bool use_bias, std::vector<double> dropout)
    : layer_sizes_(std::move(layer_sizes)),
      activations_(std::move(activations)),
      use_bias_(use_bias),
      dropout_(std::move(dropout)) {
  if (layer_sizes_.size() < 2)
    throw std::invalid_argument("layer_sizes needs at least an input and an output size");
  if (activations_.size() != layer_sizes_.size() - 1)
    throw std::invalid_argument(
        "need one activation per layer: " + std::to_string(layer_sizes_.size() - 1) +
        " expected, got " + std::to_string(activations_.size()));
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
  if (!dropout_.empty() && dropout_.size() != layer_sizes_.size() - 2)
    throw std::invalid_argument(
        "need one dropout rate per hidden layer: " + std::to_string(layer_sizes_.size() - 2) +
        " expected, got " + std::to_string(dropout_.size()));
  for (double rate : dropout_)
    if (!(rate >= 0.0 && rate < 1.0))
      throw std::invalid_argument("dropout rates must be in [0, 1), got " + std::to_string(rate));
  parameters_ = Vector<T>::Zero(offset);
  gradients_ = Vector<T>::Zero(offset);
}

template <class T>
Dense<T> Network<T>::layer(Index l) {
  return layer_with_gradients(l, gradients_.data());
}

template <class T>
Dense<T> Network<T>::layer_with_gradients(Index l, T* gradients) const {
  const auto i = static_cast<size_t>(l);
  const Index n_in = layer_sizes_.at(i), n_out = layer_sizes_.at(i + 1);
  const Index n_bias = use_bias_ ? n_out : 0;
  const T* parameters = parameters_.data();
  return Dense<T>{ConstMatrixMap<T>(parameters + weight_offsets_[i], n_in, n_out),
                  ConstRowVectorMap<T>(parameters + bias_offsets_[i], n_bias),
                  MatrixMap<T>(gradients + weight_offsets_[i], n_in, n_out),
                  RowVectorMap<T>(gradients + bias_offsets_[i], n_bias), activations_[i]};
}

template <class T>
void Network<T>::initialize(Initializer initializer, Random& random) {
  for (Index l = 0; l < n_layers(); ++l) {
    const auto i = static_cast<size_t>(l);
    const Index n_in = layer_sizes_[i], n_out = layer_sizes_[i + 1];
    const double fan_in = static_cast<double>(n_in);
    const double fan_out = static_cast<double>(n_out);
    const bool glorot =
        initializer == Initializer::glorot_uniform || initializer == Initializer::glorot_normal;
    const double fan = glorot ? (fan_in + fan_out) / 2.0 : fan_in / 2.0;
    // Both families give Var(w) = 1/fan: U(±sqrt(3/fan)) or N(0, sqrt(1/fan)).
    const bool uniform =
        initializer == Initializer::glorot_uniform || initializer == Initializer::he_uniform;
    const double limit = std::sqrt(3.0 / fan), stddev = std::sqrt(1.0 / fan);
    auto W = parameters_.segment(weight_offsets_[i], n_in * n_out);
    for (Index j = 0; j < W.size(); ++j)
      W[j] = static_cast<T>(uniform ? random.uniform(-limit, limit) : stddev * random.normal());
    parameters_.segment(bias_offsets_[i], use_bias_ ? n_out : 0).setZero();
  }
}

template <class T>
Workspace<T> Network<T>::make_workspace(Index capacity, bool training) const {
  if (capacity < 1) throw std::invalid_argument("workspace capacity must be at least 1");
  Workspace<T> workspace;
  workspace.capacity = capacity;
  for (Index l = 0; l < n_layers(); ++l) {
    const Index width = layer_sizes_[static_cast<size_t>(l + 1)];
    const bool dropout = training && l + 1 < n_layers() && !dropout_.empty() &&
                         dropout_[static_cast<size_t>(l)] > 0.0;
    workspace.Z.emplace_back(capacity, width);
    workspace.A.emplace_back(capacity, width);
    workspace.dropped.emplace_back(dropout ? capacity : 0, width);
    workspace.mask.emplace_back(dropout ? capacity : 0, width);
    workspace.delta.emplace_back(training ? capacity : 0, width);
  }
  return workspace;
}

template <class T>
void Network<T>::check_batch(const ConstMatrixRef<T>& X, const ConstMatrixRef<T>* Y,
                             const ConstVectorRef<T>* weights) const {
  if (X.rows() < 1) throw std::invalid_argument("X must have at least one row");
  if (X.cols() != n_inputs())
    throw std::invalid_argument("X must have " + std::to_string(n_inputs()) + " columns, got " +
                                std::to_string(X.cols()));
  if (Y != nullptr && (Y->rows() != X.rows() || Y->cols() != n_outputs()))
    throw std::invalid_argument("Y must have shape (" + std::to_string(X.rows()) + ", " +
                                std::to_string(n_outputs()) + "), got (" +
                                std::to_string(Y->rows()) + ", " + std::to_string(Y->cols()) + ")");
  if (!X.allFinite())
    throw std::invalid_argument("X contains NaN or infinity; clean or scale it first");
  if (Y != nullptr && !Y->allFinite())
    throw std::invalid_argument("Y contains NaN or infinity; clean or scale it first");
  if (weights != nullptr && weights->size() != 0) {
    if (weights->size() != X.rows())
      throw std::invalid_argument("sample_weight must have " + std::to_string(X.rows()) +
                                  " entries, got " + std::to_string(weights->size()));
    if (!weights->allFinite() || (weights->array() < T(0)).any())
      throw std::invalid_argument("sample_weight must be finite and >= 0");
  }
}

template <class T>
ConstMatrixRef<T> Network<T>::layer_input(Index l, const ConstMatrixRef<T>& X,
                                          const Workspace<T>& workspace, bool dropout_on,
                                          Index first) const {
  if (l == 0) return X;
  const auto i = static_cast<size_t>(l - 1);
  const Index n = X.rows();
  if (dropout_on && workspace.dropped[i].rows() > 0)
    return workspace.dropped[i].middleRows(first, n);
  return workspace.A[i].middleRows(first, n);
}

template <class T>
ConstMatrixRef<T> Network<T>::forward(const ConstMatrixRef<T>& X, Workspace<T>& workspace,
                                      Random* dropout_random, Index first) const {
  const Index n = X.rows();
  if (first < 0 || first + n > workspace.capacity)
    throw std::invalid_argument("batch larger than the workspace");
  // Written only when it changes: the blocks of a split batch share one workspace (and run
  // without dropout).
  const bool dropout_on = dropout_random != nullptr;
  if (workspace.dropout_active != dropout_on) workspace.dropout_active = dropout_on;
  for (Index l = 0; l < n_layers(); ++l) {
    const auto i = static_cast<size_t>(l);
    layer(l).forward(layer_input(l, X, workspace, workspace.dropout_active, first),
                     workspace.Z[i].middleRows(first, n), workspace.A[i].middleRows(first, n));
    if (workspace.dropout_active && workspace.mask[i].rows() > 0) {
      // Inverted dropout: keep each unit with probability 1 − p and scale it by 1/(1 − p), so
      // that E[A ⊙ M] = A and inference needs no rescaling.
      const double keep = 1.0 - dropout_[i];
      const T scale = static_cast<T>(1.0 / keep);
      auto M = workspace.mask[i].middleRows(first, n);
      for (Index r = 0; r < M.rows(); ++r)
        for (Index c = 0; c < M.cols(); ++c)
          M(r, c) = dropout_random->uniform01() < keep ? scale : T(0);
      workspace.dropped[i].middleRows(first, n) =
          workspace.A[i].middleRows(first, n).cwiseProduct(M);
    }
  }
  return workspace.A.back().middleRows(first, n);
}

template <class T>
double Network<T>::summed_error(const Loss& loss, const ConstMatrixRef<T>& Y,
                                const ConstVectorRef<T>& weights, const Workspace<T>& workspace,
                                Index first) const {
  const Index n = Y.rows();
  return nncore::summed_error<T>(loss, workspace.Z.back().middleRows(first, n),
                                 workspace.A.back().middleRows(first, n), Y, weights);
}

template <class T>
void Network<T>::backward(const Loss& loss, const ConstMatrixRef<T>& X, const ConstMatrixRef<T>& Y,
                          const ConstVectorRef<T>& weights, double weight_sum,
                          Workspace<T>& workspace) {
  backward(loss, X, Y, weights, weight_sum, workspace, gradients_);
}

template <class T>
void Network<T>::backward(const Loss& loss, const ConstMatrixRef<T>& X, const ConstMatrixRef<T>& Y,
                          const ConstVectorRef<T>& weights, double weight_sum,
                          Workspace<T>& workspace, VectorRef<T> gradients) const {
  if (gradients.size() != gradients_.size())
    throw std::invalid_argument("the gradient buffer has the wrong length");
  propagate_errors(loss, X, Y, weights, weight_sum, workspace);
  accumulate_gradients(X, workspace, gradients);
}

template <class T>
void Network<T>::propagate_errors(const Loss& loss, const ConstMatrixRef<T>& X,
                                  const ConstMatrixRef<T>& Y, const ConstVectorRef<T>& weights,
                                  double weight_sum, Workspace<T>& workspace, Index first) const {
  const Index n = X.rows();
  if (first < 0 || first + n > workspace.delta.front().rows())
    throw std::invalid_argument("workspace was not made for training");
  const Index last = n_layers() - 1;
  auto& dZ = workspace.delta;
  const auto i_last = static_cast<size_t>(last);
  output_delta<T>(loss, activations_.back(), workspace.Z[i_last].middleRows(first, n),
                  workspace.A[i_last].middleRows(first, n), Y, weights, weight_sum,
                  dZ[i_last].middleRows(first, n));
  for (Index l = last; l > 0; --l) {
    const auto i = static_cast<size_t>(l);
    auto dA_prev = dZ[i - 1].middleRows(first, n);
    layer(l).propagate(dZ[i].middleRows(first, n), dA_prev);  // dL/dA_{l-1} = dZ_l·W_lᵀ
    if (workspace.dropout_active && workspace.mask[i - 1].rows() > 0)
      dA_prev.array() *= workspace.mask[i - 1].middleRows(first, n).array();  // through the mask
    apply_jacobian<T>(activations_[i - 1], workspace.Z[i - 1].middleRows(first, n),
                      workspace.A[i - 1].middleRows(first, n), dA_prev, dA_prev);
  }
}

template <class T>
void Network<T>::accumulate_gradients(const ConstMatrixRef<T>& X, const Workspace<T>& workspace,
                                      VectorRef<T> gradients, Index begin, Index end) const {
  if (gradients.size() != gradients_.size())
    throw std::invalid_argument("the gradient buffer has the wrong length");
  const Index n = X.rows();
  if (n > workspace.delta.front().rows())
    throw std::invalid_argument("workspace was not made for training");
  if (end < 0) end = gradients.size();
  if (begin < 0 || begin > end || end > gradients.size())
    throw std::invalid_argument("accumulate_gradients: [begin, end) must lie in the gradient");
  // The part of [lo, lo + size) that lies in [begin, end), relative to lo.
  const auto overlap = [&](Index lo, Index size) {
    return std::pair(std::clamp(begin - lo, Index{0}, size), std::clamp(end - lo, Index{0}, size));
  };
  for (Index l = 0; l < n_layers(); ++l) {
    Dense<T> dense = layer_with_gradients(l, gradients.data());
    const Index n_out = dense.W.cols();
    const auto [w0, w1] = overlap(weight_offset(l), dense.W.size());
    const auto [c0, c1] = overlap(bias_offset(l), dense.b.size());
    dense.accumulate_gradients(layer_input(l, X, workspace, workspace.dropout_active, 0),
                               workspace.delta[static_cast<size_t>(l)].topRows(n), w0 / n_out,
                               w1 / n_out, c0, c1);
  }
}

template <class T>
std::pair<Index, Index> Network<T>::gradient_part(int part, int parts) const {
  if (parts < 1 || part < 0 || part >= parts)
    throw std::invalid_argument("gradient_part: need 0 <= part < parts");
  const Index size = gradients_.size();
  // A boundary inside a W moves back to the start of its row.
  const auto row_start = [&](Index at) {
    for (Index l = 0; l < n_layers(); ++l) {
      const Index offset = weight_offset(l), n_out = layer_sizes_[static_cast<size_t>(l + 1)];
      if (at >= offset && at < bias_offset(l)) return offset + (at - offset) / n_out * n_out;
    }
    return at;
  };
  const auto [begin, end] = block_range(size, part, parts);
  return {row_start(begin), row_start(end)};
}

template class Network<float>;
template class Network<double>;

}  // namespace nncore
