// eddy's error category and the tables that translate native error numbers into it.
// The Win32 and NTSTATUS tables are plain numbers (from the Windows SDK documentation),
// so they build and can be tested on every platform.
#include <cerrno>
#include <string>

#include <fmt/format.h>

#include "eddy/error.hpp"

namespace eddy {
namespace {

class eddy_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "eddy"; }

  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::unknown: return "unknown error";
      case errc::operation_canceled: return "operation canceled";
      case errc::busy: return "resource busy: handles are still open";
      case errc::invalid_argument: return "invalid argument";
      case errc::not_supported: return "operation not supported on this platform";
      case errc::backend_unavailable: return "the requested backend is not available on this machine";
      case errc::eof: return "end of file";
      case errc::timed_out: return "operation timed out";
      case errc::would_block: return "resource temporarily unavailable";
      case errc::interrupted: return "interrupted system call";
      case errc::permission_denied: return "permission denied";
      case errc::no_such_file: return "no such file or directory";
      case errc::file_exists: return "file already exists";
      case errc::not_a_directory: return "not a directory";
      case errc::is_a_directory: return "is a directory";
      case errc::too_many_open_files: return "too many open files";
      case errc::no_memory: return "not enough memory";
      case errc::no_space: return "no space left on device";
      case errc::bad_descriptor: return "bad file descriptor or handle";
      case errc::broken_pipe: return "broken pipe";
      case errc::address_in_use: return "address already in use";
      case errc::address_not_available: return "address not available";
      case errc::connection_refused: return "connection refused";
      case errc::connection_reset: return "connection reset by peer";
      case errc::connection_aborted: return "connection aborted";
      case errc::not_connected: return "socket is not connected";
      case errc::already_connected: return "socket is already connected";
      case errc::host_unreachable: return "host is unreachable";
      case errc::network_unreachable: return "network is unreachable";
      case errc::message_too_long: return "message too long";
      case errc::already_started: return "operation already in progress";
      case errc::not_started: return "handle was never started";
      case errc::closed: return "handle is closed";
      case errc::host_not_found: return "host or service not found";
      case errc::try_again: return "temporary failure in name resolution";
      case errc::dns_failure: return "name resolution failed";
      case errc::protocol_error: return "malformed data from the peer";
      case errc::no_such_process: return "no such process";
      case errc::exec_format_error: return "not an executable format";
      case errc::no_data: return "the name has no DNS records of the requested type";
    }
    return fmt::format("eddy error {}", value);
  }

  std::error_condition default_error_condition(int value) const noexcept override {
    switch (static_cast<errc>(value)) {
      case errc::operation_canceled: return std::errc::operation_canceled;
      case errc::busy: return std::errc::device_or_resource_busy;
      case errc::invalid_argument: return std::errc::invalid_argument;
      case errc::not_supported: return std::errc::not_supported;
      case errc::timed_out: return std::errc::timed_out;
      case errc::would_block: return std::errc::resource_unavailable_try_again;
      case errc::permission_denied: return std::errc::permission_denied;
      case errc::no_such_file: return std::errc::no_such_file_or_directory;
      case errc::file_exists: return std::errc::file_exists;
      case errc::connection_refused: return std::errc::connection_refused;
      case errc::connection_reset: return std::errc::connection_reset;
      case errc::address_in_use: return std::errc::address_in_use;
      case errc::broken_pipe: return std::errc::broken_pipe;
      default: return {value, *this};
    }
  }
};

struct mapping {
  long long native;
  errc code;
};

template <std::size_t N>
std::error_code lookup(const mapping (&table)[N], long long native) noexcept {
  for (const auto& m : table) {
    if (m.native == native) return make_error_code(m.code);
  }
  return make_error_code(errc::unknown);
}

