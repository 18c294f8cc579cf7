// The training loop (nncore/training.hpp): fit(network, optimizer, random, train, validation,
// options, on_epoch_end=None, reduction=None) -> (epoch records, stop reason), run with the GIL
// released. The data sets are tuples (X, Y, weights) of C-contiguous arrays of the network's
// dtype, taken as views; the Python hooks (the epoch-end callback, Ctrl-C, a data-parallel fit's
// reduction) are adapted here to the core's.
#include <algorithm>
#include <array>
#include <chrono>
#include <optional>
#include <utility>

#include "common.hpp"
#include "nncore/lbfgs.hpp"
#include "nncore/training.hpp"

namespace nncore::bindings {

namespace {

// Python's signal handlers run only when the interpreter is asked; the loop asks at most every
// kSignalPollInterval, and reads the clock to know when about every kClockReadInterval, so Ctrl-C
// is seen within a batch plus about 52 ms, at no cost per batch.
constexpr std::chrono::milliseconds kSignalPollInterval{50};
constexpr std::chrono::milliseconds kClockReadInterval{1};

py::dict to_dict(const EpochRecord& record) {
  py::dict d;
  d["epoch"] = record.epoch;
  d["loss"] = record.loss;
  d["metric"] = record.metric;
  d["gradient_norm"] = record.gradient_norm;
  d["learning_rate"] = record.learning_rate;
  if (record.has_penalty) d["penalty"] = record.penalty;
  if (record.has_validation) {
    d["validation_loss"] = record.validation_loss;
    d["validation_metric"] = record.validation_metric;
  }
  return d;
}

// An L-BFGS iteration's record: the epoch record's keys (learning_rate: the line search's step
// α_k) and the evaluations of the loss so far.
py::dict to_dict(const LBFGSRecord& record) {
  py::dict d = to_dict(record.epoch);
  d["evaluations"] = record.evaluations;
  return d;
}

// The Python exception pybind11 makes of a C++ one (its registered translations: ValueError for
// std::invalid_argument, nncore.DivergenceError, ...).
py::object as_python_exception(const std::exception_ptr& failure) {
  if (!failure) return py::none();
  try {
    py::cpp_function([failure]() { std::rethrow_exception(failure); })();
  } catch (py::error_already_set& error) {
    return error.value();
  }
  return py::none();
}

// A data-parallel fit's reduction done by a Python object with the methods sum(array) (in place),
// max(int) -> int and agree(exception or None): nncore.distributed's, over MPI. Each call takes
// the GIL to call Python, and mpi4py releases it again for the MPI call itself: the wait for the
// other ranks holds no lock. (A C-level call of MPI_Allreduce would need MPI's ABI, which differs
// between MPI implementations; the Python call costs microseconds a step.)
class PythonReduction final : public Reduction {
 public:
  explicit PythonReduction(py::object ranks) : ranks_(std::move(ranks)) {}
  void sum(Eigen::Ref<Eigen::VectorXf> values) override { sum_in_place(values); }
  void sum(Eigen::Ref<Eigen::VectorXd> values) override { sum_in_place(values); }
  Index max(Index value) override {
    py::gil_scoped_acquire gil;
    return ranks_.attr("max")(value).cast<Index>();
  }
  void agree(std::exception_ptr failure) override {
    py::gil_scoped_acquire gil;
    ranks_.attr("agree")(as_python_exception(failure));
  }

 private:
  template <class Values>
  void sum_in_place(Values& values) {
    py::gil_scoped_acquire gil;
    // A view, not a copy: with a base object NumPy does not copy the data.
    ranks_.attr("sum")(py::array_t<typename Values::Scalar>(values.size(), values.data(), ranks_));
  }

  py::object ranks_;
};

// Ctrl-C becomes a clean stop wherever Python sees it: between batches (polled), just before the
// epoch-end callback runs, or inside it. In a data-parallel fit it is not: the other ranks would
// wait for this one in their next collective call, so the KeyboardInterrupt propagates (and
// `python -m mpi4py` aborts every rank). Any other exception propagates.
class CtrlC {
 public:
  explicit CtrlC(bool clean_stop) : clean_stop_(clean_stop) {}

  bool seen() const { return seen_; }

  // Record: EpochRecord (fit) or LBFGSRecord (fit_lbfgs), each with its to_dict.
  template <class Record = EpochRecord>
  std::function<bool(const Record&)> callback(const py::object& on_epoch_end) {
    return [this, &on_epoch_end](const Record& record) {
      py::gil_scoped_acquire gil;  // the only place the loop holds the GIL
      if (pending()) return true;
      try {
        return py::bool_(on_epoch_end(to_dict(record))).cast<bool>();
      } catch (py::error_already_set& error) {
        if (!clean_stop_ || !error.matches(PyExc_KeyboardInterrupt)) throw;
        seen_ = true;
        return true;
      }
    };
  }

