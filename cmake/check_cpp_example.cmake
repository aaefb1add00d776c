cmake_minimum_required(VERSION 3.25)
# ctest script (cpp_example_build): installs Portcullis' C++ package into a temp prefix and
# builds examples/cpp-resource-server against that prefix only, as a user would; the e2e test
# tests/e2e/test_cpp_resource_server.py then runs the binary against a real Portcullis.
# Usage: cmake -DBUILD_DIR=... -DEXAMPLE_DIR=... -DWORK_DIR=... [-DSANITIZE=...] -P this
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed: ${ARGN}\n${out}\n${err}")
  endif()
endfunction()
# The C++ package only (the Python component installs into the interpreter's site directory).
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix} --component Unspecified)
set(flags)
if(SANITIZE)
  list(APPEND flags "-DCMAKE_CXX_FLAGS=-fsanitize=${SANITIZE}"
       "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=${SANITIZE}")
endif()
run(${CMAKE_COMMAND} -S ${EXAMPLE_DIR} -B ${WORK_DIR}/build -G Ninja
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Debug ${flags})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
message(STATUS "built ${WORK_DIR}/build/cpp-resource-server")