// Win32 and Winsock error numbers.
constexpr mapping win32_table[] = {
    {2, errc::no_such_file},              // ERROR_FILE_NOT_FOUND
    {3, errc::no_such_file},              // ERROR_PATH_NOT_FOUND
    {4, errc::too_many_open_files},       // ERROR_TOO_MANY_OPEN_FILES
    {5, errc::permission_denied},         // ERROR_ACCESS_DENIED
    {6, errc::bad_descriptor},            // ERROR_INVALID_HANDLE
    {8, errc::no_memory},                 // ERROR_NOT_ENOUGH_MEMORY
    {14, errc::no_memory},                // ERROR_OUTOFMEMORY
    {38, errc::eof},                      // ERROR_HANDLE_EOF
    {50, errc::not_supported},            // ERROR_NOT_SUPPORTED
    {64, errc::connection_reset},         // ERROR_NETNAME_DELETED
    {80, errc::file_exists},              // ERROR_FILE_EXISTS
    {87, errc::invalid_argument},         // ERROR_INVALID_PARAMETER
    {109, errc::broken_pipe},             // ERROR_BROKEN_PIPE
    {112, errc::no_space},                // ERROR_DISK_FULL
    {121, errc::timed_out},               // ERROR_SEM_TIMEOUT
    {170, errc::busy},                    // ERROR_BUSY
    {183, errc::file_exists},             // ERROR_ALREADY_EXISTS
    {232, errc::broken_pipe},             // ERROR_NO_DATA
    {233, errc::not_connected},           // ERROR_PIPE_NOT_CONNECTED
    {193, errc::exec_format_error},       // ERROR_BAD_EXE_FORMAT
    {267, errc::not_a_directory},         // ERROR_DIRECTORY
    {258, errc::timed_out},               // WAIT_TIMEOUT
    {676, errc::operation_canceled},      // ERROR_HANDLES_CLOSED (Wine's code for a closed socket)
    {995, errc::operation_canceled},      // ERROR_OPERATION_ABORTED
    {997, errc::would_block},             // ERROR_IO_PENDING (never an outcome; mapped for logs)
    {1225, errc::connection_refused},     // ERROR_CONNECTION_REFUSED
    {1226, errc::connection_aborted},     // ERROR_CONNECTION_ABORTED (local)
    {1236, errc::connection_aborted},     // ERROR_CONNECTION_ABORTED
    {1231, errc::network_unreachable},    // ERROR_NETWORK_UNREACHABLE
    {1232, errc::host_unreachable},       // ERROR_HOST_UNREACHABLE
    {1460, errc::timed_out},              // ERROR_TIMEOUT
    {10004, errc::interrupted},           // WSAEINTR
    {10009, errc::bad_descriptor},        // WSAEBADF
    {10013, errc::permission_denied},     // WSAEACCES
    {10022, errc::invalid_argument},      // WSAEINVAL
    {10024, errc::too_many_open_files},   // WSAEMFILE
    {10035, errc::would_block},           // WSAEWOULDBLOCK
    {10036, errc::already_started},       // WSAEINPROGRESS
    {10037, errc::already_started},       // WSAEALREADY
    {10038, errc::bad_descriptor},        // WSAENOTSOCK
    {10040, errc::message_too_long},      // WSAEMSGSIZE
    {10045, errc::not_supported},         // WSAEOPNOTSUPP
    {10047, errc::not_supported},         // WSAEAFNOSUPPORT
    {10048, errc::address_in_use},        // WSAEADDRINUSE
    {10049, errc::address_not_available}, // WSAEADDRNOTAVAIL
    {10050, errc::network_unreachable},   // WSAENETDOWN
    {10051, errc::network_unreachable},   // WSAENETUNREACH
    {10053, errc::connection_aborted},    // WSAECONNABORTED
    {10054, errc::connection_reset},      // WSAECONNRESET
    {10055, errc::no_memory},             // WSAENOBUFS
    {10056, errc::already_connected},     // WSAEISCONN
    {10057, errc::not_connected},         // WSAENOTCONN
    {10058, errc::broken_pipe},           // WSAESHUTDOWN
    {10060, errc::timed_out},             // WSAETIMEDOUT
    {10061, errc::connection_refused},    // WSAECONNREFUSED
    {10065, errc::host_unreachable},      // WSAEHOSTUNREACH
    {10101, errc::eof},                   // WSAEDISCON
    {11001, errc::host_not_found},        // WSAHOST_NOT_FOUND
    {11002, errc::try_again},             // WSATRY_AGAIN
    {11003, errc::dns_failure},           // WSANO_RECOVERY
    {11004, errc::host_not_found},        // WSANO_DATA
    {10109, errc::not_supported},         // WSATYPE_NOT_FOUND
};

