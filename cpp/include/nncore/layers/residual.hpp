// A residual block: the skip X plus f(X), f a chain of layers (any types, residual blocks
// included) whose output width is its input width. For a batch of n rows:
//   X, F, Y, dY, dX (n, width)
//   forward    F = f(X),  Y = X + F
//   backward   dF = dY,  dX = dY + f'(X)ᵀ·dF  (the skip passes dY through; f adds its own dX)
// Its parameters and state are f's, laid out as f's chain lays them out and named by the
// children's index paths inside it ("0.gamma", "1.W"; the network's chain prefixes the block's
// own index: "5.0.gamma"). Everything else (row-locality, dropout draws in order, the fewest
// training rows, work, gradient parts, initialisation, state updates) is f's chain's. Its output
// ends with no activation: as the output layer the loss pairs with the identity.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "nncore/layers/chain.hpp"
#include "nncore/layers/layer.hpp"

namespace nncore {

template <class T>
class Residual final : public Layer<T> {
 public:
  // Throws std::invalid_argument for no layers, a null one, layers that do not chain, or a last
  // layer whose output width is not the first one's input width (naming the layer by its index
  // inside the block).
  explicit Residual(std::vector<LayerPointer<T>> layers) : Residual(chain_of(std::move(layers))) {}

  std::string kind() const override { return "Residual"; }
  const Chain<T>& layers() const { return chain_; }

  std::vector<ArraySpec> parameters() const override { return chain_.parameters(); }
  std::vector<ArraySpec> state() const override { return chain_.state(); }
  bool row_local() const override { return chain_.row_local(); }
  bool draws() const override { return chain_.draws(); }
  Index min_training_rows() const override { return chain_.min_training_rows(); }
  Work work(bool propagates) const override { return chain_.work(propagates); }
  Index part_start(Index at) const override { return chain_.part_start(at); }

  void initialize(T* parameters, Initializer initializer, Random& random) const override {
    chain_.initialize(parameters, initializer, random);
  }
  void initialize_state(T* state) const override { chain_.initialize_state(state); }
  void check_input(const ConstMatrixRef<T>& X) const override { chain_.layer(0).check_input(X); }

  // Y, dL/dY (training), and f's layers' workspaces as its children
  LayerWorkspace<T> make_workspace(Index capacity, bool training) const override {
    LayerWorkspace<T> workspace = Layer<T>::make_workspace(capacity, training);
    workspace.children = chain_.make_workspace(capacity, training);
    return workspace;
  }

  // F = f(X),  Y = X + F
  void forward(const Slices<T>& slices, const ConstMatrixRef<T>& X, LayerWorkspace<T>& workspace,
               Index first, const Mode& mode, Random* random) const override {
    chain_.forward(slices, X, workspace.children, first, mode, random);
    workspace.output.middleRows(first, X.rows()) =
        X + chain_.output(workspace.children, first, X.rows());
  }

  // dF = dY (into f's last layer's error),  dX = dY + f's dX
  void propagate(const Slices<T>& slices, const ConstMatrixRef<T>& X, LayerWorkspace<T>& workspace,
                 Index first, const Mode& mode, bool /*error_at_logits*/,
                 Matrix<T>* dX) const override {
    const auto dY = workspace.error.middleRows(first, X.rows());
    workspace.children.back().error.middleRows(first, X.rows()) = dY;
    // Y = X + F ends with no activation: dL/dY is the same at the logits or not, and F is no
    // output's logits.
    chain_.propagate(slices, X, workspace.children, first, mode, /*error_at_logits=*/false, dX);
    if (dX != nullptr) dX->middleRows(first, X.rows()) += dY;
  }

  void accumulate_gradients(const Slices<T>& slices, const ConstMatrixRef<T>& X,
                            const LayerWorkspace<T>& workspace, T* gradient, Index begin,
                            Index end) const override {
    chain_.accumulate_gradients(slices, X, workspace.children, gradient, begin, end);
  }
  void update_state(T* state, const LayerWorkspace<T>& workspace, Index n) const override {
    chain_.update_state(state, workspace.children, n);
  }

 private:
  explicit Residual(Chain<T> chain)
      : Layer<T>(chain.n_inputs(), chain.n_inputs()), chain_(std::move(chain)) {
    const Index last = chain_.size() - 1;
    if (chain_.n_outputs() != chain_.n_inputs())
      throw std::invalid_argument(
          "Residual: layer " + std::to_string(last) + " (" + chain_.layer(last).kind() +
          ") gives " + std::to_string(chain_.n_outputs()) + " outputs, but x + f(x) needs " +
          std::to_string(chain_.n_inputs()) + " (the block's input width)");
  }
  // The chain's own errors (no layers, a null one, widths that do not chain), as the block's.
  static Chain<T> chain_of(std::vector<LayerPointer<T>> layers) {
    try {
      return Chain<T>(std::move(layers));
    } catch (const std::invalid_argument& error) {
      throw std::invalid_argument(std::string("Residual: ") + error.what());
    }
  }

  Chain<T> chain_;
};

}  // namespace nncore
