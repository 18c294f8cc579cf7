#include "nncore/training.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <limits>
#include <numeric>
#include <utility>
#include <vector>

#include "nncore/metric.hpp"
#include "nncore/parallel.hpp"

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

std::atomic<std::int64_t> split_count{0};  // see split_batches

void check_options(const FitOptions& options) {
  if (options.epochs < 1) throw std::invalid_argument("epochs must be >= 1");
  if (options.batch_size < 1) throw std::invalid_argument("batch_size must be >= 1");
  if (!std::isfinite(options.tol) || options.tol < 0.0)
    throw std::invalid_argument("tol must be finite and >= 0");
  if (options.n_iter_no_change < 0) throw std::invalid_argument("n_iter_no_change must be >= 0");
  if (options.has_target_loss && std::isnan(options.target_loss))
    throw std::invalid_argument("target_loss must not be NaN");
}

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

// ‖g‖₂ and max_i |g_i| of a gradient.
struct GradientSize {
  double norm = 0.0;
  double max_abs = 0.0;
};

// ‖v‖₂ and max_i |v_i| from k partial sums of squares (in T, added in order) and partial maxima.
// Only when the sum overflows (or v holds inf/NaN) is the norm redone in double, where a finite
// vector's norm is always finite.
template <class T>
GradientSize combine(const Vector<T>& v, const T* squares, const T* largest, int k) {
  const T fast = std::accumulate(squares + 1, squares + k, squares[0]);
  GradientSize size;
  size.max_abs = static_cast<double>(*std::max_element(largest, largest + k));
  size.norm = std::isfinite(fast) ? std::sqrt(static_cast<double>(fast))
                                  : std::sqrt(v.template cast<double>().squaredNorm());
  return size;
}

// Σ v_i² (in T) and max_i |v_i| over the entries [begin, end) of v, a piece (kCachePiece) at a
// time: the partial results of a parallel range.
template <class T>
void measure_range(const Vector<T>& v, Index begin, Index end, T& squares, T& largest) {
  T sum = 0, max = 0;
  for (Index start = begin; start < end; start += kCachePiece) {
    const auto piece = v.segment(start, std::min(kCachePiece, end - start));
    sum += piece.squaredNorm();
    max = std::max(max, piece.cwiseAbs().maxCoeff());
  }
  squares = sum;
  largest = max;
}

// ‖v‖₂ and max_i |v_i| in parallel ranges (range_count).
template <class T>
GradientSize measure(const Vector<T>& v) {
  const int k = range_count(v.size());
  T squares[kMaxRanges], largest[kMaxRanges];
  parallel_ranges(v.size(), k, [&](int i, Index begin, Index end) {
    measure_range<T>(v, begin, end, squares[i], largest[i]);
  });
  return combine<T>(v, squares, largest, k);
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
//   1. each block's forward pass and errors dZ (Network::propagate_errors) at its own rows of one
//      workspace, and its rows' terms of the summed error;
//   2. the batch's gradient in k parts (Network::gradient_part: nearly the ranges the update
//      then hands each thread), each part's Σg² and max|g| measured while it is in cache.
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
    T squares[kMaxRanges], largest[kMaxRanges];
    Vector<T>& g = network.gradients();
    run(k, [&](int i) {
      const auto [begin, end] = network.gradient_part(i, k);
      network.accumulate_gradients(X, workspace, g, begin, end);
      measure_range<T>(g, begin, end, squares[i], largest[i]);
    });
    gradient = combine<T>(g, squares, largest, k);
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

std::string where(Index epoch, Index batch) {
  return " at epoch " + std::to_string(epoch) + ", batch " + std::to_string(batch) +
         "; the model keeps the weights from before this batch";
}

}  // namespace

std::int64_t split_batches() { return split_count.load(std::memory_order_relaxed); }

