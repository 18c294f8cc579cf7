#include "nncore/activation.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <type_traits>
#include <unsupported/Eigen/SpecialFunctions>  // erf

#include "exp.hpp"

namespace nncore {

namespace {
constexpr double kSqrt2OverPi = 0.79788456080286535588;  // √(2/π)
constexpr double kInvSqrt2 = 0.70710678118654752440;     // 1/√2
constexpr double kInvSqrt2Pi = 0.39894228040143267794;   // 1/√(2π)
constexpr double kGeluCubic = 0.044715;

// tanh, vectorised in both precisions. Eigen 3.4 vectorises tanh for float only; for double it
// calls the scalar libm tanh, which took a quarter of float64 training time on M. Here, below
// |z| = 0.625, Lambert's continued fraction tanh z = z/(1 + z²/(3 + z²/(5 + … + z²/19))), whose
// truncation error there is below 1e-17 relative; above, 1 − 2/(e^{2|z|} + 1) with the sign of z,
// where nothing cancels (the result is above 0.55). Both are computed on a SIMD packet of
// entries and one is selected per entry. Eigen's array select() is evaluated entry by entry (with
// libm's scalar exp), so the packets are Eigen's own packet functions.
using PacketD = Eigen::internal::packet_traits<double>::type;

PacketD tanh_packet(const PacketD& z) {
  namespace ei = Eigen::internal;
  const PacketD s = ei::pmul(z, z);
  PacketD t = ei::pset1<PacketD>(19.0);
  for (const double odd : {17.0, 15.0, 13.0, 11.0, 9.0, 7.0, 5.0, 3.0, 1.0})
    t = ei::padd(ei::pset1<PacketD>(odd), ei::pdiv(s, t));  // odd + z²/(…)
  const PacketD fraction = ei::pdiv(z, t);
  const PacketD one = ei::pset1<PacketD>(1.0), two = ei::pset1<PacketD>(2.0);
  const PacketD magnitude =
      ei::psub(one, ei::pdiv(two, ei::padd(ei::pexp(ei::pmul(two, ei::pabs(z))), one)));
  const PacketD negative = ei::pcmp_lt(z, ei::pset1<PacketD>(0.0));
  const PacketD outer = ei::pselect(negative, ei::pnegate(magnitude), magnitude);
  return ei::pselect(ei::pcmp_lt(ei::pabs(z), ei::pset1<PacketD>(0.625)), fraction, outer);
}

// a_i = tanh z_i for n entries; the last partial packet goes through a padded copy, so that every
// entry is computed the same way wherever it sits.
void tanh_double(const double* z, double* a, Index n) {
  constexpr Index N = Eigen::internal::unpacket_traits<PacketD>::size;
  Index i = 0;
  for (; i + N <= n; i += N)
    Eigen::internal::pstoreu(a + i, tanh_packet(Eigen::internal::ploadu<PacketD>(z + i)));
  if (i == n) return;
  double padded[N] = {};
  std::copy(z + i, z + n, padded);
  Eigen::internal::pstoreu(padded, tanh_packet(Eigen::internal::ploadu<PacketD>(padded)));
  std::copy(padded, padded + (n - i), a + i);
}

// Whether this build has the packet functions tanh_packet needs (every x86-64 level and NEON do).
constexpr bool kPacketTanh = Eigen::internal::packet_traits<double>::Vectorizable &&
                             Eigen::internal::packet_traits<double>::HasExp &&
                             Eigen::internal::packet_traits<double>::HasDiv &&
                             Eigen::internal::packet_traits<double>::HasCmp;

template <class T, class MZ, class MA>
void assign_tanh(const MZ& Z, MA& A) {
  if constexpr (std::is_same_v<T, double> && kPacketTanh) {
    for (Index r = 0; r < Z.rows(); ++r) tanh_double(Z.row(r).data(), A.row(r).data(), Z.cols());
  } else {
    A.array() = Z.array().tanh();
  }
}

// a_i = tanh z_i for one row of n entries, as assign_tanh computes it: in double, tanh_double;
// in float, the two functions Eigen's tanh() expression applies, its packet function on whole
// packets and its scalar one on the rest (they agree bit for bit, so an entry's value does not
// depend on where the row starts; tests/cpp/test_activations.cpp checks it).
template <class T>
void tanh_row(const T* z, T* a, Index n) {
  if constexpr (std::is_same_v<T, double> && kPacketTanh) {
    tanh_double(z, a, n);
  } else {
    namespace ei = Eigen::internal;
    using Packet = typename ei::packet_traits<T>::type;
    constexpr Index N = ei::unpacket_traits<Packet>::size;
    Index i = 0;
    if constexpr (N > 1)
      for (; i + N <= n; i += N) ei::pstoreu(a + i, ei::ptanh(ei::ploadu<Packet>(z + i)));
    for (; i < n; ++i) a[i] = Eigen::numext::tanh(z[i]);
  }
}

// The Jacobians that are a product of entries, written once for Eigen arrays (a batch) and for
// scalars (one row's loop): the same operations in the same order, so the same bits.
template <class T, class A, class D>
auto tanh_jacobian(const A& a, const D& da) {
  return da * (T(1) - a * a);  // da ⊙ (1 − a²)
}
template <class T, class A, class D>
auto sigmoid_jacobian(const A& a, const D& da) {
  return da * a * (T(1) - a);  // da ⊙ a ⊙ (1 − a)
}
}  // namespace

const std::vector<Name<ActivationKind>>& activation_names() {
  static const std::vector<Name<ActivationKind>> names = {
      {"identity", ActivationKind::identity},
      {"sigmoid", ActivationKind::sigmoid},
      {"tanh", ActivationKind::tanh},
      {"relu", ActivationKind::relu},
      {"leaky_relu", ActivationKind::leaky_relu},
      {"elu", ActivationKind::elu},
      {"gelu", ActivationKind::gelu},
      {"gelu_tanh", ActivationKind::gelu_tanh},
      {"softplus", ActivationKind::softplus},
      {"swish", ActivationKind::swish},
      {"softmax", ActivationKind::softmax},
      // aliases
      {"silu", ActivationKind::swish},
  };
  return names;
}

Activation Activation::from_name(const std::string& name, double slope, double alpha) {
  if (!std::isfinite(slope) || slope < 0.0)
    throw std::invalid_argument("leaky_relu slope must be finite and >= 0, got " +
                                std::to_string(slope));
  if (!std::isfinite(alpha) || alpha <= 0.0)
    throw std::invalid_argument("elu alpha must be finite and > 0, got " + std::to_string(alpha));
  return Activation{kind_named(activation_names(), name, "activation"), slope, alpha};
}

std::string Activation::name() const { return own_name(activation_names(), kind); }

namespace {

// activate and apply_jacobian on a batch's Refs or on one row's Maps (the one-sample path, where
// a Ref's construction cost more than a row's activation): one formula for both.
template <class T, class MZ, class MA>
void activate_on(const Activation& activation, const MZ& Z, MA A) {
  const auto z = Z.array();
  auto a = A.array();
  const T slope = static_cast<T>(activation.slope), alpha = static_cast<T>(activation.alpha);
  switch (activation.kind) {
    case ActivationKind::identity: a = z; return;
    case ActivationKind::sigmoid: a = logistic_array(z); return;
    case ActivationKind::tanh: assign_tanh<T>(Z, A); return;
    case ActivationKind::relu: a = z.max(T(0)); return;
    case ActivationKind::leaky_relu: a = (z > T(0)).select(z, slope * z); return;
    case ActivationKind::elu:
      a = (z > T(0)).select(z, alpha * exp_array(z.min(T(0))) - alpha);
      return;
    case ActivationKind::gelu: a = T(0.5) * z * (T(1) + (z * T(kInvSqrt2)).erf()); return;
    case ActivationKind::gelu_tanh:
      a = T(0.5) * z * (T(1) + (T(kSqrt2OverPi) * (z + T(kGeluCubic) * z.cube())).tanh());
      return;
    case ActivationKind::softplus: a = z.max(T(0)) + exp_array(-z.abs()).log1p(); return;
    case ActivationKind::swish: a = z * logistic_array(z); return;
    case ActivationKind::softmax:
      // Shift by the row maximum so that exp never overflows: softmax(z) = softmax(z − max z).
      for (Index i = 0; i < Z.rows(); ++i) {
        auto row = A.row(i).array();
        row = exp_array(Z.row(i).array() - Z.row(i).maxCoeff());
        row /= row.sum();
      }
      return;
  }
}

template <class T, class MZ, class MdZ>
void apply_jacobian_on(const Activation& activation, const MZ& Z, const MZ& A, const MZ& dA,
                       MdZ dZ) {
  const bool in_place = dZ.data() == dA.data() && dZ.outerStride() == dA.outerStride();
  if (activation.kind == ActivationKind::identity && in_place) return;  // dz = da already
  const auto z = Z.array();
  const auto a = A.array();
  const auto da = dA.array();
  auto dz = dZ.array();
  const T slope = static_cast<T>(activation.slope), alpha = static_cast<T>(activation.alpha);
  switch (activation.kind) {
    case ActivationKind::identity: dz = da; return;
    case ActivationKind::sigmoid: dz = sigmoid_jacobian<T>(a, da); return;
    case ActivationKind::tanh: dz = tanh_jacobian<T>(a, da); return;
    case ActivationKind::relu: dz = (z > T(0)).select(da, T(0)); return;
    case ActivationKind::leaky_relu: dz = (z > T(0)).select(da, slope * da); return;
    case ActivationKind::elu: dz = (z > T(0)).select(da, (a + alpha) * da); return;
    case ActivationKind::gelu:
      // Φ(z) + z φ(z)
      dz = da * (T(0.5) * (T(1) + (z * T(kInvSqrt2)).erf()) +
                 z * T(kInvSqrt2Pi) * exp_array(T(-0.5) * z.square()));
      return;
    case ActivationKind::gelu_tanh:
      for (Index i = 0; i < Z.rows(); ++i)
        for (Index j = 0; j < Z.cols(); ++j) {
          const T x = Z(i, j);
          const T t = std::tanh(T(kSqrt2OverPi) * (x + T(kGeluCubic) * x * x * x));
          dZ(i, j) =
              dA(i, j) * (T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * T(kSqrt2OverPi) *
                                                    (T(1) + T(3 * kGeluCubic) * x * x));
        }
      return;
    case ActivationKind::softplus: dz = da * logistic_array(z); return;
    case ActivationKind::swish: {
      for (Index i = 0; i < Z.rows(); ++i) {
        const auto s = logistic_array(Z.row(i).array());
        dZ.row(i).array() = dA.row(i).array() * s * (T(1) + Z.row(i).array() * (T(1) - s));
      }
      return;
    }
    case ActivationKind::softmax:
      for (Index i = 0; i < A.rows(); ++i) {
        const T weighted = (dA.row(i).array() * A.row(i).array()).sum();  // Σ_k dA_k A_k
        dZ.row(i).array() = A.row(i).array() * (dA.row(i).array() - weighted);
      }
      return;
  }
}

}  // namespace

template <class T>
void activate(const Activation& activation, const ConstMatrixRef<T>& Z, Eigen::Ref<Matrix<T>> A) {
  activate_on<T>(activation, Z, A);
}

// The row functions take the common kinds in plain loops: a matrix expression's set-up (its
// views, alignment and dispatch) cost more than a 16-entry row's arithmetic.
template <class T>
void activate_row(const Activation& activation, const T* z, T* a, Index n) {
  if (activation.kind == ActivationKind::tanh) return tanh_row<T>(z, a, n);
  activate_on<T>(activation, ConstMatrixMap<T>(z, 1, n), MatrixMap<T>(a, 1, n));
}

template <class T>
void apply_jacobian(const Activation& activation, const ConstMatrixRef<T>& Z,
                    const ConstMatrixRef<T>& A, const ConstMatrixRef<T>& dA,
                    Eigen::Ref<Matrix<T>> dZ) {
  apply_jacobian_on<T>(activation, Z, A, dA, dZ);
}

template <class T>
void apply_jacobian_row(const Activation& activation, const T* z, const T* a, const T* da, T* dz,
                        Index n) {
  switch (activation.kind) {
    case ActivationKind::tanh:
      for (Index i = 0; i < n; ++i) dz[i] = tanh_jacobian<T>(a[i], da[i]);
      return;
    case ActivationKind::sigmoid:
      for (Index i = 0; i < n; ++i) dz[i] = sigmoid_jacobian<T>(a[i], da[i]);
      return;
    case ActivationKind::relu:  // as select(): da where z > 0, else +0
      for (Index i = 0; i < n; ++i) dz[i] = z[i] > T(0) ? da[i] : T(0);
      return;
    default: break;
  }
  apply_jacobian_on<T>(activation, ConstMatrixMap<T>(z, 1, n), ConstMatrixMap<T>(a, 1, n),
                       ConstMatrixMap<T>(da, 1, n), MatrixMap<T>(dz, 1, n));
}

#define NNCORE_INSTANTIATE(T)                                                                    \
  template void activate<T>(const Activation&, const ConstMatrixRef<T>&, Eigen::Ref<Matrix<T>>); \
  template void activate_row<T>(const Activation&, const T*, T*, Index);                         \
  template void apply_jacobian<T>(const Activation&, const ConstMatrixRef<T>&,                   \
                                  const ConstMatrixRef<T>&, const ConstMatrixRef<T>&,            \
                                  Eigen::Ref<Matrix<T>>);                                        \
  template void apply_jacobian_row<T>(const Activation&, const T*, const T*, const T*, T*, Index);
NNCORE_INSTANTIATE(float)
NNCORE_INSTANTIATE(double)
#undef NNCORE_INSTANTIATE

}  // namespace nncore
