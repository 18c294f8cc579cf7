#include "common.hpp"
#include "nncore/network.hpp"
#include "nncore/training.hpp"

namespace nncore::bindings {

namespace {

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
  py::class_<Net, Sequential<T>>(m, ("Network" + std::string(dtype_suffix<T>())).c_str(),
                                 "A Sequential of Dense and Dropout layers (nncore/network.hpp).")
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
      .def(
          "offsets",
          [](const Net& self, Index layer) {
            if (layer < 0 || layer >= self.n_layers())
              throw std::invalid_argument("layer index out of range");
            return std::make_pair(self.weight_offset(layer), self.bias_offset(layer));
          },
          py::arg("layer"), "(offset of W, offset of b) of a layer in the flat buffers.");
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
