// The external-BLAS hook of nncore/blas.hpp.
#include "nncore/blas.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <stdexcept>

#include "nncore/parallel.hpp"

namespace nncore {
namespace {

// CBLAS's codes.
constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;

std::atomic<const Blas*> registered{nullptr};
std::atomic<std::int64_t> calls{0};
std::mutex thread_count_change;  // held while a product runs with a changed BLAS thread count

// The leading dimension BLAS expects of a row-major matrix: its row stride, which BLAS checks is at
// least the row length even when there is a single row (Eigen may then report any stride).
template <class M>
std::int64_t leading(const M& X) {
  return X.rows() <= 1 ? std::max<Index>(1, X.cols()) : X.outerStride();
}

template <class T>
typename Blas::Gemm<T> gemm_of(const Blas& lib);
template <>
Blas::Gemm<float> gemm_of<float>(const Blas& lib) {
  return lib.sgemm;
}
template <>
Blas::Gemm<double> gemm_of<double>(const Blas& lib) {
  return lib.dgemm;
}

}  // namespace

void set_blas(const Blas* blas) {
  if (blas && !(blas->sgemm && blas->dgemm && blas->get_threads && blas->set_threads))
    throw std::invalid_argument("set_blas: every function pointer must be set");
  // Never freed: a product on another thread may still be reading the previous one.
  registered.store(blas ? new Blas(*blas) : nullptr, std::memory_order_release);
}

const Blas* blas() { return registered.load(std::memory_order_acquire); }

std::int64_t blas_calls() { return calls.load(std::memory_order_relaxed); }

template <class T>
bool blas_product(const ConstMatrixRef<T>& A, bool transpose_a, const ConstMatrixRef<T>& B,
                  bool transpose_b, Eigen::Ref<Matrix<T>> C) {
  const Blas* lib = blas();
  if (lib == nullptr) return false;
  const Index m = C.rows(), n = C.cols(), k = transpose_a ? A.rows() : A.cols();
  if (static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) < kMinParallelWork)
    return false;
  const Index a_rows = transpose_a ? A.cols() : A.rows();
  const Index b_rows = transpose_b ? B.cols() : B.rows(),
              b_cols = transpose_b ? B.rows() : B.cols();
  if (a_rows != m || b_rows != k || b_cols != n)
    throw std::logic_error("blas_product: the shapes do not multiply");
  const auto gemm = gemm_of<T>(*lib);
  const auto multiply = [&] {
    gemm(kRowMajor, transpose_a ? kTrans : kNoTrans, transpose_b ? kTrans : kNoTrans, m, n, k, T(1),
         A.data(), leading(A), B.data(), leading(B), T(0), C.data(), leading(C));
  };
  calls.fetch_add(1, std::memory_order_relaxed);
  const int threads = num_threads();
  if (lib->get_threads() == threads) {
    multiply();
    return true;
  }
  std::lock_guard<std::mutex> lock(thread_count_change);
  const int previous = lib->get_threads();
  lib->set_threads(threads);
  multiply();
  lib->set_threads(previous);
  return true;
}

template bool blas_product<float>(const ConstMatrixRef<float>&, bool, const ConstMatrixRef<float>&,
                                  bool, Eigen::Ref<Matrix<float>>);
template bool blas_product<double>(const ConstMatrixRef<double>&, bool,
                                   const ConstMatrixRef<double>&, bool, Eigen::Ref<Matrix<double>>);

}  // namespace nncore
