// Inverted dropout with rate p. For a batch of n rows, X, Y, M (n, width):
//   training, drawing   M_ij = 1/(1 − p) with probability 1 − p, else 0 (row by row from the
//                       model's generator);  Y = X ⊙ M;  dX = dY ⊙ M
//   otherwise           Y = X;  dX = dY
// Keeping each unit with probability 1 − p and scaling it by 1/(1 − p) gives E[X ⊙ M] = X, so
// inference needs no rescaling.
#pragma once

#include <stdexcept>
#include <string>

#include "nncore/layers/layer.hpp"

namespace nncore {

template <class T>
class Dropout final : public Layer<T> {
 public:
  // Throws std::invalid_argument unless 0 <= rate < 1 (and 1 <= width <= 2^24).
  Dropout(Index width, double rate) : Layer<T>(width, width), rate_(rate) {
    if (!(rate >= 0.0 && rate < 1.0))
      throw std::invalid_argument("dropout rates must be in [0, 1), got " + std::to_string(rate));
  }

  std::string kind() const override { return "Dropout"; }
  double rate() const { return rate_; }
  bool draws() const override { return rate_ > 0.0; }

  // Y, dL/dY (training) and M (kept; training with a rate above 0)
  LayerWorkspace<T> make_workspace(Index capacity, bool training) const override {
    LayerWorkspace<T> workspace = Layer<T>::make_workspace(capacity, training);
    workspace.kept.emplace_back(training && draws() ? capacity : 0, this->n_outputs());
    return workspace;
  }

  void forward(const Slices<T>& /*slices*/, const ConstMatrixRef<T>& X,
               LayerWorkspace<T>& workspace, Index first, const Mode& mode,
               Random* random) const override {
    auto Y = workspace.output.middleRows(first, X.rows());
    if (!masked(mode)) {
      Y = X;
      return;
    }
    const double keep = 1.0 - rate_;
    const T scale = static_cast<T>(1.0 / keep);
    auto M = workspace.kept[0].middleRows(first, X.rows());
    for (Index r = 0; r < M.rows(); ++r)
      for (Index c = 0; c < M.cols(); ++c) M(r, c) = random->uniform01() < keep ? scale : T(0);
    Y = X.cwiseProduct(M);
  }

  void propagate(const Slices<T>& /*slices*/, const ConstMatrixRef<T>& X,
                 LayerWorkspace<T>& workspace, Index first, const Mode& mode,
                 bool /*error_at_logits*/, Matrix<T>* dX) const override {
    if (dX == nullptr) return;
    const auto dY = workspace.error.middleRows(first, X.rows());
    auto below = dX->middleRows(first, X.rows());
    if (masked(mode))
      below = dY.cwiseProduct(workspace.kept[0].middleRows(first, X.rows()));
    else
      below = dY;
  }

 private:
  bool masked(const Mode& mode) const { return mode.drawing && draws(); }

  double rate_;
};

}  // namespace nncore
