#include "nncore/training.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <exception>
#include <limits>
#include <numeric>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "nncore/metric.hpp"
#include "nncore/parallel.hpp"
#include "one_sample.hpp"

namespace nncore {

std::string stop_reason_name(StopReason reason) {
  switch (reason) {
    case StopReason::max_epochs: return "max_epochs";
    case StopReason::target_loss: return "target_loss";
    case StopReason::no_improvement: return "no_improvement";
    case StopReason::callback: return "callback";
    case StopReason::interrupted: return "interrupted";
  }
  return "unknown";
}

namespace {

std::atomic<std::int64_t> split_count{0};          // see split_batches
std::atomic<std::int64_t> split_in_turn_count{0};  // see split_batches_in_turn
std::atomic<int> split_pace{0};                    // see set_split_pace
using Clock = std::chrono::steady_clock;

// Rows chunked through a workspace of this many rows when evaluating whole data sets.
constexpr Index kEvaluationChunk = 512;

// Σ w_i in double (n without weights), added in index order: the order of a vectorised sum
// depends on where the caller's array starts in memory, and every gradient is divided by this.
template <class T>
double weight_sum(const ConstVectorRef<T>& weights, Index n) {
  if (weights.size() == 0) return static_cast<double>(n);
  double sum = 0.0;
  for (Index i = 0; i < weights.size(); ++i) sum += static_cast<double>(weights[i]);
  return sum;
}

// ‖g‖₂ of a gradient, and a bound of max_i |g_i| from it: ‖g‖∞ ≤ ‖g‖₂ (the step bound of
// Training::update needs no more, and a second pass for the maximum cost about 5% of T's time).
struct GradientSize {
  double norm = 0.0;
  double max_abs_bound = 0.0;
};

// ‖v‖₂ from k partial sums of squares (in T, added in order). Only when the sum overflows (or v
// holds inf/NaN) is the norm redone in double, where a finite vector's norm is always finite.
// The bound of max |v_i|: each square is rounded to fl(v_i²) ≥ v_i²(1 − ε) (or into an FMA's
// sum, no lower), and adding a term ≥ 0 never rounds below the larger operand (rounding is
// monotonic), so the sum ≥ max v_i²(1 − ε) and max |v_i| ≤ √sum · (1 + ε); the factor 1 + 4ε
// also covers the rounding of the square root. A v_i² below the smallest normal T may have been
// lost: hence the √min term.
template <class T>
GradientSize combine(const Vector<T>& v, const T* squares, int k) {
  const T fast = std::accumulate(squares + 1, squares + k, squares[0]);
  GradientSize size;
  size.norm = std::isfinite(fast) ? std::sqrt(static_cast<double>(fast))
                                  : std::sqrt(v.template cast<double>().squaredNorm());
  const double epsilon = static_cast<double>(std::numeric_limits<T>::epsilon());
  size.max_abs_bound = size.norm * (1.0 + 4.0 * epsilon) +
                       std::sqrt(static_cast<double>(std::numeric_limits<T>::min()));
  return size;
}

// Σ v_i² (in T) over the entries [begin, end) of v, a piece (kCachePiece) at a time: the partial
// result of a parallel range.
template <class T>
T measure_range(const Vector<T>& v, Index begin, Index end) {
  T sum = 0;
  for (Index start = begin; start < end; start += kCachePiece)
    sum += v.segment(start, std::min(kCachePiece, end - start)).squaredNorm();
  return sum;
}

// ‖v‖₂ (and the bound of max |v_i|) in parallel ranges (range_count).
template <class T>
GradientSize measure(const Vector<T>& v) {
  const int k = range_count(v.size());
  T squares[kMaxRanges];
  parallel_ranges(v.size(), k, [&](int i, Index begin, Index end) {
    squares[i] = measure_range<T>(v, begin, end);
  });
  return combine<T>(v, squares, k);
}

// max_i |v_i| in parallel ranges, or +∞ if v holds inf or NaN.
template <class T>
double max_abs(const Vector<T>& v) {
  if (v.size() == 0) return 0.0;
  const int k = range_count(v.size());
  double largest[kMaxRanges];
  parallel_ranges(v.size(), k, [&](int i, Index begin, Index end) {
    const auto piece = v.segment(begin, end - begin);
    largest[i] = piece.allFinite() ? static_cast<double>(piece.cwiseAbs().maxCoeff())
                                   : std::numeric_limits<double>::infinity();
  });
  return *std::max_element(largest, largest + k);
}

// A training batch split into k blocks of rows (row_blocks), on k threads, in two phases:
//   1. each block's forward pass and errors dZ (Sequential::propagate_errors) at its own rows of
//   one
//      workspace, and its rows' terms of the summed error;
//   2. the batch's gradient in k parts (Sequential::gradient_part: nearly the ranges the update
//      then hands each thread), each part's Σg² measured while it is in cache.
// dW = A_prevᵀ·dZ is then one product over all the batch's rows, as on one thread. For a given
// thread count, the blocks and the order of every sum are fixed: results repeat bit for bit.
template <class T>
class RowBlocks {
 public:
  // For batches of the given lengths (an epoch's are batch_size and the remainder), on `threads`
  // threads (1: never split).
  RowBlocks(const Sequential<T>& network, const std::vector<Index>& lengths, int threads)
      : workspace(network.make_workspace(*std::max_element(lengths.begin(), lengths.end()), true)),
        threads_(threads) {
    const Work work = network.work_per_row();
    work_per_row_ = work.per_row;
    widest_per_row_ = work.widest_per_row;
    int most = 1;
    for (const Index m : lengths) most = std::max(most, count(m));
    errors_.resize(static_cast<size_t>(most));
    failures_.resize(static_cast<size_t>(most));
  }

