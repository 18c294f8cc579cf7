// The update rules: OptimizerF32/F64 (the base every rule derives from, so that fit accepts any of
// them) and one `rule<…>` line per rule for each dtype. Constructors take the learning rate
// positionally and every other hyper-parameter by keyword (the rule's own `hyperparameters`
// list), with the core's defaults.
#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <type_traits>
#include <utility>

#include "common.hpp"
#include "nncore/adagrad.hpp"
#include "nncore/adam.hpp"
#include "nncore/optimizer.hpp"
#include "nncore/rmsprop.hpp"
#include "nncore/sgd.hpp"

namespace nncore::bindings {

namespace {

// options.*member = kwargs[key] when given; a value of the wrong type is a TypeError naming it.
template <class Options, class Member>
void take(Options& options, const py::kwargs& kwargs, const char* key, Member member) {
  if (!kwargs.contains(key)) return;
  using Value = std::decay_t<decltype(options.*member)>;
  try {
    options.*member = py::cast<Value>(kwargs[key]);
  } catch (const py::cast_error&) {
    throw py::type_error(std::string(key) + " must be a " +
                         (std::is_same_v<Value, bool> ? "bool" : "number") + ", got " +
                         std::string(py::repr(kwargs[key])));
  }
}

// The same for a pair of options given as one (β₁, β₂) tuple.
template <class Options, class First, class Second>
void take(Options& options, const py::kwargs& kwargs, const char* key,
          std::pair<First, Second> members) {
  if (!kwargs.contains(key)) return;
  try {
    const auto pair = py::cast<std::pair<double, double>>(kwargs[key]);
    options.*(members.first) = pair.first;
    options.*(members.second) = pair.second;
  } catch (const py::cast_error&) {
    throw py::type_error(std::string(key) + " must be a pair of numbers, got " +
                         std::string(py::repr(kwargs[key])));
  }
}

// A rule's options: the learning rate, then the keyword arguments named by
// Rule::hyperparameters and the shared weight_decay, clip_norm and clip_value (others are a
// TypeError); what is not given keeps the core's default.
template <class Rule, class Options>
Options options_from(double learning_rate, const py::kwargs& kwargs, const std::string& name) {
  Options options;
  options.learning_rate = learning_rate;
  std::set<std::string> known = {"weight_decay", "clip_norm", "clip_value"};
  Rule::hyperparameters([&](const char* key, auto option, auto /*getter*/) {
    take(options, kwargs, key, option);
    known.insert(key);
  });
  take(options, kwargs, "weight_decay", &Options::weight_decay);
  take(options, kwargs, "clip_norm", &Options::clip_norm);
  take(options, kwargs, "clip_value", &Options::clip_value);
  for (const auto& [key, value] : kwargs)
    if (known.count(py::cast<std::string>(key)) == 0)
      throw py::type_error(name + "() got an unexpected keyword argument '" +
                           py::cast<std::string>(key) + "'");
  return options;
}

// An update rule's Python class (one line per rule below): constructed from the learning rate
// (positional, the rule's default) and its hyper-parameters by keyword; one read-only property
// per hyper-parameter of Rule::hyperparameters.
template <class Rule, class Options, class Base>
void rule(py::module_& m, const std::string& name, const std::string& header) {
  const std::string doc = "See nncore/" + header + ".";
  py::class_<Rule, Base> cls(m, name.c_str(), doc.c_str());
  cls.def(py::init([name](double learning_rate, const py::kwargs& kwargs) {
            return Rule(options_from<Rule, Options>(learning_rate, kwargs, name));
          }),
          py::arg("learning_rate") = Options().learning_rate);
  Rule::hyperparameters([&cls](const char* key, auto /*option*/, auto getter) {
    cls.def_property_readonly(key, getter);
  });
}

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
            // Eigen's vectorised loops run scalar code up to θ's first packet-aligned entry, and
            // in the AVX-512 build that code can round differently from the packets (1-4 of 37
            // entries of an RMSProp step differed by one rounding between offsets of θ): a θ
            // not aligned as nncore's own buffers are is updated in an aligned copy, so that a
            // step does not depend on where the array sits in memory.
            constexpr std::uintptr_t alignment =
                EIGEN_MAX_ALIGN_BYTES > 0 ? EIGEN_MAX_ALIGN_BYTES : 1;
            if (reinterpret_cast<std::uintptr_t>(theta.data()) % alignment == 0) {
              self.step(theta, g);
            } else {
              Vector<T> aligned = theta;
              self.step(aligned, g);
              theta = aligned;
            }
          },
          py::arg("parameters").noconvert(), py::arg("gradients").noconvert(),
          "One update of the flat parameter vector (in place) from the flat gradient vector; "
          "the gradients are not modified.");
}

template <class T>
void bind_rules(py::module_& m, const std::string& suffix) {
  rule<SGD<T>, SGDOptions, Optimizer<T>>(m, "SGD" + suffix, "sgd.hpp");
  rule<Adam<T>, AdamOptions, Optimizer<T>>(m, "Adam" + suffix, "adam.hpp");
  rule<AdamW<T>, AdamWOptions, Adam<T>>(m, "AdamW" + suffix, "adam.hpp");
  rule<RMSProp<T>, RMSPropOptions, Optimizer<T>>(m, "RMSProp" + suffix, "rmsprop.hpp");
  rule<Adagrad<T>, AdagradOptions, Optimizer<T>>(m, "Adagrad" + suffix, "adagrad.hpp");
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
