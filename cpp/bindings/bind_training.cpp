#include <algorithm>
#include <chrono>
#include <optional>

#include "common.hpp"
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
  if (record.has_validation) {
    d["validation_loss"] = record.validation_loss;
    d["validation_metric"] = record.validation_metric;
  }
  return d;
}

template <class T>
py::tuple fit_binding(Network<T>& network, Optimizer<T>& optimizer, Random& random,
                      const Array<T>& X, const Array<T>& Y, const Array<T>& weights,
                      const std::optional<Array<T>>& X_validation,
                      const std::optional<Array<T>>& Y_validation,
                      const std::optional<Array<T>>& weights_validation, const std::string& loss,
                      double delta, Index epochs, Index batch_size, bool shuffle,
                      std::optional<double> target_loss, double tol, Index n_iter_no_change,
                      const py::object& on_epoch_end) {
  const Dataset<T> train{as_matrix<T>(X, "X"), as_matrix<T>(Y, "Y"),
                         as_vector<T>(weights, "sample_weight")};
  std::optional<Dataset<T>> validation;
  if (X_validation && Y_validation && weights_validation)
    validation.emplace(Dataset<T>{as_matrix<T>(*X_validation, "X_validation"),
                                  as_matrix<T>(*Y_validation, "Y_validation"),
                                  as_vector<T>(*weights_validation, "validation sample_weight")});
  FitOptions options;
  options.epochs = epochs;
  options.batch_size = batch_size;
  options.shuffle = shuffle;
  options.has_target_loss = target_loss.has_value();
  options.target_loss = target_loss.value_or(0.0);
  options.tol = tol;
  options.n_iter_no_change = n_iter_no_change;
  const Loss kind = Loss::from_name(loss, delta);

  // Ctrl-C becomes a clean stop wherever Python sees it: between batches (polled below), just
  // before the epoch-end callback runs, or inside it. Any other exception propagates.
  bool keyboard_interrupt = false;
  const auto pending_keyboard_interrupt = [&keyboard_interrupt]() {  // call with the GIL held
    if (PyErr_CheckSignals() == 0) return false;
    if (!PyErr_ExceptionMatches(PyExc_KeyboardInterrupt)) throw py::error_already_set();
    PyErr_Clear();
    keyboard_interrupt = true;
    return true;
  };
  EpochCallback callback;
  if (!on_epoch_end.is_none()) {
    callback = [&](const EpochRecord& record) {
      py::gil_scoped_acquire gil;  // the only place the loop holds the GIL
      if (pending_keyboard_interrupt()) return true;
      try {
        return py::bool_(on_epoch_end(to_dict(record))).cast<bool>();
      } catch (py::error_already_set& error) {
        if (!error.matches(PyExc_KeyboardInterrupt)) throw;
        keyboard_interrupt = true;
        return true;
      }
    };
  }
  // Asked before every batch; reads the clock every `stride` batches, the stride adapting so that
  // reads come about every kClockReadInterval: batches of a microsecond do not each pay for a
  // clock read, and a Ctrl-C still lands within a poll interval and a millisecond or two.
  auto last_poll = std::chrono::steady_clock::now();
  auto last_read = last_poll;
  int calls = 0, stride = 1;
  InterruptCheck interrupted = [&]() {
    if (++calls < stride) return false;
    calls = 0;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_read < kClockReadInterval)
      stride = std::min(2 * stride, 1 << 16);
    else if (stride > 1 && now - last_read > 2 * kClockReadInterval)
      stride /= 2;
    last_read = now;
    if (now - last_poll < kSignalPollInterval) return false;
    last_poll = now;
    py::gil_scoped_acquire gil;
    return pending_keyboard_interrupt();
  };

  FitResult result;
  {
    py::gil_scoped_release release;
    result = fit<T>(network, optimizer, random, train, validation ? &*validation : nullptr, kind,
                    options, callback, interrupted);
  }
  py::list records;
  for (const auto& record : result.epochs) records.append(to_dict(record));
  const std::string reason =
      keyboard_interrupt ? "interrupted" : stop_reason_name(result.stop_reason);
  return py::make_tuple(records, reason);
}

template <class T>
void bind_training_for(py::module_& m) {
  m.def("fit", &fit_binding<T>, py::arg("network"), py::arg("optimizer"), py::arg("random"),
        py::arg("X").noconvert(), py::arg("Y").noconvert(), py::arg("weights").noconvert(),
        py::arg("X_validation").noconvert(), py::arg("Y_validation").noconvert(),
        py::arg("weights_validation").noconvert(), py::arg("loss"), py::arg("delta"),
        py::arg("epochs"), py::arg("batch_size"), py::arg("shuffle"), py::arg("target_loss"),
        py::arg("tol"), py::arg("n_iter_no_change"), py::arg("on_epoch_end"),
        "Train in the native loop with the GIL released; returns (epoch records, stop reason).");
}

}  // namespace

void bind_training(py::module_& m) {
  bind_training_for<float>(m);
  bind_training_for<double>(m);
}

}  // namespace nncore::bindings
