// exp(x) and the logistic function σ(x) = 1/(1 + e^{−x}) on Eigen arrays, right where the result is
// below the smallest normal number.
//
// Eigen 3.4's vectorised versions are wrong there, and not the same in every build:
//   - double exp (the same for SSE, AVX and AVX-512 packets) clamps x at −709.78, so every x below
//     gives exp(−709.78) ≈ 5.6e-309, where exp(x) is 0 below −745.13: a softmax of logits 2,000
//     apart gave its small entry 5.6e-309 wherever it fell in a packet and 0 in the scalar tail;
//   - float exp clamps x at −88.72 and gives about 2.9e-39 for every x below with SSE and AVX
//     packets, and 0 below −87.68 with AVX-512's own version, where exp(x) is subnormal down to
//     −103.97;
//   - float σ(x) is exp(x) below −9, so it inherits the float exp's error (also in Eigen's scalar
//     path); double σ gives 0 once e^{−x} overflows (x < −709.78).
//
// exp_array(x) and logistic_array(x) are Eigen's x.exp() and x.logistic() with one correction:
// where x is below log(smallest normal) (−708.40 in double, −87.34 in float) both functions equal
// e^x to rounding (1 + e^x rounds to 1), and those entries are recomputed by std::exp. Every other
// entry keeps Eigen's value, bit for bit; the check costs a comparison and a branch per packet.
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <limits>

namespace nncore {

namespace detail {

// Eigen's functor Op, with the entries below log(smallest normal) set to std::exp(x).
template <class T, class Op>
struct ExactBelowNormal {
  // log(smallest normal) = (min_exponent − 1)·ln 2: below it e^x is subnormal or 0.
  static constexpr T kSubnormalBelow =
      static_cast<T>((std::numeric_limits<T>::min_exponent - 1) * 0.6931471805599453);
  T operator()(const T& x) const { return x < kSubnormalBelow ? std::exp(x) : Op()(x); }
  template <class Packet>
  Packet packetOp(const Packet& x) const {
    namespace ei = Eigen::internal;
    const Packet e = Op().packetOp(x);
    // A comparison, not a minimum: a NaN entry must not hide the others.
    if (!ei::predux_any(ei::pcmp_lt(x, ei::pset1<Packet>(kSubnormalBelow)))) return e;
    constexpr int n = ei::unpacket_traits<Packet>::size;
    T xs[n], es[n];
    ei::pstoreu(xs, x);
    ei::pstoreu(es, e);
    for (int i = 0; i < n; ++i)
      if (xs[i] < kSubnormalBelow) es[i] = std::exp(xs[i]);
    return ei::ploadu<Packet>(es);
  }
};

template <class T>
using Exp = ExactBelowNormal<T, Eigen::internal::scalar_exp_op<T>>;
template <class T>
using Logistic = ExactBelowNormal<T, Eigen::internal::scalar_logistic_op<T>>;

}  // namespace detail

template <class Derived>
auto exp_array(const Eigen::ArrayBase<Derived>& x) {
  return x.unaryExpr(detail::Exp<typename Derived::Scalar>());
}

template <class Derived>
auto logistic_array(const Eigen::ArrayBase<Derived>& x) {
  return x.unaryExpr(detail::Logistic<typename Derived::Scalar>());
}

}  // namespace nncore

namespace Eigen::internal {
template <class T, class Op>
struct functor_traits<nncore::detail::ExactBelowNormal<T, Op>> {
  enum {
    Cost = functor_traits<Op>::Cost + NumTraits<T>::AddCost,
    PacketAccess = functor_traits<Op>::PacketAccess
  };
};
}  // namespace Eigen::internal
