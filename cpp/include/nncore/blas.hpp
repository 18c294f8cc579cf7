// An optional external BLAS for the large matrix products of the dense layers.
//
// The core alone multiplies with Eigen. A host may register a CBLAS gemm with 64-bit integers
// (ILP64), as exported by the OpenBLAS that NumPy's wheels bundle; the Python package does so at
// import (nncore/_blas.py). Products of at least kMinParallelWork multiply-adds then run on it,
// threaded by the BLAS itself with num_threads() threads; smaller products stay on Eigen, on the
// calling thread. A registered library must stay loaded for the life of the process.
//
// A BLAS's thread count is process-wide (OpenBLAS's pthreads build has no per-thread setting):
// when it differs from num_threads(), a product sets it, runs, and sets it back, under one mutex
// so that concurrent products cannot leave it changed. Meanwhile other users of that BLAS (NumPy
// on another thread) see nncore's count; with the defaults the two counts are equal and nothing
// is ever changed.
#pragma once

#include <cstdint>
#include <string>

#include "nncore/types.hpp"

namespace nncore {

struct Blas {
  // cblas_?gemm: C = alpha·op(A)·op(B) + beta·C, with CBLAS's order and transpose codes.
  template <class T>
  using Gemm = void (*)(int order, int trans_a, int trans_b, std::int64_t m, std::int64_t n,
                        std::int64_t k, T alpha, const T* a, std::int64_t lda, const T* b,
                        std::int64_t ldb, T beta, T* c, std::int64_t ldc);
  Gemm<float> sgemm;
  Gemm<double> dgemm;
  int (*get_threads)();        // the BLAS's thread count (openblas_get_num_threads)
  void (*set_threads)(int n);  // sets it, process-wide (openblas_set_num_threads)
  std::string name;            // what it is, for show_config()
};

// Registers `blas` (copied; every pointer non-null) for the products that follow, or, with
// nullptr, goes back to Eigen. Products already running finish on what they started with.
void set_blas(const Blas* blas);
// The registered BLAS, or nullptr.
const Blas* blas();
// Products run on a registered BLAS so far (a check for the tests that the BLAS is used).
std::int64_t blas_calls();

// C = op(A)·op(B) on the registered BLAS (op = transpose where asked) when there is one and the
// product has at least kMinParallelWork multiply-adds; returns false, having done nothing,
// otherwise (the caller then uses Eigen). All three are row-major with contiguous rows; shapes
// that do not multiply throw std::logic_error.
template <class T>
bool blas_product(const ConstMatrixRef<T>& A, bool transpose_a, const ConstMatrixRef<T>& B,
                  bool transpose_b, Eigen::Ref<Matrix<T>> C);

}  // namespace nncore
