// What the io_uring port keeps beside the ring, and the helpers its files share. Private to
// platform/uring/ (it includes <liburing.h> and the socket headers).
//
// The port is one class (uring_port.hpp) in three files:
// - uring_port.cpp: the ring: init, attach/detach, submit (one SQE per operation), cancel,
//   reap and poll, wake, close
// - sockets.cpp: multishot accept on listeners and multishot receive into provided-buffer
//   rings (streams and datagrams)
// - files.cpp: which file opcodes the kernel has (probed at init) and their SQEs
// Loop thread only.
#pragma once

#include "platform/uring/uring_port.hpp"

#include <poll.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <deque>

#include "platform/posix/fd_passing.hpp"
#include "platform/posix/posix_util.hpp"

namespace eddy::platform::uring {

constexpr unsigned ring_entries = 256;
constexpr unsigned reap_batch = 128;

// user_data values that are not operations.
constexpr std::uint64_t wake_tag = 1;
constexpr std::uint64_t ignore_tag = 2;

struct recv_state {
  bool no_buffer;
};

// user_data of a listener's multishot accept: the listener's address with bit 0 set
// (operations are at least 8-aligned, so their low bits are 0).
constexpr std::uint64_t listener_bit = 1;

struct port::stream_rx {
  struct chunk {
    unsigned short bid;
    unsigned len;
    unsigned offset;
  };
  int fd = -1;
  bool datagram = false;  // recvmsg: one datagram per buffer, with its sender
  bool armed = false;
  bool detached = false;
  bool eof = false;
  bool ever_received = false;
  int error = 0;
  detail::operation* waiting = nullptr;
  std::deque<chunk> queue;  // received and not yet read, oldest first
  msghdr layout{};          // datagrams: how the kernel lays out each buffer (name, payload)
};

struct port::buffer_group {
  io_uring_buf_ring* ring = nullptr;
  unsigned char* data = nullptr;
  unsigned count = 0;
  std::size_t size = 0;
  unsigned short bgid = 0;
  unsigned char* buffer(unsigned short bid) const noexcept { return data + std::size_t{bid} * size; }
  void recycle(unsigned short bid) noexcept {
    io_uring_buf_ring_add(ring, buffer(bid), static_cast<unsigned>(size), bid, io_uring_buf_ring_mask(count), 0);
    io_uring_buf_ring_advance(ring, 1);
  }
};

struct port::listener {
  int fd = -1;
  bool armed = false;        // a multishot accept is in the ring
  bool detached = false;     // the core is done with it; freed with the last CQE
  bool ever_accepted = false;
  detail::operation* waiting = nullptr;  // the core's accept operation, if any
  std::vector<int> stash;                // accepted while nobody waited
  int stashed_error = 0;                 // an error that arrived while nobody waited
};

// The io object's port_data: its listener or receiver state (or nullptr).
struct io_slots {
  port::listener* listener;
  port::stream_rx* rx;
};
inline io_slots& slots(detail::io_object& io) noexcept { return *reinterpret_cast<io_slots*>(io.port_data.data()); }
inline port::listener*& listener_of(detail::io_object& io) noexcept { return slots(io).listener; }

constexpr unsigned buffer_count = 128;  // streams; a power of two
constexpr unsigned buffer_size = 16 * 1024;
constexpr unsigned dgram_buffer_count = 16;  // datagrams: header, sender, then up to 64 KiB
constexpr unsigned dgram_buffer_size = 64 * 1024 + sizeof(io_uring_recvmsg_out) + sizeof(sockaddr_storage);
constexpr std::uint64_t rx_bit = 2;  // user_data of a multishot receive: its state | 2

struct ready_link {
  detail::operation* next;
};
inline detail::operation*& next_ready(detail::operation& op) noexcept { return detail::port_state<ready_link>(op).next; }

}  // namespace eddy::platform::uring
