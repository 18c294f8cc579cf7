// One training step's forward and backward pass on a mini-batch, for training loops driven from
// Python (data-parallel training in nncore.distributed). The same core calls as the native loop
// (forward with dropout, summed error, backward), with the two things a distributed step needs
// that `Network.backward` does not give: the normaliser of the loss is the weight of the *global*
// batch, and the batch's output activations are returned for the epoch's metric.
#include "common.hpp"
#include "nncore/network.hpp"

namespace nncore::bindings {

namespace {

// Holds a workspace for batches of up to `capacity` rows, allocated once.
template <class T>
class BatchStep {
 public:
  BatchStep(const Network<T>& network, Index capacity)
      : capacity_(capacity),
        n_outputs_(network.n_outputs()),
        layer_sizes_(network.layer_sizes()),
        dropout_(network.dropout()) {
    if (capacity < 1) throw std::invalid_argument("capacity must be >= 1");
    workspace_ = network.make_workspace(capacity, /*training=*/true);
  }

  // gradients() = dL/dθ of L = Σ_i w_i ℓ_i / global_weight over the rows of X (m, n_0), m <=
  // capacity; outputs (m, n_L) receives the output activations A_L; returns Σ_i w_i ℓ_i.
  // random: the generator of the dropout masks, or None for no dropout.
  double run(Network<T>& network, const Array<T>& X, const Array<T>& Y, const Array<T>& weights,
             const std::string& loss, double delta, double global_weight, Random* random,
             Array<T>& outputs) {
    const auto x = as_matrix<T>(X, "X");
    const auto y = as_matrix<T>(Y, "Y");
    const auto w = as_vector<T>(weights, "sample_weight");
    const Loss kind = Loss::from_name(loss, delta);
    network.check_batch(x, &y, &w);
    kind.check_output_activation(network.activations().back());
    if (x.rows() > capacity_) throw std::invalid_argument("the batch has more rows than capacity");
    if (network.layer_sizes() != layer_sizes_ || network.dropout() != dropout_)
      throw std::invalid_argument("this BatchStep was made for another network");
    if (!(global_weight > 0.0)) throw std::invalid_argument("global_weight must be > 0");
    if (outputs.ndim() != 2 || outputs.shape(0) != x.rows() || outputs.shape(1) != n_outputs_)
      throw std::invalid_argument("outputs must have shape (rows of X, n_outputs)");
    MatrixMap<T> out(outputs.mutable_data(), x.rows(), n_outputs_);
    py::gil_scoped_release release;
    out = network.forward(x, workspace_, random);
    const double error = network.summed_error(kind, y, w, workspace_);
    network.backward(kind, x, y, w, global_weight, workspace_);
    return error;
  }

 private:
  Index capacity_, n_outputs_;
  std::vector<Index> layer_sizes_;  // of the network the workspace was made for
  std::vector<double> dropout_;
  Workspace<T> workspace_;
};

template <class T>
void bind_batch_step_for(py::module_& m) {
  py::class_<BatchStep<T>>(m, ("BatchStep" + std::string(dtype_suffix<T>())).c_str(),
                           "Forward and backward pass of one mini-batch through a reused "
                           "workspace, normalised by a given (global) batch weight.")
      .def(py::init<const Network<T>&, Index>(), py::arg("network"), py::arg("capacity"))
      .def("run", &BatchStep<T>::run, py::arg("network"), py::arg("X").noconvert(),
           py::arg("Y").noconvert(), py::arg("weights").noconvert(), py::arg("loss"),
           py::arg("delta"), py::arg("global_weight"), py::arg("random").none(true),
           py::arg("outputs").noconvert(),
           "Fills network.gradients with the gradient of sum_i w_i loss_i / global_weight, writes "
           "the output activations into outputs and returns sum_i w_i loss_i.");
}

}  // namespace

void bind_batch_step(py::module_& m) {
  bind_batch_step_for<float>(m);
  bind_batch_step_for<double>(m);
}

}  // namespace nncore::bindings
