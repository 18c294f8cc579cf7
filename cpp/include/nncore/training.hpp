// The training loop: whole epochs of mini-batch gradient descent, every buffer allocated before
// the first batch. Per epoch: (optionally) permute the sample indices, then for each batch gather
// its rows, forward (with dropout), loss, backward, update; at the epoch end evaluate the
// validation data (if any) and hand the epoch's record to the caller, who may stop training or
// change the optimizer's learning rate for the next epoch.
#pragma once

#include <cstdint>
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

// A data set: features, targets and optional sample weights (empty = all ones).
template <class T>
struct Dataset {
  ConstMatrixRef<T> X;
  ConstMatrixRef<T> Y;
  ConstVectorRef<T> weights;
};

struct EpochRecord {
  Index epoch = 0;             // 1-based
  double loss = 0.0;           // weighted mean training loss, each batch measured before its update
  double metric = 0.0;         // accuracy or R² over the same batch outputs
  double gradient_norm = 0.0;  // mean over the epoch's batches of ‖dL/dθ‖₂ (before clipping)
  double learning_rate = 0.0;  // the optimizer's learning rate during the epoch
  bool has_validation = false;
  double validation_loss = 0.0;  // on the validation data after the epoch (no dropout)
  double validation_metric = 0.0;
};

struct FitResult {
  std::vector<EpochRecord> epochs;
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

// Batches fit has split into blocks of rows on threads so far, in this process (for tests).
std::int64_t split_batches();

// validation: nullptr for none.
template <class T>
FitResult fit(Sequential<T>& network, Optimizer<T>& optimizer, Random& random,
              const Dataset<T>& train, const Dataset<T>* validation, const Loss& loss,
              const FitOptions& options, const EpochCallback& on_epoch_end = {},
              const InterruptCheck& interrupted = {});

struct Evaluation {
  double loss = 0.0;    // weighted mean loss
  double metric = 0.0;  // accuracy or R²
};

// Loss and metric over a whole data set, evaluated in chunks without dropout (no update).
template <class T>
Evaluation evaluate(const Sequential<T>& network, const Dataset<T>& data, const Loss& loss);

// Output activations for all rows of X into out (n, n_L), evaluated in chunks without dropout.
// Uses only local buffers, so several threads may predict with one network at once.
template <class T>
void predict(const Sequential<T>& network, const ConstMatrixRef<T>& X, Eigen::Ref<Matrix<T>> out);

}  // namespace nncore
