// nncore's C++ core on its own: XOR learned by `fit`, then a small regression trained by hand with
// the pieces fit is made of (forward, backward, an optimizer's step).
#include <cmath>
#include <cstdio>

#include "nncore/adam.hpp"
#include "nncore/network.hpp"
#include "nncore/random.hpp"
#include "nncore/sgd.hpp"
#include "nncore/training.hpp"

using nncore::Activation;
using nncore::ActivationKind;
using Matrix = nncore::Matrix<double>;  // row-major: one sample per row
using Vector = nncore::Vector<double>;

// XOR with fit: a 2-8-1 network, tanh then a sigmoid output, binary cross-entropy, Adam.
bool xor_with_fit() {
  Matrix X(4, 2), Y(4, 1);
  X << 0, 0, 0, 1, 1, 0, 1, 1;
  Y << 0, 1, 1, 0;
  nncore::Network<double> network(
      {2, 8, 1}, {Activation{ActivationKind::tanh}, Activation{ActivationKind::sigmoid}},
      /*use_bias=*/true);
  nncore::Random random(0);  // the seed of the initial weights and of the shuffles
  network.initialize(nncore::Initializer::glorot_uniform, random);

  nncore::AdamOptions adam_options;
  adam_options.learning_rate = 0.05;
  nncore::Adam<double> adam(adam_options);
  nncore::FitOptions options;
  options.epochs = 500;
  options.batch_size = 4;
  options.loss = nncore::Loss::from_name("binary_cross_entropy");
  const Vector no_weights;
  const nncore::Dataset<double> train{X, Y, no_weights};
  const nncore::FitResult result =
      nncore::fit<double>(network, adam, random, train, nullptr, options);

  Matrix p(4, 1);
  nncore::predict<double>(network, X, p);
  std::printf("XOR: loss %.4f after %zu epochs; p = %.3f %.3f %.3f %.3f\n",
              result.epochs.back().loss, result.epochs.size(), p(0, 0), p(1, 0), p(2, 0), p(3, 0));
  return (p(0, 0) < 0.5) && (p(1, 0) >= 0.5) && (p(2, 0) >= 0.5) && (p(3, 0) < 0.5);
}

// y = sin(x) on [−3, 3] with a hand-written loop: forward, backward into network.gradients(),
// then the optimizer's step on the flat parameter vector.
bool regression_by_hand() {
  const Eigen::Index n = 64;
  Matrix X(n, 1), Y(n, 1);
  for (Eigen::Index i = 0; i < n; ++i) {
    X(i, 0) = -3.0 + 6.0 * static_cast<double>(i) / static_cast<double>(n - 1);
    Y(i, 0) = std::sin(X(i, 0));
  }
  nncore::Network<double> network(
      {1, 16, 1}, {Activation{ActivationKind::tanh}, Activation{ActivationKind::identity}}, true);
  nncore::Random random(1);
  network.initialize(nncore::Initializer::glorot_uniform, random);
  const nncore::Loss mse = nncore::Loss::from_name("mean_squared_error");
  nncore::SGDOptions sgd_options;
  sgd_options.learning_rate = 0.1;
  sgd_options.momentum = 0.9;
  nncore::SGD<double> sgd(sgd_options);

  const Vector no_weights;
  auto workspace = network.make_workspace(n, /*training=*/true);
  double loss = 0.0;
  for (int step = 0; step < 2000; ++step) {
    network.forward(X, workspace);  // Z = X·W + b, A = g(Z), layer by layer
    loss = network.summed_error(mse, Y, no_weights, workspace) / static_cast<double>(n);
    network.backward(mse, X, Y, no_weights, static_cast<double>(n), workspace);  // dL/dθ
    sgd.step(network.parameters(), network.gradients());                         // θ ← θ − η·b
  }
  std::printf("sin(x): mean squared error %.5f after %lld steps\n", loss,
              static_cast<long long>(sgd.step_count()));
  return loss < 0.01;
}

int main() {
  const bool xor_learned = xor_with_fit();
  const bool sine_learned = regression_by_hand();
  return xor_learned && sine_learned ? 0 : 1;
}
