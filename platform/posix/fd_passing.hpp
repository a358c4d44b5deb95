// Passing descriptors over Unix sockets (SCM_RIGHTS), for ipc pipes. Shared by the
// io_uring and epoll ports; the record fits in operation::port_data.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>

namespace eddy::platform::posix {

struct fd_message {
  msghdr msg;
  alignas(cmsghdr) unsigned char control[CMSG_SPACE(sizeof(int) * 4)];
};

// A message carrying iov and, if fd >= 0, the descriptor fd.
inline void prepare_send(fd_message& m, iovec* iov, std::size_t n, int fd) noexcept {
  std::memset(&m, 0, sizeof m);
  m.msg.msg_iov = iov;
  m.msg.msg_iovlen = n;
  if (fd < 0) return;
  m.msg.msg_control = m.control;
  m.msg.msg_controllen = CMSG_SPACE(sizeof(int));
  cmsghdr* c = CMSG_FIRSTHDR(&m.msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
}

inline void prepare_recv(fd_message& m, iovec* iov, std::size_t n) noexcept {
  std::memset(&m, 0, sizeof m);
  m.msg.msg_iov = iov;
  m.msg.msg_iovlen = n;
  m.msg.msg_control = m.control;
  m.msg.msg_controllen = sizeof m.control;
}

// The first descriptor received with msg, or -1. Any further ones are closed: eddy passes
// one handle per write.
inline int take_received_fd(const msghdr& msg) noexcept {
  int first = -1;
  for (cmsghdr* c = CMSG_FIRSTHDR(const_cast<msghdr*>(&msg)); c != nullptr;
       c = CMSG_NXTHDR(const_cast<msghdr*>(&msg), c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      if (first < 0) {
        first = fd;
      } else {
        ::close(fd);
      }
    }
  }
  return first;
}

}  // namespace eddy::platform::posix
