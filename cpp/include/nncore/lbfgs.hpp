// Full-batch L-BFGS: a quasi-Newton minimiser of a smooth function F(x), and its use to train a
// network on all its training rows at once (scikit-learn's solver="lbfgs").
//
// Each iteration k (Nocedal & Wright, Numerical Optimization, 2nd ed., chapters 3 and 7):
//   d_k = −H_k ∇F(x_k)            the two-loop recursion over the last m pairs (s_i, y_i),
//                                  H_k⁰ = γ I with γ = sᵀy / yᵀy of the newest pair
//   x_{k+1} = x_k + α_k d_k       α_k from a line search satisfying the strong Wolfe conditions
//       F(x_k + α d_k) <= F(x_k) + c1 α ∇F(x_k)ᵀd_k              (sufficient decrease, c1 = 1e-4)
//       |∇F(x_k + α d_k)ᵀd_k| <= c2 |∇F(x_k)ᵀd_k|                 (curvature, c2 = 0.9)
//   s_k = x_{k+1} − x_k,  y_k = ∇F(x_{k+1}) − ∇F(x_k)             kept when s_kᵀy_k > 0
// It stops, as scipy's L-BFGS-B (which scikit-learn calls) does, when max_i |∇F(x_k)_i| <= tol
// (the projected gradient: there are no bounds), when (F_{k−1} − F_k) / max(|F_{k−1}|, |F_k|, 1)
// <= loss_tolerance (scipy's ftol), after max_iterations iterations or max_evaluations
// evaluations of F (the line searches' included: a limit never exceeded).
//
// Where L-BFGS usually fails: a direction that is not a descent direction (∇Fᵀd >= 0: rounding,
// a non-convex region) resets the memory and takes the steepest descent −∇F; a failed line search
// is retried once from steepest descent with the memory reset, and then stops with
// line_search_failed; a trial point where F or ∇F is not finite counts as one where F is too high,
// so the step shrinks (the point is never accepted); the point returned is the one of the lowest
// F evaluated.
#pragma once

#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "nncore/loss.hpp"
#include "nncore/sequential.hpp"
#include "nncore/training.hpp"
#include "nncore/types.hpp"

namespace nncore {

using Real = Eigen::VectorXd;  // L-BFGS computes in double whatever the network's dtype

constexpr double kSufficientDecrease = 1e-4;  // c1 of the Wolfe conditions
constexpr double kCurvature = 0.9;            // c2

// Every setting of one L-BFGS run; check(options) holds the rules. The defaults are scipy's.
struct LBFGSOptions {
  Index memory = 10;              // m >= 1: correction pairs (s, y) kept
  Index max_iterations = 15000;   // >= 1
  Index max_evaluations = 15000;  // >= 1: evaluations of F and ∇F, the line searches' included
  double tol = 1e-5;              // finite, >= 0: stop when max_i |∇F_i| <= tol (scipy's gtol)
  double loss_tolerance = 2.220446049250313e-09;  // finite, >= 0: scipy's ftol
  Index max_line_search = 20;                     // >= 1: evaluations per line search
  std::optional<double> target_loss;              // stop once F <= this (not NaN)
};

// Throws std::invalid_argument, naming the setting, unless every setting is in its range.
void check(const LBFGSOptions& options);

enum class LBFGSStop {
  max_iterations,
  gradient_tolerance,
  loss_tolerance,
  max_evaluations,
  line_search_failed,
  target_loss,
  callback,
  interrupted
};
std::string stop_reason_name(LBFGSStop reason);

// F(x), with ∇F(x) written into `gradient` (x's length). A non-finite value (or gradient) marks
// x as outside the region where F is usable.
using Objective = std::function<double(const Real& x, Real& gradient)>;

struct LBFGSIteration {
  Index iteration = 0;         // 1-based
  double loss = 0.0;           // F(x_k)
  double gradient_norm = 0.0;  // ‖∇F(x_k)‖₂
  double step = 0.0;           // α_k
  Index evaluations = 0;       // of F so far, the starting point's included
  bool restarted = false;      // the memory was reset in this iteration (steepest descent)
};

struct LBFGSHooks {
  std::function<bool(const LBFGSIteration&)> on_iteration;  // after each iteration; true stops
  std::function<bool()> interrupted;  // polled before every evaluation; true stops
};

struct LBFGSResult {
  std::vector<LBFGSIteration> iterations;
  LBFGSStop stop_reason = LBFGSStop::max_iterations;
  double loss = 0.0;  // F at the point returned: the lowest finite value evaluated
  Index evaluations = 0;
};

// Minimises F from x (in: the starting point; out: the point of the lowest F evaluated). Throws
// DivergenceError, leaving x as it was, when F(x) at the start is not finite.
LBFGSResult minimize_lbfgs(const Objective& objective, Real& x, const LBFGSOptions& options,
                           const LBFGSHooks& hooks = {});

// One correction pair: s = x_{k+1} − x_k, y = ∇F(x_{k+1}) − ∇F(x_k), ρ = 1 / sᵀy (> 0).
struct CorrectionPair {
  Real s, y;
  double rho = 0.0;
};

// d = −H g by the two-loop recursion (Nocedal & Wright, Algorithm 7.4), pairs oldest first:
//   q ← g;  for i newest → oldest: a_i = ρ_i s_iᵀq,  q ← q − a_i y_i
//   r ← γ q (γ = sᵀy / yᵀy of the newest pair; 1 without pairs)
//   for i oldest → newest: b = ρ_i y_iᵀr,  r ← r + (a_i − b) s_i
//   d = −r
Real two_loop_direction(const std::deque<CorrectionPair>& pairs, const Real& g);

// A network trained by L-BFGS: F(θ) = c·Σ_i w_i ℓ_i(θ) / Σ_i w_i + ½ Σ_j λ_j θ_j² over all the
// training rows, forward in training mode without dropout (the gradient of the deterministic
// network). loss_scale: c > 0 (another unit of the loss: scikit-learn's); penalty: λ_j >= 0 for
// every parameter, or empty for none.
struct LBFGSRecord {
  // epoch = iteration; loss = F; learning_rate = α_k; metric and validation as fit records them
  EpochRecord epoch;
  Index evaluations = 0;
};

struct LBFGSFitResult {
  std::vector<LBFGSRecord> iterations;
  LBFGSStop stop_reason = LBFGSStop::max_iterations;
  double loss = 0.0;  // F at the parameters left in the network (the lowest evaluated)
  Index evaluations = 0;
};

// Called after every iteration (the network holding x_k); returning true stops.
using IterationCallback = std::function<bool(const LBFGSRecord&)>;

// Throws std::invalid_argument (the network unchanged) unless the data, the loss, the penalty and
// the options fit the network, and for a network with state (a batch normalisation's running
// statistics, which L-BFGS does not learn); DivergenceError when F at the starting parameters
// is not finite. validation: nullptr for none.
template <class T>
LBFGSFitResult fit_lbfgs(Sequential<T>& network, const Dataset<T>& train,
                         const Dataset<T>* validation, const Loss& loss, double loss_scale,
                         const Real& penalty, const LBFGSOptions& options,
                         const IterationCallback& on_iteration = {},
                         const InterruptCheck& interrupted = {});

}  // namespace nncore