template <class T>
FitResult fit(Sequential<T>& network, Optimizer<T>& optimizer, Random& random,
              const Dataset<T>& train, const Dataset<T>* validation, const Loss& loss,
              const FitOptions& options, const EpochCallback& on_epoch_end,
              const InterruptCheck& interrupted) {
  const auto& X = train.X;
  const auto& Y = train.Y;
  const auto& w = train.weights;
  const bool weighted = w.size() != 0;
  network.check_batch(X, &Y, &w);
  if (validation != nullptr)
    network.check_batch(validation->X, &validation->Y, &validation->weights);
  loss.check_output_activation(network.output_activation());
  check_options(options);

  const Index n = X.rows();
  const Index batch_size = std::min(options.batch_size, n);
  const double total_weight = weight_sum<T>(w, n);
  if (!(total_weight > 0.0)) throw std::invalid_argument("sample_weight must not sum to 0");
  const bool dropout = network.draws();
  // Batches are split into blocks of rows on the threads, unless dropout draws masks (from one
  // generator, in order) or a layer mixes the rows (Sequential::rows_independent).
  std::vector<Index> lengths{batch_size};
  if (n % batch_size != 0) lengths.push_back(n % batch_size);
  RowBlocks<T> blocks(network, lengths, network.rows_independent() ? num_threads() : 1);
  Workspace<T>& workspace = blocks.workspace;
  // Shuffled batches are gathered into these; unshuffled batches are views of X, Y and w.
  Matrix<T> X_batch(options.shuffle ? batch_size : 0, X.cols());
  Matrix<T> Y_batch(options.shuffle ? batch_size : 0, Y.cols());
  Vector<T> w_batch(options.shuffle && weighted ? batch_size : 0);
  std::vector<Index> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), Index{0});
  Vector<T> previous_parameters(network.parameters().size());
  // An upper bound on max_i |θ_i|: exact at the start of every epoch (an epoch-end callback may
  // change θ), then each unchecked step adds its bound, widened by 4ε for the roundings of η·g
  // and of θ − η·g.
  double parameter_bound = max_abs<T>(network.parameters());
  const double safe_magnitude = 0.5 * static_cast<double>(std::numeric_limits<T>::max());
  const double rounding = 1.0 + 4.0 * static_cast<double>(std::numeric_limits<T>::epsilon());
  Metric<T> metric(metric_for(network.output_activation()), Y, w);

  FitResult result;
  double best_loss = std::numeric_limits<double>::infinity();
  Index epochs_without_improvement = 0;
  for (Index epoch = 1; epoch <= options.epochs; ++epoch) {
    // Each epoch's order is a fresh permutation of 0..n−1 drawn from the generator alone, so
    // that fit(epochs=a) then fit(epochs=b) trains exactly like fit(epochs=a+b).
    if (options.shuffle) {
      std::iota(order.begin(), order.end(), Index{0});
      random.shuffle(order.begin(), order.end());
    }
    metric.reset();
    EpochRecord record;
    record.epoch = epoch;
    record.learning_rate = optimizer.learning_rate();
    double summed_error = 0.0, summed_gradient_norm = 0.0;
    Index batches = 0;
    for (Index start = 0; start < n; start += batch_size) {
      if (interrupted && interrupted()) {
        result.stop_reason = StopReason::interrupted;
        return result;
      }
      ++batches;
      const Index m = std::min(batch_size, n - start);
      if (options.shuffle) {
        for (Index j = 0; j < m; ++j) {
          const Index row = order[static_cast<size_t>(start + j)];
          X_batch.row(j) = X.row(row);
          Y_batch.row(j) = Y.row(row);
          if (weighted) w_batch[j] = w[row];
        }
      }
      const ConstMatrixRef<T> xb =
          options.shuffle ? ConstMatrixRef<T>(X_batch.topRows(m)) : X.middleRows(start, m);
      const ConstMatrixRef<T> yb =
          options.shuffle ? ConstMatrixRef<T>(Y_batch.topRows(m)) : Y.middleRows(start, m);
      const ConstVectorRef<T> wb = !weighted         ? ConstVectorRef<T>(w_batch.head(0))
                                   : options.shuffle ? ConstVectorRef<T>(w_batch.head(m))
                                                     : ConstVectorRef<T>(w.segment(start, m));

      const int k = blocks.count(m);
      double batch_error = 0.0;
      GradientSize gradient;
      if (k == 1) {
        const auto output = network.forward(xb, workspace, dropout ? &random : nullptr);
        batch_error = network.summed_error(loss, yb, wb, workspace);
        if (!std::isfinite(batch_error))
          throw DivergenceError("training diverged: non-finite loss" + where(epoch, batches));
        metric.add(output, yb, wb);
        network.backward(loss, xb, yb, wb, weight_sum<T>(wb, m), workspace);
        gradient = measure<T>(network.gradients());
      } else {
        batch_error =
            blocks.propagate(network, loss, xb, yb, wb, weight_sum<T>(wb, m), metric, gradient);
        if (!std::isfinite(batch_error))
          throw DivergenceError("training diverged: non-finite loss" + where(epoch, batches));
      }
      // A split batch has its threads at hand (the pool is awake): the step is taken in one range
      // per block, on the pool.
      const int ranges = k > 1 ? k : 0;
      const double gradient_norm = gradient.norm;
      if (!std::isfinite(gradient_norm))
        throw DivergenceError("training diverged: non-finite gradient" + where(epoch, batches));
      // g is finite here, and θ is when parameter_bound is. A step whose bound keeps every |θ_i|
      // below half the largest T cannot overflow: it needs no copy for a rollback and no check.
      const double step = optimizer.step_bound(gradient.max_abs);
      if (parameter_bound + step < safe_magnitude) {
        optimizer.step(network.parameters(), network.gradients(), ranges);
        parameter_bound = (parameter_bound + step) * rounding;
      } else {
        if (!optimizer.checked_step(network.parameters(), network.gradients(), previous_parameters,
                                    ranges)) {
          network.parameters() = previous_parameters;
          throw DivergenceError("training diverged: the update made parameters non-finite" +
                                where(epoch, batches));
        }
        parameter_bound = std::isfinite(step) ? max_abs<T>(network.parameters())
                                              : std::numeric_limits<double>::infinity();
      }
      summed_error += batch_error;
      summed_gradient_norm += gradient_norm;
    }

    record.loss = summed_error / total_weight;
    record.metric = metric.value();
    record.gradient_norm = summed_gradient_norm / static_cast<double>(batches);
    if (validation != nullptr) {
      const Evaluation evaluation = evaluate<T>(network, *validation, loss);
      record.has_validation = true;
      record.validation_loss = evaluation.loss;
      record.validation_metric = evaluation.metric;
    }
    result.epochs.push_back(record);
    if (record.loss < best_loss - options.tol)
      epochs_without_improvement = 0;
    else
      ++epochs_without_improvement;
    best_loss = std::min(best_loss, record.loss);

    const bool callback_stops = on_epoch_end && on_epoch_end(record);
    parameter_bound = max_abs<T>(network.parameters());
    if (options.has_target_loss && record.loss <= options.target_loss) {
      result.stop_reason = StopReason::target_loss;
      return result;
    }
    if (options.n_iter_no_change > 0 && epochs_without_improvement >= options.n_iter_no_change) {
      result.stop_reason = StopReason::no_improvement;
      return result;
    }
    if (callback_stops) {
      result.stop_reason = StopReason::callback;
      return result;
    }
  }
  result.stop_reason = StopReason::max_epochs;
  return result;
}