  // Asked before every batch; reads the clock every `stride` batches, the stride adapting so
  // that reads come about every kClockReadInterval: batches of a microsecond do not each pay for
  // a clock read, and a Ctrl-C still lands within a poll interval and a millisecond or two.
  InterruptCheck poll() {
    last_poll_ = last_read_ = std::chrono::steady_clock::now();
    return [this]() {
      if (++calls_ < stride_) return false;
      calls_ = 0;
      const auto now = std::chrono::steady_clock::now();
      if (now - last_read_ < kClockReadInterval)
        stride_ = std::min(2 * stride_, 1 << 16);
      else if (stride_ > 1 && now - last_read_ > 2 * kClockReadInterval)
        stride_ /= 2;
      last_read_ = now;
      if (now - last_poll_ < kSignalPollInterval) return false;
      last_poll_ = now;
      py::gil_scoped_acquire gil;
      return pending();
    };
  }

 private:
  // Whether a Ctrl-C is pending (then cleared); call with the GIL held.
  bool pending() {
    if (PyErr_CheckSignals() == 0) return false;
    if (!clean_stop_ || !PyErr_ExceptionMatches(PyExc_KeyboardInterrupt))
      throw py::error_already_set();
    PyErr_Clear();
    seen_ = true;
    return true;
  }