  // Blocks a batch of m rows is split into (at most kMaxRanges, the size of the parts' arrays).
  int count(Index m) const {
    return std::min(kMaxRanges, row_blocks(m, work_per_row_, widest_per_row_, threads_));
  }

  // Forward and backward propagation of a batch split into k = count(m) > 1 blocks, the gradient
  // into network.gradients(); returns the batch's summed error Σ_r w_r ℓ_r (adding the outputs
  // to the metric) and sets `gradient` to the gradient's size. (The gradient is computed before
  // the caller sees a non-finite error.)
  double propagate(Sequential<T>& network, const Loss& loss, const ConstMatrixRef<T>& X,
                   const ConstMatrixRef<T>& Y, const ConstVectorRef<T>& w, double weight_sum,
                   Metric<T>& metric, GradientSize& gradient) {
    const Index m = X.rows();
    const int k = count(m);
    workspace.dropout_active = false;  // split batches have no dropout
    split_count.fetch_add(1, std::memory_order_relaxed);
    run(k, [&](int i) {
      const auto [begin, end] = row_range(m, i, k);
      const Index rows = end - begin;
      const ConstVectorRef<T> wi = w.size() == 0 ? w : ConstVectorRef<T>(w.segment(begin, rows));
      const auto x = X.middleRows(begin, rows), y = Y.middleRows(begin, rows);
      network.forward(x, workspace, nullptr, begin);
      errors_[static_cast<size_t>(i)] = network.summed_error(loss, y, wi, workspace, begin);
      network.propagate_errors(loss, x, y, wi, weight_sum, workspace, begin);
    });
    T squares[kMaxRanges];
    Vector<T>& g = network.gradients();
    run(k, [&](int i) {
      const auto [begin, end] = network.gradient_part(i, k);
      network.accumulate_gradients(X, workspace, g, begin, end);
      squares[i] = measure_range<T>(g, begin, end);
    });
    gradient = combine<T>(g, squares, k);
    metric.add(network.output(workspace, 0, m), Y, w);
    double error = 0.0;
    for (int i = 0; i < k; ++i) error += errors_[static_cast<size_t>(i)];
    return error;
  }

  Workspace<T> workspace;  // the blocks' rows of a split batch, or an unsplit batch

 private:
  // task(i) for i < k on the pool; the first exception thrown by a task is rethrown here.
  template <class Task>
  void run(int k, const Task& task) {
    parallel_for(k, [&](int i) {
      try {
        task(i);
      } catch (...) {
        failures_[static_cast<size_t>(i)] = std::current_exception();
      }
    });
    std::exception_ptr first;
    for (int i = 0; i < k; ++i) {
      std::exception_ptr failure = std::exchange(failures_[static_cast<size_t>(i)], nullptr);
      if (!first) first = failure;
    }
    if (first) std::rethrow_exception(first);
  }

  int threads_;
  double work_per_row_ = 0.0, widest_per_row_ = 0.0;
  std::vector<double> errors_;
  std::vector<std::exception_ptr> failures_;
};

// Threads for predict's `chunks` chunks of kEvaluationChunk rows: one when there is one chunk or
// a chunk's largest product goes to the BLAS (which threads it itself), else one per thread, each
// taking the next chunk, so that a slower vCPU takes fewer. The chunks' products then stay on the
// thread that runs the chunk (in_parallel_task): Eigen's large products are not split into column
// blocks, which may block a product differently at each thread count. So the chunks start at
// the same rows at any thread count, and a row's outputs are computed alike in any chunk:
// predictions are the same bit for bit at every thread count. (784-256-256-10 at 2 threads:
// 0.88-0.96 ms per 512 rows by chunks, 0.94-1.47 ms with its products in column blocks.)
template <class T>
int chunk_threads(const Sequential<T>& network, Index chunks) {
  const int threads = in_parallel_task() ? 1 : num_threads();
  if (chunks < 2 || threads < 2) return 1;
  const double widest = network.work_per_row().widest_per_row;
  if (blas() != nullptr && static_cast<double>(kEvaluationChunk) * widest >= kMinParallelWork)
    return 1;
  return static_cast<int>(std::min<Index>(threads, chunks));
}

// Whether the batches split into blocks of rows (RowBlocks) run their blocks on the pool's
// threads or one after another on the calling thread (InTurn): the same blocks either way, so
// the same results bit for bit; only the time differs. Measured, not guessed: this machine's
// second vCPU has phases in which it gives much less, and the S network (64-128-128-10, batch 32)
// then trained at 2 threads at 0.6× its 1-thread rate on the pool. Every split batch is timed,
// from the gradient to the update, into a running mean of the way it ran; every kProbeEvery
// batches, kProbeRun batches run the other way, for a fresh estimate of it; and the fit changes
// way when the other one's estimate is below kMargin× the current one's (so either way is kept
// until the other is clearly faster). The first batch after a change of way or an epoch's end is
// not counted (of a probe's 3 batches, 2 are): the pool's first batch after a pause pays for
// waking its workers. (Timing only a few batches at each epoch's start missed slow phases: the
// second vCPU's stalls come and go within milliseconds.)
class Pace {
 public:
  bool on_pool() const {
    const int fixed = split_pace.load(std::memory_order_relaxed);
    if (fixed != 0) return fixed == 1;
    return way() == kPool;
  }
  void start_epoch() { warm_ = false; }
  void record(double seconds) {
    const int way = this->way();
    const bool counted = warm_ && way == last_way_;
    warm_ = true;
    last_way_ = way;
    if (probe_left_ > 0) {  // a probe: its mean becomes the other way's estimate
      if (counted) probe_sum_ += seconds, ++probe_count_;
      if (--probe_left_ == 0 && probe_count_ > 0) estimate_[way] = probe_sum_ / probe_count_;
    } else if (counted) {
      double& mean = estimate_[way];
      mean = mean < 0.0 ? seconds : mean + (seconds - mean) / 8.0;
    }
    if (probe_left_ == 0 && ++since_probe_ >= kProbeEvery) {
      since_probe_ = 0, probe_left_ = kProbeRun, probe_sum_ = 0.0, probe_count_ = 0;
    }
    const double here = estimate_[current_], there = estimate_[1 - current_];
    if (probe_left_ == 0 && here >= 0.0 && there >= 0.0 && there < kMargin * here)
      current_ = 1 - current_;
  }