template <class T>
Evaluation evaluate(const Sequential<T>& network, const Dataset<T>& data, const Loss& loss) {
  network.check_batch(data.X, &data.Y, &data.weights);
  loss.check_output_activation(network.output_activation());
  const Index n = data.X.rows();
  const bool weighted = data.weights.size() != 0;
  Workspace<T> workspace = network.make_workspace(std::min(n, kEvaluationChunk), false);
  Metric<T> metric(metric_for(network.output_activation()), data.Y, data.weights);
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
  const double total = weight_sum<T>(data.weights, n);
  return Evaluation{total > 0.0 ? summed / total : 0.0, metric.value()};
}

template <class T>
void predict(const Sequential<T>& network, const ConstMatrixRef<T>& X, Eigen::Ref<Matrix<T>> out) {
  network.check_batch(X);
  if (out.rows() != X.rows() || out.cols() != network.n_outputs())
    throw std::invalid_argument("output buffer has the wrong shape");
  const Index n = X.rows();
  Workspace<T> workspace = network.make_workspace(std::min(n, kEvaluationChunk), false);
  for (Index start = 0; start < n; start += workspace.capacity) {
    const Index m = std::min(workspace.capacity, n - start);
    out.middleRows(start, m) = network.forward(X.middleRows(start, m), workspace);
  }
}

#define NNCORE_INSTANTIATE(T)                                                            \
  template FitResult fit<T>(Sequential<T>&, Optimizer<T>&, Random&, const Dataset<T>&,   \
                            const Dataset<T>*, const Loss&, const FitOptions&,           \
                            const EpochCallback&, const InterruptCheck&);                \
  template Evaluation evaluate<T>(const Sequential<T>&, const Dataset<T>&, const Loss&); \
  template void predict<T>(const Sequential<T>&, const ConstMatrixRef<T>&, Eigen::Ref<Matrix<T>>);
NNCORE_INSTANTIATE(float)
NNCORE_INSTANTIATE(double)
#undef NNCORE_INSTANTIATE

}  // namespace nncore
