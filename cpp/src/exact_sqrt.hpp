// Correctly rounded element-wise square roots for the update rules (private to cpp/src).
//
// With EIGEN_FAST_MATH (Eigen's default) the vectorised float sqrt is rsqrt plus one Newton step:
// it loses 1–2 bits, and as Eigen computes the unaligned head and tail of a mapped array with the
// exact scalar sqrt, an element's result would even depend on where NumPy placed the array. Here
// float uses the exact sqrt instruction on every x86 packet size (scalar std::sqrt elsewhere);
// Eigen's double sqrt is already the exact instruction.
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <type_traits>

namespace nncore {

struct ExactSqrtFloat {
  float operator()(float x) const { return std::sqrt(x); }
#if defined(EIGEN_VECTORIZE_SSE)
  Eigen::internal::Packet4f packetOp(const Eigen::internal::Packet4f& x) const {
    return _mm_sqrt_ps(x);
  }
#endif
#if defined(EIGEN_VECTORIZE_AVX)
  Eigen::internal::Packet8f packetOp(const Eigen::internal::Packet8f& x) const {
    return _mm256_sqrt_ps(x);
  }
#endif
#if defined(EIGEN_VECTORIZE_AVX512)
  Eigen::internal::Packet16f packetOp(const Eigen::internal::Packet16f& x) const {
    return _mm512_sqrt_ps(x);
  }
#endif
};

template <class Derived>
auto exact_sqrt(const Eigen::ArrayBase<Derived>& x) {
  if constexpr (std::is_same_v<typename Derived::Scalar, float>)
    return x.unaryExpr(ExactSqrtFloat());
  else
    return x.sqrt();
}

}  // namespace nncore

namespace Eigen::internal {
template <>
struct functor_traits<nncore::ExactSqrtFloat> {
#if defined(EIGEN_VECTORIZE_SSE)
  enum { Cost = 4 * NumTraits<float>::MulCost, PacketAccess = 1 };
#else
  enum { Cost = 4 * NumTraits<float>::MulCost, PacketAccess = 0 };
#endif
};
}  // namespace Eigen::internal
