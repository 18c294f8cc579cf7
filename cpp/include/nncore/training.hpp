// The training loop: whole epochs of mini-batch gradient descent, every buffer allocated before
// the first batch. Per epoch: (optionally) permute the sample indices, then for each batch gather
// its rows, forward, loss, backward, update. Convergence is checked at epoch ends.
#pragma once

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "nncore/loss.hpp"
#include "nncore/network.hpp"
#include "nncore/optimizer.hpp"
#include "nncore/random.hpp"
#include "nncore/types.hpp"

namespace nncore {

struct FitOptions {
  Index epochs = 100;
  Index batch_size = 32;
  bool shuffle = true;
  bool has_target_loss = false;
  double target_loss = 0.0;    // stop once the epoch loss is <= this (when has_target_loss)
  double tol = 0.0;            // an epoch "improves" when its loss < best − tol
  Index n_iter_no_change = 0;  // stop after this many epochs without improvement; 0 = never
};

enum class StopReason { max_epochs, target_loss, no_improvement, callback, interrupted };
std::string stop_reason_name(StopReason reason);

struct EpochRecord {
  Index epoch = 0;    // 1-based
  double loss = 0.0;  // mean training loss over the epoch's samples, measured before each update
};

struct FitResult {
  std::vector<double> losses;
  StopReason stop_reason = StopReason::max_epochs;
};

// Called at every epoch end; returning true stops training.
using EpochCallback = std::function<bool(const EpochRecord&)>;
// Polled between batches; returning true stops training with StopReason::interrupted.
using InterruptCheck = std::function<bool()>;

// Thrown when a batch gives a non-finite loss or gradient. The parameters are those before that
// batch's update: the last finite ones.
class DivergenceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

template <class T>
FitResult fit(Network<T>& network, Optimizer<T>& optimizer, Random& random,
              const ConstMatrixRef<T>& X, const ConstMatrixRef<T>& Y, const Loss& loss,
              const FitOptions& options, const EpochCallback& on_epoch_end = {},
              const InterruptCheck& interrupted = {});

// The mean loss over all rows of X, evaluated in chunks (no update).
template <class T>
double evaluate_loss(const Network<T>& network, const ConstMatrixRef<T>& X,
                     const ConstMatrixRef<T>& Y, const Loss& loss);

// Output activations for all rows of X into out (n, n_L), evaluated in chunks. Uses only local
// buffers, so several threads may predict with one network at once.
template <class T>
void predict(const Network<T>& network, const ConstMatrixRef<T>& X, Eigen::Ref<Matrix<T>> out);

}  // namespace nncore
