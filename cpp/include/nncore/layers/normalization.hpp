// What LayerNorm (nncore/layers/layer_norm.hpp: each row over its k features) and BatchNorm
// (batch_norm.hpp: each feature over the batch's n rows) share: normalising m values x (a row or a
// column of X) to zero mean and unit variance, and a per-feature scale γ and shift β.
//   μ = (1/m) Σ x,  σ² = (1/m) Σ (x − μ)²  (biased),  x̂ = (x − μ)/√(σ² + ε)
//   dx = (1/√(σ² + ε)) · (dx̂ − mean(dx̂) − x̂ · mean(dx̂ ⊙ x̂))  (x̂ depends on every x through μ, σ²)
// and, for X̂, Y, dY (n, k) and γ, β (k) broadcast over the rows:
//   Y = γ ⊙ X̂ + β,  dγ = Σ_rows dY ⊙ X̂,  dβ = Σ_rows dY,  dX̂ = dY ⊙ γ
// Both layers declare γ (ones), then β (zeros), as their parameters and keep X̂ (training) as
// their workspace's kept[0]: Normalization below holds what follows from that.
#pragma once

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "nncore/layers/layer.hpp"

namespace nncore {

template <class T>
struct NormalStatistics {
  T mean, variance, inv_std;  // μ, σ² (biased), 1/√(σ² + ε)
};

// x̂ = (x − μ)/√(σ² + ε) of the values x (a row or a column) into x_hat; returns μ, σ² and
// 1/√(σ² + ε).
template <class T, class In, class Out>
NormalStatistics<T> normalize(const Eigen::MatrixBase<In>& x, T eps, Out&& x_hat) {
  const T mean = x.mean();
  const T variance = (x.array() - mean).square().mean();
  const T inv_std = T(1) / std::sqrt(variance + eps);
  x_hat = ((x.array() - mean) * inv_std).matrix();
  return {mean, variance, inv_std};
}

// dx = (1/√(σ² + ε)) · (dx̂ − mean(dx̂) − x̂ · mean(dx̂ ⊙ x̂)) of one row or column, into dx.
template <class T, class Normalized, class Error, class Out>
void normalize_backward(const Eigen::MatrixBase<Normalized>& x_hat,
                        const Eigen::MatrixBase<Error>& dx_hat, T inv_std, Out&& dx) {
  const T mean_d = dx_hat.mean(), mean_dx = dx_hat.cwiseProduct(x_hat).mean();
  dx = (inv_std * (dx_hat.array() - mean_d - x_hat.array() * mean_dx)).matrix();
}

// A normalisation layer of width k with parameters γ and β (the base of LayerNorm, BatchNorm).
template <class T>
class Normalization : public Layer<T> {
 public:
  double eps() const { return eps_; }
  std::vector<ArraySpec> parameters() const override {
    return {{"gamma", {width()}}, {"beta", {width()}}};
  }
  // multiply-adds per entry: forward 4 (μ, σ², x̂, γ ⊙ x̂ + β), dγ and dβ 2, dX 5
  Work work(bool propagates) const override {
    return {(propagates ? 11.0 : 6.0) * static_cast<double>(width()), 0.0};
  }

  // γ = 1, β = 0; nothing drawn
  void initialize(T* parameters, Initializer /*initializer*/, Random& /*random*/) const override {
    std::fill(parameters, parameters + width(), T(1));
    std::fill(parameters + width(), parameters + 2 * width(), T(0));
  }

  // dγ = Σ_rows dY ⊙ X̂ and dβ = Σ_rows dY over all n rows, their entries in [begin, end)
  void accumulate_gradients(const Slices<T>& /*slices*/, const ConstMatrixRef<T>& X,
                            const LayerWorkspace<T>& workspace, T* gradient, Index begin,
                            Index end) const override {
    const ConstMatrixRef<T> dY = workspace.error.topRows(X.rows());
    const ConstMatrixRef<T> X_hat = workspace.kept[0].topRows(X.rows());
    const Index k = width(), gamma_begin = std::clamp(begin, Index{0}, k),
                gamma_end = std::clamp(end, Index{0}, k);
    const Index beta_begin = std::clamp(begin - k, Index{0}, k),
                beta_end = std::clamp(end - k, Index{0}, k);
    const Index gammas = gamma_end - gamma_begin, betas = beta_end - beta_begin;
    RowVectorMap<T>(gradient + gamma_begin, gammas) =
        dY.middleCols(gamma_begin, gammas)
            .cwiseProduct(X_hat.middleCols(gamma_begin, gammas))
            .colwise()
            .sum();
    RowVectorMap<T>(gradient + k + beta_begin, betas) =
        dY.middleCols(beta_begin, betas).colwise().sum();
  }

 protected:
  // Throws std::invalid_argument (naming the layer `kind`) unless eps is finite and > 0 (and
  // 1 <= width <= 2^24).
  Normalization(const std::string& kind, Index width, double eps)
      : Layer<T>(width, width), eps_(eps) {
    if (!(std::isfinite(eps) && eps > 0.0))
      throw std::invalid_argument(kind + ": eps must be finite and > 0, got " + describe(eps));
  }

  Index width() const { return this->n_inputs(); }
  ConstRowVectorMap<T> gamma(const Slices<T>& slices) const { return {slices.parameters, width()}; }
  // Y = γ ⊙ X̂ + β (X̂ may be Y itself: entry by entry)
  template <class In, class Out>
  void scale_shift(const Slices<T>& slices, const Eigen::MatrixBase<In>& X_hat, Out&& Y) const {
    const ConstRowVectorMap<T> beta(slices.parameters + width(), width());
    Y = ((X_hat.array().rowwise() * gamma(slices).array()).rowwise() + beta.array()).matrix();
  }

  static std::string describe(double value) {
    std::ostringstream text;
    text.precision(17);
    text << value;
    return text.str();
  }

 private:
  double eps_;
};

}  // namespace nncore
