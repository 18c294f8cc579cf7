// Backward propagation through a whole network (nncore::Network, the MLP: Dense layers), in
// double precision: Sequential::backward's dL/dθ for every parameter against central finite
// differences of L(θ) = Σ_i w_i ℓ_i / Σ_i w_i computed by forward and summed_error
// (finite_differences.hpp for the tolerance). Every registered activation the network accepts
// in its hidden layers, each after every output and loss pairing of the core.
#include <set>
#include <stdexcept>
#include <vector>

#include "check.hpp"
#include "finite_differences.hpp"
#include "nncore/network.hpp"
#include "nncore/random.hpp"

namespace {

using nncore::Activation;
using nncore::ActivationKind;
using nncore::Loss;
using nncore::LossKind;
using Matrix = nncore::Matrix<double>;
using Vector = nncore::Vector<double>;

struct Output {
  ActivationKind activation;
  LossKind loss;
};

// Targets for the loss: one-hot rows for the categorical cross-entropy, 0/1 for the binary one,
// else numbers in [−1, 1].
Matrix targets(LossKind loss, Eigen::Index n, Eigen::Index k, nncore::Random& random) {
  Matrix Y = Matrix::Zero(n, k);
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j < k; ++j) {
      if (loss == LossKind::categorical_cross_entropy)
        Y(i, j) = j == static_cast<Eigen::Index>(i % k) ? 1.0 : 0.0;
      else if (loss == LossKind::binary_cross_entropy)
        Y(i, j) = random.uniform01() < 0.5 ? 0.0 : 1.0;
      else
        Y(i, j) = random.uniform(-1.0, 1.0);
    }
  return Y;
}

void check_network(const Activation& hidden, const Output& output, nncore::Random& random) {
  const Eigen::Index n = 6;
  nncore::Network<double> network({3, 5, 4, 2}, {hidden, hidden, Activation{output.activation}},
                                  /*use_bias=*/true);
  network.initialize(nncore::Initializer::glorot_normal, random);
  Matrix X(n, 3);
  for (Eigen::Index i = 0; i < X.size(); ++i) X.data()[i] = random.uniform(-1.5, 1.5);
  const Matrix Y = targets(output.loss, n, 2, random);
  Vector weights(n);
  weights << 1.0, 0.5, 2.0, 1.5, 0.25, 1.0;
  const Loss loss{output.loss};
  auto workspace = network.make_workspace(n, /*training=*/true);
  network.forward(X, workspace);
  network.backward(loss, X, Y, weights, weights.sum(), workspace);
  const Vector analytic = network.gradients();
  const auto L = [&] {
    network.forward(X, workspace);
    return network.summed_error(loss, Y, weights, workspace) / weights.sum();
  };
  Vector& theta = network.parameters();
  const Eigen::VectorXd expected = nncore_test::central_differences(L, theta.data(), theta.size());
  for (Eigen::Index i = 0; i < theta.size(); ++i)
    CHECK_NEAR(analytic[i], expected[i], nncore_test::kGradientAtol, nncore_test::kGradientRtol,
               "hidden " << hidden.name() << ", " << loss.name() << ", parameter " << i);
}

void test_backward_against_finite_differences() {
  const std::vector<Output> outputs = {
      {ActivationKind::identity, LossKind::mean_squared_error},
      {ActivationKind::sigmoid, LossKind::binary_cross_entropy},
      {ActivationKind::softmax, LossKind::categorical_cross_entropy}};
  nncore::Random random(3);
  std::set<ActivationKind> seen;
  int networks = 0;
  for (const auto& entry : nncore::activation_names()) {
    if (!seen.insert(entry.kind).second) continue;
    const Activation hidden = Activation::from_name(entry.name);
    try {
      nncore::Network<double>({1, 1, 1}, {hidden, Activation{}}, true);
    } catch (const std::invalid_argument&) {
      continue;  // a hidden activation the network refuses (softmax: output layer only)
    }
    for (const Output& output : outputs) {
      check_network(hidden, output, random);
      ++networks;
    }
  }
  CHECK(networks >= 30, "networks tested: " << networks);  // 10 hidden activations × 3 outputs
}

}  // namespace

int main() {
  return nncore_test::run_tests({
      {"network backward vs finite differences", test_backward_against_finite_differences},
  });
}
