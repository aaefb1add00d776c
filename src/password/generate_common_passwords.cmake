# Turns common_passwords.txt into a C++ initializer list (one string literal per entry), run at
# build time:  cmake -DINPUT=<txt> -DOUTPUT=<inc> -P generate_common_passwords.cmake
# Entries are lowercased; lines starting with '#' and blank lines are skipped.
if(NOT INPUT OR NOT OUTPUT)
  message(FATAL_ERROR "usage: cmake -DINPUT=<txt> -DOUTPUT=<inc> -P ${CMAKE_CURRENT_LIST_FILE}")
endif()

file(READ "${INPUT}" content)
string(REPLACE "\r" "" content "${content}")
# C string escapes first, then hide the characters CMake lists treat specially behind octal
# escapes, which C++ reads back as the same characters.
string(REPLACE "\\" "\\\\" content "${content}")
string(REPLACE "\"" "\\\"" content "${content}")
string(REPLACE ";" "\\073" content "${content}")
string(REPLACE "[" "\\133" content "${content}")
string(REPLACE "]" "\\135" content "${content}")
string(REPLACE "\n" ";" lines "${content}")

set(out "// Generated from common_passwords.txt by generate_common_passwords.cmake. Do not edit.\n")
set(count 0)
foreach(line IN LISTS lines)
  if(line STREQUAL "" OR line MATCHES "^#")
    continue()
  endif()
  string(TOLOWER "${line}" line)
  string(APPEND out "\"${line}\",\n")
  math(EXPR count "${count} + 1")
endforeach()
if(count LESS 1000)
  message(FATAL_ERROR "${INPUT}: only ${count} entries; the policy needs at least 1000")
endif()
file(WRITE "${OUTPUT}.tmp" "${out}")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
