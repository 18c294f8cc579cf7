// The L-BFGS minimiser (nncore/lbfgs.hpp): the two-loop recursion, the strong-Wolfe line search
// (bracketing, then zoom with cubic or quadratic interpolation; Nocedal & Wright, Algorithms 3.5
// and 3.6) and the iterations with their stopping rules.
#include "nncore/lbfgs.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "hyperparameter_checks.hpp"

namespace nncore {

namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kEpsilon = std::numeric_limits<double>::epsilon();

// φ(α) = F(x + α d) and φ'(α) = ∇F(x + α d)ᵀd at a step α.
struct Point {
  double step = 0.0, value = 0.0, slope = 0.0;
};

// Every evaluation of F goes through here: counted against max_evaluations, preceded by the
// interrupt poll, a non-finite value or gradient turned into F = +∞ (a point too far), and the
// point of the lowest value kept.
class Evaluator {
 public:
  enum class Status { evaluated, out_of_evaluations, interrupted };

  Evaluator(const Objective& objective, const LBFGSHooks& hooks, Index limit, Index size)
      : gradient(size), best_x(size), objective_(objective), hooks_(hooks), limit_(limit) {}

  Status evaluate(const Real& x) {
    if (count >= limit_) return Status::out_of_evaluations;
    if (hooks_.interrupted && hooks_.interrupted()) return Status::interrupted;
    ++count;
    value = objective_(x, gradient);
    if (!std::isfinite(value) || !gradient.allFinite()) value = kInfinity;
    if (value < best_value) {
      best_value = value;
      best_x = x;
    }
    return Status::evaluated;
  }

  Index count = 0;
  double value = kInfinity;  // of the last evaluation
  Real gradient;             // of the last evaluation
  double best_value = kInfinity;
  Real best_x;

 private:
  const Objective& objective_;
  const LBFGSHooks& hooks_;
  Index limit_;
};

// The minimiser of the cubic interpolating φ and φ' at a and b (Nocedal & Wright (3.59)); NaN
// when the cubic has none.
double cubic_minimizer(const Point& a, const Point& b) {
  const double d1 = a.slope + b.slope - 3.0 * (a.value - b.value) / (a.step - b.step);
  const double radicand = d1 * d1 - a.slope * b.slope;
  if (!(radicand >= 0.0)) return kNaN;
  const double d2 = std::copysign(std::sqrt(radicand), b.step - a.step);
  return b.step - (b.step - a.step) * (b.slope + d2 - d1) / (b.slope - a.slope + 2.0 * d2);
}

// The minimiser of the quadratic through φ(a), φ'(a) and φ(b); NaN when it opens downwards.
double quadratic_minimizer(const Point& a, const Point& b) {
  const double h = b.step - a.step;
  const double curvature = b.value - a.value - a.slope * h;  // c·h² of φ ≈ φ(a) + φ'(a)t + ct²
  if (!(curvature > 0.0)) return kNaN;
  return a.step - a.slope * h * h / (2.0 * curvature);
}

// A trial step inside the bracket [lo, hi]: the cubic's minimiser, else the quadratic's, kept at
// least a tenth of the bracket from either end; else the bisection (always when φ(hi) = +∞).
double zoom_trial(const Point& lo, const Point& hi) {
  const double a = std::min(lo.step, hi.step), b = std::max(lo.step, hi.step);
  const double margin = 0.1 * (b - a);
  const auto inside = [&](double t) { return t >= a + margin && t <= b - margin; };
  if (std::isfinite(hi.value)) {
    const double cubic = cubic_minimizer(lo, hi);
    if (inside(cubic)) return cubic;
    const double quadratic = quadratic_minimizer(lo, hi);
    if (inside(quadratic)) return quadratic;
  }
  return 0.5 * (lo.step + hi.step);
}

// A longer trial step after `current` kept sufficient decrease while descending: the cubic's
// minimiser through previous and current, kept in [current + 1.1 h, current + 4 h] for
// h = current − previous (Moré and Thuente's extrapolation bounds).
double extrapolation(const Point& previous, const Point& current) {
  const double h = current.step - previous.step;
  const double lower = current.step + 1.1 * h, upper = current.step + 4.0 * h;
  const double cubic = cubic_minimizer(previous, current);
  return std::isnan(cubic) ? upper : std::clamp(cubic, lower, upper);
}

enum class Search { found, failed, out_of_evaluations, interrupted };

// A step α along d from x satisfying the strong Wolfe conditions. On success the evaluator's
// last evaluation is the accepted point x + α d.
class LineSearch {
 public:
  LineSearch(Evaluator& evaluator, const Real& x, double value, const Real& d, double slope,
             Index max_evaluations)
      : evaluator_(evaluator),
        x_(x),
        d_(d),
        trial_(x.size()),
        start_{0.0, value, slope},
        budget_(max_evaluations) {}

