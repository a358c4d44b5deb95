// The slow-callback detector and the loop's hooks for the trace (see observe.hpp), handle
// names, and utilisation.
#include "loop/observe.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <fmt/format.h>

#include "eddy/handle.hpp"
#include "loop/trace.hpp"
#include "loop_impl.hpp"

namespace eddy {
namespace detail {

void observer_deleter::operator()(observer* o) const noexcept { delete o; }

void observer::update_active() noexcept {
  loop_.observing_ = (slow_ns_ != 0 || loop_.trace_) ? this : nullptr;
  // The tick thresholds are a prefilter, 1/64 below the real ones (far more than the rate's
  // error): a callback past them is timed in nanoseconds and judged on that, so a report and
  // the threshold always agree.
  slow_ticks_ = slow_ns_ != 0 ? std::max<std::uint64_t>(rate_.from_ns(slow_ns_ - slow_ns_ / 64), 1) : 0;
  trace_ticks_ = rate_.from_ns(trace_ns_ - trace_ns_ / 64);
  mark_ = 0;
}

observer& observer_of(loop_impl& l) {
  if (!l.observer_) l.observer_.reset(new observer(l));
  return *l.observer_;
}

namespace {

// EDDY_SLOW_CALLBACK_MS, in (fractional) milliseconds; 0 when unset or not a number.
std::uint64_t slow_threshold_from_env() {
  const char* env = std::getenv("EDDY_SLOW_CALLBACK_MS");
  if (env == nullptr || *env == '\0') return 0;
  char* end = nullptr;
  const double ms = std::strtod(env, &end);
  if (end == env || *end != '\0' || !(ms > 0) || ms > 1e9) {
    std::fprintf(stderr, "eddy: EDDY_SLOW_CALLBACK_MS=%s is not a positive number of milliseconds; ignored\n", env);
    return 0;
  }
  return static_cast<std::uint64_t>(ms * 1e6);
}

void default_report(const slow_callback& s) {
  const double ms = static_cast<double>(s.duration.count()) / 1e6;
  const bool queue = s.phase == "next_tick" || s.phase == "microtask";
  std::string what(s.handle_type);
  if (!s.handle_name.empty()) {
    what += fmt::format(" '{}'", s.handle_name);
  } else if (s.handle_address != nullptr) {
    what += fmt::format(" {}", s.handle_address);
  }
  const std::string line =
      fmt::format("eddy: slow callback: {:.1f} ms in {} ({} {})\n", ms, what, s.phase, queue ? "queue" : "phase");
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

}  // namespace

void loop_impl::configure_observer(const loop_options& options) {
  std::uint64_t slow = static_cast<std::uint64_t>(std::max<std::int64_t>(options.slow_callback_threshold.count(), 0));
  if (slow == 0) slow = slow_threshold_from_env();
  std::string path = options.trace_path;
  if (path.empty()) {
    if (const char* env = std::getenv("EDDY_TRACE"); env != nullptr && *env != '\0') {
      // Every loop of the process gets a file: the first EDDY_TRACE itself, the next ones
      // the same name with -2, -3, ... before the extension.
      static std::atomic<unsigned> loops{0};
      const unsigned n = ++loops;
      path = env;
      if (n > 1) {
        const auto dot = path.find_last_of('.');
        const auto slash = path.find_last_of("/\\");
        const auto at = dot != std::string::npos && (slash == std::string::npos || dot > slash) ? dot : path.size();
        path = path.substr(0, at) + "-" + std::to_string(n) + path.substr(at);
      }
    }
  }
  if (!path.empty()) trace_.reset(new trace_recorder(std::move(path), options.trace_max_events));
  if (slow == 0 && !trace_) return;
  observer& o = observer_of(*this);
  o.slow_ns_ = slow;
  o.trace_ns_ = static_cast<std::uint64_t>(std::max<std::int64_t>(options.trace_callback_threshold.count(), 0));
  o.update_active();
}

std::uint64_t loop_impl::observe_start() noexcept {
  observer& o = *observer_;
  if (o.mark_ != 0) return o.mark_;
  o.anchor_ticks_ = read_ticks(o.rate_);
  o.anchor_ns_ = o.rate_.tsc ? monotonic_ns() : o.anchor_ticks_;
  return o.anchor_ticks_;
}

void loop_impl::observe_end(std::uint64_t start, const handle_base* h, const char* kind) {
  observer& o = *observer_;
  const std::uint64_t now = read_ticks(o.rate_);
  o.mark_ = now;
  if (start == 0) return;  // turned on by this very callback: it was not timed
  ++o.phase_callbacks_;
  // A thread that moved to another core may read a counter a few cycles behind: never
  // negative.
  const std::uint64_t ticks = now > start ? now - start : 0;
  if (!(o.slow_ticks_ != 0 && ticks >= o.slow_ticks_ && !o.reporting_) && !(trace_ && ticks >= o.trace_ticks_)) return;
  // Rare from here on: when the callback began and how long it took, in nanoseconds.
  std::uint64_t start_ns = start;
  std::uint64_t took = ticks;
  if (o.rate_.tsc) {
    // The start from the anchor (a nested run() may have moved the anchor past it), the end
    // from the clock.
    start_ns = start >= o.anchor_ticks_ ? o.anchor_ns_ + o.rate_.to_ns(start - o.anchor_ticks_)
                                        : o.anchor_ns_ - o.rate_.to_ns(o.anchor_ticks_ - start);
    const std::uint64_t end_ns = monotonic_ns();
    took = end_ns > start_ns ? end_ns - start_ns : 0;
  }
  const bool slow = o.slow_ns_ != 0 && took >= o.slow_ns_ && !o.reporting_;
  const bool traced = trace_ && took >= o.trace_ns_;
  if (!slow && !traced) return;

  slow_callback s;
  s.phase = kind != nullptr ? kind : phase_;
  if (h != nullptr) {
    s.handle_type = to_string(h->type_);
    s.handle_name = h->name_;
    s.handle_address = h;
  } else {
    s.handle_type = kind != nullptr ? kind : work_kind_;
  }
  s.duration = std::chrono::nanoseconds(took);
  if (traced) trace_->callback(s, start_ns, took);
  if (!slow) return;
  ++o.slow_count_;
  o.reporting_ = true;
  try {
    if (o.handler_) {
      o.handler_(s);
    } else {
      default_report(s);
    }
  } catch (...) {
    o.reporting_ = false;
    report_exception(std::current_exception());
  }
  o.reporting_ = false;
  o.mark_ = 0;  // the handler's own time is nobody's callback
}

void loop_impl::observe_phase(const char* next) noexcept {
  observer& o = *observer_;
  // The poll phase may block, and between iterations the program may run outside the loop:
  // the next callback cannot start where the last one ended.
  o.mark_ = 0;
  if (!trace_) return;
  const std::uint64_t now = monotonic_ns();
  if (o.phase_ != nullptr && (o.phase_callbacks_ != 0 || o.phase_ == std::string_view("poll"))) {
    trace_->phase(o.phase_, o.phase_start_ns_, now - o.phase_start_ns_, o.phase_callbacks_);
  }
  o.phase_ = next;
  o.phase_start_ns_ = now;
  o.phase_callbacks_ = 0;
}

}  // namespace detail

std::string_view to_string(handle_type type) noexcept {
  static constexpr std::string_view names[] = {"timer", "idle",    "prepare", "check",    "async",
                                               "tcp",   "udp",     "pipe",    "tty",      "signal",
                                               "process", "fs_poll", "internal", "resolver", "fs_event"};
  const auto i = static_cast<std::size_t>(type);
  return i < std::size(names) ? names[i] : std::string_view("unknown");
}

void handle::set_name(std::string name) {
  if (impl_ != nullptr) impl_->name_ = std::move(name);
}

std::string_view handle::name() const noexcept { return impl_ != nullptr ? std::string_view(impl_->name_) : std::string_view(); }

void loop::set_slow_callback_threshold(std::chrono::nanoseconds threshold) {
  auto& o = detail::observer_of(*impl_);
  o.slow_ns_ = static_cast<std::uint64_t>(std::max<std::int64_t>(threshold.count(), 0));
  o.update_active();
}

std::chrono::nanoseconds loop::slow_callback_threshold() const noexcept {
  return std::chrono::nanoseconds(impl_->observer_ ? impl_->observer_->slow_ns_ : 0);
}

void loop::on_slow_callback(std::function<void(const slow_callback&)> handler) {
  detail::observer_of(*impl_).handler_ = std::move(handler);
}

std::uint64_t loop::slow_callback_count() const noexcept { return impl_->observer_ ? impl_->observer_->slow_count_ : 0; }

loop_utilization loop::utilization() const noexcept {
  loop_utilization u;
  if (impl_->loop_start_ns_ == 0) return u;
  const std::uint64_t now = detail::monotonic_ns();
  u.idle = impl_->metrics_.idle_time;
  const auto elapsed = std::chrono::nanoseconds(now - impl_->loop_start_ns_);
  u.active = elapsed > u.idle ? elapsed - u.idle : std::chrono::nanoseconds(0);
  const auto total = u.idle + u.active;
  u.utilization = total.count() > 0 ? static_cast<double>(u.active.count()) / static_cast<double>(total.count()) : 0.0;
  return u;
}

loop_utilization loop::utilization(const loop_utilization& previous) const noexcept {
  loop_utilization now = utilization();
  loop_utilization d;
  d.idle = now.idle > previous.idle ? now.idle - previous.idle : std::chrono::nanoseconds(0);
  d.active = now.active > previous.active ? now.active - previous.active : std::chrono::nanoseconds(0);
  const auto total = d.idle + d.active;
  d.utilization = total.count() > 0 ? static_cast<double>(d.active.count()) / static_cast<double>(total.count()) : 0.0;
  return d;
}

}  // namespace eddy
