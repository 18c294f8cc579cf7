// nncore._core_<level>: the private native module, compiled once per instruction-set level
// (CMakeLists.txt); nncore/_core.py imports the right one. One bind_<concept> per file, all
// registered here.
#include "common.hpp"
#include "nncore/training.hpp"

PYBIND11_MODULE(NNCORE_MODULE, m) {
  m.doc() = "nncore's native core (private; use the nncore package)";
  m.attr("__version__") = NNCORE_VERSION;
  m.attr("_sanitized") = static_cast<bool>(NNCORE_SANITIZED);  // built with NNCORE_SANITIZE=ON
  py::register_exception<nncore::DivergenceError>(m, "DivergenceError", PyExc_FloatingPointError);
  m.def(
      "_last_input_address", [] { return nncore::bindings::last_input_address().load(); },
      "Debug hook: address of the data of the last input matrix that crossed into the core.");
  nncore::bindings::bind_random(m);
  nncore::bindings::bind_layers(m);
  nncore::bindings::bind_sequential(m);
  nncore::bindings::bind_network(m);  // after bind_sequential: a Network is a Sequential
  nncore::bindings::bind_optimizer(m);
  nncore::bindings::bind_fit_options(m);
  nncore::bindings::bind_training(m);
  nncore::bindings::bind_lbfgs(m);
  nncore::bindings::bind_threads(m);
}
