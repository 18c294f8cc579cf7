// L-BFGS (nncore/lbfgs.hpp): its options, and its pieces one call at a time for tests and
// teaching: minimize_lbfgs(fun, x0, options) on a Python function and lbfgs_direction(g, S, Y),
// the two-loop recursion. Training a network is fit_lbfgs (bind_training.cpp).
#include <deque>
#include <string>

#include "common.hpp"
#include "nncore/lbfgs.hpp"

namespace nncore::bindings {

namespace {

py::dict to_dict(const LBFGSIteration& iteration) {
  py::dict d;
  d["iteration"] = iteration.iteration;
  d["loss"] = iteration.loss;
  d["gradient_norm"] = iteration.gradient_norm;
  d["step_size"] = iteration.step;
  d["evaluations"] = iteration.evaluations;
  d["restarted"] = iteration.restarted;
  return d;
}

// The minimiser on fun(x) -> (F, ∇F), called with the GIL held (this is for small test
// functions); returns (x, iteration records, stop reason, F(x), evaluations).
py::tuple minimize_binding(const py::function& fun, const Array<double>& x0,
                           const LBFGSOptions& options) {
  Real x = as_vector<double>(x0, "x0");
  const Objective objective = [&fun](const Real& point, Real& gradient) {
    const py::tuple result = fun(Array<double>(point.size(), point.data()));
    const auto g = result[1].cast<Array<double>>();
    if (g.ndim() != 1 || g.shape(0) != point.size())
      throw std::invalid_argument("fun must return (F, gradient) with a gradient like x");
    gradient = Eigen::Map<const Real>(g.data(), point.size());
    return result[0].cast<double>();
  };
  py::list records;
  LBFGSHooks hooks;
  hooks.on_iteration = [&records](const LBFGSIteration& iteration) {
    records.append(to_dict(iteration));
    return false;
  };
  const LBFGSResult result = minimize_lbfgs(objective, x, options, hooks);
  return py::make_tuple(Array<double>(x.size(), x.data()), records,
                        stop_reason_name(result.stop_reason), result.loss, result.evaluations);
}

// S, Y: (k, n) arrays of the pairs s_i, y_i, oldest first (each with s_iᵀy_i > 0).
Array<double> direction_binding(const Array<double>& g, const Array<double>& S,
                                const Array<double>& Y) {
  const Real gradient = as_vector<double>(g, "g");
  const auto s = as_matrix<double>(S, "S"), y = as_matrix<double>(Y, "Y");
  if (s.rows() != y.rows() || s.cols() != gradient.size() || y.cols() != gradient.size())
    throw std::invalid_argument("S and Y must both be (k, len(g))");
  std::deque<CorrectionPair> pairs;
  for (Index i = 0; i < s.rows(); ++i) {
    const double sy = s.row(i).dot(y.row(i));
    if (!(sy > 0.0)) throw std::invalid_argument("every pair must have s_iᵀy_i > 0");
    pairs.push_back({s.row(i).transpose(), y.row(i).transpose(), 1.0 / sy});
  }
  const Real d = two_loop_direction(pairs, gradient);
  return Array<double>(d.size(), d.data());
}

}  // namespace

void bind_lbfgs(py::module_& m) {
  py::class_<LBFGSOptions>(m, "LBFGSOptions",
                           "The settings of one L-BFGS run (nncore/lbfgs.hpp), checked when it "
                           "runs; nncore.optim.LBFGS checks them first.")
      .def(py::init([](Index m_, Index max_iterations, Index max_evaluations, double tol,
                       double ftol, Index max_line_search, std::optional<double> target_loss) {
             return LBFGSOptions{m_,   max_iterations,  max_evaluations, tol,
                                 ftol, max_line_search, target_loss};
           }),
           py::arg("m") = 10, py::arg("max_iter") = 15000, py::arg("max_fun") = 15000,
           py::arg("tol") = 1e-5, py::arg("ftol") = 2.220446049250313e-09,
           py::arg("max_line_search") = 20, py::arg("target_loss") = py::none())
      .def_readonly("m", &LBFGSOptions::memory)
      .def_readonly("max_iter", &LBFGSOptions::max_iterations)
      .def_readonly("max_fun", &LBFGSOptions::max_evaluations)
      .def_readonly("tol", &LBFGSOptions::tol)
      .def_readonly("ftol", &LBFGSOptions::loss_tolerance)
      .def_readonly("max_line_search", &LBFGSOptions::max_line_search)
      .def_readonly("target_loss", &LBFGSOptions::target_loss);
  m.attr("lbfgs_wolfe_constants") = py::make_tuple(kSufficientDecrease, kCurvature);
  m.def("minimize_lbfgs", &minimize_binding, py::arg("fun"), py::arg("x0").noconvert(),
        py::arg("options"),
        "Minimise fun(x) -> (F, gradient) from x0 (float64) by L-BFGS; returns (x, iteration "
        "records, stop reason, F(x), evaluations).");
  m.def("lbfgs_direction", &direction_binding, py::arg("g").noconvert(), py::arg("S").noconvert(),
        py::arg("Y").noconvert(),
        "d = −H·g by the two-loop recursion over the pairs (rows of S and Y, oldest first).");
}

}  // namespace nncore::bindings
