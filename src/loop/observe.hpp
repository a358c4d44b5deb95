// The loop's observer: the slow-callback detector and the trace's per-phase and per-callback
// events. It exists only once one of them was turned on; loop_impl::observing_ points at it
// while either is on, and is null otherwise (then no clock is read per callback).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

#include "eddy/loop.hpp"
#include "loop/ticks.hpp"

namespace eddy {
class loop_delay_monitor;
}

namespace eddy::detail {

class loop_impl;
class handle_base;

class observer {
 public:
  explicit observer(loop_impl& loop) noexcept : loop_(loop), rate_(tick_rate()) {}

  // Points loop_.observing_ at this observer while the detector or the trace is on, and
  // turns the thresholds into ticks.
  void update_active() noexcept;

  loop_impl& loop_;
  std::uint64_t slow_ns_ = 0;   // the detector's threshold; 0: off
  std::uint64_t trace_ns_ = 0;  // callbacks at least this long go into the trace
  // Callbacks are timed in ticks (src/loop/ticks.hpp: the CPU's counter where it is
  // invariant, a third of a clock read's cost); the thresholds in the same unit.
  ticks_per_ns rate_;
  std::uint64_t slow_ticks_ = 0;
  std::uint64_t trace_ticks_ = 0;
  std::function<void(const slow_callback&)> handler_;
  std::uint64_t slow_count_ = 0;

  // The end of the last timed callback (in ticks), which is the start of the next one as long
  // as the loop has not blocked since (0: unknown, read the counter). Chaining halves the
  // reads; the runtime's own work between two callbacks (microseconds) counts towards the
  // second.
  std::uint64_t mark_ = 0;
  // Where the current chain began, in ticks and in steady_clock nanoseconds (read together):
  // a reported callback's start is converted from ticks relative to this anchor, so the
  // conversion's error scales with the distance from the anchor (microseconds), not with
  // the callback's duration, and its end is read from the clock itself.
  std::uint64_t anchor_ticks_ = 0;
  std::uint64_t anchor_ns_ = 0;
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
