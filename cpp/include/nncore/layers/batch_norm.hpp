// Batch normalisation, exactly torch.nn.BatchNorm1d(k, eps, momentum): each feature normalised
// over the batch, then scaled and shifted. For a batch of n rows, X, X̂, Y, dY, dX (n, k), and
// γ, β, μ, σ² (k):
//   training   μ_j, σ_j² of column j over the n rows (biased),  x̂_j = (x_j − μ_j)/√(σ_j² + ε),
//              Y = γ ⊙ X̂ + β
//   backward   dx̂_j = γ_j dY_j,
//              dx_j = (1/√(σ_j² + ε)) · (dx̂_j − mean(dx̂_j) − x̂_j · mean(dx̂_j ⊙ x̂_j)),
//              dγ = Σ_rows dY ⊙ X̂,  dβ = Σ_rows dY
//   update_state (fit, after each training batch's forward pass; never in forward, so that a
//              gradient computation changes nothing)
//              running_mean ← (1 − momentum)·running_mean + momentum·μ
//              running_var  ← (1 − momentum)·running_var  + momentum·σ²·n/(n − 1)  (unbiased)
//   inference  Y = γ ⊙ (X − running_mean)/√(running_var + ε) + β
// Not row-local: in training mode forward is given the whole batch (the loop never splits it),
// of at least 2 rows. Sample weights weigh the loss, not the statistics (as in torch).
// Parameters: gamma (ones), beta (zeros); state: running_mean (zeros), running_var (ones). The
// arithmetic it shares with LayerNorm is nncore/layers/normalization.hpp's.
#pragma once

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "nncore/layers/normalization.hpp"

namespace nncore {

template <class T>
class BatchNorm final : public Normalization<T> {
 public:
  // Throws std::invalid_argument unless 0 <= momentum <= 1 and eps is finite and > 0 (and
  // 1 <= width <= 2^24).
  BatchNorm(Index width, double momentum, double eps)
      : Normalization<T>("BatchNorm", width, eps), momentum_(momentum) {
    if (!(momentum >= 0.0 && momentum <= 1.0))
      throw std::invalid_argument("BatchNorm: momentum must be in [0, 1], got " +
                                  this->describe(momentum));
  }

  std::string kind() const override { return "BatchNorm"; }
  double momentum() const { return momentum_; }
  std::vector<ArraySpec> state() const override {
    return {{"running_mean", {this->width()}}, {"running_var", {this->width()}}};
  }
  bool row_local() const override { return false; }
  Index min_training_rows() const override { return 2; }

  // running_mean = 0, running_var = 1
  void initialize_state(T* state) const override {
    std::fill(state, state + this->width(), T(0));
    std::fill(state + this->width(), state + 2 * this->width(), T(1));
  }

  // Y, dL/dY (training); training: X̂ and the batch's μ, σ², 1/√(σ² + ε) (kept: rows 0, 1, 2)
  LayerWorkspace<T> make_workspace(Index capacity, bool training) const override {
    LayerWorkspace<T> workspace = Layer<T>::make_workspace(capacity, training);
    workspace.kept.emplace_back(training ? capacity : 0, this->width());
    workspace.kept.emplace_back(training ? 3 : 0, this->width());
    return workspace;
  }

  // training: X̂ column by column with the batch's statistics; inference: with the running ones;
  // then Y = γ ⊙ X̂ + β
  void forward(const Slices<T>& slices, const ConstMatrixRef<T>& X, LayerWorkspace<T>& workspace,
               Index first, const Mode& mode, Random* /*random*/) const override {
    const Index n = X.rows(), k = this->width();
    const T eps = static_cast<T>(this->eps());
    auto Y = workspace.output.middleRows(first, n);
    if (!mode.training) {
      const ConstRowVectorMap<T> running_mean(slices.state, k), running_var(slices.state + k, k);
      Y = ((X.rowwise() - running_mean).array().rowwise() / (running_var.array() + eps).sqrt())
              .matrix();
      this->scale_shift(slices, Y, Y);
      return;
    }
    auto X_hat = workspace.kept[0].middleRows(first, n);
    Matrix<T>& statistics = workspace.kept[1];
    for (Index j = 0; j < k; ++j) {
      const NormalStatistics<T> column = normalize(X.col(j), eps, X_hat.col(j));
      statistics.col(j) << column.mean, column.variance, column.inv_std;
    }
    this->scale_shift(slices, X_hat, Y);
  }

  // dx_j from dx̂_j = γ_j dY_j, column by column (training mode: X̂ and the statistics kept)
  void propagate(const Slices<T>& slices, const ConstMatrixRef<T>& X, LayerWorkspace<T>& workspace,
                 Index first, const Mode& /*mode*/, bool /*error_at_logits*/,
                 Matrix<T>* dX) const override {
    if (dX == nullptr) return;
    const Index n = X.rows();
    const ConstRowVectorMap<T> gamma = this->gamma(slices);
    const auto dY = workspace.error.middleRows(first, n);
    const auto X_hat = workspace.kept[0].middleRows(first, n);
    auto below = dX->middleRows(first, n);
    for (Index j = 0; j < this->width(); ++j)
      normalize_backward(X_hat.col(j), dY.col(j) * gamma(j), workspace.kept[1](2, j), below.col(j));
  }

  // running ← (1 − momentum)·running + momentum·(the batch's μ; σ²·n/(n − 1)), from the
  // statistics forward kept. Throws std::invalid_argument for n < 2 (no unbiased variance).
  void update_state(T* state, const LayerWorkspace<T>& workspace, Index n) const override {
    if (n < 2)
      throw std::invalid_argument("BatchNorm: the running variance needs a batch of 2 rows");
    const Index k = this->width();
    const T keep = static_cast<T>(1.0 - momentum_), momentum = static_cast<T>(momentum_);
    const T unbiased = static_cast<T>(static_cast<double>(n) / static_cast<double>(n - 1));
    const Matrix<T>& statistics = workspace.kept[1];
    RowVectorMap<T> running_mean(state, k), running_var(state + k, k);
    running_mean = keep * running_mean + momentum * statistics.row(0);
    running_var = keep * running_var + momentum * (statistics.row(1) * unbiased);
  }

 private:
  double momentum_;
};

}  // namespace nncore
