// Process facts for the metrics export (src/loop/metrics.cpp): platform/posix/metrics.cpp
// counts /proc/self/fd, platform/iocp/metrics.cpp asks GetProcessHandleCount.
#pragma once

#include <cstdint>
#include <system_error>

namespace eddy::contract::metrics {

// How many descriptors (Windows: handles) the process has open.
std::error_code open_descriptors(std::uint64_t& out);

}  // namespace eddy::contract::metrics
