// Threads of the core (nncore/parallel.hpp), the external BLAS hook (nncore/blas.hpp) and what
// this variant was compiled for.
#include <Eigen/Core>

#include "common.hpp"
#include "nncore/blas.hpp"
#include "nncore/parallel.hpp"
#include "nncore/tiled_product.hpp"
#include "nncore/training.hpp"

namespace nncore::bindings {
namespace {

// The vector instruction sets the compiler was allowed to use for this variant.
std::string simd_in_use() {
  std::string sets = "SSE2";
#ifdef __SSE4_2__
  sets += " SSE4.2";
#endif
#ifdef __AVX__
  sets += " AVX";
#endif
#ifdef __AVX2__
  sets += " AVX2";
#endif
#ifdef __FMA__
  sets += " FMA";
#endif
#ifdef __AVX512F__
  sets += " AVX-512F";
#endif
#ifdef __AVX512BW__
  sets += " AVX-512BW";
#endif
#ifdef __ARM_NEON
  sets = "NEON";
#endif
  return sets;
}

}  // namespace

void bind_threads(py::module_& m) {
  m.def("set_num_threads", &set_num_threads, py::arg("n"),
        "Threads for the core's large products (the calling thread included); 1 = none.");
  m.def("get_num_threads", &num_threads, "Threads the core uses for large products.");
  m.def(
      "_set_blas",
      [](std::uintptr_t sgemm, std::uintptr_t dgemm, std::uintptr_t get_threads,
         std::uintptr_t set_threads, std::string name) {
        Blas lib{reinterpret_cast<Blas::Gemm<float>>(sgemm),
                 reinterpret_cast<Blas::Gemm<double>>(dgemm),
                 reinterpret_cast<int (*)()>(get_threads),
                 reinterpret_cast<void (*)(int)>(set_threads), std::move(name)};
        set_blas(&lib);
      },
      py::arg("sgemm"), py::arg("dgemm"), py::arg("get_threads"), py::arg("set_threads"),
      py::arg("name"),
      "Registers an ILP64 CBLAS (function addresses, e.g. from ctypes) for the large products. "
      "Private: nncore/_blas.py finds NumPy's OpenBLAS and calls this.");
  m.def("_clear_blas", [] { set_blas(nullptr); }, "Back to Eigen's own products.");
  m.def("_blas_calls", &blas_calls, "Products run on the registered BLAS so far.");
  m.def("_split_batches", &split_batches,
        "Training batches split into blocks of rows on threads so far.");
  m.def("_split_batches_in_turn", &split_batches_in_turn,
        "Of those, the batches whose blocks ran in turn on the calling thread.");
  m.def("_pool_jobs", &pool_jobs, "Jobs that ran on the thread pool so far.");
  m.def("_simulate_split_pace", &simulate_split_pace, py::arg("pool_seconds"),
        py::arg("in_turn_seconds"),
        "For tests: the ways (0 pool, 1 in turn) fit's measurement picks for these batch times.");
  m.def("_set_split_pace", &set_split_pace, py::arg("choice"),
        "For tests: 0 measures (default), 1 always the pool, 2 always in turn.");
  m.def(
      "blas_name",
      [] {
        const Blas* lib = blas();
        return lib ? lib->name : std::string();
      },
      "The registered BLAS, or '' when the products are Eigen's.");
  m.def(
      "build_info",
      [] {
        py::dict info;
        info["isa"] = NNCORE_ISA;
        info["simd"] = simd_in_use();
        info["eigen"] = std::to_string(EIGEN_WORLD_VERSION) + "." +
                        std::to_string(EIGEN_MAJOR_VERSION) + "." +
                        std::to_string(EIGEN_MINOR_VERSION);
#if defined(__clang__)
        info["compiler"] = "clang " __clang_version__;
#elif defined(__GNUC__)
        info["compiler"] = "gcc " __VERSION__;
#else
        info["compiler"] = "unknown";
#endif
        info["sanitized"] = static_cast<bool>(NNCORE_SANITIZED);
        info["min_parallel_work"] = kMinParallelWork;
        info["min_parallel_elements"] = kMinParallelElements;
        info["tiled_products"] = tiled::kEnabled;
        return info;
      },
      "How this variant of the module was compiled.");
}

}  // namespace nncore::bindings
