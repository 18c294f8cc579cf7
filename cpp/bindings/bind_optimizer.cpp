// The update rules: OptimizerF32/F64 (the base every rule derives from, so that fit accepts any of
// them) and SGD, Adam, AdamW, RMSProp, Adagrad for each dtype. Constructors take the learning rate
// positionally and every other hyper-parameter by keyword, with the core's defaults.
#include <algorithm>

#include "common.hpp"
#include "nncore/adagrad.hpp"
#include "nncore/adam.hpp"
#include "nncore/optimizer.hpp"
#include "nncore/rmsprop.hpp"
#include "nncore/sgd.hpp"

namespace nncore::bindings {

namespace {

// {"step": t, name: 1-D array copy, ...}
template <class T>
py::dict state_to_dict(const OptimizerState<T>& state) {
  py::dict result;
  result["step"] = state.step;
  for (const auto& [name, vector] : state.vectors) {
    Array<T> copy(static_cast<py::ssize_t>(vector.size()));
    std::copy(vector.data(), vector.data() + vector.size(), copy.mutable_data());
    result[py::str(name)] = copy;
  }
  return result;
}

// The inverse of state_to_dict: "step" is required; every other entry must be a 1-D array of T.
template <class T>
OptimizerState<T> state_from_dict(const py::dict& dict) {
  OptimizerState<T> state;
  bool has_step = false;
  for (const auto& [key, value] : dict) {
    if (!py::isinstance<py::str>(key)) throw py::type_error("state keys must be strings");
    const auto name = py::cast<std::string>(key);
    if (name == "step") {
      if (py::isinstance<py::bool_>(value) || !py::isinstance<py::int_>(value))
        throw py::type_error("state['step'] must be an int");
      state.step = py::cast<std::int64_t>(value);
      has_step = true;
      continue;
    }
    if (!py::isinstance<Array<T>>(value))
      throw py::type_error("state['" + name + "'] must be a C-contiguous " +
                           std::string(py::str(py::dtype::of<T>())) + " array");
    const auto array = py::cast<Array<T>>(value);
    const auto vector = as_vector<T>(array, ("state['" + name + "']").c_str());
    state.vectors.emplace(name, vector);
  }
  if (!has_step) throw std::invalid_argument("state needs a 'step' entry");
  return state;
}

template <class Options>
void set_common(Options& options, double learning_rate, double weight_decay,
                std::optional<double> clip_norm, std::optional<double> clip_value) {
  options.learning_rate = learning_rate;
  options.weight_decay = weight_decay;
  options.clip_norm = clip_norm;
  options.clip_value = clip_value;
}

template <class T>
void bind_base(py::module_& m, const std::string& suffix) {
  using Base = Optimizer<T>;
  py::class_<Base>(m, ("Optimizer" + suffix).c_str(),
                   "An update rule on flat vectors (see nncore/optimizer.hpp).")
      .def_property_readonly("name", &Base::name)
      .def_property("learning_rate", &Base::learning_rate, &Base::set_learning_rate)
      .def_property_readonly("weight_decay", &Base::weight_decay)
      .def_property_readonly("clip_norm", &Base::clip_norm)
      .def_property_readonly("clip_value", &Base::clip_value)
      .def_property_readonly("step_count", &Base::step_count)
      .def_property_readonly(
          "parameter_count",
          [](const Base& self) -> std::optional<Index> {
            if (self.parameter_count() < 0) return std::nullopt;
            return self.parameter_count();
          },
          "The number of parameters the state is for, or None before the first step.")
      .def_property_readonly("state_names", &Base::state_names)
      .def_property(
          "state", [](const Base& self) { return state_to_dict<T>(self.state()); },
          [](Base& self, const py::dict& state) { self.set_state(state_from_dict<T>(state)); },
          "Copies of the state: {'step': int, name: 1-D array, ...}; assigning replaces it.")
      .def("reset", &Base::reset, "Forget the state (as before the first step).")
      .def(
          "step",
          [](Base& self, Array<T> parameters, const Array<T>& gradients) {
            if (parameters.ndim() != 1)
              throw std::invalid_argument("parameters must be 1-D, got " +
                                          std::to_string(parameters.ndim()) + "-D");
            Eigen::Map<Vector<T>> theta(parameters.mutable_data(), parameters.shape(0));
            const auto g = as_vector<T>(gradients, "gradients");
            py::gil_scoped_release release;
            self.step(theta, g);
          },
          py::arg("parameters").noconvert(), py::arg("gradients").noconvert(),
          "One update of the flat parameter vector (in place) from the flat gradient vector; "
          "the gradients are not modified.");
}

template <class T>
void bind_rules(py::module_& m, const std::string& suffix) {
  const SGDOptions sgd;
  py::class_<SGD<T>, Optimizer<T>>(m, ("SGD" + suffix).c_str(), "See nncore/sgd.hpp.")
      .def(py::init([](double learning_rate, double momentum, double dampening, bool nesterov,
                       double weight_decay, std::optional<double> clip_norm,
                       std::optional<double> clip_value) {
             SGDOptions options;
             set_common(options, learning_rate, weight_decay, clip_norm, clip_value);
             options.momentum = momentum;
             options.dampening = dampening;
             options.nesterov = nesterov;
             return SGD<T>(options);
           }),
           py::arg("learning_rate") = sgd.learning_rate, py::kw_only(),
           py::arg("momentum") = sgd.momentum, py::arg("dampening") = sgd.dampening,
           py::arg("nesterov") = sgd.nesterov, py::arg("weight_decay") = sgd.weight_decay,
           py::arg("clip_norm") = py::none(), py::arg("clip_value") = py::none())
      .def_property_readonly("momentum", &SGD<T>::momentum)
      .def_property_readonly("dampening", &SGD<T>::dampening)
      .def_property_readonly("nesterov", &SGD<T>::nesterov);

  const auto make_adam = [](auto options, double learning_rate, std::pair<double, double> betas,
                            double eps, double weight_decay, std::optional<double> clip_norm,
                            std::optional<double> clip_value) {
    set_common(options, learning_rate, weight_decay, clip_norm, clip_value);
    options.beta1 = betas.first;
    options.beta2 = betas.second;
    options.eps = eps;
    return options;
  };
  const auto betas = [](const Adam<T>& self) { return std::make_pair(self.beta1(), self.beta2()); };
  const AdamOptions adam;
  py::class_<Adam<T>, Optimizer<T>>(m, ("Adam" + suffix).c_str(), "See nncore/adam.hpp.")
      .def(py::init([make_adam](double learning_rate, std::pair<double, double> betas, double eps,
                                double weight_decay, std::optional<double> clip_norm,
                                std::optional<double> clip_value) {
             return Adam<T>(make_adam(AdamOptions(), learning_rate, betas, eps, weight_decay,
                                      clip_norm, clip_value));
           }),
           py::arg("learning_rate") = adam.learning_rate, py::kw_only(),
           py::arg("betas") = std::make_pair(adam.beta1, adam.beta2), py::arg("eps") = adam.eps,
           py::arg("weight_decay") = adam.weight_decay, py::arg("clip_norm") = py::none(),
           py::arg("clip_value") = py::none())
      .def_property_readonly("betas", betas)
      .def_property_readonly("eps", &Adam<T>::eps);

  const AdamWOptions adamw;
  py::class_<AdamW<T>, Adam<T>>(m, ("AdamW" + suffix).c_str(), "See nncore/adam.hpp.")
      .def(py::init([make_adam](double learning_rate, std::pair<double, double> betas, double eps,
                                double weight_decay, std::optional<double> clip_norm,
                                std::optional<double> clip_value) {
             return AdamW<T>(make_adam(AdamWOptions(), learning_rate, betas, eps, weight_decay,
                                       clip_norm, clip_value));
           }),
           py::arg("learning_rate") = adamw.learning_rate, py::kw_only(),
           py::arg("betas") = std::make_pair(adamw.beta1, adamw.beta2), py::arg("eps") = adamw.eps,
           py::arg("weight_decay") = adamw.weight_decay, py::arg("clip_norm") = py::none(),
           py::arg("clip_value") = py::none());

  const RMSPropOptions rmsprop;
  py::class_<RMSProp<T>, Optimizer<T>>(m, ("RMSProp" + suffix).c_str(), "See nncore/rmsprop.hpp.")
      .def(py::init([](double learning_rate, double alpha, double eps, double momentum,
                       bool centered, double weight_decay, std::optional<double> clip_norm,
                       std::optional<double> clip_value) {
             RMSPropOptions options;
             set_common(options, learning_rate, weight_decay, clip_norm, clip_value);
             options.alpha = alpha;
             options.eps = eps;
             options.momentum = momentum;
             options.centered = centered;
             return RMSProp<T>(options);
           }),
           py::arg("learning_rate") = rmsprop.learning_rate, py::kw_only(),
           py::arg("alpha") = rmsprop.alpha, py::arg("eps") = rmsprop.eps,
           py::arg("momentum") = rmsprop.momentum, py::arg("centered") = rmsprop.centered,
           py::arg("weight_decay") = rmsprop.weight_decay, py::arg("clip_norm") = py::none(),
           py::arg("clip_value") = py::none())
      .def_property_readonly("alpha", &RMSProp<T>::alpha)
      .def_property_readonly("eps", &RMSProp<T>::eps)
      .def_property_readonly("momentum", &RMSProp<T>::momentum)
      .def_property_readonly("centered", &RMSProp<T>::centered);

  const AdagradOptions adagrad;
  py::class_<Adagrad<T>, Optimizer<T>>(m, ("Adagrad" + suffix).c_str(), "See nncore/adagrad.hpp.")
      .def(py::init([](double learning_rate, double lr_decay, double initial_accumulator_value,
                       double eps, double weight_decay, std::optional<double> clip_norm,
                       std::optional<double> clip_value) {
             AdagradOptions options;
             set_common(options, learning_rate, weight_decay, clip_norm, clip_value);
             options.lr_decay = lr_decay;
             options.initial_accumulator_value = initial_accumulator_value;
             options.eps = eps;
             return Adagrad<T>(options);
           }),
           py::arg("learning_rate") = adagrad.learning_rate, py::kw_only(),
           py::arg("lr_decay") = adagrad.lr_decay,
           py::arg("initial_accumulator_value") = adagrad.initial_accumulator_value,
           py::arg("eps") = adagrad.eps, py::arg("weight_decay") = adagrad.weight_decay,
           py::arg("clip_norm") = py::none(), py::arg("clip_value") = py::none())
      .def_property_readonly("lr_decay", &Adagrad<T>::lr_decay)
      .def_property_readonly("initial_accumulator_value", &Adagrad<T>::initial_accumulator_value)
      .def_property_readonly("eps", &Adagrad<T>::eps);
}

template <class T>
void bind_optimizers_for(py::module_& m) {
  const std::string suffix = dtype_suffix<T>();
  bind_base<T>(m, suffix);
  bind_rules<T>(m, suffix);
}

}  // namespace

void bind_optimizer(py::module_& m) {
  bind_optimizers_for<float>(m);
  bind_optimizers_for<double>(m);
}

}  // namespace nncore::bindings
