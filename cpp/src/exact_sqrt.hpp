// Correctly rounded element-wise square roots for the update rules (private to cpp/src).
//
// With EIGEN_FAST_MATH (Eigen's default), the vectorised float sqrt is rsqrt plus one Newton step:
// it loses 1–2 bits, and since Eigen handles the unaligned head and tail of a mapped array with
// scalar (exact) code, the result of an element would depend on where NumPy placed the array.
// The double sqrt is always the exact instruction, so only float takes the scalar std::sqrt path.
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <type_traits>

namespace nncore {

template <class Derived>
auto exact_sqrt(const Eigen::ArrayBase<Derived>& x) {
  using Scalar = typename Derived::Scalar;
  if constexpr (std::is_same_v<Scalar, float>)
    return x.unaryExpr([](float value) { return std::sqrt(value); });
  else
    return x.sqrt();
}

}  // namespace nncore
