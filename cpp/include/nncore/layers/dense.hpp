// A dense (fully connected) layer with its activation g fused. For a batch of n rows:
//   X (n, n_in)   W (n_in, n_out)   b (n_out)   Z, Y, dZ (n, n_out)
//   forward    Z = X·W + b,  Y = g(Z)
//   backward   dZ = g'(Z) ⊙ dY,  dW = Xᵀ·dZ,  db = Σ_rows dZ,  dX = dZ·Wᵀ
// Parameters, in buffer order: W (row-major), then b (none without bias). How each product is
// computed (loops, tiled kernels, BLAS, the pool) is nncore/product.hpp's.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "nncore/activation.hpp"
#include "nncore/layers/layer.hpp"
#include "nncore/product.hpp"

namespace nncore {

template <class T>
class Dense final : public Layer<T> {
 public:
  // Throws std::invalid_argument for widths outside [1, 2^24].
  Dense(Index n_in, Index n_out, Activation activation, bool use_bias)
      : Layer<T>(n_in, n_out), activation_(activation), use_bias_(use_bias) {}

  std::string kind() const override { return "Dense"; }
  bool use_bias() const { return use_bias_; }
  std::vector<ArraySpec> parameters() const override {
    std::vector<ArraySpec> arrays{{"W", {n_in(), n_out()}}};
    if (use_bias_) arrays.push_back({"b", {n_out()}});
    return arrays;
  }
  const Activation& activation() const override { return activation_; }
  // forward, dW and (when propagating) dX: one n_in × n_out product each per row
  Work work(bool propagates) const override {
    const double product = static_cast<double>(n_in()) * static_cast<double>(n_out());
    return {(propagates ? 3.0 : 2.0) * product, product};
  }
  Index part_start(Index at) const override {  // the start of a row of W
    return at < n_in() * n_out() ? at / n_out() * n_out() : at;
  }

  // W from the named distribution (fan-in n_in, fan-out n_out), b = 0:
  //   glorot_uniform U(±sqrt(6/(n_in+n_out)))   glorot_normal N(0, sqrt(2/(n_in+n_out)))
  //   he_uniform     U(±sqrt(6/n_in))            he_normal     N(0, sqrt(2/n_in))
  void initialize(T* parameters, Initializer initializer, Random& random) const override {
    const double fan_in = static_cast<double>(n_in()), fan_out = static_cast<double>(n_out());
    const bool glorot =
        initializer == Initializer::glorot_uniform || initializer == Initializer::glorot_normal;
    const double fan = glorot ? (fan_in + fan_out) / 2.0 : fan_in / 2.0;
    // Both families give Var(w) = 1/fan: U(±sqrt(3/fan)) or N(0, sqrt(1/fan)).
    const bool uniform =
        initializer == Initializer::glorot_uniform || initializer == Initializer::he_uniform;
    const double limit = std::sqrt(3.0 / fan), stddev = std::sqrt(1.0 / fan);
    const Index n_w = n_in() * n_out();
    for (Index i = 0; i < n_w; ++i)
      parameters[i] =
          static_cast<T>(uniform ? random.uniform(-limit, limit) : stddev * random.normal());
    std::fill(parameters + n_w, parameters + n_w + bias_size(), T(0));
  }

  // Y, dL/dY (training) and Z (kept: the loss and g' read it)
  LayerWorkspace<T> make_workspace(Index capacity, bool training) const override {
    LayerWorkspace<T> workspace = Layer<T>::make_workspace(capacity, training);
    workspace.kept.emplace_back(capacity, n_out());
    return workspace;
  }
  const Matrix<T>& logits(const LayerWorkspace<T>& workspace) const override {
    return workspace.kept[0];
  }

  // Z = X·W + b,  Y = g(Z)
  void forward(const Slices<T>& slices, const ConstMatrixRef<T>& X, LayerWorkspace<T>& workspace,
               Index first, const Mode& /*mode*/, Random* /*random*/) const override {
    product::times<T>(X, W(slices), b(slices), activation_,
                      workspace.kept[0].middleRows(first, X.rows()),
                      workspace.output.middleRows(first, X.rows()));
  }

