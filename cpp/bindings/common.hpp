// Shared by the binding files: array types and the conversion of NumPy arrays into core views.
// Arrays cross as views (no copy): the Python layer has already made them C-contiguous arrays of
// the network's dtype, and the bindings take them with noconvert() so that a mismatch is a
// TypeError rather than a silent copy.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "nncore/types.hpp"

namespace py = pybind11;

namespace nncore::bindings {

template <class T>
using Array = py::array_t<T, py::array::c_style>;

// Debug hook for the zero-copy tests: the data address of the last feature matrix X that
// crossed into the core.
inline std::atomic<std::uintptr_t>& last_input_address() {
  static std::atomic<std::uintptr_t> address{0};
  return address;
}

template <class T>
ConstMatrixRef<T> as_matrix(const Array<T>& array, const char* name) {
  if (array.ndim() != 2)
    throw std::invalid_argument(std::string(name) + " must be 2-D, got " +
                                std::to_string(array.ndim()) + "-D");
  if (std::string(name) == "X")
    last_input_address().store(reinterpret_cast<std::uintptr_t>(array.data()));
  return ConstMatrixMap<T>(array.data(), array.shape(0), array.shape(1));
}

template <class T>
ConstVectorRef<T> as_vector(const Array<T>& array, const char* name) {
  if (array.ndim() != 1)
    throw std::invalid_argument(std::string(name) + " must be 1-D, got " +
                                std::to_string(array.ndim()) + "-D");
  return Eigen::Map<const Vector<T>>(array.data(), array.shape(0));
}

template <class T>
const char* dtype_suffix();
template <>
inline const char* dtype_suffix<float>() {
  return "F32";
}
template <>
inline const char* dtype_suffix<double>() {
  return "F64";
}

void bind_random(py::module_& m);
void bind_layers(py::module_& m);
void bind_sequential(py::module_& m);
void bind_network(py::module_& m);
void bind_optimizer(py::module_& m);
void bind_fit_options(py::module_& m);
void bind_training(py::module_& m);
void bind_lbfgs(py::module_& m);
void bind_threads(py::module_& m);

}  // namespace nncore::bindings
