#include "platform/win32/win32.hpp"

#include "eddy/error.hpp"
#include "platform/contract/metrics.hpp"

namespace eddy::contract::metrics {

std::error_code open_descriptors(std::uint64_t& out) {
  DWORD n = 0;
  if (!::GetProcessHandleCount(::GetCurrentProcess(), &n)) return from_win32(::GetLastError());
  out = n;
  return {};
}

}  // namespace eddy::contract::metrics
