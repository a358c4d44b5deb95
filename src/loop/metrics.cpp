// write_metrics: the Prometheus text exposition format, version 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/).
#include "loop/metrics.hpp"

#include <cmath>

#include <fmt/format.h>

#include "eddy/metrics.hpp"
#include "eddy/os.hpp"
#include "eddy/work.hpp"
#include "loop/histogram.hpp"
#include "loop/observe.hpp"
#include "loop_impl.hpp"
#include "platform/contract/metrics.hpp"
#include "platform/contract/process.hpp"

namespace eddy::detail {

metrics_snapshot take_metrics(eddy::loop& loop) {
  metrics_snapshot m;
  const loop_metrics lm = loop.metrics();
  m.iterations = lm.iterations;
  m.events = lm.events;
  m.idle_seconds = static_cast<double>(lm.idle_time.count()) / 1e9;
  observer& o = observer_of(loop.impl());
  const loop_utilization now = loop.utilization();
  m.utilization = loop.utilization(o.last_utilization_).utilization;
  o.last_utilization_ = now;
  if (const loop_delay_monitor* d = o.delay_monitor_) {
    m.has_delay = true;
    for (std::size_t i = 0; i < delay_quantile_points.size(); ++i) {
      m.delay_quantiles[i] = static_cast<double>(d->percentile(delay_quantile_points[i] * 100.0).count()) / 1e9;
    }
    m.delay_count = d->count();
    m.delay_sum_seconds = static_cast<double>(d->mean().count()) * static_cast<double>(d->count()) / 1e9;
  }
  m.slow_callbacks = loop.slow_callback_count();
  m.has_read_buffers = true;
  m.read_buffers = lm.read_buffers_in_use;
  m.has_handles = true;
  loop.impl().handles_.for_each([&](handle_base& h) {
    const auto t = static_cast<std::size_t>(h.type_);
    if (t < m.handles.size()) ++m.handles[t];
  });
  const threadpool_metrics pool = threadpool_stats();
  m.has_pool = true;
  m.pool_queued = pool.queued;
  m.pool_threads = pool.threads;
  std::uint64_t v = 0;
  if (!contract::process::resident_set_size(v)) {
    m.has_rss = true;
    m.rss_bytes = v;
  }
  if (!contract::metrics::open_descriptors(v)) {
    m.has_fds = true;
    m.open_fds = v;
  }
  return m;
}

namespace {

// A sample value as the format spells it: Go's float syntax, with NaN and +Inf by name.
std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

std::string braces(std::string_view labels, std::string_view extra = {}) {
  if (labels.empty() && extra.empty()) return {};
  if (labels.empty()) return fmt::format("{{{}}}", extra);
  if (extra.empty()) return fmt::format("{{{}}}", labels);
  return fmt::format("{{{},{}}}", labels, extra);
}

}  // namespace

void format_metrics(const std::vector<std::pair<std::string, metrics_snapshot>>& sources, std::string& out) {
  auto family = [&](std::string_view name, std::string_view type, std::string_view help, auto&& sample) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    for (const auto& [labels, m] : sources) sample(name, labels, m);
  };
  auto simple = [&](std::string_view name, std::string_view type, std::string_view help, auto value_of,
                    auto has) {
    family(name, type, help, [&](std::string_view n, const std::string& labels, const metrics_snapshot& m) {
      if (has(m)) out += fmt::format("{}{} {}\n", n, braces(labels), number(value_of(m)));
    });
  };
  const auto always = [](const metrics_snapshot&) { return true; };

  simple("eddy_loop_iterations_total", "counter", "Loop iterations run.",
         [](const metrics_snapshot& m) { return static_cast<double>(m.iterations); }, always);
  simple("eddy_loop_events_total", "counter", "Completions and wake-ups dispatched from poll.",
         [](const metrics_snapshot& m) { return static_cast<double>(m.events); }, always);
  simple("eddy_loop_idle_seconds_total", "counter", "Time the loop spent blocked in poll.",
         [](const metrics_snapshot& m) { return m.idle_seconds; }, always);
  simple("eddy_loop_utilization", "gauge",
         "Share of the time the loop was not waiting in poll, since the previous scrape (0 to 1).",
         [](const metrics_snapshot& m) { return m.utilization; }, always);
  family("eddy_loop_delay_seconds", "summary",
         "Interval between the loop-delay monitor's timer callbacks (about its resolution when nothing blocks).",
         [&](std::string_view n, const std::string& labels, const metrics_snapshot& m) {
           if (m.has_delay) {
             for (std::size_t i = 0; i < delay_quantile_points.size(); ++i) {
               out += fmt::format("{}{} {}\n", n, braces(labels, fmt::format("quantile=\"{}\"", delay_quantile_points[i])),
                                  number(m.delay_quantiles[i]));
             }
           }
           out += fmt::format("{}_sum{} {}\n", n, braces(labels), number(m.delay_sum_seconds));
           out += fmt::format("{}_count{} {}\n", n, braces(labels), m.delay_count);
         });
  simple("eddy_slow_callbacks_total", "counter", "Callbacks that ran longer than the slow-callback threshold.",
         [](const metrics_snapshot& m) { return static_cast<double>(m.slow_callbacks); }, always);
  family("eddy_handles", "gauge", "Open handles by type.",
         [&](std::string_view n, const std::string& labels, const metrics_snapshot& m) {
           if (!m.has_handles) return;
           for (std::size_t t = 0; t < m.handles.size(); ++t) {
             out += fmt::format("{}{} {}\n", n,
                                braces(labels, fmt::format("type=\"{}\"", to_string(static_cast<handle_type>(t)))),
                                m.handles[t]);
           }
         });
  simple("eddy_read_buffers", "gauge", "64 KiB read buffers lent to streams read without an allocator.",
         [](const metrics_snapshot& m) { return static_cast<double>(m.read_buffers); },
         [](const metrics_snapshot& m) { return m.has_read_buffers; });
  simple("eddy_threadpool_queued", "gauge", "Thread-pool requests waiting for a thread.",
         [](const metrics_snapshot& m) { return static_cast<double>(m.pool_queued); },
         [](const metrics_snapshot& m) { return m.has_pool; });
  simple("eddy_threadpool_threads", "gauge", "Threads in the thread pool (0 until it starts).",
         [](const metrics_snapshot& m) { return static_cast<double>(m.pool_threads); },
         [](const metrics_snapshot& m) { return m.has_pool; });
  simple("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
         [](const metrics_snapshot& m) { return static_cast<double>(m.rss_bytes); },
         [](const metrics_snapshot& m) { return m.has_rss; });
  simple("process_open_fds", "gauge", "Number of open file descriptors (Windows: handles).",
         [](const metrics_snapshot& m) { return static_cast<double>(m.open_fds); },
         [](const metrics_snapshot& m) { return m.has_fds; });
}

}  // namespace eddy::detail

namespace eddy {

void write_metrics(eddy::loop& loop, std::string& out, std::string_view labels) {
  std::vector<std::pair<std::string, detail::metrics_snapshot>> one;
  one.emplace_back(std::string(labels), detail::take_metrics(loop));
  detail::format_metrics(one, out);
}

void write_metrics(eddy::loop& loop, std::string& out) { write_metrics(loop, out, {}); }

}  // namespace eddy