  Search run(double initial_step, double& step) {
    Point previous = start_, current;
    current.step = initial_step;
    for (Index i = 1;; ++i) {
      if (const auto status = at(current); status) return *status;
      if (!sufficient_decrease(current) || (i > 1 && current.value >= previous.value))
        return zoom(previous, current, step);
      if (curvature(current)) return accept(current, step);
      if (current.slope >= 0.0) return zoom(current, previous, step);
      previous = current;
      current = Point{extrapolation(previous, current)};
    }
  }

 private:
  // Evaluates φ at point.step; a status when the search must end there.
  std::optional<Search> at(Point& point) {
    if (used_ >= budget_) return Search::failed;
    trial_ = x_ + point.step * d_;
    switch (evaluator_.evaluate(trial_)) {
      case Evaluator::Status::out_of_evaluations: return Search::out_of_evaluations;
      case Evaluator::Status::interrupted: return Search::interrupted;
      case Evaluator::Status::evaluated: break;
    }
    ++used_;
    point.value = evaluator_.value;
    point.slope = std::isfinite(point.value) ? evaluator_.gradient.dot(d_) : kNaN;
    return std::nullopt;
  }

  bool sufficient_decrease(const Point& p) const {
    return p.value <= start_.value + kSufficientDecrease * p.step * start_.slope;
  }
  bool curvature(const Point& p) const { return std::abs(p.slope) <= -kCurvature * start_.slope; }
  static Search accept(const Point& p, double& step) {
    step = p.step;
    return Search::found;
  }

  // lo: sufficient decrease, the lowest φ so far, φ'(lo)(hi − lo) < 0: a bracket of steps
  // satisfying both conditions lies between lo and hi.
  Search zoom(Point lo, Point hi, double& step) {
    for (;;) {
      if (std::abs(hi.step - lo.step) <= kEpsilon * std::max(1.0, std::abs(lo.step)))
        return Search::failed;  // rounding errors prevent progress
      Point trial{zoom_trial(lo, hi)};
      if (const auto status = at(trial); status) return *status;
      if (!sufficient_decrease(trial) || trial.value >= lo.value) {
        hi = trial;
        continue;
      }
      if (curvature(trial)) return accept(trial, step);
      if (trial.slope * (hi.step - lo.step) >= 0.0) hi = lo;
      lo = trial;
    }
  }

  Evaluator& evaluator_;
  const Real& x_;
  const Real& d_;
  Real trial_;
  Point start_;
  Index budget_, used_ = 0;
};

double max_abs(const Real& v) { return v.size() == 0 ? 0.0 : v.cwiseAbs().maxCoeff(); }

// The state of the iterations: x_k, F(x_k), ∇F(x_k) and the correction pairs.
struct Iterate {
  Real x, gradient;
  double value = 0.0;
  std::deque<CorrectionPair> pairs;
};

// One iteration from `current`: a descent direction, a line search (retried once by steepest
// descent after a failure with memory), the new pair. Returns the search's outcome; on success
// `current` is x_{k+1} and `record` describes the iteration.
Search iterate(Evaluator& evaluator, Iterate& current, const LBFGSOptions& options,
               LBFGSIteration& record) {
  for (;;) {
    Real d = two_loop_direction(current.pairs, current.gradient);
    double slope = current.gradient.dot(d);
    if (!(slope < 0.0)) {  // not a descent direction: forget the curvature seen so far
      current.pairs.clear();
      d = -current.gradient;
      slope = -current.gradient.squaredNorm();
      record.restarted = true;
    }
    // Without memory, d = −∇F has no scale: the first trial step makes it of length 1.
    const double initial = current.pairs.empty() ? 1.0 / d.norm() : 1.0;
    LineSearch search(evaluator, current.x, current.value, d, slope, options.max_line_search);
    double step = 0.0;
    const Search outcome = search.run(initial, step);
    if (outcome == Search::failed && !current.pairs.empty()) {
      current.pairs.clear();
      record.restarted = true;
      continue;
    }
    if (outcome != Search::found) return outcome;
    CorrectionPair pair{step * d, evaluator.gradient - current.gradient, 0.0};
    const double sy = pair.s.dot(pair.y);
    if (sy > kEpsilon * pair.y.squaredNorm()) {  // curvature seen: H stays positive definite
      pair.rho = 1.0 / sy;
      current.pairs.push_back(std::move(pair));
      if (static_cast<Index>(current.pairs.size()) > options.memory) current.pairs.pop_front();
    }
    current.x += step * d;
    current.value = evaluator.value;
    current.gradient = evaluator.gradient;
    record.step = step;
    return outcome;
  }
}

// Why to stop after an iteration from `previous` to F = value with gradient g, if at all.
std::optional<LBFGSStop> stop_rule(const LBFGSOptions& options, double previous, double value,
                                   const Real& gradient, Index evaluations) {
  if (max_abs(gradient) <= options.tol) return LBFGSStop::gradient_tolerance;
  const double scale = std::max({std::abs(previous), std::abs(value), 1.0});
  if (previous - value <= options.loss_tolerance * scale) return LBFGSStop::loss_tolerance;
  if (options.target_loss && value <= *options.target_loss) return LBFGSStop::target_loss;
  if (evaluations >= options.max_evaluations) return LBFGSStop::max_evaluations;
  return std::nullopt;
}

LBFGSStop stop_for(Search outcome) {
  switch (outcome) {
    case Search::out_of_evaluations: return LBFGSStop::max_evaluations;
    case Search::interrupted: return LBFGSStop::interrupted;
    default: return LBFGSStop::line_search_failed;
  }
}

}  // namespace

