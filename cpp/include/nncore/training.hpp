// The training loop: whole epochs of mini-batch gradient descent, every buffer allocated before
// the first batch. Per epoch: (optionally) permute the sample indices, then for each batch gather
// its rows, forward (with dropout), loss, backward, (in a data-parallel fit) the sum of the ranks'
// gradients, update; at the epoch end evaluate the validation data (if any) and hand the epoch's
// record to the caller, who may stop training or change the optimizer's learning rate for the
// next epoch. The one loop of nncore: MLP.fit and nncore.distributed.fit both run it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "nncore/loss.hpp"
#include "nncore/network.hpp"
#include "nncore/optimizer.hpp"
#include "nncore/random.hpp"
#include "nncore/reduction.hpp"
#include "nncore/types.hpp"

namespace nncore {

// How an epoch's loss averages its batches' (W: Σ_i w_i over the training rows, W_B over batch
// B's, m_B its rows, n = Σ m_B): the weighted mean of the rows, Σ_B Σ_{i∈B} w_i ℓ_i / W, or
// the mean over the rows of each batch's weighted mean, Σ_B m_B·(Σ_{i∈B} w_i ℓ_i / W_B) / n
// (scikit-learn's loss_curve_). The two agree without sample weights.
enum class EpochLoss { weighted_mean, batch_mean };

// Every setting of one fit; check(options) holds the rules.
struct FitOptions {
  Index epochs = 100;                 // >= 1
  Index batch_size = 32;              // >= 1; a batch larger than the data is the whole data
  bool shuffle = true;                // a fresh permutation of the rows every epoch
  std::optional<double> target_loss;  // stop once the epoch loss is <= this (not NaN)
  double tol = 0.0;            // finite, >= 0: an epoch "improves" when its loss < best − tol
  Index n_iter_no_change = 0;  // >= 0: stop after this many epochs without improvement; 0 = never
  Loss loss;                   // the error function (and Huber's δ, finite and > 0)
  // An L2 penalty ½ Σ_j λ_j θ_j² (empty: none; else one finite λ_j >= 0 per parameter), the
  // penalty of fit_lbfgs's objective: a full batch descends L + ½ Σ_j λ_j θ_j², and every batch B
  // carries the whole penalty over its own weight, its gradient gaining λ_j θ_j · W/W_B
  // (scikit-learn's (α/2)‖W‖² / W_B with λ_j = α/W on the weights and 0 on the biases).
  std::vector<double> penalty;
  EpochLoss epoch_loss = EpochLoss::weighted_mean;
};

// Throws std::invalid_argument, naming the setting, unless every setting is in its range.
void check(const FitOptions& options);

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
  bool has_penalty = false;    // FitOptions::penalty given
  double penalty = 0.0;        // ½ Σ λ_j θ_j² · W/W_B before each update, averaged as the loss
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

// Where the caller takes part in a fit; each may be empty.
struct FitHooks {
  EpochCallback on_epoch_end;
  InterruptCheck interrupted;
  // A data-parallel fit (nncore/reduction.hpp): the gradient is summed over the ranks between
  // backward and step, and so are the numbers the loop's decisions rest on. Each batch's rows are
  // then checked before its forward pass (an epoch-end callback may have changed a rank's data),
  // and a rank's failure is raised on every rank.
  Reduction* reduction = nullptr;
};

// Thrown when a batch gives a non-finite loss or gradient. The parameters are those before that
// batch's update: the last finite ones.
class DivergenceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Batches fit has split into blocks of rows on threads so far, in this process (for tests).
std::int64_t split_batches();
// Of those, the batches whose blocks ran in turn on the calling thread (fit's Pace chose it), and
// for tests, a fixed choice: 0 measures (the default), 1 always the pool, 2 always in turn.
std::int64_t split_batches_in_turn();
void set_split_pace(int choice);
// For tests: the ways (0 the pool, 1 in turn) a fresh fit's measurement chooses for batches that
// would take these times, batch by batch, on the pool and in turn.
std::vector<int> simulate_split_pace(const std::vector<double>& pool_seconds,
                                     const std::vector<double>& in_turn_seconds);

// validation: nullptr for none (with a reduction, it may have no rows: other ranks hold them).
// random: the generator of the shuffles and dropout masks.
template <class T>
FitResult fit(Sequential<T>& network, Optimizer<T>& optimizer, Random& random,
              const Dataset<T>& train, const Dataset<T>* validation, const FitOptions& options,
              const FitHooks& hooks = {});

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
