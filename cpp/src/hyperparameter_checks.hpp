// Range checks of the optimizers' hyper-parameters (private to cpp/src): each throws
// std::invalid_argument naming the hyper-parameter and the value it got.
#pragma once

#include <cmath>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>

namespace nncore::checks {

inline std::string describe(double value) {
  std::ostringstream text;
  text.precision(17);
  text << value;
  return text.str();
}

// finite and ≥ minimum
inline void at_least(double value, const char* name, double minimum) {
  if (!std::isfinite(value) || value < minimum)
    throw std::invalid_argument(std::string(name) + " must be finite and >= " + describe(minimum) +
                                ", got " + describe(value));
}

// finite and > 0
inline void positive(double value, const char* name) {
  if (!std::isfinite(value) || value <= 0.0)
    throw std::invalid_argument(std::string(name) + " must be finite and > 0, got " +
                                describe(value));
}

// in [0, 1)
inline void unit_interval_open(double value, const char* name) {
  if (!(value >= 0.0 && value < 1.0))
    throw std::invalid_argument(std::string(name) + " must be in [0, 1), got " + describe(value));
}

// in [0, 1]
inline void unit_interval_closed(double value, const char* name) {
  if (!(value >= 0.0 && value <= 1.0))
    throw std::invalid_argument(std::string(name) + " must be in [0, 1], got " + describe(value));
}

// none, or finite and > 0
inline void positive_or_none(const std::optional<double>& value, const char* name) {
  if (value) positive(*value, name);
}

}  // namespace nncore::checks
