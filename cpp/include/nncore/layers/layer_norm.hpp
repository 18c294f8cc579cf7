// Layer normalisation, exactly torch.nn.LayerNorm(k, eps): each row normalised over its k
// features, then scaled and shifted. For a batch of n rows, X, X̂, Y, dY, dX (n, k), γ, β (k):
//   forward    μ_i, σ_i² of row i over its k features (biased),  x̂_i = (x_i − μ_i)/√(σ_i² + ε),
//              Y = γ ⊙ X̂ + β
//   backward   dx̂_i = dY_i ⊙ γ,
//              dx_i = (1/√(σ_i² + ε)) · (dx̂_i − mean(dx̂_i) − x̂_i · mean(dx̂_i ⊙ x̂_i)),
//              dγ = Σ_rows dY ⊙ X̂,  dβ = Σ_rows dY
// The same in training and inference, and row-local. Parameters: gamma (ones), beta (zeros). The
// arithmetic it shares with BatchNorm is nncore/layers/normalization.hpp's.
#pragma once

#include <string>

#include "nncore/layers/normalization.hpp"

namespace nncore {

template <class T>
class LayerNorm final : public Normalization<T> {
 public:
  // Throws std::invalid_argument unless eps is finite and > 0 (and 1 <= width <= 2^24).
  LayerNorm(Index width, double eps) : Normalization<T>("LayerNorm", width, eps) {}

  std::string kind() const override { return "LayerNorm"; }

  // Y, dL/dY (training); training: X̂ and 1/√(σ_i² + ε) per row (kept for backward)
  LayerWorkspace<T> make_workspace(Index capacity, bool training) const override {
    LayerWorkspace<T> workspace = Layer<T>::make_workspace(capacity, training);
    workspace.kept.emplace_back(training ? capacity : 0, this->width());
    workspace.kept.emplace_back(training ? capacity : 0, 1);
    return workspace;
  }

  // X̂ row by row (into Y itself in inference, where nothing is kept), then Y = γ ⊙ X̂ + β
  void forward(const Slices<T>& slices, const ConstMatrixRef<T>& X, LayerWorkspace<T>& workspace,
               Index first, const Mode& mode, Random* /*random*/) const override {
    const Index n = X.rows();
    auto X_hat = (mode.training ? workspace.kept[0] : workspace.output).middleRows(first, n);
    for (Index r = 0; r < n; ++r) {
      const T inv_std = normalize(X.row(r), static_cast<T>(this->eps()), X_hat.row(r)).inv_std;
      if (mode.training) workspace.kept[1](first + r, 0) = inv_std;
    }
    this->scale_shift(slices, X_hat, workspace.output.middleRows(first, n));
  }

  // dx_i from dx̂_i = dY_i ⊙ γ, row by row (training mode: X̂ and 1/√(σ_i² + ε) kept)
  void propagate(const Slices<T>& slices, const ConstMatrixRef<T>& X, LayerWorkspace<T>& workspace,
                 Index first, const Mode& /*mode*/, bool /*error_at_logits*/,
                 Matrix<T>* dX) const override {
    if (dX == nullptr) return;
    const Index n = X.rows();
    const ConstRowVectorMap<T> gamma = this->gamma(slices);
    const auto dY = workspace.error.middleRows(first, n);
    const auto X_hat = workspace.kept[0].middleRows(first, n);
    auto below = dX->middleRows(first, n);
    for (Index r = 0; r < n; ++r)
      normalize_backward(X_hat.row(r), dY.row(r).cwiseProduct(gamma),
                         workspace.kept[1](first + r, 0), below.row(r));
  }
};

}  // namespace nncore
