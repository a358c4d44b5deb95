# Runs an eddy program and a Node.js program and fails unless their standard output is
# identical (after turning CRLF into LF: Windows builds under Wine print CRLF).
#
#   cmake -DEDDY=<exe> [-DEMULATOR=<cmd|arg|...>] -DNODE=<node> -DJS=<script.js> -P compare_output.cmake
#
# EMULATOR is CMAKE_CROSSCOMPILING_EMULATOR with ';' replaced by '|' (a list cannot pass
# through add_test's command line). The eddy program's environment is this script's, so a
# test's ENVIRONMENT property (EDDY_BACKEND=...) reaches it. If the requested port is not
# available on this machine the script prints "eddy-compare: SKIP" (the tests mark that
# output as skipped with SKIP_REGULAR_EXPRESSION) rather than passing silently.
cmake_minimum_required(VERSION 3.21)

foreach(var EDDY NODE JS)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "compare_output.cmake: -D${var}=... is required")
  endif()
endforeach()

set(eddy_cmd "${EDDY}")
if(DEFINED EMULATOR AND NOT "${EMULATOR}" STREQUAL "")
  string(REPLACE "|" ";" emulator "${EMULATOR}")
  set(eddy_cmd ${emulator} "${EDDY}")
endif()

get_filename_component(js_dir "${JS}" DIRECTORY)
execute_process(COMMAND "${NODE}" "${JS}" WORKING_DIRECTORY "${js_dir}"
  RESULT_VARIABLE node_rc OUTPUT_VARIABLE node_out ERROR_VARIABLE node_err)
if(NOT node_rc EQUAL 0)
  message(FATAL_ERROR "node ${JS} failed (${node_rc}):\n${node_err}")
endif()

execute_process(COMMAND ${eddy_cmd}
  RESULT_VARIABLE eddy_rc OUTPUT_VARIABLE eddy_out ERROR_VARIABLE eddy_err)
if(NOT eddy_rc EQUAL 0)
  if(eddy_err MATCHES "not available on this machine")
    message("eddy-compare: SKIP: port $ENV{EDDY_BACKEND} is not available here: ${eddy_err}")
    return()
  endif()
  message(FATAL_ERROR "${EDDY} failed (${eddy_rc}):\n${eddy_err}")
endif()

string(REPLACE "\r\n" "\n" node_out "${node_out}")
string(REPLACE "\r\n" "\n" eddy_out "${eddy_out}")
if(NOT node_out STREQUAL eddy_out)
  message(FATAL_ERROR "output differs (EDDY_BACKEND='$ENV{EDDY_BACKEND}')\n"
    "--- node ${JS}\n${node_out}--- ${EDDY}\n${eddy_out}--- eddy stderr\n${eddy_err}")
endif()
message(STATUS "identical output (EDDY_BACKEND='$ENV{EDDY_BACKEND}'):\n${eddy_out}")
