// The layers of the core (nncore/layers/), one class per layer type and dtype: LayerF32 is the
// base of DenseF32, DropoutF32, …; a list of them makes a SequentialF32 (bind_sequential.cpp).
// Adding a layer type is one `layer<…>` block here. The Python wrappers (nncore/layers.py) check
// the arguments first, naming the layer; the core's own checks are the last line.
#include "common.hpp"
#include "nncore/layers/activation.hpp"
#include "nncore/layers/batch_norm.hpp"
#include "nncore/layers/dense.hpp"
#include "nncore/layers/dropout.hpp"
#include "nncore/layers/embedding.hpp"
#include "nncore/layers/layer.hpp"
#include "nncore/layers/layer_norm.hpp"
#include "nncore/layers/residual.hpp"

namespace nncore::bindings {

namespace {

// [(name, shape)] of a layer's declared arrays.
py::list specs(const std::vector<ArraySpec>& arrays) {
  py::list result;
  for (const ArraySpec& array : arrays) result.append(py::make_tuple(array.name, array.shape));
  return result;
}

// The class of layer type L for dtype T, derived from LayerF32/LayerF64.
template <class L, class T>
py::class_<L, Layer<T>, std::shared_ptr<L>> layer(py::module_& m, const char* name,
                                                  const char* doc) {
  return py::class_<L, Layer<T>, std::shared_ptr<L>>(
      m, (std::string(name) + dtype_suffix<T>()).c_str(), doc);
}

}  // namespace

template <class T>
void bind_layers_for(py::module_& m) {
  py::class_<Layer<T>, std::shared_ptr<Layer<T>>>(
      m, ("Layer" + std::string(dtype_suffix<T>())).c_str(),
      "A layer of the core: widths and declared arrays (see nncore/layers/layer.hpp).")
      .def_property_readonly("n_inputs", &Layer<T>::n_inputs)
      .def_property_readonly("n_outputs", &Layer<T>::n_outputs)
      .def_property_readonly("kind", &Layer<T>::kind)
      .def_property_readonly(
          "parameters", [](const Layer<T>& self) { return specs(self.parameters()); },
          "[(name, shape)] of its parameters, in buffer order.")
      .def_property_readonly(
          "state", [](const Layer<T>& self) { return specs(self.state()); },
          "[(name, shape)] of its state (not trained), in buffer order.");

  layer<Dense<T>, T>(m, "Dense", "Z = X·W + b, Y = g(Z) (nncore/layers/dense.hpp).")
      .def(py::init([](Index n_inputs, Index n_outputs, const std::string& activation,
                       double leaky_relu_slope, double elu_alpha, bool use_bias) {
             return std::make_shared<Dense<T>>(
                 n_inputs, n_outputs,
                 Activation::from_name(activation, leaky_relu_slope, elu_alpha), use_bias);
           }),
           py::arg("n_inputs"), py::arg("n_outputs"), py::arg("activation"),
           py::arg("leaky_relu_slope"), py::arg("elu_alpha"), py::arg("use_bias"));
  layer<Dropout<T>, T>(m, "Dropout", "Inverted dropout (nncore/layers/dropout.hpp).")
      .def(py::init<Index, double>(), py::arg("width"), py::arg("rate"));
  layer<Embedding<T>, T>(m, "Embedding",
                         "Integer codes of some columns of X replaced by learned vectors, the "
                         "first layer only (nncore/layers/embedding.hpp).")
      .def(py::init<Index, std::vector<Index>, std::vector<Index>, Index>(), py::arg("n_inputs"),
           py::arg("columns"), py::arg("cardinalities"), py::arg("dim"));
  layer<ActivationLayer<T>, T>(m, "Activation", "Y = g(X) (nncore/layers/activation.hpp).")
      .def(py::init(
               [](Index width, const std::string& name, double leaky_relu_slope, double elu_alpha) {
                 return std::make_shared<ActivationLayer<T>>(
                     width, Activation::from_name(name, leaky_relu_slope, elu_alpha));
               }),
           py::arg("width"), py::arg("name"), py::arg("leaky_relu_slope"), py::arg("elu_alpha"));
  layer<Residual<T>, T>(m, "Residual", "Y = X + f(X) (nncore/layers/residual.hpp).")
      .def(py::init([](const std::vector<std::shared_ptr<Layer<T>>>& layers) {
             return std::make_shared<Residual<T>>(
                 std::vector<LayerPointer<T>>(layers.begin(), layers.end()));
           }),
           py::arg("layers"));
  layer<LayerNorm<T>, T>(m, "LayerNorm",
                         "Each row normalised over its features, then γ ⊙ x̂ + β "
                         "(nncore/layers/layer_norm.hpp).")
      .def(py::init<Index, double>(), py::arg("width"), py::arg("eps"));
  layer<BatchNorm<T>, T>(m, "BatchNorm",
                         "Each feature normalised over the batch (training) or with the running "
                         "statistics (inference), then γ ⊙ x̂ + β (nncore/layers/batch_norm.hpp).")
      .def(py::init<Index, double, double>(), py::arg("width"), py::arg("momentum"),
           py::arg("eps"));
}

void bind_layers(py::module_& m) {
  bind_layers_for<float>(m);
  bind_layers_for<double>(m);
}

}  // namespace nncore::bindings
