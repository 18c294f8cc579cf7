// A network trained by L-BFGS (nncore/lbfgs.hpp, fit_lbfgs): the objective F(θ) over all the
// training rows, evaluated in chunks of rows, and the iteration records.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>

#include "nncore/lbfgs.hpp"
#include "nncore/metric.hpp"

namespace nncore {

namespace {

// Rows per forward and backward pass when the layers are row-local: the chunks' gradients add up
// to the whole data's (each is Σ_{i∈chunk} w_i ∇ℓ_i / Σ_i w_i), and memory stays bounded.
constexpr Index kChunkRows = 4096;

// F(θ) = c·Σ_i w_i ℓ_i(θ) / Σ_i w_i + ½ Σ_j λ_j θ_j² and ∇F, at θ = x rounded to T (written into
// the network's parameters), in training mode without dropout; the metric of the outputs kept.
template <class T>
class NetworkObjective {
 public:
  NetworkObjective(Sequential<T>& network, const Dataset<T>& train, const Loss& loss,
                   double loss_scale, const Real& penalty)
      : network_(network),
        train_(train),
        loss_(loss),
        loss_scale_(loss_scale),
        penalty_(penalty),
        workspace_(network.make_workspace(
            network.layers().row_local() ? std::min(train.X.rows(), kChunkRows) : train.X.rows(),
            /*training=*/true)),
        chunk_gradient_(network.parameters().size()),
        metric_(metric_for(network.output_activation()), train.Y, train.weights),
        total_weight_(train.weights.size() == 0 ? static_cast<double>(train.X.rows())
                                                : train.weights.template cast<double>().sum()) {}

  // The chunks' gradients are each Σ_{i∈chunk} w_i ∇ℓ_i / (Σ_i w_i / c): they add up to c·∇L.

  double operator()(const Real& x, Real& gradient) {
    Vector<T>& theta = network_.parameters();
    theta = x.cast<T>();
    gradient.setZero();
    metric_.reset();
    const Index n = train_.X.rows();
    const bool weighted = train_.weights.size() != 0;
    double summed = 0.0;
    for (Index start = 0; start < n; start += workspace_.capacity) {
      const Index m = std::min(workspace_.capacity, n - start);
      const auto xb = train_.X.middleRows(start, m), yb = train_.Y.middleRows(start, m);
      const ConstVectorRef<T> wb = weighted ? ConstVectorRef<T>(train_.weights.segment(start, m))
                                            : ConstVectorRef<T>(train_.weights);
      const auto output = network_.forward(xb, workspace_);  // no generator: no dropout
      summed += network_.summed_error(loss_, yb, wb, workspace_);
      if (!std::isfinite(summed)) return std::numeric_limits<double>::infinity();
      metric_.add(output, yb, wb);
      network_.backward(loss_, xb, yb, wb, total_weight_ / loss_scale_, workspace_,
                        chunk_gradient_);
      gradient += chunk_gradient_.template cast<double>();
    }
    double value = loss_scale_ * summed / total_weight_;
    if (penalty_.size() != 0) {
      const Real rounded = theta.template cast<double>();
      value += 0.5 * penalty_.dot(rounded.cwiseAbs2());
      gradient += penalty_.cwiseProduct(rounded);
    }
    return value;
  }

  double metric() const { return metric_.value(); }

 private:
  Sequential<T>& network_;
  const Dataset<T>& train_;
  const Loss& loss_;
  double loss_scale_;
  const Real& penalty_;
  Workspace<T> workspace_;
  Vector<T> chunk_gradient_;
  Metric<T> metric_;
  double total_weight_;
};

template <class T>
void check_lbfgs_fit(const Sequential<T>& network, const Dataset<T>& train,
                     const Dataset<T>* validation, const Loss& loss, double loss_scale,
                     const Real& penalty, const LBFGSOptions& options) {
  network.check_batch(train.X, &train.Y, &train.weights);
  if (validation != nullptr)
    network.check_batch(validation->X, &validation->Y, &validation->weights);
  loss.check_output_activation(network.output_activation());
  loss.check_targets<T>(train.Y);
  if (validation != nullptr) loss.check_targets<T>(validation->Y);
  check(options);
  if (!std::isfinite(loss_scale) || !(loss_scale > 0.0))
    throw std::invalid_argument("the loss scale must be finite and > 0");
  if (network.has_state())
    throw std::invalid_argument(
        "L-BFGS does not learn the running statistics of a batch normalisation; train this "
        "network with a mini-batch optimizer");
  if (train.X.rows() < network.min_training_rows())
    throw std::invalid_argument("the network needs at least " +
                                std::to_string(network.min_training_rows()) + " training rows");
  if (train.weights.size() != 0 && !(train.weights.template cast<double>().sum() > 0.0))
    throw std::invalid_argument("sample_weight must not sum to 0");
  if (penalty.size() != 0 && penalty.size() != network.parameters().size())
    throw std::invalid_argument("the penalty must have one entry per parameter (" +
                                std::to_string(network.parameters().size()) + "), got " +
                                std::to_string(penalty.size()));
  if (!penalty.allFinite() || (penalty.array() < 0.0).any())
    throw std::invalid_argument("the penalty must be finite and >= 0");
}

}  // namespace

template <class T>
LBFGSFitResult fit_lbfgs(Sequential<T>& network, const Dataset<T>& train,
                         const Dataset<T>* validation, const Loss& loss, double loss_scale,
                         const Real& penalty, const LBFGSOptions& options,
                         const IterationCallback& on_iteration, const InterruptCheck& interrupted) {
  check_lbfgs_fit(network, train, validation, loss, loss_scale, penalty, options);
  NetworkObjective<T> objective(network, train, loss, loss_scale, penalty);
  LBFGSFitResult result;
  LBFGSHooks hooks;
  hooks.interrupted = interrupted;
  // The network holds x_k here: x_k is the last point evaluated (a line search ends on it).
  hooks.on_iteration = [&](const LBFGSIteration& iteration) {
    LBFGSRecord record;
    record.epoch.epoch = iteration.iteration;
    record.epoch.loss = iteration.loss;
    record.epoch.metric = objective.metric();
    record.epoch.gradient_norm = iteration.gradient_norm;
    record.epoch.learning_rate = iteration.step;  // α_k: the step the line search took
    if (validation != nullptr) {
      const Evaluation evaluation = evaluate<T>(network, *validation, loss);
      record.epoch.has_validation = true;
      record.epoch.validation_loss = evaluation.loss;
      record.epoch.validation_metric = evaluation.metric;
    }
    record.evaluations = iteration.evaluations;
    result.iterations.push_back(record);
    return on_iteration && on_iteration(record);
  };
  // An exception (from a callback) leaves the network at the iterate the callback saw.
  Real x = network.parameters().template cast<double>();
  const LBFGSResult run = minimize_lbfgs(std::ref(objective), x, options, hooks);
  result.stop_reason = run.stop_reason;
  result.loss = run.loss;
  result.evaluations = run.evaluations;
  network.parameters() = x.cast<T>();  // the lowest F evaluated (the start if none was finite)
  return result;
}

#define NNCORE_INSTANTIATE(T)                                                                 \
  template LBFGSFitResult fit_lbfgs<T>(Sequential<T>&, const Dataset<T>&, const Dataset<T>*,  \
                                       const Loss&, double, const Real&, const LBFGSOptions&, \
                                       const IterationCallback&, const InterruptCheck&);
NNCORE_INSTANTIATE(float)
NNCORE_INSTANTIATE(double)
#undef NNCORE_INSTANTIATE

}  // namespace nncore
