// Central finite differences, the tests' independent reference for gradients:
//   ∂f/∂x_i ≈ (f(x + h·e_i) − f(x − h·e_i)) / 2h
// In double precision with h = 1e-5 the truncation error is h²/6·|f'''| ≈ 2e-11 and the rounding
// error about ε·|f|/h ≈ 2e-11 for |f| ~ 1, so a gradient agrees to within
//   kGradientAtol + kGradientRtol·|finite difference| = 1e-8 + 1e-6·|finite difference|,
// far below the error of any wrong formula (a missing factor, a wrong sign) and far above noise.
#pragma once

#include <Eigen/Core>
#include <functional>

namespace nncore_test {

constexpr double kStep = 1e-5;
constexpr double kGradientAtol = 1e-8;
constexpr double kGradientRtol = 1e-6;

// The central difference of f with respect to each of the n entries of x (restored after each).
inline Eigen::VectorXd central_differences(const std::function<double()>& f, double* x,
                                           Eigen::Index n) {
  Eigen::VectorXd gradient(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    const double saved = x[i];
    x[i] = saved + kStep;
    const double plus = f();
    x[i] = saved - kStep;
    const double minus = f();
    x[i] = saved;
    gradient[i] = (plus - minus) / (2.0 * kStep);
  }
  return gradient;
}

}  // namespace nncore_test
