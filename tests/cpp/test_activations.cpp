// Every activation the core registers (activation_names(), each kind once), in double precision:
// its backward rule dZ = g'(Z) ⊙ dA (apply_jacobian) is the gradient of f(Z) = Σ_ij dA_ij g(Z)_ij,
// checked against central finite differences of f (finite_differences.hpp for the tolerance).
// Softmax, row-wise, is covered the same way: f then couples the entries of a row.
#include <set>
#include <string>
#include <vector>

#include "check.hpp"
#include "finite_differences.hpp"
#include "nncore/activation.hpp"
#include "nncore/random.hpp"

namespace {

using nncore::Activation;
using nncore::ActivationKind;
using Matrix = nncore::Matrix<double>;

// Each kind once, by its own name, with non-default parameters (leaky_relu's slope, elu's α) so
// that they are exercised.
std::vector<Activation> every_activation() {
  std::vector<Activation> activations;
  std::set<ActivationKind> seen;
  for (const auto& entry : nncore::activation_names())
    if (seen.insert(entry.kind).second)
      activations.push_back(Activation::from_name(entry.name, /*slope=*/0.1, /*alpha=*/1.5));
  return activations;
}

// Entries in [−3, 3], none within 0.05 of 0 (where relu, leaky_relu and elu have their kink).
Matrix away_from_kinks(nncore::Random& random, Eigen::Index rows, Eigen::Index cols) {
  Matrix Z(rows, cols);
  for (Eigen::Index i = 0; i < Z.size(); ++i) {
    const double z = random.uniform(0.05, 3.0);
    Z.data()[i] = random.uniform01() < 0.5 ? -z : z;
  }
  return Z;
}

void test_backward_against_finite_differences() {
  nncore::Random random(7);
  for (const Activation& activation : every_activation()) {
    Matrix Z = away_from_kinks(random, 4, 5), A(4, 5), dA(4, 5), dZ(4, 5);
    for (Eigen::Index i = 0; i < dA.size(); ++i) dA.data()[i] = random.uniform(-1.0, 1.0);
    nncore::activate<double>(activation, Z, A);
    nncore::apply_jacobian<double>(activation, Z, A, dA, dZ);
    const auto f = [&] {
      Matrix G(Z.rows(), Z.cols());
      nncore::activate<double>(activation, Z, G);
      return (dA.array() * G.array()).sum();
    };
    const Eigen::VectorXd expected = nncore_test::central_differences(f, Z.data(), Z.size());
    for (Eigen::Index i = 0; i < Z.size(); ++i)
      CHECK_NEAR(dZ.data()[i], expected[i], nncore_test::kGradientAtol, nncore_test::kGradientRtol,
                 activation.name() << " entry " << i << " at z = " << Z.data()[i]);
  }
}

// from_name accepts every registered name (aliases too) and name() gives each kind's own name.
void test_names_round_trip() {
  for (const auto& entry : nncore::activation_names()) {
    const Activation activation = Activation::from_name(entry.name);
    CHECK(activation.kind == entry.kind, entry.name);
    CHECK(Activation::from_name(activation.name()).kind == entry.kind, entry.name);
  }
  CHECK(every_activation().size() >= 11, "kinds: " << every_activation().size());
}

}  // namespace

int main() {
  return nncore_test::run_tests({
      {"activation backward vs finite differences", test_backward_against_finite_differences},
      {"activation names round trip", test_names_round_trip},
  });
}
