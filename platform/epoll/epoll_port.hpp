// The epoll port: a readiness loop. Sockets are registered once, edge-triggered, for both
// directions; each keeps a queue of read-side operations (accept, recv) and one of
// write-side operations (connect, send) and remembers whether it last looked readable or
// writable. An operation is tried at once when its side looks ready (so a write goes out
// immediately and waits only for what did not fit) and otherwise when epoll says so; the
// port performs the syscall itself. Finished operations are delivered from poll(). Wake is
// an eventfd. Datagram sockets are read with recvmmsg, several datagrams per system call.
#pragma once

#include <memory>
#include <vector>

#include "platform/contract/port.hpp"

struct epoll_event;  // <sys/epoll.h>, which only epoll_port.cpp includes

namespace eddy::platform::epoll {

class port {
 public:
  static constexpr backend_kind kind = backend_kind::epoll;

  port();
  port(const port&) = delete;
  port& operator=(const port&) = delete;
  ~port();

  std::error_code init();
  // No file operations: the core runs them on the thread pool.
  bool supports(detail::op_kind k) const noexcept { return !detail::is_file_op(k); }
  void submit(detail::operation& op) noexcept;
  bool cancel(detail::operation& op) noexcept;
  detail::poll_result poll(std::int64_t timeout_ns);
  void wake() noexcept;
  void close() noexcept;
  std::error_code attach(detail::io_object& io);
  void detach(detail::io_object& io) noexcept;

  struct datagram_batch;  // datagrams received together by recvmmsg (epoll_port.cpp)

 private:
  datagram_batch* batch() noexcept;
  void make_ready(detail::operation& op) noexcept;
  void run_queue(detail::io_object& io, bool read_side, detail::poll_result& out);
  int epfd_ = -1;
  int wakefd_ = -1;
#if defined(__SANITIZE_THREAD__)
  // ThreadSanitizer runs signal handlers only inside system calls it intercepts, and it does
  // not intercept epoll_pwait2: a signal could wait forever. Use epoll_pwait under TSan.
  bool have_pwait2_ = false;
#else
  bool have_pwait2_ = true;  // epoll_pwait2 (Linux 5.11+): nanosecond timeouts
#endif
  // Operations that complete without waiting for the kernel (nop), delivered by next poll.
  detail::operation* ready_head_ = nullptr;
  detail::operation* ready_tail_ = nullptr;
  // Sockets whose queues stopped at the per-event limit; served again by the next poll.
  // poll() swaps retry_ with retry_serving_ and serves that, so both keep their capacity
  // and a loop under load does not allocate per poll.
  std::vector<detail::io_object*> retry_;
  std::vector<detail::io_object*> retry_serving_;
  // The event array epoll_pwait fills: min_events entries at first, doubled (up to
  // max_events) each time a poll fills it, so a loop with thousands of busy sockets takes
  // them in few calls while an idle one keeps a small array. Never shrinks.
  std::unique_ptr<::epoll_event[]> events_;
  int events_cap_ = 0;
  std::unique_ptr<datagram_batch> batch_;  // created on the first datagram receive
};

}  // namespace eddy::platform::epoll
