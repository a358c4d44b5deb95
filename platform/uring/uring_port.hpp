// The io_uring port (liburing): one ring per loop. Operations become SQEs, results come
// back as CQEs. The wait for completions carries the timeout itself (IORING_FEAT_EXT_ARG),
// so submitting and waiting is one io_uring_enter per iteration, and no timer thread exists.
// Wake is an eventfd with a read kept armed on the ring.
#pragma once

#include <liburing.h>

#include "platform/backend.hpp"

namespace eddy::platform::uring {

class port {
 public:
  static constexpr backend_kind kind = backend_kind::io_uring;

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
  std::error_code attach(detail::io_object& io);
  void detach(detail::io_object& io) noexcept;

 private:
  io_uring_sqe* get_sqe() noexcept;
  void arm_wake() noexcept;
  std::uint32_t reap(detail::poll_result& out);

  io_uring ring_{};
  bool open_ = false;
  int wakefd_ = -1;
  std::uint64_t wake_value_ = 0;
};

}  // namespace eddy::platform::uring
