// The C++ tests' assertion helper: a check that fails prints where and what, and the program's exit
// status (run_tests) is non-zero when any check failed or a test threw, which ctest reports.
#pragma once

#include <cmath>
#include <exception>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace nncore_test {

inline int& failures() {
  static int count = 0;
  return count;
}

inline void fail(const char* file, int line, const std::string& what) {
  ++failures();
  std::cerr << file << ":" << line << ": check failed: " << what << "\n";
}

// |actual − expected| ≤ atol + rtol·|expected| (and both finite).
inline bool near(double actual, double expected, double atol, double rtol) {
  return std::isfinite(actual) && std::isfinite(expected) &&
         std::abs(actual - expected) <= atol + rtol * std::abs(expected);
}

inline std::string describe_near(double actual, double expected, double atol, double rtol,
                                 const std::string& context) {
  std::ostringstream out;
  out.precision(17);
  out << context << ": " << actual << " vs expected " << expected << " (difference "
      << std::abs(actual - expected) << ", allowed " << atol << " + " << rtol << "·|expected|)";
  return out.str();
}

using Test = std::pair<const char*, std::function<void()>>;

// Runs every test (one that throws counts as a failure) and returns the exit status for main.
inline int run_tests(const std::vector<Test>& tests) {
  for (const auto& [name, test] : tests) {
    const int before = failures();
    try {
      test();
    } catch (const std::exception& error) {
      fail(name, 0, std::string("threw ") + error.what());
    }
    std::cout << (failures() == before ? "passed " : "FAILED ") << name << "\n";
  }
  return failures() == 0 ? 0 : 1;
}

}  // namespace nncore_test

// CHECK(condition, context): context is anything that can be streamed, saying which case failed.
#define CHECK(condition, context)                                                          \
  do {                                                                                     \
    if (!(condition)) {                                                                    \
      std::ostringstream check_context_;                                                   \
      check_context_ << context;                                                           \
      nncore_test::fail(__FILE__, __LINE__, #condition " (" + check_context_.str() + ")"); \
    }                                                                                      \
  } while (false)

// CHECK_NEAR(actual, expected, atol, rtol, context): |actual − expected| ≤ atol + rtol·|expected|.
#define CHECK_NEAR(actual, expected, atol, rtol, context)                                          \
  do {                                                                                             \
    const double check_actual_ = (actual), check_expected_ = (expected);                           \
    if (!nncore_test::near(check_actual_, check_expected_, (atol), (rtol))) {                      \
      std::ostringstream check_context_;                                                           \
      check_context_ << context;                                                                   \
      nncore_test::fail(__FILE__, __LINE__,                                                        \
                        nncore_test::describe_near(check_actual_, check_expected_, (atol), (rtol), \
                                                   check_context_.str()));                         \
    }                                                                                              \
  } while (false)
