// Looking inside a loop: the loop-delay histogram (Node's perf_hooks.monitorEventLoopDelay)
// and the Prometheus export. The slow-callback detector and utilisation are on eddy::loop
// (loop.hpp), handle names on eddy::handle (handle.hpp).
//
// Threads: everything here is for the loop's thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "eddy/export.hpp"
#include "eddy/loop.hpp"

namespace eddy {

// Samples how late the loop runs: while enabled, an unreferenced repeating timer fires every
// `resolution` and records the time since its previous firing (as Node does, so a loop that
// is never blocked records about the resolution, and a 100 ms block records at least 100 ms)
// into a histogram with bounded memory (about 35 KiB; values to within 0.8%).
//
// Ownership: the monitor belongs to the caller and must not outlive its loop. Its timer is a
// handle of the loop (open while enabled, and closed by disable() or the destructor), so
// disable or destroy it before closing the loop. The most recently enabled monitor of a
// loop is the one write_metrics reports.
class EDDY_API loop_delay_monitor {
 public:
  explicit loop_delay_monitor(eddy::loop& loop,
                              std::chrono::nanoseconds resolution = std::chrono::milliseconds(10));
  loop_delay_monitor(const loop_delay_monitor&) = delete;
  loop_delay_monitor& operator=(const loop_delay_monitor&) = delete;
  ~loop_delay_monitor();

  // Starts sampling; false if it was already enabled.
  bool enable();
  // Stops sampling (the samples stay); false if it was not enabled.
  bool disable();
  // Forgets every sample.
  void reset() noexcept;

  // Over the samples so far (all zero before the first one).
  [[nodiscard]] std::chrono::nanoseconds min() const noexcept;
  [[nodiscard]] std::chrono::nanoseconds max() const noexcept;
  [[nodiscard]] std::chrono::nanoseconds mean() const noexcept;
  [[nodiscard]] std::chrono::nanoseconds stddev() const noexcept;
  // The value below which p percent of the samples fall (0 < p <= 100), e.g. percentile(99).
  [[nodiscard]] std::chrono::nanoseconds percentile(double p) const noexcept;
  [[nodiscard]] std::uint64_t count() const noexcept;
  [[nodiscard]] std::chrono::nanoseconds resolution() const noexcept;
  [[nodiscard]] bool enabled() const noexcept;

  struct state;

 private:
  std::unique_ptr<state> state_;
};

// Appends the loop's metrics to `out` in the Prometheus text exposition format (version
// 0.0.4), ready to serve as text/plain; version=0.0.4:
//   eddy_loop_iterations_total, eddy_loop_events_total       counters
//   eddy_loop_idle_seconds_total                             counter (time blocked in poll)
//   eddy_loop_utilization                                    gauge: since the previous call
//                                                            for this loop (the first: since
//                                                            the loop started)
//   eddy_loop_delay_seconds                                  summary (quantiles 0.5, 0.9,
//                                                            0.99, 1) of the loop's enabled
//                                                            loop_delay_monitor; only _sum
//                                                            and _count (0) without one
//   eddy_slow_callbacks_total                                counter
//   eddy_handles{type="..."}                                 gauge: open handles by type
//   eddy_threadpool_queued, eddy_threadpool_threads          gauges (the process's pool)
//   process_resident_memory_bytes, process_open_fds          gauges
// `labels` (e.g. `worker="3"`) is added to every series when not empty. Loop thread only.
EDDY_API void write_metrics(eddy::loop& loop, std::string& out);
EDDY_API void write_metrics(eddy::loop& loop, std::string& out, std::string_view labels);

}  // namespace eddy
