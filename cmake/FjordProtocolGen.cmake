# Runs tools/protocol/generate.py over protocol/schema/ at build time.
#
# fjord_generate_protocol(<sources-var> <include-dir-var>) sets <sources-var> to the
# generated library sources and <include-dir-var> to the folder to add to the include path.
# FJORD_GEN_TEST_SOURCES (cache-internal) lists the generated round-trip tests.
set(FJORD_SCHEMA_DIR "${PROJECT_SOURCE_DIR}/protocol/schema")
set(FJORD_GENERATOR "${PROJECT_SOURCE_DIR}/tools/protocol/generate.py")
set(FJORD_GEN_DIR "${PROJECT_BINARY_DIR}/generated/protocol")

function(fjord_generate_protocol sources_var include_var)
  file(GLOB_RECURSE schema_files CONFIGURE_DEPENDS "${FJORD_SCHEMA_DIR}/*.json")
  execute_process(
    COMMAND ${Python3_EXECUTABLE} ${FJORD_GENERATOR} ${FJORD_SCHEMA_DIR} ${FJORD_GEN_DIR} --list
    OUTPUT_VARIABLE listing
    RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "protocol generator failed to list its outputs (exit ${rc})")
  endif()
  string(REPLACE "\n" ";" outputs "${listing}")
  list(FILTER outputs EXCLUDE REGEX "^$")
  set(lib_sources ${outputs})
  list(FILTER lib_sources INCLUDE REGEX "/src/.*\\.cc$")
  set(test_sources ${outputs})
  list(FILTER test_sources INCLUDE REGEX "/tests/.*\\.cc$")

  add_custom_command(
    OUTPUT ${outputs}
    COMMAND ${Python3_EXECUTABLE} ${FJORD_GENERATOR} ${FJORD_SCHEMA_DIR} ${FJORD_GEN_DIR}
    DEPENDS ${FJORD_GENERATOR} ${schema_files}
    COMMENT "Generating protocol code from ${FJORD_SCHEMA_DIR}"
    VERBATIM)
  add_custom_target(fjord_protocol_codegen DEPENDS ${outputs})

  set(FJORD_GEN_TEST_SOURCES ${test_sources} CACHE INTERNAL "generated round-trip tests")
  set(${sources_var} ${lib_sources} PARENT_SCOPE)
  set(${include_var} "${FJORD_GEN_DIR}/include" PARENT_SCOPE)
endfunction()
