// An activation g as a layer of its own (after a normalisation, say): any activation of Dense
// (nncore/activation.hpp), element-wise or, for softmax, row-wise. For a batch of n rows:
//   X, Y, dX (n, width)
//   forward    Y = g(X)
//   backward   dX = g'(X) ⊙ dY  (softmax: its Jacobian-vector product, row by row)
// No parameters. As the output layer it pairs with the loss as a Dense layer's fused activation
// does: its logits are X, and the loss's dL/dX then arrives as its error (error_at_logits).
#pragma once

#include <string>

#include "nncore/activation.hpp"
#include "nncore/layers/layer.hpp"

namespace nncore {

template <class T>
class ActivationLayer final : public Layer<T> {
 public:
  // Throws std::invalid_argument for a width outside [1, 2^24].
  ActivationLayer(Index width, Activation activation)
      : Layer<T>(width, width), activation_(activation) {}

  std::string kind() const override { return "Activation"; }
  const Activation& activation() const override { return activation_; }

  // Y, dL/dY (training) and Z = X (kept: the loss and g' read it)
  LayerWorkspace<T> make_workspace(Index capacity, bool training) const override {
    LayerWorkspace<T> workspace = Layer<T>::make_workspace(capacity, training);
    workspace.kept.emplace_back(capacity, this->n_inputs());
    return workspace;
  }
  const Matrix<T>& logits(const LayerWorkspace<T>& workspace) const override {
    return workspace.kept[0];
  }

  // Z = X,  Y = g(Z)
  void forward(const Slices<T>& /*slices*/, const ConstMatrixRef<T>& X,
               LayerWorkspace<T>& workspace, Index first, const Mode& /*mode*/,
               Random* /*random*/) const override {
    auto Z = workspace.kept[0].middleRows(first, X.rows());
    Z = X;
    activate<T>(activation_, Z, workspace.output.middleRows(first, X.rows()));
  }

  // dX = g'(Z) ⊙ dY (the loss gives the output layer's dL/dZ = dX itself)
  void propagate(const Slices<T>& /*slices*/, const ConstMatrixRef<T>& X,
                 LayerWorkspace<T>& workspace, Index first, const Mode& /*mode*/,
                 bool error_at_logits, Matrix<T>* dX) const override {
    if (dX == nullptr) return;
    const auto dY = workspace.error.middleRows(first, X.rows());
    auto below = dX->middleRows(first, X.rows());
    if (error_at_logits)
      below = dY;
    else
      apply_jacobian<T>(activation_, workspace.kept[0].middleRows(first, X.rows()),
                        workspace.output.middleRows(first, X.rows()), dY, below);
  }

 private:
  Activation activation_;
};

}  // namespace nncore
