// Whether every entry is finite, fast: a sum is finite unless an entry is infinite or NaN, or the
// sum overflows (then each entry is looked at). One vectorised pass over contiguous memory, where
// Eigen's allFinite() on a matrix of few columns runs entry by entry (checking a 10,000 × 2 X took
// 7% of the time of predicting from it).
#pragma once

#include <cmath>

#include "nncore/types.hpp"

namespace nncore {

template <class V>
bool all_finite(const V& v) {
  return std::isfinite(v.sum()) || v.allFinite();
}

// A matrix whose rows are contiguous in memory is checked as one vector, else row by row.
template <class T>
bool all_finite(const ConstMatrixRef<T>& X) {
  if (X.size() == 0) return true;
  if (X.outerStride() == X.cols())
    return all_finite(Eigen::Map<const Vector<T>>(X.data(), X.size()));
  for (Index r = 0; r < X.rows(); ++r)
    if (!all_finite(X.row(r))) return false;
  return true;
}

}  // namespace nncore
