// The Sequential of the core (nncore/sequential.hpp): a list of layers over flat parameter,
// gradient and state buffers, which Python sees as writable views. Network (bind_network.cpp) is
// a Sequential; so is every nncore.Sequential model.
#include "common.hpp"
#include "nncore/sequential.hpp"
#include "nncore/training.hpp"

namespace nncore::bindings {

namespace {

// A NumPy array viewing `size` elements of a buffer owned by `owner` (kept alive by the array).
template <class T>
py::array_t<T> view(T* data, Index size, py::handle owner) {
  return py::array_t<T>({static_cast<py::ssize_t>(size)}, {static_cast<py::ssize_t>(sizeof(T))},
                        data, owner);
}

// [(name, shape, offset)] of a buffer's arrays.
py::list layout(const std::vector<ArrayLayout>& arrays) {
  py::list result;
  for (const ArrayLayout& array : arrays)
    result.append(py::make_tuple(array.name, py::tuple(py::cast(array.shape)), array.offset));
  return result;
}

template <class T>
std::unique_ptr<Sequential<T>> make_sequential(const std::vector<std::shared_ptr<Layer<T>>>& list) {
  std::vector<LayerPointer<T>> layers(list.begin(), list.end());
  return std::make_unique<Sequential<T>>(std::move(layers));
}

// Forward (training mode, no dropout) and backward propagation of the weighted mean loss over
// X into `gradients` (the layout of parameters); returns the loss. Changes nothing else.
template <class T>
double gradient_into(const Sequential<T>& self, const Array<T>& X, const Array<T>& Y,
                     const Array<T>& weights, const std::string& loss, double delta,
                     VectorRef<T> gradients) {
  const auto x = as_matrix<T>(X, "X");
  const auto y = as_matrix<T>(Y, "Y");
  const auto w = as_vector<T>(weights, "sample_weight");
  const Loss kind = Loss::from_name(loss, delta);
  self.check_batch(x, &y, &w);
  kind.check_output_activation(self.output_activation());
  kind.check_targets<T>(y);
  if (x.rows() < self.min_training_rows())
    throw std::invalid_argument("a batch normalisation needs at least " +
                                std::to_string(self.min_training_rows()) +
                                " rows in training mode, got " + std::to_string(x.rows()));
  py::gil_scoped_release release;
  Workspace<T> workspace = self.make_workspace(x.rows(), /*training=*/true);
  self.forward(x, workspace);  // no dropout: the gradient of the deterministic network
  const double total =
      w.size() == 0 ? static_cast<double>(x.rows()) : w.template cast<double>().sum();
  const double error = self.summed_error(kind, y, w, workspace);
  self.backward(kind, x, y, w, total, workspace, gradients);
  return total > 0.0 ? error / total : 0.0;
}

}  // namespace

template <class T>
void bind_sequential_for(py::module_& m) {
  using Seq = Sequential<T>;
  py::class_<Seq>(m, ("Sequential" + std::string(dtype_suffix<T>())).c_str(),
                  "Layers over one flat parameter buffer (see nncore/sequential.hpp).")
      .def(py::init(&make_sequential<T>), py::arg("layers"))
      .def_property_readonly("n_inputs", &Seq::n_inputs)
      .def_property_readonly("n_outputs", &Seq::n_outputs)
      .def_property_readonly("min_training_rows", &Seq::min_training_rows)
      .def_property_readonly("parameter_layout",
                             [](const Seq& self) { return layout(self.parameter_layout()); })
      .def_property_readonly("state_layout",
                             [](const Seq& self) { return layout(self.state_layout()); })
      .def_property_readonly(
          "parameters",
          [](py::object self) {
            auto& net = self.cast<Seq&>();
            return view<T>(net.parameters().data(), net.parameters().size(), self);
          },
          "Writable view of the flat parameter buffer.")
      .def_property_readonly(
          "gradients",
          [](py::object self) {
            auto& net = self.cast<Seq&>();
            return view<T>(net.gradients().data(), net.gradients().size(), self);
          },
          "Writable view of the flat gradient buffer (same layout as parameters).")
      .def_property_readonly(
          "state",
          [](py::object self) {
            auto& net = self.cast<Seq&>();
            return view<T>(net.state().data(), net.state().size(), self);
          },
          "Writable view of the flat state buffer (running statistics).")
      .def(
          "initialize",
          [](Seq& self, const std::string& name, Random& random) {
            self.initialize(initializer_from_name(name), random);
          },
          py::arg("initializer"), py::arg("random"))
      .def(
          "forward",
          [](const Seq& self, const Array<T>& X) {
            const auto x = as_matrix<T>(X, "X");
            Array<T> out({x.rows(), self.n_outputs()});
            MatrixMap<T> result(out.mutable_data(), x.rows(), self.n_outputs());
            py::gil_scoped_release release;
            predict<T>(self, x, result);
            return out;
          },
          py::arg("X").noconvert(), "Output for every row of X, in inference mode.")
      .def(
          "evaluate",
          [](const Seq& self, const Array<T>& X, const Array<T>& Y, const Array<T>& weights,
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
          "(weighted mean loss, metric) over the rows of X in inference mode; weights may be "
          "empty (all ones).")
      .def(
          "backward",
          [](Seq& self, const Array<T>& X, const Array<T>& Y, const Array<T>& weights,
             const std::string& loss, double delta) {
            return gradient_into<T>(self, X, Y, weights, loss, delta, self.gradients());
          },
          py::arg("X").noconvert(), py::arg("Y").noconvert(), py::arg("weights").noconvert(),
          py::arg("loss"), py::arg("delta"),
          "Forward (training mode, no dropout) and backward propagation of the weighted mean "
          "loss; fills `gradients` and returns the loss.")
      .def(
          "gradient",
          [](const Seq& self, const Array<T>& X, const Array<T>& Y, const Array<T>& weights,
             const std::string& loss, double delta) {
            Array<T> out({static_cast<py::ssize_t>(self.parameters().size())});
            Eigen::Map<Vector<T>> gradient(out.mutable_data(), self.parameters().size());
            const double value = gradient_into<T>(self, X, Y, weights, loss, delta, gradient);
            return py::make_tuple(value, out);
          },
          py::arg("X").noconvert(), py::arg("Y").noconvert(), py::arg("weights").noconvert(),
          py::arg("loss"), py::arg("delta"),
          "(loss, flat gradient) as backward computes them, into a new array: changes nothing.");
}

void bind_sequential(py::module_& m) {
  bind_sequential_for<float>(m);
  bind_sequential_for<double>(m);
}

}  // namespace nncore::bindings
