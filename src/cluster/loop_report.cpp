#include "cluster/loop_report.hpp"

#include <algorithm>

namespace eddy::cluster::detail {

namespace {
std::uint64_t us(std::chrono::nanoseconds d) { return static_cast<std::uint64_t>(std::max<std::int64_t>(d.count(), 0) / 1000); }
double seconds_of_us(std::uint64_t v) { return static_cast<double>(v) / 1e6; }
}  // namespace

heartbeat_loop make_loop_report(eddy::loop& loop, const loop_delay_monitor& delay, delay_totals& totals) {
  heartbeat_loop l;
  l.delay_p50_us = us(delay.percentile(50));
  l.delay_p90_us = us(delay.percentile(90));
  l.delay_p99_us = us(delay.percentile(99));
  l.delay_max_us = us(delay.max());
  l.resolution_us = us(delay.resolution());
  totals.count += delay.count();
  totals.sum_us += us(delay.mean()) * delay.count();
  l.delay_count = totals.count;
  l.delay_sum_us = totals.sum_us;
  // The rest as write_metrics sees it (the utilisation there is the heartbeat's own).
  const eddy::detail::metrics_snapshot m = eddy::detail::take_metrics(loop);
  l.iterations = m.iterations;
  l.events = m.events;
  l.idle_us = static_cast<std::uint64_t>(m.idle_seconds * 1e6);
  l.slow_callbacks = m.slow_callbacks;
  l.pool_queued = static_cast<std::uint32_t>(m.pool_queued);
  l.pool_threads = static_cast<std::uint32_t>(m.pool_threads);
  l.open_fds = m.has_fds ? m.open_fds : 0;
  l.handles_by_type.assign(m.handles.begin(), m.handles.end());
  return l;
}

eddy::detail::metrics_snapshot snapshot_of(const heartbeat_msg& beat) {
  eddy::detail::metrics_snapshot m;
  m.utilization = static_cast<double>(beat.utilization_ppm) / 1e6;
  m.has_rss = true;
  m.rss_bytes = beat.rss;
  if (!beat.loop) return m;
  const heartbeat_loop& l = *beat.loop;
  m.iterations = l.iterations;
  m.events = l.events;
  m.idle_seconds = seconds_of_us(l.idle_us);
  m.has_delay = true;
  m.delay_quantiles = {seconds_of_us(l.delay_p50_us), seconds_of_us(l.delay_p90_us), seconds_of_us(l.delay_p99_us),
                       seconds_of_us(l.delay_max_us)};
  m.delay_count = l.delay_count;
  m.delay_sum_seconds = seconds_of_us(l.delay_sum_us);
  m.slow_callbacks = l.slow_callbacks;
  m.has_handles = true;
  for (std::size_t i = 0; i < m.handles.size() && i < l.handles_by_type.size(); ++i) m.handles[i] = l.handles_by_type[i];
  m.has_pool = true;
  m.pool_queued = l.pool_queued;
  m.pool_threads = l.pool_threads;
  m.has_fds = l.open_fds != 0;
  m.open_fds = l.open_fds;
  return m;
}

}  // namespace eddy::cluster::detail
