// The update rules against their formulas (nncore/sgd.hpp, adam.hpp, rmsprop.hpp, adagrad.hpp,
// and optimizer.hpp's weight decay and clipping), written out here entry by entry: three steps of
// each rule with different gradients, in double precision. The reference evaluates the same
// formulas in another order, so θ agrees to rounding: within 1e-13 + 1e-12·|θ|.
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "check.hpp"
#include "nncore/adagrad.hpp"
#include "nncore/adam.hpp"
#include "nncore/optimizer.hpp"
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

}  // namespace

int main() {
  return nncore_test::run_tests({
      {"sgd (momentum, dampening, nesterov, weight decay)", test_sgd},
      {"sgd with clip_norm", test_sgd_clip_norm},
      {"adam (coupled weight decay)", test_adam},
      {"adamw (decoupled weight decay)", test_adamw},
      {"rmsprop (centred, momentum)", test_rmsprop},
      {"adagrad (lr_decay, initial accumulator)", test_adagrad},
  });
}
