// The values behind write_metrics, and their Prometheus text, apart: the cluster's primary
// formats its workers' values (from their heartbeats) with the same code, one family at a
// time across all of them, as the exposition format requires.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "eddy/handle.hpp"
#include "eddy/loop.hpp"

namespace eddy::detail {

struct metrics_snapshot {
  static constexpr std::size_t handle_types = static_cast<std::size_t>(handle_type::fs_event) + 1;

  std::uint64_t iterations = 0;
  std::uint64_t events = 0;
  double idle_seconds = 0;
  double utilization = 0;
  // The delay summary: quantiles 0.5, 0.9, 0.99 and 1 in seconds, when a monitor exists.
  bool has_delay = false;
  std::array<double, 4> delay_quantiles{};
  double delay_sum_seconds = 0;
  std::uint64_t delay_count = 0;
  std::uint64_t slow_callbacks = 0;
  bool has_handles = false;
  std::array<std::uint64_t, handle_types> handles{};
  bool has_pool = false;
  std::uint64_t pool_queued = 0;
  std::uint64_t pool_threads = 0;
  bool has_rss = false;
  std::uint64_t rss_bytes = 0;
  bool has_fds = false;
  std::uint64_t open_fds = 0;
  bool has_read_buffers = false;  // not in a cluster worker's heartbeat
  std::uint64_t read_buffers = 0;
};

inline constexpr std::array<double, 4> delay_quantile_points{0.5, 0.9, 0.99, 1.0};

// The loop's values now; updates the utilisation baseline kept for the next call.
metrics_snapshot take_metrics(eddy::loop& loop);

// Appends every family once, with one sample per (labels, snapshot) pair; labels is the
// inside of the braces (`worker="2"`) or empty.
void format_metrics(const std::vector<std::pair<std::string, metrics_snapshot>>& sources, std::string& out);

}  // namespace eddy::detail
