#include "common.hpp"
#include "nncore/optimizer.hpp"

namespace nncore::bindings {

template <class T>
void bind_optimizers_for(py::module_& m) {
  const std::string suffix = dtype_suffix<T>();
  py::class_<Optimizer<T>>(m, ("Optimizer" + suffix).c_str())
      .def_property_readonly("name", &Optimizer<T>::name)
      .def(
          "step",
          [](Optimizer<T>& self, Array<T> parameters, const Array<T>& gradients) {
            if (parameters.ndim() != 1 || gradients.ndim() != 1)
              throw std::invalid_argument("parameters and gradients must be 1-D");
            if (parameters.shape(0) != gradients.shape(0))
              throw std::invalid_argument("parameters and gradients differ in length");
            Eigen::Map<Vector<T>> theta(parameters.mutable_data(), parameters.shape(0));
            const auto g = as_vector<T>(gradients, "gradients");
            py::gil_scoped_release release;
            self.step(theta, g);
          },
          py::arg("parameters").noconvert(), py::arg("gradients").noconvert(),
          "One update of the flat parameter vector (in place) from the flat gradient vector.");
  py::class_<SGD<T>, Optimizer<T>>(m, ("SGD" + suffix).c_str())
      .def(py::init<double>(), py::arg("learning_rate"))
      .def_property_readonly("learning_rate", &SGD<T>::learning_rate);
}

void bind_optimizer(py::module_& m) {
  bind_optimizers_for<float>(m);
  bind_optimizers_for<double>(m);
}

}  // namespace nncore::bindings
