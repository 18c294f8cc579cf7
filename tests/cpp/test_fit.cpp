// fit, the training loop (nncore/training.hpp), learns XOR: a 2-8-1 network (tanh, sigmoid
// output, binary cross-entropy) trained with Adam from a seeded generator. After training the
// mean loss is below 0.05 (one wrong label of four alone costs at least log 2 / 4 ≈ 0.17, and
// the untrained network is near log 2 ≈ 0.69), every prediction is right, and evaluate's loss
// equals the binary cross-entropy computed here from predict's probabilities (within 1e-12 +
// 1e-10·loss: the same sums in another order).
#include <cmath>

#include "check.hpp"
#include "nncore/adam.hpp"
#include "nncore/network.hpp"
#include "nncore/random.hpp"
#include "nncore/training.hpp"

namespace {

using nncore::Activation;
using nncore::ActivationKind;
using Matrix = nncore::Matrix<double>;
using Vector = nncore::Vector<double>;

void test_fit_learns_xor() {
  Matrix X(4, 2), Y(4, 1);
  X << 0, 0, 0, 1, 1, 0, 1, 1;
  Y << 0, 1, 1, 0;
  const Vector no_weights;
  nncore::Network<double> network(
      {2, 8, 1}, {Activation{ActivationKind::tanh}, Activation{ActivationKind::sigmoid}},
      /*use_bias=*/true);
  nncore::Random random(0);
  network.initialize(nncore::Initializer::glorot_uniform, random);
  nncore::AdamOptions adam_options;
  adam_options.learning_rate = 0.05;
  nncore::Adam<double> adam(adam_options);
  nncore::FitOptions options;
  options.epochs = 500;
  options.batch_size = 4;
  options.loss = nncore::Loss::from_name("binary_cross_entropy");
  const nncore::Dataset<double> train{X, Y, no_weights};
  const nncore::FitResult result =
      nncore::fit<double>(network, adam, random, train, nullptr, options);

  CHECK(result.epochs.size() == 500, "epochs run: " << result.epochs.size());
  CHECK(result.stop_reason == nncore::StopReason::max_epochs,
        nncore::stop_reason_name(result.stop_reason));
  CHECK(result.epochs.back().loss < result.epochs.front().loss, "the loss fell");
  const nncore::Evaluation evaluation = nncore::evaluate<double>(network, train, options.loss);
  CHECK(evaluation.loss < 0.05, "final loss " << evaluation.loss);
  CHECK(evaluation.metric == 1.0, "accuracy " << evaluation.metric);

  Matrix probabilities(4, 1);
  nncore::predict<double>(network, X, probabilities);
  double cross_entropy = 0.0;
  for (Eigen::Index i = 0; i < 4; ++i) {
    const double p = probabilities(i, 0), y = Y(i, 0);
    CHECK((p >= 0.5) == (y == 1.0), "sample " << i << ": p = " << p << ", label " << y);
    cross_entropy -= (y * std::log(p) + (1.0 - y) * std::log(1.0 - p)) / 4.0;
  }
  CHECK_NEAR(evaluation.loss, cross_entropy, 1e-12, 1e-10, "evaluate vs predict");
}

}  // namespace

int main() { return nncore_test::run_tests({{"fit learns XOR", test_fit_learns_xor}}); }
