#include "common.hpp"
#include "nncore/random.hpp"

namespace nncore::bindings {

void bind_random(py::module_& m) {
  py::class_<Random>(m, "Random", "The model's seeded generator (xoshiro256**).")
      .def(py::init<std::uint64_t>(), py::arg("seed"))
      .def_property("state", &Random::state, &Random::set_state,
                    "The four 64-bit words of the generator state (a copy).")
      .def("uniform01", &Random::uniform01)
      .def("normal", &Random::normal);
}

}  // namespace nncore::bindings
