cmake_minimum_required(VERSION 3.25)
# ctest script: proves the resource-server verifier depends on nothing of the server (DESIGN §11).
# Usage: cmake -DNM=... -DARCHIVES="a.a;b.a" -DSOURCE_DIR=... -P check_verifier_layering.cmake
# Fails when (1) any archive in the verifier's link closure defines or needs a symbol of the
# server layers, or (2) any header or source the verifier includes (transitively, project
# headers only) lives in one of those layers.
set(forbidden store config http api app token authn audit admin cli)

# (1) Symbols of the link closure.
foreach(archive IN LISTS ARCHIVES)
  execute_process(COMMAND ${NM} -C ${archive} OUTPUT_VARIABLE symbols RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "nm failed on ${archive}")
  endif()
  foreach(layer IN LISTS forbidden)
    string(REGEX MATCH "portcullis::${layer}::[A-Za-z_:]*" hit "${symbols}")
    if(hit)
      message(FATAL_ERROR "${archive} references server layer '${layer}': ${hit}")
    endif()
  endforeach()
endforeach()

# (2) Include graph, from the verifier's sources and the public headers.
file(GLOB queue ${SOURCE_DIR}/src/verifier/*.cc ${SOURCE_DIR}/src/verifier/*.h
     ${SOURCE_DIR}/include/portcullis/*.h)
list(FILTER queue EXCLUDE REGEX "_test\\.cc$")
set(seen "")
while(queue)
  list(POP_FRONT queue file)
  if(file IN_LIST seen)
    continue()
  endif()
  list(APPEND seen ${file})
  file(STRINGS ${file} includes REGEX "^#include \"")
  foreach(line IN LISTS includes)
    string(REGEX REPLACE "^#include \"([^\"]+)\".*" "\\1" inc "${line}")
    string(REGEX MATCH "^[a-z_]+" top "${inc}")
    if(top IN_LIST forbidden)
      message(FATAL_ERROR "${file} includes server header ${inc}")
    endif()
    foreach(root ${SOURCE_DIR}/src ${SOURCE_DIR}/include)
      if(EXISTS ${root}/${inc})
        list(APPEND queue ${root}/${inc})
      endif()
    endforeach()
  endforeach()
endwhile()
list(LENGTH seen n)
message(STATUS "verifier layering OK (${n} files, archives: ${ARCHIVES})")
