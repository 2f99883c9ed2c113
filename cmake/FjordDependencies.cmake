# Finds every library Fjord builds against. Each comes from a Debian package; when one is
# missing, configuration stops with the package to install (scripts/install-deps.sh installs
# all of them).
find_package(PkgConfig QUIET)

macro(fjord_missing what debpkg)
  message(FATAL_ERROR
    "Fjord needs ${what}, which was not found. Install the Debian package '${debpkg}' "
    "(or run scripts/install-deps.sh, which installs everything).")
endmacro()

macro(fjord_find_config pkg target debpkg)
  find_package(${pkg} CONFIG QUIET)
  if(NOT TARGET ${target})
    fjord_missing(${pkg} ${debpkg})
  endif()
endmacro()

# pkg-config modules become IMPORTED targets named fjord::dep::<name>.
macro(fjord_find_pc name module debpkg)
  if(NOT PKG_CONFIG_FOUND)
    fjord_missing("pkg-config" "pkg-config")
  endif()
  pkg_check_modules(FJORD_PC_${name} QUIET IMPORTED_TARGET GLOBAL ${module})
  if(NOT FJORD_PC_${name}_FOUND)
    fjord_missing(${module} ${debpkg})
  endif()
  add_library(fjord::dep::${name} ALIAS PkgConfig::FJORD_PC_${name})
endmacro()

find_package(Threads REQUIRED)
find_package(Boost 1.81 QUIET)
if(NOT Boost_FOUND)
  fjord_missing("Boost 1.81 (Asio)" "libboost1.81-dev")
endif()
fjord_find_config(absl absl::status libabsl-dev)
fjord_find_config(fmt fmt::fmt libfmt-dev)
fjord_find_config(spdlog spdlog::spdlog libspdlog-dev)
fjord_find_config(yaml-cpp yaml-cpp libyaml-cpp-dev)
fjord_find_config(CLI11 CLI11::CLI11 libcli11-dev)
find_package(OpenSSL QUIET)
if(NOT OPENSSL_FOUND)
  fjord_missing("OpenSSL" "libssl-dev")
endif()
find_package(ZLIB QUIET)
if(NOT ZLIB_FOUND)
  fjord_missing("zlib" "zlib1g-dev")
endif()
fjord_find_pc(sasl2 libsasl2 libsasl2-dev)
fjord_find_pc(uring liburing liburing-dev)
fjord_find_pc(lz4 liblz4 liblz4-dev)
fjord_find_pc(zstd libzstd libzstd-dev)

# Debian's snappy ships neither a .pc file nor a CMake config in every release: look for the
# header and library directly.
find_path(SNAPPY_INCLUDE_DIR snappy.h)
find_library(SNAPPY_LIBRARY snappy)
if(NOT SNAPPY_INCLUDE_DIR OR NOT SNAPPY_LIBRARY)
  fjord_missing("snappy" "libsnappy-dev")
endif()
add_library(fjord::dep::snappy UNKNOWN IMPORTED)
set_target_properties(fjord::dep::snappy PROPERTIES
  IMPORTED_LOCATION "${SNAPPY_LIBRARY}" INTERFACE_INCLUDE_DIRECTORIES "${SNAPPY_INCLUDE_DIR}")

find_package(Python3 COMPONENTS Interpreter QUIET)
if(NOT Python3_FOUND)
  fjord_missing("Python 3 (runs the protocol code generator)" "python3")
endif()

if(FJORD_BUILD_TESTS)
  find_package(GTest CONFIG QUIET)
  if(NOT TARGET GTest::gtest_main)
    fjord_missing("GoogleTest" "libgtest-dev")
  endif()
endif()
if(FJORD_BUILD_BENCH)
  find_package(benchmark CONFIG QUIET)
  if(NOT TARGET benchmark::benchmark)
    fjord_missing("Google Benchmark" "libbenchmark-dev")
  endif()
endif()