 private:
  static constexpr int kPool = 0;  // the ways are 0, the pool, and 1, in turn
  static constexpr int kProbeEvery = 200, kProbeRun = 3;
  static constexpr double kMargin = 0.9;
  int way() const { return probe_left_ > 0 ? 1 - current_ : current_; }  // the batch at hand
  int current_ = kPool, last_way_ = kPool;
  bool warm_ = false;
  int since_probe_ = kProbeEvery - 8;  // the first probe early in the fit
  int probe_left_ = 0, probe_count_ = 0;
  double probe_sum_ = 0.0;
  double estimate_[2] = {-1.0, -1.0};  // seconds a batch, on the pool and in turn (< 0: none)
};

std::string where(Index epoch, Index batch) {
  return " at epoch " + std::to_string(epoch) + ", batch " + std::to_string(batch) +
         "; the model keeps the weights from before this batch";
}

// Σ_i w_i ℓ_i over all the rows of data, evaluated in chunks of the workspace's capacity without
// dropout (no update), each chunk's outputs added to metric.
template <class T>
double chunked_error(const Sequential<T>& network, const Dataset<T>& data, const Loss& loss,
                     Workspace<T>& workspace, Metric<T>& metric) {
  const Index n = data.X.rows();
  const bool weighted = data.weights.size() != 0;
  double summed = 0.0;
  for (Index start = 0; start < n; start += workspace.capacity) {
    const Index m = std::min(workspace.capacity, n - start);
    const ConstVectorRef<T> wb = weighted ? ConstVectorRef<T>(data.weights.segment(start, m))
                                          : ConstVectorRef<T>(data.weights);
    const auto yb = data.Y.middleRows(start, m);
    const auto output = network.forward(data.X.middleRows(start, m), workspace);
    summed += network.summed_error(loss, yb, wb, workspace);
    metric.add(output, yb, wb);
  }
  return summed;
}

// What the validation data needs at every epoch end, allocated once.
template <class T>
struct Validation {
  Validation(const Sequential<T>& network, const Dataset<T>& data, Reduction* reduction)
      : data(data),
        workspace(
            network.make_workspace(std::clamp(data.X.rows(), Index{1}, kEvaluationChunk), false)),
        metric(metric_for(network.output_activation()), data.Y, data.weights, reduction),
        total_weight(weight_sum<T>(data.weights, data.X.rows())) {
    if (reduction != nullptr) reduction->sum(Eigen::Map<Eigen::VectorXd>(&total_weight, 1));
  }

  const Dataset<T>& data;
  Workspace<T> workspace;
  Metric<T> metric;
  double total_weight;  // Σ_i w_i (over the ranks)
};

// Throws std::invalid_argument if a batch of an epoch (the last one: the remainder) would have
// fewer rows than a layer needs in training (a batch normalisation: 2), as torch refuses them.
template <class T>
void check_batch_rows(const Sequential<T>& network, Index n, Index batch_size) {
  const Index needed = network.min_training_rows();
  if (needed <= 1 || batch_size < 1) return;
  const Index smallest = n <= batch_size ? n : (n % batch_size == 0 ? batch_size : n % batch_size);
  if (smallest < needed)
    throw std::invalid_argument(
        "the network's layers need at least " + std::to_string(needed) +
        " rows per training batch (a batch normalisation's variance needs 2), but " +
        std::to_string(n) + " rows in batches of " + std::to_string(batch_size) +
        " leave a batch of " + std::to_string(smallest) +
        "; choose another batch_size or drop a row");
}

// Throws std::invalid_argument unless the data, the options and the loss fit the network; in a
// data-parallel fit, one rank's failure is raised on every rank.
template <class T>
void check_fit(const Sequential<T>& network, const Dataset<T>& train, const Dataset<T>* validation,
               const FitOptions& options, Reduction* reduction) {
  std::exception_ptr failure;
  try {
    network.check_batch(train.X, &train.Y, &train.weights);
    if (validation != nullptr && (reduction == nullptr || validation->X.rows() > 0))
      network.check_batch(validation->X, &validation->Y, &validation->weights);
    options.loss.check_output_activation(network.output_activation());
    options.loss.check_targets<T>(train.Y);
    if (validation != nullptr) options.loss.check_targets<T>(validation->Y);
    check(options);
    check_batch_rows(network, train.X.rows(), options.batch_size);
  } catch (...) {
    if (reduction == nullptr) throw;
    failure = std::current_exception();
  }
  if (reduction != nullptr) reduction->agree(failure);
}

// What an epoch adds up over its batches: Σ_B Σ_{i∈B} w_i ℓ_i (or, with EpochLoss::batch_mean,
// Σ_B m_B·Σ_{i∈B} w_i ℓ_i / W_B), the penalties the same way, and the gradient norms.
struct EpochSums {
  double error = 0.0, penalty = 0.0, gradient_norm = 0.0;
};

// One call of fit: its buffers, allocated before the first batch, and the state it carries from
// batch to batch and epoch to epoch. The arguments are checked (check_fit).
//
// What runs once per fit or per epoch is kept out of line ([[gnu::cold]], [[gnu::noinline]]):
// inlined into the loop, it left the compiler no budget to inline the batch's own code, and T
// (2-16-1 at batch 1, where the loop's overhead shows) ran 3.6% more instructions per batch than
// when fit was one function; kept out, 1.5% (callgrind).
template <class T>
class Training {
 public:
  [[gnu::cold]] Training(Sequential<T>& network, Optimizer<T>& optimizer, Random& random,
                         const Dataset<T>& train, const Dataset<T>* validation,
                         const FitOptions& options, const FitHooks& hooks);
  FitResult run();