  // dZ = g'(Z) ⊙ dY (in place of dY; the loss gives the output layer's dZ),  dX = dZ·Wᵀ
  void propagate(const Slices<T>& slices, const ConstMatrixRef<T>& X, LayerWorkspace<T>& workspace,
                 Index first, const Mode& /*mode*/, bool error_at_logits,
                 Matrix<T>* dX) const override {
    auto dZ = workspace.error.middleRows(first, X.rows());
    if (!error_at_logits)
      apply_jacobian<T>(activation_, workspace.kept[0].middleRows(first, X.rows()),
                        workspace.output.middleRows(first, X.rows()), dZ, dZ);
    if (dX != nullptr) product::times_transposed<T>(dZ, W(slices), dX->middleRows(first, X.rows()));
  }

  // One training row, as forward, propagate and accumulate_gradients compute it at a batch of one
  // (the products' one-row loops), for fit's one-sample path (nncore/one_sample.hpp): whether W is
  // small enough for those loops, then
  //   forward_row    z = a·W + b,  y = g(z)        (a: n_in entries; z, y: row 0 of workspace)
  //   backward_row   dz = g'(z) ⊙ dy in place (unless at_logits),  da = dz·Wᵀ (da null: none),
  //                  dW = aᵀ·dz,  db = dz          (dW, db: the layer's slice of the gradient)
  bool has_row_path() const { return product::one_row(1, n_in() * n_out()); }
  void forward_row(const T* parameters, const T* a, LayerWorkspace<T>& workspace) const {
    T* z = workspace.kept[0].data();
    product::detail::times_one<T>(
        a, parameters, use_bias_ ? parameters + n_in() * n_out() : nullptr, n_in(), n_out(), z);
    if (activation_.kind == ActivationKind::identity)  // y = z: the copy activate would make
      for (Index j = 0; j < n_out(); ++j) workspace.output.data()[j] = z[j];
    else
      activate_row<T>(activation_, z, workspace.output.data(), n_out());
  }
  void backward_row(const T* parameters, const T* a, LayerWorkspace<T>& workspace, bool at_logits,
                    T* da, T* gradient) const {
    T* dz = workspace.error.data();
    if (!at_logits)
      apply_jacobian_row<T>(activation_, workspace.kept[0].data(), workspace.output.data(), dz, dz,
                            n_out());
    if (da != nullptr)
      product::detail::times_transposed_one<T>(dz, parameters, n_in(), n_out(), da);
    const Index n_w = n_in() * n_out();
    for (Index j = 0; j < bias_size(); ++j) gradient[n_w + j] = dz[j];  // (a loop: no call)
    product::detail::transposed_times_one<T>(a, dz, 0, n_in(), n_out(), gradient);
  }

  // dW = Xᵀ·dZ (the rows of W in [begin, end)),  db = Σ_rows dZ (its entries in [begin, end))
  void accumulate_gradients(const Slices<T>& /*slices*/, const ConstMatrixRef<T>& X,
                            const LayerWorkspace<T>& workspace, T* gradient, Index begin,
                            Index end) const override {
    const Index n_w = n_in() * n_out();
    const ConstMatrixRef<T> dZ = workspace.error.topRows(X.rows());
    const auto in_bias = [&](Index at) { return std::clamp(at - n_w, Index{0}, bias_size()); };
    product::column_sums<T>(dZ, in_bias(begin), in_bias(end),
                            RowVectorMap<T>(gradient + n_w, bias_size()));
    product::transposed_times<T>(X, dZ, MatrixMap<T>(gradient, n_in(), n_out()),
                                 std::min(begin, n_w) / n_out(), std::min(end, n_w) / n_out());
  }

 private:
  Index n_in() const { return this->n_inputs(); }
  Index n_out() const { return this->n_outputs(); }
  Index bias_size() const { return use_bias_ ? n_out() : 0; }
  ConstMatrixMap<T> W(const Slices<T>& slices) const {
    return {slices.parameters, n_in(), n_out()};
  }
  ConstRowVectorMap<T> b(const Slices<T>& slices) const {
    return {slices.parameters + n_in() * n_out(), bias_size()};
  }

  Activation activation_;
  bool use_bias_;
};

}  // namespace nncore
