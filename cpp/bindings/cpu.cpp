// nncore._cpu: which instruction-set levels this CPU (and its operating system) supports. Compiled
// for the architecture's baseline, so it can be imported on any CPU before a variant is chosen.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

namespace py = pybind11;

namespace {

// The levels this CPU can run, lowest first. __builtin_cpu_supports reads CPUID and, for AVX and
// AVX-512, also checks that the operating system saves the wider registers (XGETBV).
std::vector<std::string> supported_levels() {
  std::vector<std::string> levels;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  const bool v2 = __builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("sse4.1") &&
                  __builtin_cpu_supports("ssse3") && __builtin_cpu_supports("popcnt");
  const bool v3 = v2 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                  __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2");
  const bool v4 = v3 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                  __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
                  __builtin_cpu_supports("avx512cd");
  if (v2) levels.push_back("x86-64-v2");
  if (v3) levels.push_back("x86-64-v3");
  if (v4) levels.push_back("x86-64-v4");
#endif
  return levels;
}

}  // namespace

PYBIND11_MODULE(_cpu, m) {
  m.doc() = "CPU feature detection for nncore's runtime dispatch (private)";
  m.def("supported_levels", &supported_levels,
        "x86-64 instruction-set levels this CPU and OS support, lowest first ([] elsewhere).");
}
