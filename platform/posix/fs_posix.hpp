// What the POSIX file-system calls (platform/posix/fs.cpp) share with the io_uring port's
// native file operations: the open flags and the statx translation.
#pragma once

#include <sys/stat.h>

#include "eddy/fs.hpp"

namespace eddy::platform::posix {

int to_open_flags(fs::open_flags flags) noexcept;
fs::file_type type_of_mode(unsigned mode) noexcept;
void from_statx(const struct statx& x, fs::stat_info& out) noexcept;

}  // namespace eddy::platform::posix
