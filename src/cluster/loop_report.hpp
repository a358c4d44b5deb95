// Between a worker's loop and its heartbeat's loop report (wire.hpp, heartbeat_loop), and
// from that report to the primary's metrics (write_metrics with worker="N").
#pragma once

#include <chrono>
#include <cstdint>

#include "cluster/wire.hpp"
#include "eddy/loop.hpp"
#include "eddy/metrics.hpp"
#include "loop/metrics.hpp"

namespace eddy::cluster::detail {

// A worker's running totals of what its monitor saw (the monitor is reset every heartbeat,
// so that each heartbeat's percentiles are its interval's).
struct delay_totals {
  std::uint64_t count = 0;
  std::uint64_t sum_us = 0;
};

// The loop's report for this heartbeat, from the monitor (not reset here) and the loop.
heartbeat_loop make_loop_report(eddy::loop& loop, const loop_delay_monitor& delay, delay_totals& totals);

// What the primary's /metrics says about a worker, from its last heartbeat.
eddy::detail::metrics_snapshot snapshot_of(const heartbeat_msg& beat);

}  // namespace eddy::cluster::detail
