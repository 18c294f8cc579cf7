#include "common.hpp"
#include "nncore/network.hpp"
#include "nncore/training.hpp"

namespace nncore::bindings {

namespace {

// A NumPy array viewing `size` elements of a buffer owned by `owner` (kept alive by the array).
template <class T>
py::array_t<T> view(T* data, Index size, py::handle owner) {
  return py::array_t<T>({static_cast<py::ssize_t>(size)}, {static_cast<py::ssize_t>(sizeof(T))},
                        data, owner);
}

template <class T>
Network<T> make_network(const std::vector<Index>& layer_sizes,
                        const std::vector<std::string>& activation_names, double leaky_relu_slope,
                        double elu_alpha, bool use_bias, const std::vector<double>& dropout) {
  std::vector<Activation> activations;
  for (const auto& name : activation_names)
    activations.push_back(Activation::from_name(name, leaky_relu_slope, elu_alpha));
  return Network<T>(layer_sizes, std::move(activations), use_bias, dropout);
}

// {name: the kind's own name} of a list of names (an alias maps to another name).
template <class Kind>
py::dict own_names(const std::vector<Name<Kind>>& names) {
  py::dict result;
  for (const auto& entry : names) result[entry.name] = own_name(names, entry.kind);
  return result;
}

}  // namespace

template <class T>
void bind_network_for(py::module_& m) {
  using Net = Network<T>;
  py::class_<Net>(m, ("Network" + std::string(dtype_suffix<T>())).c_str(),
                  "Dense layers over one flat parameter buffer (see nncore/network.hpp).")
      .def(py::init(&make_network<T>), py::arg("layer_sizes"), py::arg("activations"),
           py::arg("leaky_relu_slope"), py::arg("elu_alpha"), py::arg("use_bias"),
           py::arg("dropout"))
      .def_property_readonly("layer_sizes", &Net::layer_sizes)
      .def_property_readonly("activations",
                             [](const Net& self) {
                               std::vector<std::string> names;
                               for (const auto& a : self.activations()) names.push_back(a.name());
                               return names;
                             })
      .def_property_readonly("dropout", &Net::dropout)
      .def_property_readonly("use_bias", &Net::use_bias)
      .def_property_readonly(
          "parameters",
          [](py::object self) {
            auto& net = self.cast<Net&>();
            return view<T>(net.parameters().data(), net.parameters().size(), self);
          },
          "Writable view of the flat parameter buffer.")
      .def_property_readonly(
          "gradients",
          [](py::object self) {
            auto& net = self.cast<Net&>();
            return view<T>(net.gradients().data(), net.gradients().size(), self);
          },
          "Writable view of the flat gradient buffer (same layout as parameters).")
      .def(
          "offsets",
          [](const Net& self, Index layer) {
            if (layer < 0 || layer >= self.n_layers())
              throw std::invalid_argument("layer index out of range");
            return std::make_pair(self.weight_offset(layer), self.bias_offset(layer));
          },
          py::arg("layer"), "(offset of W, offset of b) of a layer in the flat buffers.")
      .def(
          "initialize",
          [](Net& self, const std::string& name, Random& random) {
            self.initialize(initializer_from_name(name), random);
          },
          py::arg("initializer"), py::arg("random"))
      .def(
          "forward",
          [](const Net& self, const Array<T>& X) {
            const auto x = as_matrix<T>(X, "X");
            Array<T> out({x.rows(), self.n_outputs()});
            MatrixMap<T> result(out.mutable_data(), x.rows(), self.n_outputs());
            py::gil_scoped_release release;
            predict<T>(self, x, result);
            return out;
          },
          py::arg("X").noconvert(), "Output activations for every row of X (no dropout).")
      .def(
          "evaluate",
          [](const Net& self, const Array<T>& X, const Array<T>& Y, const Array<T>& weights,
             const std::string& loss, double delta) {
            const Dataset<T> data{as_matrix<T>(X, "X"), as_matrix<T>(Y, "Y"),
                                  as_vector<T>(weights, "sample_weight")};
            const Loss kind = Loss::from_name(loss, delta);
            py::gil_scoped_release release;
            const Evaluation evaluation = evaluate<T>(self, data, kind);
            return std::make_pair(evaluation.loss, evaluation.metric);
          },
          py::arg("X").noconvert(), py::arg("Y").noconvert(), py::arg("weights").noconvert(),
          py::arg("loss"), py::arg("delta"),
          "(weighted mean loss, metric) over the rows of X; weights may be empty (all ones).")
      .def(
          "backward",
          [](Net& self, const Array<T>& X, const Array<T>& Y, const Array<T>& weights,
             const std::string& loss, double delta) {
            const auto x = as_matrix<T>(X, "X");
            const auto y = as_matrix<T>(Y, "Y");
            const auto w = as_vector<T>(weights, "sample_weight");
            const Loss kind = Loss::from_name(loss, delta);
            self.check_batch(x, &y, &w);
            kind.check_output_activation(self.activations().back());
            py::gil_scoped_release release;
            Workspace<T> workspace = self.make_workspace(x.rows(), /*training=*/true);
            self.forward(x, workspace);  // no dropout: the gradient of the deterministic network
            const double total =
                w.size() == 0 ? static_cast<double>(x.rows()) : w.template cast<double>().sum();
            const double error = self.summed_error(kind, y, w, workspace);
            self.backward(kind, x, y, w, total, workspace);
            return total > 0.0 ? error / total : 0.0;
          },
          py::arg("X").noconvert(), py::arg("Y").noconvert(), py::arg("weights").noconvert(),
          py::arg("loss"), py::arg("delta"),
          "Forward and backward propagation of the weighted mean loss; fills `gradients` and "
          "returns the loss.");
}

void bind_network(py::module_& m) {
  m.def(
      "activation_names", [] { return own_names(activation_names()); },
      "{name: own name} of every activation name the core parses (aliases included).");
  m.def(
      "loss_names", [] { return own_names(loss_names()); },
      "{name: own name} of every loss name the core parses (aliases included).");
  bind_network_for<float>(m);
  bind_network_for<double>(m);
}

}  // namespace nncore::bindings
