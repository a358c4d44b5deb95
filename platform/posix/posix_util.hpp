// Small helpers shared by the io_uring and epoll ports.
#pragma once

#include <unistd.h>

#include <cerrno>

namespace eddy::platform::posix {

// Closes fd (retrying nothing: Linux releases the fd even when close reports EINTR) and
// sets it to -1.
inline void close_fd(int& fd) noexcept {
  if (fd >= 0) {
    ::close(fd);
    fd = -1;
  }
}

}  // namespace eddy::platform::posix