 private:
  [[gnu::noinline]] void start_epoch();  // not cold: its shuffle is part of every epoch's time
  void weigh_batches();
  [[gnu::cold]] void mark_failed();
  bool train_epoch(Index epoch, EpochSums& sums);
  double compute_gradient(Index epoch, Index batch, GradientSize& gradient, int& blocks,
                          double& penalty);
  double add_penalty(Index batch);
  double propagate(Index epoch, Index batch, GradientSize& gradient, int& blocks);
  double propagate_row(Index epoch, Index batch, Index start);
  void update(Index epoch, Index batch, const GradientSize& gradient, int blocks);
  [[gnu::cold]] void finish_epoch(EpochRecord& record, EpochSums& sums);
  [[gnu::cold]] void reduce_epoch_sums(double& summed_error, double& validation_error);
  [[gnu::cold]] std::optional<StopReason> stop_rule(const EpochRecord& record, bool callback_stops);

  Sequential<T>& network_;
  Optimizer<T>& optimizer_;
  Random& random_;
  const Dataset<T>& train_;
  const FitOptions& options_;
  const FitHooks& hooks_;
  Reduction* const reduction_;
  const Index n_, batch_size_;
  const bool weighted_, dropout_;
  // Whether the batches' weights change from epoch to epoch: a shuffle changes them when rows have
  // weights (in a data-parallel fit, where every rank makes the same calls, on any rank).
  const bool reweigh_;
  Index batches_;                  // per epoch (the most any rank has, in a data-parallel fit)
  Eigen::VectorXd batch_weights_;  // of the epoch's batches: Σ_{i∈B} w_i, B over the ranks
  double total_weight_;            // Σ_i w_i over the training rows (of every rank)
  RowBlocks<T> blocks_;
  Pace pace_;  // whether split batches run on the pool's threads or in turn
  std::optional<OneSample<T>> one_sample_;  // batches of one row take it (one_sample.hpp)
  // Shuffled batches are gathered into these; unshuffled batches are views of X, Y and w.
  Matrix<T> X_batch_, Y_batch_;
  Vector<T> w_batch_;
  std::vector<Index> order_;
  Vector<T> previous_parameters_;
  // An upper bound on max_i |θ_i|: exact at the start of every epoch (an epoch-end callback may
  // change θ), then each unchecked step adds its bound, widened by 4ε for the roundings of η·g
  // and of θ − η·g.
  double parameter_bound_;
  Vector<T> penalty_;  // λ_j of FitOptions::penalty (empty: none)
  Metric<T> metric_;
  std::optional<Validation<T>> validation_;
  double best_loss_ = std::numeric_limits<double>::infinity();
  Index epochs_without_improvement_ = 0;
};

// The lengths of an epoch's batches: batch_size and the remainder.
std::vector<Index> batch_lengths(Index n, Index batch_size) {
  std::vector<Index> lengths{batch_size};
  if (n % batch_size != 0) lengths.push_back(n % batch_size);
  return lengths;
}

template <class T>
bool has_dropout(const Sequential<T>& network) {
  return network.draws();
}

template <class T>
Training<T>::Training(Sequential<T>& network, Optimizer<T>& optimizer, Random& random,
                      const Dataset<T>& train, const Dataset<T>* validation,
                      const FitOptions& options, const FitHooks& hooks)
    : network_(network),
      optimizer_(optimizer),
      random_(random),
      train_(train),
      options_(options),
      hooks_(hooks),
      reduction_(hooks.reduction),
      n_(train.X.rows()),
      batch_size_(std::min(options.batch_size, n_)),
      weighted_(train.weights.size() != 0),
      dropout_(has_dropout(network)),
      reweigh_(options.shuffle && (weighted_ || reduction_ != nullptr)),
      batches_((n_ + batch_size_ - 1) / batch_size_),
      total_weight_(weight_sum<T>(train.weights, n_)),
      // Batches are split into blocks of rows on the threads, unless dropout draws masks (from
      // one generator, in order), a layer mixes rows (a batch normalisation) or learns a state
      // from whole batches (update_state follows a whole batch's forward pass).
      blocks_(network, batch_lengths(n_, batch_size_),
              network.rows_independent() && !network.has_state() ? num_threads() : 1),
      // A data-parallel fit checks each batch (FitHooks::reduction): it stays on the general path.
      one_sample_(reduction_ == nullptr ? OneSample<T>::plan(network) : std::nullopt),
      X_batch_(options.shuffle ? batch_size_ : 0, train.X.cols()),
      Y_batch_(options.shuffle ? batch_size_ : 0, train.Y.cols()),
      w_batch_(options.shuffle && weighted_ ? batch_size_ : 0),
      order_(static_cast<size_t>(n_)),
      previous_parameters_(network.parameters().size()),
      parameter_bound_(max_abs<T>(network.parameters())),
      penalty_(Eigen::Map<const Eigen::VectorXd>(options.penalty.data(),
                                                 static_cast<Index>(options.penalty.size()))
                   .cast<T>()),
      metric_(metric_for(network.output_activation()), train.Y, train.weights, reduction_) {
  if (penalty_.size() != 0 && penalty_.size() != network.parameters().size())
    throw std::invalid_argument("penalty needs one entry per parameter (" +
                                std::to_string(network.parameters().size()) + "), got " +
                                std::to_string(penalty_.size()));
  if (reduction_ != nullptr &&
      (penalty_.size() != 0 || options.epoch_loss != EpochLoss::weighted_mean))
    throw std::invalid_argument(
        "penalty and epoch_loss='batch_mean' are not available in a data-parallel fit");
  if (reduction_ != nullptr) {
    batches_ = reduction_->max(batches_);
    reduction_->sum(Eigen::Map<Eigen::VectorXd>(&total_weight_, 1));
  }
  if (!(total_weight_ > 0.0)) throw std::invalid_argument("sample_weight must not sum to 0");
  std::iota(order_.begin(), order_.end(), Index{0});
  batch_weights_.resize(batches_);
  if (!reweigh_) weigh_batches();  // the same in every epoch
  if (validation != nullptr) validation_.emplace(network, *validation, reduction_);
}

template <class T>
FitResult Training<T>::run() {
  FitResult result;
  for (Index epoch = 1; epoch <= options_.epochs; ++epoch) {
    start_epoch();
    EpochRecord record;
    record.epoch = epoch;
    record.learning_rate = optimizer_.learning_rate();
    EpochSums sums;
    if (!train_epoch(epoch, sums)) {
      result.stop_reason = StopReason::interrupted;
      return result;
    }
    finish_epoch(record, sums);
    result.epochs.push_back(record);
    const bool callback_stops = hooks_.on_epoch_end && hooks_.on_epoch_end(record);
    parameter_bound_ = max_abs<T>(network_.parameters());
    if (const auto reason = stop_rule(record, callback_stops)) {
      result.stop_reason = *reason;
      return result;
    }
  }
  result.stop_reason = StopReason::max_epochs;
  return result;
}

// Each epoch's order is a fresh permutation of 0..n−1 drawn from the generator alone, so that
// fit(epochs=a) then fit(epochs=b) trains exactly like fit(epochs=a+b).
template <class T>
void Training<T>::start_epoch() {
  if (options_.shuffle) {
    std::iota(order_.begin(), order_.end(), Index{0});
    random_.shuffle(order_.begin(), order_.end());
  }
  metric_.reset();
  if (reweigh_) weigh_batches();
  pace_.start_epoch();
}

// The weight of each batch, the normaliser of its gradient: Σ_i w_i over its rows, in their order
// (every gradient is divided by it), summed over the ranks in a data-parallel fit.
template <class T>
void Training<T>::weigh_batches() {
  for (Index batch = 0; batch < batches_; ++batch) {
    const Index start = std::min(batch * batch_size_, n_), end = std::min(start + batch_size_, n_);
    double sum = static_cast<double>(end - start);
    if (weighted_) {
      sum = 0.0;
      for (Index j = start; j < end; ++j)
        sum += static_cast<double>(train_.weights[options_.shuffle ? order_[j] : j]);
    }
    batch_weights_[batch] = sum;
  }
  if (reduction_ != nullptr) reduction_->sum(batch_weights_);
}

// The batches of one epoch, their errors, penalties and gradient norms summed (EpochSums);
// false when interrupted.
template <class T>
bool Training<T>::train_epoch(Index epoch, EpochSums& sums) {
  const bool batch_mean = options_.epoch_loss == EpochLoss::batch_mean;
  for (Index batch = 1; batch <= batches_; ++batch) {
    if (hooks_.interrupted && hooks_.interrupted()) return false;
    GradientSize gradient;
    int blocks = 1;
    double penalty = 0.0;
    const Index start = (batch - 1) * batch_size_;
    const Index m = std::min(batch_size_, n_ - start);  // < 0: none on this rank
    const bool split = blocks_.count(m) > 1;            // on the pool or in turn (Pace)
    std::optional<InTurn> in_turn;
    if (split && !pace_.on_pool()) {
      in_turn.emplace();
      split_in_turn_count.fetch_add(1, std::memory_order_relaxed);
    }
    const auto began = split ? Clock::now() : Clock::time_point{};
    const double error = compute_gradient(epoch, batch, gradient, blocks, penalty);
    update(epoch, batch, gradient, blocks);
    if (split) pace_.record(std::chrono::duration<double>(Clock::now() - began).count());
    const double weight = batch_weights_[batch - 1];
    const double rows = static_cast<double>(m);
    if (!batch_mean) {
      sums.error += error;
      sums.penalty += weight * penalty;
    } else if (weight > 0.0) {  // m_B · (a batch's weighted mean)
      sums.error += rows * (error / weight);
      sums.penalty += rows * penalty;
    }
    sums.gradient_norm += gradient.norm;
  }
  return true;
}

// g ← g + λ ⊙ θ · W/W_B for batch B (1-based; nothing for a batch of weight 0); returns the
// batch's penalty ½ Σ_j λ_j θ_j² · W/W_B at the parameters before its update.
template <class T>
double Training<T>::add_penalty(Index batch) {
  const double weight = batch_weights_[batch - 1];
  if (!(weight > 0.0)) return 0.0;
  const double share = total_weight_ / weight;
  const Vector<T>& theta = network_.parameters();
  network_.gradients().array() += static_cast<T>(share) * penalty_.array() * theta.array();
  return 0.5 * share *
         (penalty_.template cast<double>().array() * theta.template cast<double>().array().square())
             .sum();
}

// The gradient of a batch (1-based) into network.gradients(), summed over the ranks in a
// data-parallel fit, with the penalty's gradient (its value into `penalty`), and its size;
// returns the batch's Σ_i w_i ℓ_i. blocks: the blocks of rows
// the batch was split into. In a data-parallel fit a failing rank sends a NaN gradient, so that
// every rank sees, after the same sum, that a rank failed and raises its failure.
template <class T>
double Training<T>::compute_gradient(Index epoch, Index batch, GradientSize& gradient, int& blocks,
                                     double& penalty) {
  double error = 0.0;
  std::exception_ptr failure;
  try {
    error = propagate(epoch, batch, gradient, blocks);
  } catch (...) {
    if (reduction_ == nullptr) throw;
    failure = std::current_exception();
    mark_failed();
  }
  if (reduction_ != nullptr) reduction_->sum(network_.gradients());
  // ½ Σ λ_j θ_j² · W/W_B before the update, and its gradient λ_j θ_j · W/W_B
  const bool penalised = penalty_.size() != 0;
  if (penalised) penalty = add_penalty(batch);
  // A split batch has measured the parts of its gradient while they were in cache (before the
  // penalty's gradient was added).
  if (reduction_ != nullptr || blocks == 1 || penalised)
    gradient = measure<T>(network_.gradients());
  if (!std::isfinite(gradient.norm)) {
    if (reduction_ != nullptr) reduction_->agree(failure);
    throw DivergenceError("training diverged: non-finite gradient" + where(epoch, batch));
  }
  return error;
}

// A rank whose batch failed sends a NaN gradient, which every rank sees after the sum.
template <class T>
void Training<T>::mark_failed() {
  network_.gradients().setConstant(std::numeric_limits<T>::quiet_NaN());
}

// Forward and backward propagation of this rank's rows of a batch (none: a zero gradient), the
// outputs added to the metric; see compute_gradient. A split batch also measures the gradient.
template <class T>
double Training<T>::propagate(Index epoch, Index batch, GradientSize& gradient, int& blocks) {
  const Index start = std::min((batch - 1) * batch_size_, n_);
  const Index m = std::min(batch_size_, n_ - start);
  if (m == 0) {
    network_.gradients().setZero();
    return 0.0;
  }
  if (m == 1 && one_sample_) return propagate_row(epoch, batch, start);
  if (options_.shuffle) {
    for (Index j = 0; j < m; ++j) {
      const Index row = order_[static_cast<size_t>(start + j)];
      X_batch_.row(j) = train_.X.row(row);
      Y_batch_.row(j) = train_.Y.row(row);
      if (weighted_) w_batch_[j] = train_.weights[row];
    }
  }
  const ConstMatrixRef<T> xb =
      options_.shuffle ? ConstMatrixRef<T>(X_batch_.topRows(m)) : train_.X.middleRows(start, m);
  const ConstMatrixRef<T> yb =
      options_.shuffle ? ConstMatrixRef<T>(Y_batch_.topRows(m)) : train_.Y.middleRows(start, m);
  const ConstVectorRef<T> wb = !weighted_ ? ConstVectorRef<T>(w_batch_.head(0))
                               : options_.shuffle
                                   ? ConstVectorRef<T>(w_batch_.head(m))
                                   : ConstVectorRef<T>(train_.weights.segment(start, m));
  if (reduction_ != nullptr) network_.check_batch(xb, &yb, &wb);
  const double weight = batch_weights_[batch - 1];
  Workspace<T>& workspace = blocks_.workspace;
  blocks = blocks_.count(m);
  double error;
  if (blocks == 1) {
    const auto output = network_.forward(xb, workspace, dropout_ ? &random_ : nullptr);
    if (network_.has_state()) network_.update_state(workspace, m);
    error = network_.summed_error(options_.loss, yb, wb, workspace);
    if (!std::isfinite(error))
      throw DivergenceError("training diverged: non-finite loss" + where(epoch, batch));
    metric_.add(output, yb, wb);
    network_.backward(options_.loss, xb, yb, wb, weight, workspace);
  } else {
    error = blocks_.propagate(network_, options_.loss, xb, yb, wb, weight, metric_, gradient);
    if (!std::isfinite(error))
      throw DivergenceError("training diverged: non-finite loss" + where(epoch, batch));
  }
  return error;
}

// propagate for a batch of one row (the row at `start` of the epoch's order) on the one-sample
// path: the same numbers, without the batch copy and the chain's dispatch.
template <class T>
double Training<T>::propagate_row(Index epoch, Index batch, Index start) {
  const Index row = options_.shuffle ? order_[static_cast<size_t>(start)] : start;
  const T* x = train_.X.row(row).data();
  Workspace<T>& workspace = blocks_.workspace;
  one_sample_->forward(network_, x, workspace);
  if (one_sample_->one_output()) {  // the loss of one entry, without the views of a batch
    const T* weight = weighted_ ? train_.weights.data() + row : nullptr;
    const T z = OneSample<T>::logit(workspace), a = OneSample<T>::output(workspace);
    const T target = train_.Y(row, 0);
    const double error = one_output_error<T>(options_.loss, z, a, target, weight);
    if (!std::isfinite(error))
      throw DivergenceError("training diverged: non-finite loss" + where(epoch, batch));
    metric_.add_one(a, target, weight);
    OneSample<T>::error(workspace) =
        one_output_delta<T>(options_.loss, network_.output_activation(), z, a, target, weight,
                            batch_weights_[batch - 1]);
    one_sample_->backward(network_, x, workspace, network_.gradients().data());
    return error;
  }
  const ConstMatrixRef<T> y = train_.Y.middleRows(row, 1);
  const ConstVectorRef<T> w = weighted_ ? ConstVectorRef<T>(train_.weights.segment(row, 1))
                                        : ConstVectorRef<T>(w_batch_.head(0));
  const double error = network_.summed_error(options_.loss, y, w, workspace);
  if (!std::isfinite(error))
    throw DivergenceError("training diverged: non-finite loss" + where(epoch, batch));
  metric_.add(network_.output(workspace, 0, 1), y, w);
  network_.output_errors(options_.loss, y, w, batch_weights_[batch - 1], workspace);
  one_sample_->backward(network_, x, workspace, network_.gradients().data());
  return error;
}

// θ ← the optimizer's step from g (finite here; θ is when parameter_bound_ is). A step whose bound
// keeps every |θ_i| below half the largest T cannot overflow: it needs no copy for a rollback and
// no check. Any other step is checked, and rolled back if θ or the optimizer's state (Adam's g²,
// say) became non-finite: the optimizer then puts its state back itself. A split batch has
// its threads at hand (the pool is awake): the step is taken in one range per block, on the pool.
template <class T>
void Training<T>::update(Index epoch, Index batch, const GradientSize& gradient, int blocks) {
  const double safe_magnitude = Optimizer<T>::kSafeMagnitude;
  const double rounding = Optimizer<T>::kRoundingSlack;
  const int ranges = blocks > 1 ? blocks : 0;
  const double step = optimizer_.step_bound(gradient.max_abs_bound);
  if (parameter_bound_ + step < safe_magnitude) {
    optimizer_.step(network_.parameters(), network_.gradients(), ranges);
    parameter_bound_ = (parameter_bound_ + step) * rounding;
    return;
  }
  if (!optimizer_.checked_step(network_.parameters(), network_.gradients(), previous_parameters_,
                               ranges)) {
    network_.parameters() = previous_parameters_;
    throw DivergenceError(
        "training diverged: the update made parameters or the optimizer's state non-finite" +
        where(epoch, batch));
  }
  parameter_bound_ = std::isfinite(step) ? max_abs<T>(network_.parameters())
                                         : std::numeric_limits<double>::infinity();
}

// The epoch's loss, metric, mean gradient norm and validation loss and metric into record.
template <class T>
void Training<T>::finish_epoch(EpochRecord& record, EpochSums& sums) {
  double& summed_error = sums.error;
  double validation_error = 0.0;
  if (validation_) {
    validation_->metric.reset();
    validation_error = chunked_error(network_, validation_->data, options_.loss,
                                     validation_->workspace, validation_->metric);
  }
  if (reduction_ != nullptr) reduce_epoch_sums(summed_error, validation_error);
  const double count =
      options_.epoch_loss == EpochLoss::batch_mean ? static_cast<double>(n_) : total_weight_;
  record.loss = summed_error / count;
  record.has_penalty = penalty_.size() != 0;
  record.penalty = sums.penalty / count;
  record.metric = metric_.value();
  record.gradient_norm = sums.gradient_norm / static_cast<double>(batches_);
  if (validation_) {
    record.has_validation = true;
    record.validation_loss =
        validation_->total_weight > 0.0 ? validation_error / validation_->total_weight : 0.0;
    record.validation_metric = validation_->metric.value();
  }
}

// The epoch's sums over the ranks, in one reduction: [Σ w ℓ, metric sums, validation Σ w ℓ,
// validation metric sums].
template <class T>
void Training<T>::reduce_epoch_sums(double& summed_error, double& validation_error) {
  Eigen::VectorXd& metric = metric_.sums();
  const Index a = metric.size(), b = validation_ ? validation_->metric.sums().size() : 0;
  Eigen::VectorXd sums(2 + a + b);
  sums[0] = summed_error;
  sums.segment(1, a) = metric;
  sums[1 + a] = validation_error;
  if (validation_) sums.tail(b) = validation_->metric.sums();
  reduction_->sum(sums);
  summed_error = sums[0];
  metric = sums.segment(1, a);
  validation_error = sums[1 + a];
  if (validation_) validation_->metric.sums() = sums.tail(b);
}

// Whether training stops after this epoch, and why: the target loss is reached, the loss has
// not improved on the best by more than tol for n_iter_no_change epochs, or the callback asks.
template <class T>
std::optional<StopReason> Training<T>::stop_rule(const EpochRecord& record, bool callback_stops) {
  if (record.loss < best_loss_ - options_.tol)
    epochs_without_improvement_ = 0;
  else
    ++epochs_without_improvement_;
  best_loss_ = std::min(best_loss_, record.loss);
  if (options_.target_loss && record.loss <= *options_.target_loss) return StopReason::target_loss;
  if (options_.n_iter_no_change > 0 && epochs_without_improvement_ >= options_.n_iter_no_change)
    return StopReason::no_improvement;
  if (callback_stops) return StopReason::callback;
  return std::nullopt;
}

std::string real(double value) {
  std::ostringstream text;
  text << value;
  return text.str();
}

}  // namespace

void check(const FitOptions& options) {
  if (options.epochs < 1)
    throw std::invalid_argument("epochs must be >= 1, got " + std::to_string(options.epochs));
  if (options.batch_size < 1)
    throw std::invalid_argument("batch_size must be >= 1, got " +
                                std::to_string(options.batch_size));
  if (options.target_loss && std::isnan(*options.target_loss))
    throw std::invalid_argument("target_loss must not be NaN");
  if (!std::isfinite(options.tol) || options.tol < 0.0)
    throw std::invalid_argument("tol must be finite and >= 0, got " + real(options.tol));
  if (options.n_iter_no_change < 0)
    throw std::invalid_argument("n_iter_no_change must be >= 0, got " +
                                std::to_string(options.n_iter_no_change));
  if (!std::isfinite(options.loss.delta) || options.loss.delta <= 0.0)
    throw std::invalid_argument("huber_delta must be finite and > 0, got " +
                                real(options.loss.delta));
  for (const double lambda : options.penalty)
    if (!std::isfinite(lambda) || lambda < 0.0)
      throw std::invalid_argument("penalty entries must be finite and >= 0, got " + real(lambda));
}

std::int64_t split_batches() { return split_count.load(std::memory_order_relaxed); }
std::int64_t split_batches_in_turn() { return split_in_turn_count.load(std::memory_order_relaxed); }
std::vector<int> simulate_split_pace(const std::vector<double>& pool_seconds,
                                     const std::vector<double>& in_turn_seconds) {
  if (pool_seconds.size() != in_turn_seconds.size())
    throw std::invalid_argument("simulate_split_pace needs as many times of each way");
  Pace pace;
  std::vector<int> ways;
  for (size_t i = 0; i < pool_seconds.size(); ++i) {
    const bool pool = pace.on_pool();
    ways.push_back(pool ? 0 : 1);
    pace.record(pool ? pool_seconds[i] : in_turn_seconds[i]);
  }
  return ways;
}

void set_split_pace(int choice) {
  if (choice < 0 || choice > 2) throw std::invalid_argument("split pace must be 0, 1 or 2");
  split_pace.store(choice, std::memory_order_relaxed);
}

template <class T>
FitResult fit(Sequential<T>& network, Optimizer<T>& optimizer, Random& random,
              const Dataset<T>& train, const Dataset<T>* validation, const FitOptions& options,
              const FitHooks& hooks) {
  check_fit(network, train, validation, options, hooks.reduction);
  Training<T> training(network, optimizer, random, train, validation, options, hooks);
  return training.run();
}

template <class T>
Evaluation evaluate(const Sequential<T>& network, const Dataset<T>& data, const Loss& loss) {
  network.check_batch(data.X, &data.Y, &data.weights);
  loss.check_output_activation(network.output_activation());
  loss.check_targets<T>(data.Y);
  const Index n = data.X.rows();
  Workspace<T> workspace = network.make_workspace(std::min(n, kEvaluationChunk), false);
  Metric<T> metric(metric_for(network.output_activation()), data.Y, data.weights);
  const double summed = chunked_error(network, data, loss, workspace, metric);
  const double total = weight_sum<T>(data.weights, n);
  return Evaluation{total > 0.0 ? summed / total : 0.0, metric.value()};
}

template <class T>
void predict(const Sequential<T>& network, const ConstMatrixRef<T>& X, Eigen::Ref<Matrix<T>> out) {
  network.check_batch(X);
  if (out.rows() != X.rows() || out.cols() != network.n_outputs())
    throw std::invalid_argument("output buffer has the wrong shape");
  const Index n = X.rows();
  const Index chunks = (n + kEvaluationChunk - 1) / kEvaluationChunk;
  const int k = chunk_threads(network, chunks);
  std::vector<Workspace<T>> workspaces;
  for (int i = 0; i < k; ++i)
    workspaces.push_back(network.make_workspace(std::min(n, kEvaluationChunk), false));
  std::atomic<Index> next{0};
  std::vector<std::exception_ptr> failures(static_cast<size_t>(k));
  parallel_for(k, [&](int i) {
    try {  // chunk c is rows [c·kEvaluationChunk, …), whichever thread takes it
      for (Index c = next.fetch_add(1); c < chunks; c = next.fetch_add(1)) {
        const Index start = c * kEvaluationChunk, m = std::min(kEvaluationChunk, n - start);
        out.middleRows(start, m) =
            network.forward(X.middleRows(start, m), workspaces[static_cast<size_t>(i)]);
      }
    } catch (...) {
      failures[static_cast<size_t>(i)] = std::current_exception();
    }
  });
  for (const std::exception_ptr& failure : failures)
    if (failure) std::rethrow_exception(failure);
}

#define NNCORE_INSTANTIATE(T)                                                            \
  template FitResult fit<T>(Sequential<T>&, Optimizer<T>&, Random&, const Dataset<T>&,   \
                            const Dataset<T>*, const FitOptions&, const FitHooks&);      \
  template Evaluation evaluate<T>(const Sequential<T>&, const Dataset<T>&, const Loss&); \
  template void predict<T>(const Sequential<T>&, const ConstMatrixRef<T>&, Eigen::Ref<Matrix<T>>);
NNCORE_INSTANTIATE(float)
NNCORE_INSTANTIATE(double)
#undef NNCORE_INSTANTIATE

}  // namespace nncore
