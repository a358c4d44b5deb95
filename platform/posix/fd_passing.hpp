// Passing descriptors over Unix sockets (SCM_RIGHTS), for ipc pipes. Shared by the
// io_uring and epoll ports; the record fits in operation::port_data.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstddef>
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

// Calls fn(fd) for every descriptor in msg's SCM_RIGHTS control messages, in order. Reads
// only inside msg_control[0, msg_controllen): a control message shorter than its header or
// running past the end stops the walk (the kernel never writes one; the walk is checked by
// tests/fuzz/fd_passing_fuzz.cpp on any bytes).
template <class F>
void for_each_received_fd(const msghdr& msg, F&& fn) {
  const auto* base = static_cast<const unsigned char*>(msg.msg_control);
  const std::size_t total = base == nullptr ? 0 : static_cast<std::size_t>(msg.msg_controllen);
  std::size_t off = 0;  // never past total
  while (total - off >= sizeof(cmsghdr)) {
    cmsghdr c;
    std::memcpy(&c, base + off, sizeof c);
    const auto len = static_cast<std::size_t>(c.cmsg_len);
    if (len < CMSG_LEN(0) || len > total - off) return;
    if (c.cmsg_level == SOL_SOCKET && c.cmsg_type == SCM_RIGHTS) {
      const std::size_t count = (len - CMSG_LEN(0)) / sizeof(int);
      for (std::size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, base + off + CMSG_LEN(0) + i * sizeof(int), sizeof fd);
        fn(fd);
      }
    }
    const std::size_t step = CMSG_ALIGN(len);
    if (step > total - off) return;
    off += step;
  }
}

// The first descriptor received with msg, or -1. Any further ones are closed: eddy passes
// one handle per write.
inline int take_received_fd(const msghdr& msg) noexcept {
  int first = -1;
  for_each_received_fd(msg, [&first](int fd) {
    if (first < 0) {
      first = fd;
    } else {
      ::close(fd);
    }
  });
  return first;
}

}  // namespace eddy::platform::posix
