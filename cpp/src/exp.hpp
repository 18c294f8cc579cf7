// exp(x) on Eigen arrays, right where the result is below the smallest normal number.
//
// Eigen's packet exp is wrong there. Its double version (the same for SSE, AVX and AVX-512
// packets) clamps x at −709.78, so every x below gives exp(−709.78) ≈ 5.6e-309, where exp(x) is
// 0 below −745.13: a softmax of logits 2,000 apart gave the small entry 5.6e-309 wherever it fell
// in a packet (rows of 2, 4 or 8 entries and more in the x86-64-v2, v3 and v4 builds) and 0 in the
// scalar tail. Its float version gives 0 below −88.72, where exp(x) is a subnormal number down to
// −103.97 (exp(−100) ≈ 3.8e-44).
//
// exp_array(x) is Eigen's x.exp() with one correction: the entries of a packet whose x is below
// log(smallest normal) (−708.40 in double, −87.34 in float) are recomputed by std::exp. Every other
// entry keeps Eigen's value, bit for bit; the check costs a comparison per packet.
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <limits>

namespace nncore {

namespace detail {

template <class T>
struct ExpOp {
  // log(smallest normal) = (min_exponent − 1)·ln 2: below it exp(x) is subnormal or 0.
  static constexpr T kSubnormalBelow =
      static_cast<T>((std::numeric_limits<T>::min_exponent - 1) * 0.6931471805599453);
  T operator()(const T& x) const { return std::exp(x); }
  template <class Packet>
  Packet packetOp(const Packet& x) const {
    namespace ei = Eigen::internal;
    const Packet e = ei::pexp(x);
    if (!(ei::predux_min(x) < kSubnormalBelow)) return e;
    constexpr int n = ei::unpacket_traits<Packet>::size;
    T xs[n], es[n];
    ei::pstoreu(xs, x);
    ei::pstoreu(es, e);
    for (int i = 0; i < n; ++i)
      if (xs[i] < kSubnormalBelow) es[i] = std::exp(xs[i]);
    return ei::ploadu<Packet>(es);
  }
};

}  // namespace detail

template <class Derived>
auto exp_array(const Eigen::ArrayBase<Derived>& x) {
  return x.unaryExpr(detail::ExpOp<typename Derived::Scalar>());
}

}  // namespace nncore

namespace Eigen::internal {
template <class T>
struct functor_traits<nncore::detail::ExpOp<T>> {
  enum {
    Cost = functor_traits<scalar_exp_op<T>>::Cost + NumTraits<T>::AddCost,
    PacketAccess = functor_traits<scalar_exp_op<T>>::PacketAccess
  };
};
}  // namespace Eigen::internal
