#include "nncore/training.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

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

}  // namespace

template <class T>
FitResult fit(Network<T>& network, Optimizer<T>& optimizer, Random& random,
              const ConstMatrixRef<T>& X, const ConstMatrixRef<T>& Y, const Loss& loss,
              const FitOptions& options, const EpochCallback& on_epoch_end,
              const InterruptCheck& interrupted) {
  network.check_batch(X, &Y);
  loss.check_output_activation(network.activations().back());
  check_options(options);

  const Index n = X.rows();
  const Index batch_size = std::min(options.batch_size, n);
  Workspace<T> workspace = network.make_workspace(batch_size);
  // Shuffled batches are gathered into these; unshuffled batches are views of X and Y.
  Matrix<T> X_batch(options.shuffle ? batch_size : 0, X.cols());
  Matrix<T> Y_batch(options.shuffle ? batch_size : 0, Y.cols());
  std::vector<Index> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), Index{0});

  FitResult result;
  double best_loss = std::numeric_limits<double>::infinity();
  Index epochs_without_improvement = 0;
  for (Index epoch = 1; epoch <= options.epochs; ++epoch) {
    if (options.shuffle) random.shuffle(order.begin(), order.end());
    double summed_error = 0.0;
    for (Index start = 0, batch = 1; start < n; start += batch_size, ++batch) {
      if (interrupted && interrupted()) {
        result.stop_reason = StopReason::interrupted;
        return result;
      }
      const Index m = std::min(batch_size, n - start);
      if (options.shuffle) {
        for (Index j = 0; j < m; ++j) {
          X_batch.row(j) = X.row(order[static_cast<size_t>(start + j)]);
          Y_batch.row(j) = Y.row(order[static_cast<size_t>(start + j)]);
        }
      }
      const ConstMatrixRef<T> xb =
          options.shuffle ? ConstMatrixRef<T>(X_batch.topRows(m)) : X.middleRows(start, m);
      const ConstMatrixRef<T> yb =
          options.shuffle ? ConstMatrixRef<T>(Y_batch.topRows(m)) : Y.middleRows(start, m);

      network.forward(xb, workspace);
      const double batch_error = network.summed_error(loss, yb, workspace);
      if (!std::isfinite(batch_error))
        throw DivergenceError("training diverged: non-finite loss at epoch " +
                              std::to_string(epoch) + ", batch " + std::to_string(batch) +
                              "; the model keeps the weights from before this batch");
      network.backward(loss, xb, yb, workspace);
      if (!network.gradients().allFinite())
        throw DivergenceError("training diverged: non-finite gradient at epoch " +
                              std::to_string(epoch) + ", batch " + std::to_string(batch) +
                              "; the model keeps the weights from before this batch");
      optimizer.step(network.parameters(), network.gradients());
      summed_error += batch_error;
    }

    const double epoch_loss = summed_error / static_cast<double>(n);
    result.losses.push_back(epoch_loss);
    if (epoch_loss < best_loss - options.tol)
      epochs_without_improvement = 0;
    else
      ++epochs_without_improvement;
    best_loss = std::min(best_loss, epoch_loss);

    const bool callback_stops = on_epoch_end && on_epoch_end(EpochRecord{epoch, epoch_loss});
    if (options.has_target_loss && epoch_loss <= options.target_loss) {
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
double evaluate_loss(const Network<T>& network, const ConstMatrixRef<T>& X,
                     const ConstMatrixRef<T>& Y, const Loss& loss) {
  network.check_batch(X, &Y);
  loss.check_output_activation(network.activations().back());
  const Index n = X.rows();
  Workspace<T> workspace = network.make_workspace(std::min(n, kEvaluationChunk));
  double summed = 0.0;
  for (Index start = 0; start < n; start += workspace.capacity) {
    const Index m = std::min(workspace.capacity, n - start);
    network.forward(X.middleRows(start, m), workspace);
    summed += network.summed_error(loss, Y.middleRows(start, m), workspace);
  }
  return summed / static_cast<double>(n);
}

template <class T>
void predict(const Network<T>& network, const ConstMatrixRef<T>& X, Eigen::Ref<Matrix<T>> out) {
  network.check_batch(X);
  if (out.rows() != X.rows() || out.cols() != network.n_outputs())
    throw std::invalid_argument("output buffer has the wrong shape");
  const Index n = X.rows();
  Workspace<T> workspace = network.make_workspace(std::min(n, kEvaluationChunk));
  for (Index start = 0; start < n; start += workspace.capacity) {
    const Index m = std::min(workspace.capacity, n - start);
    out.middleRows(start, m) = network.forward(X.middleRows(start, m), workspace);
  }
}

#define NNCORE_INSTANTIATE(T)                                                                 \
  template FitResult fit<T>(Network<T>&, Optimizer<T>&, Random&, const ConstMatrixRef<T>&,    \
                            const ConstMatrixRef<T>&, const Loss&, const FitOptions&,         \
                            const EpochCallback&, const InterruptCheck&);                     \
  template double evaluate_loss<T>(const Network<T>&, const ConstMatrixRef<T>&,               \
                                   const ConstMatrixRef<T>&, const Loss&);                    \
  template void predict<T>(const Network<T>&, const ConstMatrixRef<T>&, Eigen::Ref<Matrix<T>>);
NNCORE_INSTANTIATE(float)
NNCORE_INSTANTIATE(double)
#undef NNCORE_INSTANTIATE

}  // namespace nncore
