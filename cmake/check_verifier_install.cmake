cmake_minimum_required(VERSION 3.25)
# ctest script: cmake --install into a temp prefix, then configure and build a consumer with
# find_package(Portcullis) and pkg-config against that prefix only, and run it.
# Usage: cmake -DBUILD_DIR=... -DCONSUMER_DIR=... -DWORK_DIR=... -P check_verifier_install.cmake
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
foreach(f include/portcullis/verifier.h lib/libportcullis-verifier.a
          lib/cmake/Portcullis/PortcullisConfig.cmake lib/pkgconfig/portcullis-verifier.pc)
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "not installed: ${f}")
  endif()
endforeach()
# No internal target may be required by the exported package.
file(READ ${prefix}/lib/cmake/Portcullis/PortcullisTargets.cmake targets)
if(targets MATCHES "portcullis_(jose|crypto|base|authz|verifier_core)")
  message(FATAL_ERROR "an internal library leaks into the installed package")
endif()
# A sanitizer build installs an instrumented library: the consumer links the same runtime.
set(consumer_flags)
if(SANITIZE)
  list(APPEND consumer_flags "-DCMAKE_CXX_FLAGS=-fsanitize=${SANITIZE}"
       "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=${SANITIZE}")
endif()
run(${CMAKE_COMMAND} -S ${CONSUMER_DIR} -B ${WORK_DIR}/build -DCMAKE_PREFIX_PATH=${prefix}
    ${consumer_flags})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run(${WORK_DIR}/build/consumer)
message(STATUS "installed package OK")
