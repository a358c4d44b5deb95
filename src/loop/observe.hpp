// The loop's observer: the slow-callback detector and the trace's per-phase and per-callback
// events. It exists only once one of them was turned on; loop_impl::observing_ points at it
// while either is on, and is null otherwise (then no clock is read per callback).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

#include "eddy/loop.hpp"

namespace eddy {
class loop_delay_monitor;
}

namespace eddy::detail {

class loop_impl;
class handle_base;

class observer {
 public:
  explicit observer(loop_impl& loop) noexcept : loop_(loop) {}

  // Points loop_.observing_ at this observer while the detector or the trace is on.
  void update_active() noexcept;

  loop_impl& loop_;
  std::uint64_t slow_ns_ = 0;   // the detector's threshold; 0: off
  std::uint64_t trace_ns_ = 0;  // callbacks at least this long go into the trace
  std::function<void(const slow_callback&)> handler_;
  std::uint64_t slow_count_ = 0;

  // The end of the last timed callback, which is the start of the next one as long as the
  // loop has not blocked since (0: unknown, read the clock). Chaining halves the clock reads;
  // the runtime's own work between two callbacks (microseconds) counts towards the second.
  std::uint64_t mark_ns_ = 0;
  bool reporting_ = false;  // inside the user's handler: its own callbacks are not reported

  // The trace's current phase and when it began.
  const char* phase_ = nullptr;
  std::uint64_t phase_start_ns_ = 0;
  std::uint32_t phase_callbacks_ = 0;

  // For write_metrics: the loop's most recently enabled delay monitor, and the utilisation
  // reading of the previous call.
  loop_delay_monitor* delay_monitor_ = nullptr;
  loop_utilization last_utilization_{};
};

// The loop's observer, made (inactive) if it has none yet.
observer& observer_of(loop_impl& loop);

}  // namespace eddy::detail
