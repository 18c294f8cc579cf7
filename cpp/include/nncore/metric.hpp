// The quality measure recorded beside the loss: accuracy for classifier outputs (sigmoid or
// softmax), the coefficient of determination R² for the others. Both are weighted by the sample
// weights when given, and accumulate batch by batch.
//   accuracy  Σ_i w_i [prediction_i = label_i] / Σ_i w_i
//             softmax: argmax a_i = argmax y_i;  sigmoid: [a_ij ≥ ½] = [y_ij ≥ ½] for every j
//   R²        mean over outputs j of 1 − Σ_i w_i (a_ij − y_ij)² / Σ_i w_i (y_ij − ȳ_j)²
//             (an output with constant targets scores 1 if predicted exactly, else 0)
#pragma once

#include "nncore/activation.hpp"
#include "nncore/reduction.hpp"
#include "nncore/types.hpp"

namespace nncore {

enum class MetricKind { categorical_accuracy, binary_accuracy, r2 };

MetricKind metric_for(const Activation& output);

template <class T>
class Metric {
 public:
  // Y, weights: all the targets (and weights) the metric will be accumulated over; R² needs
  // their weighted column means and total sum of squares up front. With a reduction (a
  // data-parallel fit, collective), those are over the rows of every rank.
  Metric(MetricKind kind, const ConstMatrixRef<T>& Y, const ConstVectorRef<T>& weights,
         Reduction* reduction = nullptr);

  void reset();
  // Adds a batch: A (m, k) outputs, Y (m, k) targets, weights (m) or empty.
  void add(const ConstMatrixRef<T>& A, const ConstMatrixRef<T>& Y,
           const ConstVectorRef<T>& weights);
  // Adds a row of one output: a its output, y its target, weight its weight (null: 1).
  void add_one(T a, T y, const T* weight);
  // The sums the metric is made of, which add over batches (and over the ranks of a data-parallel
  // fit): accuracy [Σ_i w_i [right_i], Σ_i w_i]; R² Σ_i w_i (a_ij − y_ij)² for every output j.
  Eigen::VectorXd& sums() { return sums_; }
  double value() const;
  MetricKind kind() const { return kind_; }

 private:
  template <class RowA, class RowY>
  void add_row(const RowA& a, const RowY& y, double w);

  MetricKind kind_;
  Eigen::VectorXd sums_;
  Eigen::VectorXd total_squares_;  // R²: Σ_i w_i (y_ij − ȳ_j)² per output
};

extern template class Metric<float>;
extern template class Metric<double>;

}  // namespace nncore
