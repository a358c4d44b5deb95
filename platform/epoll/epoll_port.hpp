// The epoll port: a readiness loop. Operations wait in per-fd queues until epoll says the
// fd is ready, then the port performs the syscall itself. Wake is an eventfd.
#pragma once

#include "platform/backend.hpp"

namespace eddy::platform::epoll {

class port {
 public:
  static constexpr backend_kind kind = backend_kind::epoll;

  port() = default;
  port(const port&) = delete;
  port& operator=(const port&) = delete;
  ~port() { close(); }

  std::error_code init();
  void submit(detail::operation& op) noexcept;
  bool cancel(detail::operation& op) noexcept;
  detail::poll_result poll(std::int64_t timeout_ns);
  void wake() noexcept;
  void close() noexcept;

 private:
  int epfd_ = -1;
  int wakefd_ = -1;
  bool have_pwait2_ = true;
  // Operations that complete without waiting for the kernel (nop), delivered by next poll.
  detail::operation* ready_head_ = nullptr;
  detail::operation* ready_tail_ = nullptr;
};

}  // namespace eddy::platform::epoll
