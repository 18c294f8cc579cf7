// Every activation the core registers (activation_names(), each kind once), in double precision:
// its backward rule dZ = g'(Z) ⊙ dA (apply_jacobian) is the gradient of f(Z) = Σ_ij dA_ij g(Z)_ij,
// checked against central finite differences of f (finite_differences.hpp for the tolerance).
// Softmax, row-wise, is covered the same way: f then couples the entries of a row. The one-row
// functions (activate_row, apply_jacobian_row: fit's one-sample path) give the batch functions'
// bits on the same row, in both precisions, at every alignment of the row.
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "check.hpp"
#include "finite_differences.hpp"
#include "nncore/activation.hpp"
#include "nncore/random.hpp"

namespace {

using nncore::Activation;
using nncore::ActivationKind;
using Matrix = nncore::Matrix<double>;

// Each kind once, by its own name, with non-default parameters (leaky_relu's slope, elu's α) so
// that they are exercised.
std::vector<Activation> every_activation() {
  std::vector<Activation> activations;
  std::set<ActivationKind> seen;
  for (const auto& entry : nncore::activation_names())
    if (seen.insert(entry.kind).second)
      activations.push_back(Activation::from_name(entry.name, /*slope=*/0.1, /*alpha=*/1.5));
  return activations;
}

// Entries in [−3, 3], none within 0.05 of 0 (where relu, leaky_relu and elu have their kink).
Matrix away_from_kinks(nncore::Random& random, Eigen::Index rows, Eigen::Index cols) {
  Matrix Z(rows, cols);
  for (Eigen::Index i = 0; i < Z.size(); ++i) {
    const double z = random.uniform(0.05, 3.0);
    Z.data()[i] = random.uniform01() < 0.5 ? -z : z;
  }
  return Z;
}

void test_backward_against_finite_differences() {
  nncore::Random random(7);
  for (const Activation& activation : every_activation()) {
    Matrix Z = away_from_kinks(random, 4, 5), A(4, 5), dA(4, 5), dZ(4, 5);
    for (Eigen::Index i = 0; i < dA.size(); ++i) dA.data()[i] = random.uniform(-1.0, 1.0);
    nncore::activate<double>(activation, Z, A);
    nncore::apply_jacobian<double>(activation, Z, A, dA, dZ);
    const auto f = [&] {
      Matrix G(Z.rows(), Z.cols());
      nncore::activate<double>(activation, Z, G);
      return (dA.array() * G.array()).sum();
    };
    const Eigen::VectorXd expected = nncore_test::central_differences(f, Z.data(), Z.size());
    for (Eigen::Index i = 0; i < Z.size(); ++i)
      CHECK_NEAR(dZ.data()[i], expected[i], nncore_test::kGradientAtol, nncore_test::kGradientRtol,
                 activation.name() << " entry " << i << " at z = " << Z.data()[i]);
  }
}

// from_name accepts every registered name (aliases too) and name() gives each kind's own name.
void test_names_round_trip() {
  for (const auto& entry : nncore::activation_names()) {
    const Activation activation = Activation::from_name(entry.name);
    CHECK(activation.kind == entry.kind, entry.name);
    CHECK(Activation::from_name(activation.name()).kind == entry.kind, entry.name);
  }
  CHECK(every_activation().size() >= 11, "kinds: " << every_activation().size());
}

// Entries where the formulas change branch or clamp, among random ones: 0, −0, tiny, and large.
template <class T>
std::vector<T> row_inputs(nncore::Random& random, Eigen::Index n) {
  const T special[] = {T(0), T(-0.0), T(1e-5), T(-3e-4), T(0.6), T(-0.7), T(9), T(-12), T(90)};
  std::vector<T> z(static_cast<size_t>(n));
  for (size_t i = 0; i < z.size(); ++i)
    z[i] = random.uniform01() < 0.3 ? special[random.below(9)]
                                    : static_cast<T>(random.uniform(-4.0, 4.0));
  return z;
}

template <class T>
bool same_bits(const T* a, const T* b, Eigen::Index n) {
  return std::memcmp(a, b, sizeof(T) * static_cast<size_t>(n)) == 0;
}

// A buffer whose entry 0 is `offset` entries past a boundary of the build's widest packet
// (EIGEN_MAX_ALIGN_BYTES: 16 to 64 bytes).
template <class T>
struct Row {
  Row(Eigen::Index n, Eigen::Index offset) : storage(n + offset), at(storage.data() + offset) {}
  Eigen::Matrix<T, Eigen::Dynamic, 1> storage;  // aligned to EIGEN_MAX_ALIGN_BYTES
  T* at;
};

// For rows of 1 to 40 entries at every offset within a 64-byte line, so that the batch functions
// take Eigen's scalar path on some entries and its packets on others:
// - the row functions (fit's one-sample path) equal the batch functions on the same row, bit for
//   bit, for every kind;
// - tanh and the Jacobians the row functions compute themselves (tanh, sigmoid, relu) do not
//   depend on where the row starts. (Eigen's exp, log1p and erf do, in their last bits, between
//   its packet and scalar functions: so do the kinds built on them, on both paths alike.)
template <class T>
void check_rows_match_batches(const char* dtype) {
  using Map = Eigen::Map<nncore::Matrix<T>>;
  using ConstMap = Eigen::Map<const nncore::Matrix<T>>;
  nncore::Random random(11);
  constexpr Eigen::Index kLine = 64 / sizeof(T);
  for (const Activation& activation : every_activation())
    for (Eigen::Index n = 1; n <= 40; ++n) {
      const std::vector<T> values = row_inputs<T>(random, 2 * n);
      std::vector<T> aligned_a, aligned_dz;
      for (Eigen::Index offset = 0; offset < kLine; ++offset) {
        Row<T> z(n, offset), a(n, offset), da(n, offset), dz(n, offset), A(n, offset),
            dZ(n, offset);
        std::copy(values.begin(), values.begin() + n, z.at);
        std::copy(values.begin() + n, values.end(), da.at);
        nncore::activate_row<T>(activation, z.at, a.at, n);
        nncore::apply_jacobian_row<T>(activation, z.at, a.at, da.at, dz.at, n);
        nncore::activate<T>(activation, ConstMap(z.at, 1, n), Map(A.at, 1, n));
        nncore::apply_jacobian<T>(activation, ConstMap(z.at, 1, n), ConstMap(a.at, 1, n),
                                  ConstMap(da.at, 1, n), Map(dZ.at, 1, n));
        const auto where = [&] {
          return activation.name() + " " + dtype + " n=" + std::to_string(n) +
                 " offset=" + std::to_string(offset);
        };
        CHECK(same_bits(a.at, A.at, n), "activate_row vs activate: " << where());
        CHECK(same_bits(dz.at, dZ.at, n), "apply_jacobian_row vs apply_jacobian: " << where());
        if (offset == 0) {
          aligned_a.assign(a.at, a.at + n);
          aligned_dz.assign(dz.at, dz.at + n);
        }
        const ActivationKind kind = activation.kind;
        const bool independent = kind == ActivationKind::identity || kind == ActivationKind::tanh ||
                                 kind == ActivationKind::relu;
        if (independent) CHECK(same_bits(a.at, aligned_a.data(), n), "a moved: " << where());
        if (independent || kind == ActivationKind::sigmoid) {  // its Jacobian, from the same a
          nncore::apply_jacobian_row<T>(activation, z.at, aligned_a.data(), da.at, dz.at, n);
          CHECK(same_bits(dz.at, aligned_dz.data(), n), "dz moved: " << where());
        }
      }
    }
}

void test_rows_match_batches() {
  check_rows_match_batches<float>("float32");
  check_rows_match_batches<double>("float64");
}

}  // namespace

int main() {
  return nncore_test::run_tests({
      {"activation backward vs finite differences", test_backward_against_finite_differences},
      {"activation names round trip", test_names_round_trip},
      {"activation rows match batches bit for bit", test_rows_match_batches},
  });
}