// NTSTATUS values as signed 32-bit numbers.
constexpr mapping ntstatus_table[] = {
    {static_cast<std::int32_t>(0x8000000Au), errc::operation_canceled},   // STATUS_HANDLES_CLOSED
    {static_cast<std::int32_t>(0xC0000120u), errc::operation_canceled},   // STATUS_CANCELLED
    {static_cast<std::int32_t>(0xC0000011u), errc::eof},                  // STATUS_END_OF_FILE
    {static_cast<std::int32_t>(0xC0000008u), errc::bad_descriptor},       // STATUS_INVALID_HANDLE
    {static_cast<std::int32_t>(0xC000000Du), errc::invalid_argument},     // STATUS_INVALID_PARAMETER
    {static_cast<std::int32_t>(0xC0000022u), errc::permission_denied},    // STATUS_ACCESS_DENIED
    {static_cast<std::int32_t>(0xC0000034u), errc::no_such_file},         // STATUS_OBJECT_NAME_NOT_FOUND
    {static_cast<std::int32_t>(0xC0000035u), errc::file_exists},          // STATUS_OBJECT_NAME_COLLISION
    {static_cast<std::int32_t>(0xC000009Au), errc::no_memory},            // STATUS_INSUFFICIENT_RESOURCES
    {static_cast<std::int32_t>(0xC00000B5u), errc::timed_out},            // STATUS_IO_TIMEOUT
    {static_cast<std::int32_t>(0xC000014Bu), errc::broken_pipe},          // STATUS_PIPE_BROKEN
    {static_cast<std::int32_t>(0xC0000236u), errc::connection_refused},   // STATUS_CONNECTION_REFUSED
    {static_cast<std::int32_t>(0xC000020Du), errc::connection_reset},     // STATUS_CONNECTION_RESET
    {static_cast<std::int32_t>(0xC0000241u), errc::connection_aborted},   // STATUS_CONNECTION_ABORTED
    {static_cast<std::int32_t>(0xC000023Cu), errc::network_unreachable},  // STATUS_NETWORK_UNREACHABLE
    {static_cast<std::int32_t>(0xC000023Du), errc::host_unreachable},     // STATUS_HOST_UNREACHABLE
    {static_cast<std::int32_t>(0xC00000BBu), errc::not_supported},        // STATUS_NOT_SUPPORTED
    {static_cast<std::int32_t>(0xC000013Bu), errc::connection_aborted},   // STATUS_LOCAL_DISCONNECT
    {static_cast<std::int32_t>(0xC000013Cu), errc::connection_reset},     // STATUS_REMOTE_DISCONNECT
    {static_cast<std::int32_t>(0xC0000140u), errc::not_connected},        // STATUS_INVALID_CONNECTION
    {static_cast<std::int32_t>(0xC000020Au), errc::address_in_use},       // STATUS_ADDRESS_ALREADY_EXISTS
    {static_cast<std::int32_t>(0xC00000B0u), errc::broken_pipe},          // STATUS_PIPE_DISCONNECTED
    {static_cast<std::int32_t>(0xC00000ADu), errc::broken_pipe},          // STATUS_PIPE_CLOSING
};

}  // namespace

const std::error_category& category() noexcept {
  static const eddy_category instance;
  return instance;
}

std::error_code from_errno(int e) noexcept {
  switch (e) {
    case 0: return {};
    case ECANCELED: return make_error_code(errc::operation_canceled);
    case EBUSY: return make_error_code(errc::busy);
    case EINVAL:
    case E2BIG: return make_error_code(errc::invalid_argument);
    case ESRCH: return make_error_code(errc::no_such_process);
    case ENOEXEC: return make_error_code(errc::exec_format_error);
    case ENOSYS:
    case EOPNOTSUPP:
#if EOPNOTSUPP != ENOTSUP
    case ENOTSUP:
#endif
    case EAFNOSUPPORT:
    case EPROTONOSUPPORT: return make_error_code(errc::not_supported);
    case ETIMEDOUT: return make_error_code(errc::timed_out);
    case EAGAIN:
#if EAGAIN != EWOULDBLOCK
    case EWOULDBLOCK:
#endif
      return make_error_code(errc::would_block);
    case EINTR: return make_error_code(errc::interrupted);
    case EACCES:
    case EPERM: return make_error_code(errc::permission_denied);
    case ENOENT: return make_error_code(errc::no_such_file);
    case EEXIST: return make_error_code(errc::file_exists);
    case ENOTDIR: return make_error_code(errc::not_a_directory);
    case EISDIR: return make_error_code(errc::is_a_directory);
    case EMFILE:
    case ENFILE: return make_error_code(errc::too_many_open_files);
    case ENOMEM:
    case ENOBUFS: return make_error_code(errc::no_memory);
    case ENOSPC: return make_error_code(errc::no_space);
    case EBADF:
    case ENOTSOCK: return make_error_code(errc::bad_descriptor);
    case EPIPE: return make_error_code(errc::broken_pipe);
    case EADDRINUSE: return make_error_code(errc::address_in_use);
    case EADDRNOTAVAIL: return make_error_code(errc::address_not_available);
    case ECONNREFUSED: return make_error_code(errc::connection_refused);
    case ECONNRESET: return make_error_code(errc::connection_reset);
    case ECONNABORTED: return make_error_code(errc::connection_aborted);
    case ENOTCONN: return make_error_code(errc::not_connected);
    case EISCONN: return make_error_code(errc::already_connected);
    case EHOSTUNREACH: return make_error_code(errc::host_unreachable);
    case ENETUNREACH:
    case ENETDOWN: return make_error_code(errc::network_unreachable);
    case EMSGSIZE: return make_error_code(errc::message_too_long);
    case EALREADY:
    case EINPROGRESS: return make_error_code(errc::already_started);
    default: return make_error_code(errc::unknown);
  }
}

std::error_code from_win32(std::uint32_t e) noexcept {
  if (e == 0) return {};
  return lookup(win32_table, e);
}

std::error_code from_ntstatus(std::int32_t s) noexcept {
  if (s == 0) return {};  // STATUS_SUCCESS
  return lookup(ntstatus_table, s);
}

}  // namespace eddy
