#include <dirent.h>

#include <cerrno>

#include "eddy/error.hpp"
#include "platform/contract/metrics.hpp"

namespace eddy::contract::metrics {

std::error_code open_descriptors(std::uint64_t& out) {
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) return from_errno(errno);
  std::uint64_t n = 0;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(d);
  out = n > 0 ? n - 1 : 0;  // not the one opendir itself holds
  return {};
}

}  // namespace eddy::contract::metrics
