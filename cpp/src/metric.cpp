#include "nncore/metric.hpp"

namespace nncore {

MetricKind metric_for(const Activation& output) {
  if (output.kind == ActivationKind::softmax) return MetricKind::categorical_accuracy;
  if (output.kind == ActivationKind::sigmoid) return MetricKind::binary_accuracy;
  return MetricKind::r2;
}

namespace {
template <class T>
double weight_of(const ConstVectorRef<T>& weights, Index i) {
  return weights.size() == 0 ? 1.0 : static_cast<double>(weights[i]);
}
}  // namespace

template <class T>
Metric<T>::Metric(MetricKind kind, const ConstMatrixRef<T>& Y, const ConstVectorRef<T>& weights,
                  Reduction* reduction)
    : kind_(kind) {
  if (kind_ != MetricKind::r2) {
    sums_ = Eigen::VectorXd::Zero(2);
    return;
  }
  const Index k = Y.cols();
  Eigen::VectorXd weighted_sum =
      Eigen::VectorXd::Zero(k + 1);  // [Σ_i w_i y_ij for every j, Σ_i w_i]
  for (Index i = 0; i < Y.rows(); ++i) {
    const double w = weight_of<T>(weights, i);
    weighted_sum.head(k) += w * Y.row(i).transpose().template cast<double>();
    weighted_sum[k] += w;
  }
  if (reduction != nullptr) reduction->sum(weighted_sum);
  Eigen::VectorXd mean = weighted_sum.head(k);
  if (weighted_sum[k] > 0.0) mean /= weighted_sum[k];
  total_squares_ = Eigen::VectorXd::Zero(k);
  for (Index i = 0; i < Y.rows(); ++i)
    total_squares_ +=
        weight_of<T>(weights, i) *
        (Y.row(i).transpose().template cast<double>() - mean).array().square().matrix();
  if (reduction != nullptr) reduction->sum(total_squares_);
  sums_ = Eigen::VectorXd::Zero(k);
}

template <class T>
void Metric<T>::reset() {
  sums_.setZero();
}

// Adds one row: a, y (1, k) the row's outputs and targets, w its weight. add's rows of a batch and
// add_one's single entry (1 × 1 cells) both come here: the same formulas either way.
template <class T>
template <class RowA, class RowY>
void Metric<T>::add_row(const RowA& a, const RowY& y, double w) {
  if (kind_ == MetricKind::r2) {
    sums_ += w * (a - y).transpose().template cast<double>().array().square().matrix();
    return;
  }
  bool right;
  if (kind_ == MetricKind::categorical_accuracy) {
    Index predicted = 0, label = 0;
    a.maxCoeff(&predicted);
    y.maxCoeff(&label);
    right = predicted == label;
  } else {
    right = ((a.array() >= T(0.5)) == (y.array() >= T(0.5))).all();
  }
  sums_[0] += right ? w : 0.0;
  sums_[1] += w;
}

template <class T>
void Metric<T>::add(const ConstMatrixRef<T>& A, const ConstMatrixRef<T>& Y,
                    const ConstVectorRef<T>& weights) {
  for (Index i = 0; i < A.rows(); ++i) add_row(A.row(i), Y.row(i), weight_of<T>(weights, i));
}

template <class T>
void Metric<T>::add_one(T a, T y, const T* weight) {
  using Cell = Eigen::Matrix<T, 1, 1>;
  add_row(Cell(a), Cell(y), weight == nullptr ? 1.0 : static_cast<double>(*weight));
}

template <class T>
double Metric<T>::value() const {
  if (kind_ != MetricKind::r2) return sums_[1] > 0.0 ? sums_[0] / sums_[1] : 0.0;
  double sum = 0.0;
  for (Index j = 0; j < total_squares_.size(); ++j) {
    if (total_squares_[j] > 0.0)
      sum += 1.0 - sums_[j] / total_squares_[j];
    else
      sum += sums_[j] == 0.0 ? 1.0 : 0.0;
  }
  return total_squares_.size() > 0 ? sum / static_cast<double>(total_squares_.size()) : 0.0;
}

template class Metric<float>;
template class Metric<double>;

}  // namespace nncore
