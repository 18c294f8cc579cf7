// fit's one-sample path: a batch of one row through a chain of Dense layers, each layer's row
// functions (Dense::forward_row, backward_row) called in turn, with the row read where it lies in
// X. These are the computations the general path makes at a batch of one (the products' one-row
// loops, the same activation and Jacobian calls on the same workspace rows), so results are the
// same bit for bit; what the path leaves out is the general path's dispatch: the batch copy, the
// virtual calls through the chain, and a matrix view per layer and step. At 2-16-1 (65
// parameters), that dispatch was most of a step's instructions.
#pragma once

#include <optional>
#include <vector>

#include "nncore/layers/dense.hpp"
#include "nncore/sequential.hpp"

namespace nncore {

template <class T>
class OneSample {
 public:
  // The path for `network`, or none unless every layer is Dense with W small enough for the
  // one-row loops (Dense::has_row_path).
  static std::optional<OneSample> plan(const Sequential<T>& network) {
    OneSample path;
    const Chain<T>& chain = network.layers();
    for (Index l = 0; l < chain.size(); ++l) {
      const auto* dense = dynamic_cast<const Dense<T>*>(&chain.layer(l));
      if (dense == nullptr || !dense->has_row_path()) return std::nullopt;
      path.layers_.push_back(dense);
      path.offsets_.push_back(chain.parameter_offset(l));
    }
    return path;
  }

  // Forward propagation of the row x (n_inputs entries) into row 0 of a training workspace.
  void forward(const Sequential<T>& network, const T* x, Workspace<T>& workspace) const {
    const T* parameters = network.parameters().data();
    const T* a = x;
    for (size_t l = 0; l < layers_.size(); ++l) {
      layers_[l]->forward_row(parameters + offsets_[l], a, workspace.layers[l]);
      a = workspace.layers[l].output.data();
    }
  }

  // After forward, and the output layer's dL/dz on row 0 (Sequential::output_errors, or for one
  // output one_output_delta): the errors down the chain and dL/dθ into `gradient` (the layout of
  // Sequential::gradients()).
  void backward(const Sequential<T>& network, const T* x, Workspace<T>& workspace,
                T* gradient) const {
    const T* parameters = network.parameters().data();
    for (size_t l = layers_.size(); l-- > 0;) {
      const T* a = l > 0 ? workspace.layers[l - 1].output.data() : x;
      T* da = l > 0 ? workspace.layers[l - 1].error.data() : nullptr;
      layers_[l]->backward_row(parameters + offsets_[l], a, workspace.layers[l],
                               l + 1 == layers_.size(), da, gradient + offsets_[l]);
    }
  }

  // For a network of one output, after forward: the row's logit z and output a = g(z), and the
  // place of its dL/dz for backward.
  bool one_output() const { return layers_.back()->n_outputs() == 1; }
  static T logit(const Workspace<T>& workspace) { return workspace.layers.back().kept[0](0, 0); }
  static T output(const Workspace<T>& workspace) { return workspace.layers.back().output(0, 0); }
  static T& error(Workspace<T>& workspace) { return workspace.layers.back().error(0, 0); }

 private:
  OneSample() = default;
  std::vector<const Dense<T>*> layers_;
  std::vector<Index> offsets_;
};

}  // namespace nncore
