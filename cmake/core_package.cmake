# The C++ core on its own (NNCORE_PYTHON=OFF): the library nncore::core, its headers and a
# versioned CMake package, so that another project can write
#   find_package(nncore CONFIG REQUIRED)
#   target_link_libraries(app PRIVATE nncore::core)
# and, with NNCORE_BUILD_TESTS, the C++ tests of the core (tests/cpp, run by ctest).
#
# One static library: the core is templates instantiated for float and double in a few hundred
# kilobytes of code, so a static archive gives each program (or shared object: it is
# position-independent) a self-contained copy with no run-time search path or ABI version to keep.
if(NNCORE_NATIVE)
  nncore_add_core(nncore_core -march=native)
else()
  nncore_add_core(nncore_core)  # the compiler's baseline for the architecture (x86-64: SSE2)
endif()
set_target_properties(nncore_core PROPERTIES EXPORT_NAME core OUTPUT_NAME nncore)
add_library(nncore::core ALIAS nncore_core)

set(NNCORE_PACKAGE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/nncore")
install(TARGETS nncore_core EXPORT nncoreTargets ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}")
install(DIRECTORY cpp/include/nncore DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
        FILES_MATCHING PATTERN "*.hpp")
install(EXPORT nncoreTargets NAMESPACE nncore:: DESTINATION "${NNCORE_PACKAGE_DIR}")

include(CMakePackageConfigHelpers)
configure_package_config_file(cmake/nncoreConfig.cmake.in "${PROJECT_BINARY_DIR}/nncoreConfig.cmake"
                              INSTALL_DESTINATION "${NNCORE_PACKAGE_DIR}")
# 0.x: a minor release may change the API, so only the same X.Y satisfies a request for X.Y.
write_basic_package_version_file("${PROJECT_BINARY_DIR}/nncoreConfigVersion.cmake"
                                 COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/nncoreConfig.cmake"
              "${PROJECT_BINARY_DIR}/nncoreConfigVersion.cmake"
        DESTINATION "${NNCORE_PACKAGE_DIR}")

if(NNCORE_BUILD_TESTS)
  enable_testing()
  add_subdirectory(tests/cpp)
endif()
