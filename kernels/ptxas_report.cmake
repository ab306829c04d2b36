# cmake -P kernels/ptxas_report.cmake: compiles one .cu for each GPU architecture with
# ptxas's resource report (registers, stack, spills, shared memory per kernel) and keeps
# the PTX, so that tests/kernels/kernel_resources_test.cpp can check on a machine without
# a GPU what decides whether a kernel can reach the memory bandwidth: no register spills,
# enough resident blocks per SM, 16-byte vector loads and stores.
#
# Arguments (-D): NVCC, SOURCE, NAME, OUT_DIR, ARCHS (e.g. "80;90"), INCLUDE (the project
# root), HOST_COMPILER (optional), EXTRA_FLAGS (optional, CMAKE_CUDA_FLAGS).
# Writes OUT_DIR/NAME.ptxas.txt and OUT_DIR/NAME.compute_<arch>.ptx; the report file is
# written under a temporary name and renamed, so a failed compile leaves no stale report.
foreach(v NVCC SOURCE NAME OUT_DIR ARCHS INCLUDE)
  if(NOT DEFINED ${v} OR "${${v}}" STREQUAL "")
    message(FATAL_ERROR "ptxas_report.cmake: -D${v}=... is required")
  endif()
endforeach()

# Always the optimised build (-O3 -DNDEBUG): the report is about the code that is timed.
set(args -I${INCLUDE} -O3 -DNDEBUG -std=c++17 -x cu --resource-usage --keep --keep-dir ${OUT_DIR})
foreach(a ${ARCHS})
  list(APPEND args --generate-code=arch=compute_${a},code=sm_${a})
endforeach()
if(HOST_COMPILER)
  list(APPEND args -ccbin ${HOST_COMPILER})
endif()
if(EXTRA_FLAGS)
  separate_arguments(extra UNIX_COMMAND "${EXTRA_FLAGS}")
  list(APPEND args ${extra})
endif()

file(MAKE_DIRECTORY ${OUT_DIR})
set(report ${OUT_DIR}/${NAME}.ptxas.txt)
execute_process(
  COMMAND ${NVCC} ${args} -c ${SOURCE} -o ${OUT_DIR}/${NAME}.o
  OUTPUT_FILE ${report}.tmp ERROR_FILE ${report}.tmp
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  file(READ ${report}.tmp log)
  file(REMOVE ${report}.tmp)
  message(FATAL_ERROR "ptxas_report.cmake: nvcc failed on ${SOURCE} (exit ${rc}):\n${log}")
endif()
file(RENAME ${report}.tmp ${report})