  bool clean_stop_;
  bool seen_ = false;
  int calls_ = 0, stride_ = 1;
  std::chrono::steady_clock::time_point last_poll_, last_read_;
};

template <class T>
Array<T> as_array(py::handle value, const char* name) {
  if (!py::isinstance<Array<T>>(value))
    throw py::type_error(std::string(name) + " must be a C-contiguous " +
                         std::string(py::str(py::dtype::of<T>())) +
                         " array (the network's "
                         "dtype), got " +
                         std::string(py::str(py::type::of(value))));
  return py::reinterpret_borrow<Array<T>>(value);
}

// A tuple (X, Y, weights) as a data set of views (the tuple keeps the arrays alive).
template <class T>
Dataset<T> as_dataset(py::handle data, const std::array<const char*, 3>& names, const char* what) {
  if (!py::isinstance<py::tuple>(data) || py::len(data) != 3)
    throw py::type_error(std::string(what) + " must be a tuple (X, Y, weights)");
  const auto items = py::reinterpret_borrow<py::tuple>(data);
  return Dataset<T>{as_matrix<T>(as_array<T>(items[0], names[0]), names[0]),
                    as_matrix<T>(as_array<T>(items[1], names[1]), names[1]),
                    as_vector<T>(as_array<T>(items[2], names[2]), names[2])};
}

template <class T>
py::tuple fit_for(py::handle network, py::handle optimizer, py::handle random, py::handle train,
                  py::handle validation, const FitOptions& options, const py::object& on_epoch_end,
                  const py::object& reduction) {
  const std::string dtype = py::str(py::dtype::of<T>());
  if (!py::isinstance<Optimizer<T>>(optimizer))
    throw py::type_error("optimizer must be an optimizer for " + dtype + " (the network's dtype)");
  if (!py::isinstance<Random>(random)) throw py::type_error("random must be an nncore Random");
  const Dataset<T> train_data = as_dataset<T>(train, {"X", "Y", "sample_weight"}, "train");
  std::optional<Dataset<T>> validation_data;
  if (!validation.is_none())
    validation_data.emplace(as_dataset<T>(
        validation, {"X_validation", "Y_validation", "validation sample_weight"}, "validation"));
  std::optional<PythonReduction> ranks;
  if (!reduction.is_none()) ranks.emplace(reduction);

  CtrlC ctrl_c(/*clean_stop=*/!ranks);
  FitHooks hooks;
  if (!on_epoch_end.is_none()) hooks.on_epoch_end = ctrl_c.callback(on_epoch_end);
  hooks.interrupted = ctrl_c.poll();
  hooks.reduction = ranks ? &*ranks : nullptr;
  auto& net = network.cast<Sequential<T>&>();
  auto& rule = optimizer.cast<Optimizer<T>&>();
  auto& generator = random.cast<Random&>();
  FitResult result;
  {
    py::gil_scoped_release release;
    result = fit<T>(net, rule, generator, train_data, validation_data ? &*validation_data : nullptr,
                    options, hooks);
  }
  py::list records;
  for (const auto& record : result.epochs) records.append(to_dict(record));
  const std::string reason = ctrl_c.seen() ? "interrupted" : stop_reason_name(result.stop_reason);
  return py::make_tuple(records, reason);
}

py::tuple fit_binding(py::handle network, py::handle optimizer, py::handle random, py::handle train,
                      py::handle validation, FitOptions options, const py::object& on_epoch_end,
                      const py::object& reduction) {
  if (py::isinstance<Sequential<float>>(network))
    return fit_for<float>(network, optimizer, random, train, validation, options, on_epoch_end,
                          reduction);
  if (py::isinstance<Sequential<double>>(network))
    return fit_for<double>(network, optimizer, random, train, validation, options, on_epoch_end,
                           reduction);
  throw py::type_error("network must be a SequentialF32 or SequentialF64, got " +
                       std::string(py::str(py::type::of(network))));
}

template <class T>
py::tuple fit_lbfgs_for(py::handle network, const LBFGSOptions& options, py::handle train,
                        py::handle validation, const std::string& loss, double delta,
                        double loss_scale, const Array<double>& penalty,
                        const py::object& on_iteration) {
  const Dataset<T> train_data = as_dataset<T>(train, {"X", "Y", "sample_weight"}, "train");
  std::optional<Dataset<T>> validation_data;
  if (!validation.is_none())
    validation_data.emplace(as_dataset<T>(
        validation, {"X_validation", "Y_validation", "validation sample_weight"}, "validation"));
  const Loss kind = Loss::from_name(loss, delta);
  const Real lambda = as_vector<double>(penalty, "penalty");
  CtrlC ctrl_c(/*clean_stop=*/true);
  IterationCallback callback;
  if (!on_iteration.is_none()) callback = ctrl_c.callback<LBFGSRecord>(on_iteration);
  const InterruptCheck interrupted = ctrl_c.poll();
  auto& net = network.cast<Sequential<T>&>();
  LBFGSFitResult result;
  {
    py::gil_scoped_release release;
    result = fit_lbfgs<T>(net, train_data, validation_data ? &*validation_data : nullptr, kind,
                          loss_scale, lambda, options, callback, interrupted);
  }
  py::list records;
  for (const auto& record : result.iterations) records.append(to_dict(record));
  const std::string reason = ctrl_c.seen() ? "interrupted" : stop_reason_name(result.stop_reason);
  return py::make_tuple(records, reason, result.loss, result.evaluations);
}

py::tuple fit_lbfgs_binding(py::handle network, const LBFGSOptions& options, py::handle train,
                            py::handle validation, const std::string& loss, double delta,
                            double loss_scale, const Array<double>& penalty,
                            const py::object& on_iteration) {
  if (py::isinstance<Sequential<float>>(network))
    return fit_lbfgs_for<float>(network, options, train, validation, loss, delta, loss_scale,
                                penalty, on_iteration);
  if (py::isinstance<Sequential<double>>(network))
    return fit_lbfgs_for<double>(network, options, train, validation, loss, delta, loss_scale,
                                 penalty, on_iteration);
  throw py::type_error("network must be a SequentialF32 or SequentialF64, got " +
                       std::string(py::str(py::type::of(network))));
}

}  // namespace

void bind_training(py::module_& m) {
  m.def("fit_lbfgs", &fit_lbfgs_binding, py::arg("network"), py::arg("options"), py::arg("train"),
        py::arg("validation"), py::arg("loss"), py::arg("delta"), py::arg("loss_scale"),
        py::arg("penalty").noconvert(), py::arg("on_iteration") = py::none(),
        "Train by full-batch L-BFGS with the GIL released (nncore/lbfgs.hpp); returns (iteration "
        "records, stop reason, final loss, evaluations). train and validation (or None) are "
        "tuples (X, Y, weights); F = loss_scale·(weighted mean loss) + ½Σλ_jθ_j², penalty: λ_j "
        "per parameter (float64) or empty; "
        "on_iteration(record) -> bool stops when true.");
  m.def("fit", &fit_binding, py::arg("network"), py::arg("optimizer"), py::arg("random"),
        py::arg("train"), py::arg("validation"), py::arg("options"),
        py::arg("on_epoch_end") = py::none(), py::arg("reduction") = py::none(),
        "Train in the native loop with the GIL released; returns (epoch records, stop reason). "
        "train and validation (or None) are tuples (X, Y, weights); on_epoch_end(record) -> "
        "bool stops training when true; reduction: a data-parallel fit's collective calls.");
}

}  // namespace nncore::bindings
