// eddy::timer: calls back after a timeout, optionally repeating (libuv's uv_timer_t;
// Node's setTimeout/setInterval are built on the same thing).
//
// Deadlines are the loop's cached clock (loop::now_ns()) plus the timeout, in nanoseconds.
// A timer never fires before its deadline; timers with the same deadline fire in the order
// they were started. Starting, firing and stopping a timer allocate nothing beyond the
// callback's own storage (std::function's small-buffer rules apply to captures).
#pragma once

#include <chrono>
#include <functional>
#include <system_error>

#include "eddy/handle.hpp"

namespace eddy {

class EDDY_API timer final : public handle {
 public:
  explicit timer(eddy::loop& owner);

  // Starts (or restarts) the timer. repeat == 0 means fire once. The callback runs on the
  // loop thread in the timers phase.
  void start(std::chrono::nanoseconds timeout, std::chrono::nanoseconds repeat, std::function<void()> cb);
  void start(std::chrono::nanoseconds timeout, std::function<void()> cb) {
    start(timeout, std::chrono::nanoseconds{0}, std::move(cb));
  }
  // Stops the timer; the callback is kept for again().
  void stop() noexcept;
  // Restarts a repeating timer with its repeat interval as the timeout (stops it if the
  // repeat is zero). errc::not_started if the timer was never started.
  std::error_code again();
  // Changes the interval used from the next firing on.
  void set_repeat(std::chrono::nanoseconds repeat) noexcept;
  [[nodiscard]] std::chrono::nanoseconds repeat() const noexcept;
  // Time until the deadline (zero when due or not active).
  [[nodiscard]] std::chrono::nanoseconds due_in() const noexcept;
};

}  // namespace eddy