void check(const LBFGSOptions& options) {
  const auto at_least_one = [](Index value, const char* name) {
    if (value < 1)
      throw std::invalid_argument(std::string(name) + " must be >= 1, got " +
                                  std::to_string(value));
  };
  at_least_one(options.memory, "m");
  at_least_one(options.max_iterations, "max_iter");
  at_least_one(options.max_evaluations, "max_fun");
  at_least_one(options.max_line_search, "max_line_search");
  checks::at_least(options.tol, "tol", 0.0);
  checks::at_least(options.loss_tolerance, "ftol", 0.0);
  if (options.target_loss && std::isnan(*options.target_loss))
    throw std::invalid_argument("target_loss must not be NaN");
}

std::string stop_reason_name(LBFGSStop reason) {
  switch (reason) {
    case LBFGSStop::max_iterations: return "max_epochs";
    case LBFGSStop::gradient_tolerance: return "gradient_tolerance";
    case LBFGSStop::loss_tolerance: return "loss_tolerance";
    case LBFGSStop::max_evaluations: return "max_evaluations";
    case LBFGSStop::line_search_failed: return "line_search_failed";
    case LBFGSStop::target_loss: return "target_loss";
    case LBFGSStop::callback: return "callback";
    case LBFGSStop::interrupted: return "interrupted";
  }
  return "unknown";
}

Real two_loop_direction(const std::deque<CorrectionPair>& pairs, const Real& g) {
  Real q = g;
  std::vector<double> a(pairs.size());
  for (size_t i = pairs.size(); i-- > 0;) {
    a[i] = pairs[i].rho * pairs[i].s.dot(q);
    q -= a[i] * pairs[i].y;
  }
  if (!pairs.empty()) {
    const CorrectionPair& newest = pairs.back();
    q *= 1.0 / (newest.rho * newest.y.squaredNorm());  // γ = sᵀy / yᵀy
  }
  for (size_t i = 0; i < pairs.size(); ++i) {
    const double b = pairs[i].rho * pairs[i].y.dot(q);
    q += (a[i] - b) * pairs[i].s;
  }
  return -q;
}

LBFGSResult minimize_lbfgs(const Objective& objective, Real& x, const LBFGSOptions& options,
                           const LBFGSHooks& hooks) {
  check(options);
  Evaluator evaluator(objective, hooks, options.max_evaluations, x.size());
  LBFGSResult result;
  const auto finish = [&](LBFGSStop reason) {
    result.stop_reason = reason;
    result.evaluations = evaluator.count;
    if (std::isfinite(evaluator.best_value)) x = evaluator.best_x;
    result.loss = evaluator.best_value;
    return result;
  };
  if (evaluator.evaluate(x) != Evaluator::Status::evaluated) return finish(LBFGSStop::interrupted);
  if (!std::isfinite(evaluator.value))
    throw DivergenceError("the loss (or its gradient) at the starting point is not finite");
  Iterate current{x, evaluator.gradient, evaluator.value, {}};
  if (max_abs(current.gradient) <= options.tol) return finish(LBFGSStop::gradient_tolerance);
  for (Index k = 1; k <= options.max_iterations; ++k) {
    const double previous = current.value;
    LBFGSIteration record;
    const Search outcome = iterate(evaluator, current, options, record);
    if (outcome != Search::found) return finish(stop_for(outcome));
    record.iteration = k;
    record.loss = current.value;
    record.gradient_norm = current.gradient.norm();
    record.evaluations = evaluator.count;
    result.iterations.push_back(record);
    const bool stop = hooks.on_iteration && hooks.on_iteration(record);
    const auto reason =
        stop_rule(options, previous, current.value, current.gradient, evaluator.count);
    if (reason) return finish(*reason);
    if (stop) return finish(LBFGSStop::callback);
  }
  return finish(LBFGSStop::max_iterations);
}

}  // namespace nncore
