// The update rules against their formulas (nncore/sgd.hpp, adam.hpp, rmsprop.hpp, adagrad.hpp,
// and optimizer.hpp's weight decay and clipping), written out here entry by entry: three steps of
// each rule with different gradients, in double precision. The reference evaluates the same
// formulas in another order, so θ agrees to rounding: within 1e-13 + 1e-12·|θ|.
#include <cfloat>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.hpp"
#include "nncore/adagrad.hpp"
#include "nncore/adam.hpp"
#include "nncore/optimizer.hpp"
#include "nncore/parallel.hpp"
#include "nncore/random.hpp"
#include "nncore/rmsprop.hpp"
#include "nncore/sgd.hpp"

namespace {

using Vector = nncore::Vector<double>;
constexpr double kAtol = 1e-13, kRtol = 1e-12;
constexpr int kSteps = 3;
constexpr Eigen::Index kSize = 7;

// The gradients of the three steps, and θ before the first.
struct Trajectory {
  Vector start;
  std::vector<Vector> gradients;
};

Trajectory trajectory() {
  nncore::Random random(5);
  Trajectory trajectory{Vector(kSize), {}};
  for (Eigen::Index i = 0; i < kSize; ++i) trajectory.start[i] = random.uniform(-1.0, 1.0);
  for (int t = 0; t < kSteps; ++t) {
    Vector g(kSize);
    for (Eigen::Index i = 0; i < kSize; ++i) g[i] = random.uniform(-2.0, 2.0);
    trajectory.gradients.push_back(g);
  }
  return trajectory;
}

// One step of a written-out rule: θ and the rule's state, updated in place from g at step t ≥ 1.
using Reference = std::function<void(Vector& theta, const Vector& g, int t)>;

void check_rule(nncore::Optimizer<double>& optimizer, Reference reference) {
  const Trajectory path = trajectory();
  Vector theta = path.start, expected = path.start;
  for (int t = 1; t <= kSteps; ++t) {
    optimizer.step(theta, path.gradients[t - 1]);
    reference(expected, path.gradients[t - 1], t);
    for (Eigen::Index i = 0; i < kSize; ++i)
      CHECK_NEAR(theta[i], expected[i], kAtol, kRtol,
                 optimizer.name() << " step " << t << " entry " << i);
  }
  CHECK(optimizer.step_count() == kSteps, optimizer.name() << ": " << optimizer.step_count());
}

// SGD with momentum μ, dampening τ and coupled weight decay λ:
//   g ← g + λθ;  b ← g (t = 1) or μb + (1 − τ)g;  θ ← θ − η(g + μb) (Nesterov) or θ − ηb
void test_sgd() {
  for (const bool nesterov : {false, true}) {
    nncore::SGDOptions options;
    options.learning_rate = 0.1;
    options.momentum = 0.9;
    options.dampening = nesterov ? 0.0 : 0.25;
    options.nesterov = nesterov;
    options.weight_decay = 0.01;
    nncore::SGD<double> sgd(options);
    Vector b(kSize);
    check_rule(sgd, [&](Vector& theta, const Vector& gradient, int t) {
      for (Eigen::Index i = 0; i < kSize; ++i) {
        const double g = gradient[i] + 0.01 * theta[i];
        b[i] = t == 1 ? g : 0.9 * b[i] + (1.0 - options.dampening) * g;
        theta[i] -= 0.1 * (nesterov ? g + 0.9 * b[i] : b[i]);
      }
    });
  }
}

// Plain SGD after clipping by global norm c:  g ← g·min(1, c/(‖g‖₂ + 1e-6)),  θ ← θ − ηg
void test_sgd_clip_norm() {
  nncore::SGDOptions options;
  options.learning_rate = 0.5;
  options.clip_norm = 1.0;
  nncore::SGD<double> sgd(options);
  check_rule(sgd, [&](Vector& theta, const Vector& g, int /*t*/) {
    const double scale = std::min(1.0, 1.0 / (std::sqrt(g.squaredNorm()) + 1e-6));
    for (Eigen::Index i = 0; i < kSize; ++i) theta[i] -= 0.5 * g[i] * scale;
  });
}

// Adam (coupled λ: g ← g + λθ) or AdamW (decoupled: θ ← θ(1 − ηλ) first), then
//   m ← β₁m + (1 − β₁)g,  v ← β₂v + (1 − β₂)g²,  θ ← θ − η/(1 − β₁ᵗ) · m/(√v/√(1 − β₂ᵗ) + ε)
void check_adam(nncore::Adam<double>& adam, double eta, double lambda, bool decoupled) {
  const double beta1 = adam.beta1(), beta2 = adam.beta2(), eps = adam.eps();
  Vector m = Vector::Zero(kSize), v = Vector::Zero(kSize);
  check_rule(adam, [&](Vector& theta, const Vector& gradient, int t) {
    for (Eigen::Index i = 0; i < kSize; ++i) {
      double g = gradient[i];
      if (decoupled)
        theta[i] *= 1.0 - eta * lambda;
      else
        g += lambda * theta[i];
      m[i] = beta1 * m[i] + (1.0 - beta1) * g;
      v[i] = beta2 * v[i] + (1.0 - beta2) * g * g;
      const double m_hat_scale = eta / (1.0 - std::pow(beta1, t));
      const double v_correction = std::sqrt(1.0 - std::pow(beta2, t));
      theta[i] -= m_hat_scale * m[i] / (std::sqrt(v[i]) / v_correction + eps);
    }
  });
}

void test_adam() {
  nncore::AdamOptions options;
  options.learning_rate = 0.05;
  options.beta1 = 0.8;
  options.beta2 = 0.95;
  options.weight_decay = 0.1;
  nncore::Adam<double> adam(options);
  check_adam(adam, 0.05, 0.1, /*decoupled=*/false);
}

void test_adamw() {
  nncore::AdamWOptions options;  // torch's defaults: η = 1e-3, λ = 1e-2
  options.learning_rate = 0.05;
  nncore::AdamW<double> adamw(options);
  check_adam(adamw, 0.05, 0.01, /*decoupled=*/true);
}

// RMSprop, centred, with momentum μ:
//   v ← αv + (1 − α)g²,  ḡ ← αḡ + (1 − α)g,  d = √(v − ḡ²) + ε,  b ← μb + g/d,  θ ← θ − ηb
void test_rmsprop() {
  nncore::RMSPropOptions options;
  options.learning_rate = 0.01;
  options.alpha = 0.9;
  options.momentum = 0.5;
  options.centered = true;
  nncore::RMSProp<double> rmsprop(options);
  Vector v = Vector::Zero(kSize), mean = Vector::Zero(kSize), b = Vector::Zero(kSize);
  check_rule(rmsprop, [&](Vector& theta, const Vector& g, int /*t*/) {
    for (Eigen::Index i = 0; i < kSize; ++i) {
      v[i] = 0.9 * v[i] + 0.1 * g[i] * g[i];
      mean[i] = 0.9 * mean[i] + 0.1 * g[i];
      const double d = std::sqrt(v[i] - mean[i] * mean[i]) + options.eps;
      b[i] = 0.5 * b[i] + g[i] / d;
      theta[i] -= 0.01 * b[i];
    }
  });
}

// Adagrad with learning-rate decay δ:  η_t = η/(1 + (t − 1)δ),  s ← s + g²,  θ ← θ − η_t g/(√s + ε)
void test_adagrad() {
  nncore::AdagradOptions options;
  options.learning_rate = 0.1;
  options.lr_decay = 0.5;
  options.initial_accumulator_value = 0.25;
  nncore::Adagrad<double> adagrad(options);
  Vector s = Vector::Constant(kSize, 0.25);
  check_rule(adagrad, [&](Vector& theta, const Vector& g, int t) {
    const double eta = 0.1 / (1.0 + (t - 1) * 0.5);
    for (Eigen::Index i = 0; i < kSize; ++i) {
      s[i] += g[i] * g[i];
      theta[i] -= eta * g[i] / (std::sqrt(s[i]) + options.eps);
    }
  });
}

// A rule's step_bound(G) against the step it bounds. For random states (set with set_state,
// magnitudes from 1e-3 to 1e30), hyper-parameters (η up to 1e20, ε down to 1e-30) and gradients
// with |g_i| ≤ G (±G itself among them), in both precisions, with one piece and with several
// pieces on two ranges: whenever the bound is finite, the step keeps the state finite and
// changes no |θ_i| by more than the bound (beyond the rounding of θ itself and of AdamW's decay).
// A checked step from the same state gives the same θ and state bit for bit. Then the bound's
// own value at G = 0, `expected` from the state after the step, up to the bound's (1 + 4u)³
// slack: the bound sees the state's exact maxima after each step.
template <class T>
using Make =
    std::function<std::unique_ptr<nncore::Optimizer<T>>(int trial, double eta, double eps)>;
template <class T>
using Expected =
    std::function<double(const nncore::Optimizer<T>&, const nncore::OptimizerState<T>&)>;

template <class T>
void check_bound(nncore::Random& random, Eigen::Index size, int ranges, const Make<T>& make,
                 const Expected<T>& expected) {
  using V = nncore::Vector<T>;
  const double u = std::numeric_limits<T>::epsilon();
  const double etas[] = {1e-3, 1.0, 1e20}, epss[] = {1e-8, 1e-30, 1e-3},
               scales[] = {1e-3, 1.0, 1e30};
  int finite_bounds = 0;
  for (int trial = 0; trial < 60; ++trial) {
    const std::unique_ptr<nncore::Optimizer<T>> rule =
        make(trial, etas[trial % 3], epss[(trial / 3) % 3]);
    const double scale = scales[(trial / 9) % 3], g_max = scale * random.uniform(0.5, 2.0);
    nncore::OptimizerState<T> state;
    state.step = trial % 7 == 0 ? 0 : static_cast<std::int64_t>(random.uniform(1.0, 1000.0));
    for (const std::string& name : rule->state_names()) {
      const bool squares = name == "exp_avg_sq" || name == "square_avg" || name == "sum";
      V s(size);
      for (Eigen::Index i = 0; i < size; ++i)
        s[i] = static_cast<T>(squares ? random.uniform(0.0, scale * scale)
                                      : random.uniform(-scale, scale));
      state.vectors[name] = s;
    }
    V theta(size), g(size);
    for (Eigen::Index i = 0; i < size; ++i) {
      theta[i] = static_cast<T>(random.uniform(-1.0, 1.0));
      g[i] = static_cast<T>(random.uniform(-g_max, g_max));
    }
    g[0] = static_cast<T>(g_max), g[size - 1] = static_cast<T>(-g_max);
    bool finite = g.allFinite();
    for (const auto& [name, s] : state.vectors) finite = finite && s.allFinite();
    if (!finite) continue;  // 1e30² overflows float
    rule->set_state(state);
    const double bound = rule->step_bound(static_cast<double>(g.cwiseAbs().maxCoeff()));
    const V before = theta;
    rule->step(theta, g, ranges);
    // The checked step that the bound lets fit skip computes the same numbers.
    const std::unique_ptr<nncore::Optimizer<T>> twin =
        make(trial, etas[trial % 3], epss[(trial / 3) % 3]);
    twin->set_state(state);
    V checked = before, previous(size);
    if (twin->checked_step(checked, g, previous, ranges)) {
      CHECK(checked == theta, rule->name()
                                  << " trial " << trial << ": step and checked_step differ");
      for (const auto& [name, s] : twin->state().vectors)
        CHECK(s == rule->state().vectors.at(name), rule->name()
                                                       << " trial " << trial << ": " << name);
    }
    if (!std::isfinite(bound)) continue;
    ++finite_bounds;
    const nncore::OptimizerState<T> after = rule->state();
    for (const auto& [name, s] : after.vectors)
      CHECK(s.allFinite(), rule->name() << " trial " << trial << ": a finite bound " << bound
                                        << " but a non-finite " << name);
    const T decay = static_cast<T>(1.0 - rule->learning_rate() * rule->weight_decay());
    const bool decoupled = rule->weight_decay_kind() == nncore::WeightDecay::decoupled;
    for (Eigen::Index i = 0; i < size; ++i) {
      const double start = static_cast<double>(decoupled ? T(before[i] * decay) : before[i]);
      const double change = std::abs(static_cast<double>(theta[i]) - start);
      CHECK(std::isfinite(change) && change <= bound + 2.0 * u * std::abs(start),
            rule->name() << " trial " << trial << " entry " << i << ": |Δθ| " << change << " above "
                         << bound);
    }
    const double at_zero = expected(*rule, after), next = rule->step_bound(0.0);
    if (std::isfinite(next))
      CHECK(at_zero <= next && next <= at_zero * std::pow(1.0 + 4.0 * u, 3) * (1.0 + 1e-15),
            rule->name() << " trial " << trial << ": step_bound(0) " << next << ", expected "
                         << at_zero);
  }
  CHECK(finite_bounds >= 20, "only " << finite_bounds << " of the trials had a finite bound");
}

template <class T>
double largest(const nncore::OptimizerState<T>& state, const std::string& name) {
  return static_cast<double>(state.vectors.at(name).cwiseAbs().maxCoeff());
}

// Adam and AdamW (β₁, β₂ varied): (η/(1−β₁ᵗ⁺¹))·max|m|/ε at G = 0.
template <class T>
void check_adam_bound(nncore::Random& random, Eigen::Index size, int ranges) {
  const Make<T> make = [](int trial, double eta,
                          double eps) -> std::unique_ptr<nncore::Optimizer<T>> {
    nncore::AdamWOptions options;
    options.learning_rate = eta, options.eps = eps;
    options.beta1 = trial % 2 ? 0.9 : 0.5;
    options.beta2 = trial % 4 < 2 ? 0.999 : 0.9;
    if (trial % 5 == 0) return std::make_unique<nncore::AdamW<T>>(options);  // λ = 1e-2
    options.weight_decay = 0.0;
    return std::make_unique<nncore::Adam<T>>(options);
  };
  const Expected<T> expected = [](const nncore::Optimizer<T>& rule,
                                  const nncore::OptimizerState<T>& state) {
    const auto& adam = static_cast<const nncore::Adam<T>&>(rule);
    const double t = static_cast<double>(adam.step_count() + 1);
    const double step_size = static_cast<double>(
        static_cast<T>(adam.learning_rate() / (1.0 - std::pow(adam.beta1(), t))));
    return step_size * largest(state, "exp_avg") / static_cast<double>(static_cast<T>(adam.eps()));
  };
  check_bound<T>(random, size, ranges, make, expected);
}

// RMSprop (α and momentum varied, not centred): η·μ·max|b| at G = 0.
template <class T>
void check_rmsprop_bound(nncore::Random& random, Eigen::Index size, int ranges) {
  const Make<T> make = [](int trial, double eta,
                          double eps) -> std::unique_ptr<nncore::Optimizer<T>> {
    nncore::RMSPropOptions options;
    options.learning_rate = eta, options.eps = eps;
    options.alpha = trial % 2 ? 0.99 : 0.5;
    options.momentum = trial % 4 < 2 ? 0.0 : 0.9;
    return std::make_unique<nncore::RMSProp<T>>(options);
  };
  const Expected<T> expected = [](const nncore::Optimizer<T>& rule,
                                  const nncore::OptimizerState<T>& state) {
    const auto& rmsprop = static_cast<const nncore::RMSProp<T>&>(rule);
    if (rmsprop.momentum() == 0.0) return 0.0;
    return static_cast<double>(static_cast<T>(rmsprop.learning_rate())) *
           static_cast<double>(static_cast<T>(rmsprop.momentum())) *
           largest(state, "momentum_buffer");
  };
  check_bound<T>(random, size, ranges, make, expected);
}

// SGD with momentum (μ, τ and Nesterov varied): η·μ·max|b| at G = 0 (η·μ²·max|b| with
// Nesterov's), after a first step.
template <class T>
void check_sgd_bound(nncore::Random& random, Eigen::Index size, int ranges) {
  const Make<T> make = [](int trial, double eta, double) -> std::unique_ptr<nncore::Optimizer<T>> {
    nncore::SGDOptions options;
    options.learning_rate = eta;
    options.momentum = trial % 2 ? 0.9 : 1.5;
    options.nesterov = trial % 4 < 2;
    options.dampening = options.nesterov ? 0.0 : 0.25;
    return std::make_unique<nncore::SGD<T>>(options);
  };
  const Expected<T> expected = [](const nncore::Optimizer<T>& rule,
                                  const nncore::OptimizerState<T>& state) {
    const auto& sgd = static_cast<const nncore::SGD<T>&>(rule);
    const auto momentum = static_cast<double>(static_cast<T>(sgd.momentum()));
    return static_cast<double>(static_cast<T>(sgd.learning_rate())) * momentum *
           (sgd.nesterov() ? momentum : 1.0) * largest(state, "momentum_buffer");
  };
  check_bound<T>(random, size, ranges, make, expected);
}

// Adagrad (lr_decay varied): η_t·min(0/ε, …) = 0 at G = 0.
template <class T>
void check_adagrad_bound(nncore::Random& random, Eigen::Index size, int ranges) {
  const Make<T> make = [](int trial, double eta,
                          double eps) -> std::unique_ptr<nncore::Optimizer<T>> {
    nncore::AdagradOptions options;
    options.learning_rate = eta, options.eps = eps;
    options.lr_decay = trial % 2 ? 0.0 : 0.5;
    return std::make_unique<nncore::Adagrad<T>>(options);
  };
  const Expected<T> expected = [](const nncore::Optimizer<T>&, const nncore::OptimizerState<T>&) {
    return 0.0;
  };
  check_bound<T>(random, size, ranges, make, expected);
}

void test_step_bounds() {
  nncore::Random random(11);
  const Eigen::Index pieces = 3 * nncore::kCachePiece + 5;
  check_adam_bound<double>(random, 9, 1);
  check_adam_bound<float>(random, 9, 1);
  check_adam_bound<double>(random, pieces, 2);
  check_adam_bound<float>(random, pieces, 2);
  check_rmsprop_bound<double>(random, 9, 1);
  check_rmsprop_bound<float>(random, 9, 1);
  check_rmsprop_bound<double>(random, pieces, 2);
  check_rmsprop_bound<float>(random, pieces, 2);
  check_sgd_bound<double>(random, 9, 1);
  check_sgd_bound<float>(random, 9, 1);
  check_sgd_bound<double>(random, pieces, 2);
  check_sgd_bound<float>(random, pieces, 2);
  check_adagrad_bound<double>(random, 9, 1);
  check_adagrad_bound<float>(random, 9, 1);
  check_adagrad_bound<double>(random, pieces, 2);
  check_adagrad_bound<float>(random, pieces, 2);
  // No bound where the step could overflow or the bound would not hold: coupled weight decay,
  // a centred RMSprop, an ε that is 0 in float, a g² beyond the largest float, a v near it.
  nncore::AdamOptions coupled;
  coupled.weight_decay = 0.1;
  CHECK(std::isinf(nncore::Adam<double>(coupled).step_bound(1.0)), "coupled decay");
  nncore::RMSPropOptions centred;
  centred.centered = true;
  CHECK(std::isinf(nncore::RMSProp<double>(centred).step_bound(1.0)), "centred");
  CHECK(std::isfinite(nncore::RMSProp<double>().step_bound(1.0)), "rmsprop's defaults");
  nncore::AdamOptions tiny;
  tiny.eps = 1e-50;
  CHECK(std::isinf(nncore::Adam<float>(tiny).step_bound(1.0)), "eps 0 in float");
  CHECK(std::isfinite(nncore::Adam<double>(tiny).step_bound(1.0)), "eps 1e-50 in double");
  CHECK(std::isinf(nncore::Adam<float>().step_bound(1e20)), "g² overflows float");
  CHECK(std::isfinite(nncore::Adam<float>().step_bound(1e10)), "g = 1e10 in float");
  nncore::Adam<float> near_overflow;
  nncore::OptimizerState<float> state;
  state.step = 3;
  state.vectors = {{"exp_avg", nncore::Vector<float>::Constant(2, 1.0f)},
                   {"exp_avg_sq", nncore::Vector<float>::Constant(2, 0.9f * FLT_MAX)}};
  near_overflow.set_state(state);
  CHECK(std::isinf(near_overflow.step_bound(1.0)), "v of 0.9 times the largest float");
  // Adagrad where g² underflows to 0 in float: s' = 0, so the step is η·g/ε, far above η.
  nncore::AdagradOptions small;
  small.eps = 1e-30;
  nncore::Adagrad<float> adagrad(small);
  nncore::Vector<float> theta = nncore::Vector<float>::Zero(2),
                        g = nncore::Vector<float>::Constant(2, 1e-25f);
  const double adagrad_bound = adagrad.step_bound(1e-25);
  adagrad.step(theta, g);
  CHECK(std::abs(theta[0]) > 1e3 * adagrad.learning_rate() && std::abs(theta[0]) <= adagrad_bound,
        "adagrad with g² underflowing: |Δθ| " << theta[0] << ", bound " << adagrad_bound);
  // A state of squares with a negative entry is refused, and the state is kept.
  state.vectors["exp_avg_sq"][1] = -1.0f;
  bool refused = false;
  try {
    near_overflow.set_state(state);
  } catch (const std::invalid_argument&) {
    refused = true;
  }
  CHECK(refused && near_overflow.state().vectors.at("exp_avg_sq")[1] == 0.9f * FLT_MAX,
        "a negative exp_avg_sq");
}

}  // namespace

int main() {
  return nncore_test::run_tests({
      {"sgd (momentum, dampening, nesterov, weight decay)", test_sgd},
      {"sgd with clip_norm", test_sgd_clip_norm},
      {"adam (coupled weight decay)", test_adam},
      {"adamw (decoupled weight decay)", test_adamw},
      {"rmsprop (centred, momentum)", test_rmsprop},
      {"adagrad (lr_decay, initial accumulator)", test_adagrad},
      {"the step bounds of sgd, adam, rmsprop and adagrad against their steps", test_step_bounds},
  });
}
