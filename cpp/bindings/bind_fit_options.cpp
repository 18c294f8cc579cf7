// FitOptions (nncore/training.hpp): every setting of one fit as a typed property. A value of the
// wrong type is a TypeError and one out of its range (the core's check) a ValueError, both naming
// the setting; a refused value leaves the options as they were. The constructor takes the same
// names as keywords, with the core's defaults. The settings are listed once, in kSettings.
#include <limits>
#include <string>

#include "common.hpp"
#include "nncore/training.hpp"

namespace nncore::bindings {

namespace {

std::string described(py::handle value) {
  return std::string(py::str(py::type::of(value).attr("__name__"))) + " " +
         std::string(py::repr(value));
}

// An integer (not a bool) that fits the core's index type.
Index to_index(py::handle value, const std::string& name) {
  if (PyBool_Check(value.ptr()) || !PyIndex_Check(value.ptr()))
    throw py::type_error(name + " must be an integer, got " + described(value));
  const auto number = py::reinterpret_steal<py::object>(PyNumber_Index(value.ptr()));
  if (!number) throw py::error_already_set();
  int overflow = 0;
  const long long result = PyLong_AsLongLongAndOverflow(number.ptr(), &overflow);
  if (overflow != 0 || result < std::numeric_limits<Index>::min() ||
      result > std::numeric_limits<Index>::max())
    throw py::value_error(name + " must be a 64-bit integer (at most " +
                          std::to_string(std::numeric_limits<Index>::max()) + " in size), got " +
                          std::string(py::repr(value)));
  return static_cast<Index>(result);
}

// A real number (not a bool): what numbers.Real holds, Python's and NumPy's.
double to_real(py::handle value, const std::string& name) {
  static const auto real = py::object(py::module_::import("numbers").attr("Real")).release();
  if (PyBool_Check(value.ptr()) || !py::isinstance(value, real))
    throw py::type_error(name + " must be a real number, got " + described(value));
  const double result = PyFloat_AsDouble(value.ptr());
  if (result == -1.0 && PyErr_Occurred()) {
    PyErr_Clear();
    throw py::value_error(name + " does not fit a float, got " + std::string(py::repr(value)));
  }
  return result;
}

// Python's bool or NumPy's.
bool to_bool(py::handle value, const std::string& name) {
  static const auto numpy_bool = py::object(py::module_::import("numpy").attr("bool_")).release();
  if (!PyBool_Check(value.ptr()) && !py::isinstance(value, numpy_bool))
    throw py::type_error(name + " must be a bool, got " + described(value));
  return PyObject_IsTrue(value.ptr()) == 1;
}

// A 1-D sequence of real numbers (a NumPy array or any iterable of them), as float64.
std::vector<double> to_reals(py::handle value, const std::string& name) {
  if (py::isinstance<py::str>(value) || !py::hasattr(value, "__iter__"))
    throw py::type_error(name + " must be a sequence of real numbers, got " + described(value));
  std::vector<double> result;
  for (const py::handle item : py::iter(value)) result.push_back(to_real(item, name + " entry"));
  return result;
}

struct Setting {
  const char* name;
  const char* doc;
  py::object (*get)(const FitOptions& options);
  void (*set)(FitOptions& options, py::handle value);  // converts; check(options) then runs
};

const Setting kSettings[] = {
    {"epochs", "Epochs to train (>= 1).",
     [](const FitOptions& o) -> py::object { return py::int_(o.epochs); },
     [](FitOptions& o, py::handle v) { o.epochs = to_index(v, "epochs"); }},
    {"batch_size", "Rows per batch (>= 1); a batch larger than the data is the whole data.",
     [](const FitOptions& o) -> py::object { return py::int_(o.batch_size); },
     [](FitOptions& o, py::handle v) { o.batch_size = to_index(v, "batch_size"); }},
    {"shuffle", "Whether each epoch visits the rows in a fresh random order.",
     [](const FitOptions& o) -> py::object { return py::bool_(o.shuffle); },
     [](FitOptions& o, py::handle v) { o.shuffle = to_bool(v, "shuffle"); }},
    {"target_loss", "Stop once the epoch loss is <= this (None: never; not NaN).",
     [](const FitOptions& o) -> py::object {
       return o.target_loss ? py::object(py::float_(*o.target_loss)) : py::object(py::none());
     },
     [](FitOptions& o, py::handle v) {
       o.target_loss =
           v.is_none() ? std::nullopt : std::optional<double>(to_real(v, "target_loss"));
     }},
    {"tol", "An epoch improves when its loss is below the best so far minus tol (finite, >= 0).",
     [](const FitOptions& o) -> py::object { return py::float_(o.tol); },
     [](FitOptions& o, py::handle v) { o.tol = to_real(v, "tol"); }},
    {"n_iter_no_change", "Stop after this many epochs without improvement (>= 0; 0: never).",
     [](const FitOptions& o) -> py::object { return py::int_(o.n_iter_no_change); },
     [](FitOptions& o, py::handle v) { o.n_iter_no_change = to_index(v, "n_iter_no_change"); }},
    {"loss", "The error function's name (nncore/loss.hpp).",
     [](const FitOptions& o) -> py::object { return py::str(o.loss.name()); },
     [](FitOptions& o, py::handle v) {
       if (!py::isinstance<py::str>(v))
         throw py::type_error("loss must be a str, got " + described(v));
       o.loss = Loss::from_name(py::cast<std::string>(v), o.loss.delta);
     }},
    {"huber_delta", "Huber's delta (finite, > 0; used by the huber loss).",
     [](const FitOptions& o) -> py::object { return py::float_(o.loss.delta); },
     [](FitOptions& o, py::handle v) { o.loss.delta = to_real(v, "huber_delta"); }},
    {"penalty",
     "L2 penalty ½Σλ_jθ_j²: one λ_j >= 0 per parameter, or () for none; batch B's gradient gains "
     "λ_jθ_j·W/W_B.",
     [](const FitOptions& o) -> py::object { return py::tuple(py::cast(o.penalty)); },
     [](FitOptions& o, py::handle v) { o.penalty = to_reals(v, "penalty"); }},
    {"epoch_loss",
     "How the epoch loss averages its batches: 'weighted_mean' (Σwℓ/Σw) or 'batch_mean' (the "
     "batches' weighted means, averaged over the rows: scikit-learn's).",
     [](const FitOptions& o) -> py::object {
       return py::str(o.epoch_loss == EpochLoss::batch_mean ? "batch_mean" : "weighted_mean");
     },
     [](FitOptions& o, py::handle v) {
       const std::string name = py::isinstance<py::str>(v) ? py::cast<std::string>(v) : "";
       if (!py::isinstance<py::str>(v))
         throw py::type_error("epoch_loss must be a str, got " + described(v));
       if (name != "weighted_mean" && name != "batch_mean")
         throw py::value_error("epoch_loss must be 'weighted_mean' or 'batch_mean', got '" + name +
                               "'");
       o.epoch_loss = name == "batch_mean" ? EpochLoss::batch_mean : EpochLoss::weighted_mean;
     }},
};

// Sets one setting, or nothing when the value is refused.
void assign(FitOptions& options, const Setting& setting, py::handle value) {
  FitOptions candidate = options;
  setting.set(candidate, value);
  check(candidate);
  options = candidate;
}

FitOptions from_keywords(const py::kwargs& keywords) {
  FitOptions options;
  for (const auto& [key, value] : keywords) {
    const auto name = py::cast<std::string>(key);
    const Setting* setting = nullptr;
    for (const Setting& s : kSettings)
      if (name == s.name) setting = &s;
    if (setting == nullptr)
      throw py::type_error("FitOptions got an unexpected keyword argument '" + name + "'");
    assign(options, *setting, value);
  }
  return options;
}

std::string repr(const FitOptions& options) {
  std::string text = "FitOptions(";
  for (const Setting& s : kSettings) {
    if (&s != kSettings) text += ", ";
    text += std::string(s.name) + "=" + std::string(py::repr(s.get(options)));
  }
  return text + ")";
}

}  // namespace

void bind_fit_options(py::module_& m) {
  py::class_<FitOptions> options(m, "FitOptions",
                                 "Every setting of one fit, each checked when set (keywords: "
                                 "the properties' names).");
  options.def(py::init(&from_keywords)).def("__repr__", &repr);
  for (const Setting& setting : kSettings) {
    options.def_property(
        setting.name, [&setting](const FitOptions& o) { return setting.get(o); },
        [&setting](FitOptions& o, py::handle value) { assign(o, setting, value); }, setting.doc);
  }
}

}  // namespace nncore::bindings
