// Every loss the core registers (loss_names(), each kind once) after every output activation it
// accepts (check_output_activation), in double precision, with and without sample weights:
// output_delta, dL/dZ of L = Σ_i w_i ℓ_i / Σ_i w_i (summed_error / weight sum), against central
// finite differences of L with respect to the logits Z, A = g(Z) recomputed for each
// (finite_differences.hpp for the tolerance).
#include <cmath>
#include <set>
#include <stdexcept>
#include <vector>

#include "check.hpp"
#include "finite_differences.hpp"
#include "nncore/activation.hpp"
#include "nncore/loss.hpp"
#include "nncore/random.hpp"

namespace {

using nncore::Activation;
using nncore::Loss;
using Matrix = nncore::Matrix<double>;
using Vector = nncore::Vector<double>;

template <class Kind>
std::vector<Kind> kinds(const std::vector<nncore::Name<Kind>>& names) {
  std::vector<Kind> unique;
  std::set<Kind> seen;
  for (const auto& entry : names)
    if (seen.insert(entry.kind).second) unique.push_back(entry.kind);
  return unique;
}

Matrix uniform(nncore::Random& random, Eigen::Index rows, Eigen::Index cols, double low,
               double high) {
  Matrix M(rows, cols);
  for (Eigen::Index i = 0; i < M.size(); ++i) M.data()[i] = random.uniform(low, high);
  return M;
}

// Targets the loss is defined for: probabilities in (0, 1) for the binary cross-entropy, rows of
// probabilities summing to 1 for the categorical one, else any number, moved 0.1 away from the
// points where ℓ has a kink in A (a = y for mean_absolute_error; |a − y| = δ for huber).
Matrix targets(const Loss& loss, const Matrix& A, nncore::Random& random) {
  if (loss.kind == nncore::LossKind::binary_cross_entropy)
    return uniform(random, A.rows(), A.cols(), 0.05, 0.95);
  if (loss.kind == nncore::LossKind::categorical_cross_entropy) {
    Matrix Y = uniform(random, A.rows(), A.cols(), 0.1, 1.0);
    Y.array().colwise() /= Y.array().rowwise().sum();
    return Y;
  }
  Matrix Y = A + uniform(random, A.rows(), A.cols(), -1.5, 1.5);
  for (Eigen::Index i = 0; i < Y.size(); ++i) {
    const double r = std::abs(A.data()[i] - Y.data()[i]);
    if (r < 0.1 || std::abs(r - loss.delta) < 0.1) Y.data()[i] += 0.25;
  }
  return Y;
}

void check_gradient(const Loss& loss, const Activation& output, const Vector& weights,
                    nncore::Random& random) {
  const Eigen::Index n = 5, k = 3;
  Matrix Z = uniform(random, n, k, -2.0, 2.0), A(n, k), dZ(n, k);
  nncore::activate<double>(output, Z, A);
  const Matrix Y = targets(loss, A, random);
  const double weight_sum = weights.size() == 0 ? static_cast<double>(n) : weights.sum();
  nncore::output_delta<double>(loss, output, Z, A, Y, weights, weight_sum, dZ);
  const auto L = [&] {
    Matrix G(n, k);
    nncore::activate<double>(output, Z, G);
    return nncore::summed_error<double>(loss, Z, G, Y, weights) / weight_sum;
  };
  const Eigen::VectorXd expected = nncore_test::central_differences(L, Z.data(), Z.size());
  for (Eigen::Index i = 0; i < Z.size(); ++i)
    CHECK_NEAR(dZ.data()[i], expected[i], nncore_test::kGradientAtol, nncore_test::kGradientRtol,
               loss.name() << " after " << output.name() << (weights.size() ? ", weighted" : "")
                           << ", entry " << i);
}

void test_output_delta_against_finite_differences() {
  nncore::Random random(11);
  Vector weights(5);
  weights << 0.5, 2.0, 0.0, 1.0, 3.0;  // a zero weight: that row must not count
  int pairs = 0;
  for (const nncore::LossKind loss_kind : kinds(nncore::loss_names())) {
    const Loss loss{loss_kind, /*delta=*/0.5};
    for (const nncore::ActivationKind activation_kind : kinds(nncore::activation_names())) {
      const Activation output{activation_kind};
      try {
        loss.check_output_activation(output);
      } catch (const std::invalid_argument&) {
        continue;  // a pairing the core refuses (a cross-entropy after another activation)
      }
      check_gradient(loss, output, Vector(), random);
      check_gradient(loss, output, weights, random);
      ++pairs;
    }
  }
  // 3 losses after any of the 11 activations, the 2 cross-entropies after their own
  CHECK(pairs >= 35, "pairs tested: " << pairs);
}

// The loss value against its formula for one row, written out (loss.hpp).
void test_summed_error_against_formula() {
  Matrix Z(1, 2), A(1, 2), Y(1, 2);
  Z << 0.3, -1.2;
  Y << 0.8, 0.1;
  const Vector none;
  const Activation sigmoid{nncore::ActivationKind::sigmoid};
  nncore::activate<double>(sigmoid, Z, A);
  const double r0 = A(0, 0) - Y(0, 0), r1 = A(0, 1) - Y(0, 1);
  const Loss mse{nncore::LossKind::mean_squared_error};
  CHECK_NEAR(nncore::summed_error<double>(mse, Z, A, Y, none), (r0 * r0 + r1 * r1) / 2, 0, 1e-15,
             "mse");
  const Loss bce{nncore::LossKind::binary_cross_entropy};
  const double bce_expected =
      -(Y(0, 0) * std::log(A(0, 0)) + (1 - Y(0, 0)) * std::log(1 - A(0, 0)) +
        Y(0, 1) * std::log(A(0, 1)) + (1 - Y(0, 1)) * std::log(1 - A(0, 1))) /
      2;
  CHECK_NEAR(nncore::summed_error<double>(bce, Z, A, Y, none), bce_expected, 0, 1e-14, "bce");
}

}  // namespace

int main() {
  return nncore_test::run_tests({
      {"loss output_delta vs finite differences", test_output_delta_against_finite_differences},
      {"loss values vs their formulas", test_summed_error_against_formula},
  });
}
