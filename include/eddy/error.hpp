// Portable error codes. Every failure eddy reports is a std::error_code in eddy's category
// (eddy::category()), whatever the OS said underneath: errno values, Win32/WSA errors and
// NTSTATUS values map to the same eddy::errc condition, with a readable message.
#pragma once

#include <cstdint>
#include <string>
#include <system_error>

#include "eddy/export.hpp"

namespace eddy {

enum class errc : int {
  unknown = 1,            // an OS error eddy has no portable name for (see native_error())
  operation_canceled,     // the operation was cancelled before it completed
  busy,                   // resource busy (closing a loop with open handles)
  invalid_argument,       // a caller passed a bad value
  not_supported,          // the operation or option is not supported here
  backend_unavailable,    // the requested port cannot be used on this machine
  eof,                    // end of stream
  timed_out,
  would_block,
  interrupted,
  permission_denied,
  no_such_file,
  file_exists,
  not_a_directory,
  is_a_directory,
  too_many_open_files,
  no_memory,
  no_space,
  bad_descriptor,
  broken_pipe,
  address_in_use,
  address_not_available,
  connection_refused,
  connection_reset,
  connection_aborted,
  not_connected,
  already_connected,
  host_unreachable,
  network_unreachable,
  message_too_long,
  already_started,        // e.g. starting a read twice
  not_started,            // e.g. timer::again() on a timer never started
  closed,                 // the handle is closed or closing
  host_not_found,         // name resolution: no such host or service
  try_again,              // name resolution: a temporary failure, try again later
  dns_failure,            // name resolution failed for another reason
  protocol_error,         // the peer sent bytes that break the protocol (a malformed frame)
  no_such_process,        // the process has exited (or never existed)
  exec_format_error,      // the file is not a program this system can run
  no_data,                // DNS: the name exists but has no records of the type asked for
};

// The category of eddy::errc. Its name is "eddy"; messages are short lower-case sentences.
EDDY_API const std::error_category& category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), category()};
}

// Maps native error numbers to eddy codes. These are plain numeric tables: they work on
// any platform (a Windows code can be translated on Linux, which the tests use).
EDDY_API std::error_code from_errno(int errno_value) noexcept;
EDDY_API std::error_code from_win32(std::uint32_t win32_or_wsa_error) noexcept;
EDDY_API std::error_code from_ntstatus(std::int32_t ntstatus) noexcept;

}  // namespace eddy

template <>
struct std::is_error_code_enum<eddy::errc> : std::true_type {};
