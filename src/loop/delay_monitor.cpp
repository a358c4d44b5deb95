// eddy::loop_delay_monitor: a repeating, unreferenced timer and a log_histogram.
#include <memory>

#include "eddy/metrics.hpp"
#include "eddy/timer.hpp"
#include "loop/histogram.hpp"
#include "loop/observe.hpp"
#include "loop_impl.hpp"

namespace eddy {

struct loop_delay_monitor::state {
  state(eddy::loop& l, std::chrono::nanoseconds r) : loop(l), resolution(r) {}
  eddy::loop& loop;
  std::chrono::nanoseconds resolution;
  std::unique_ptr<timer> tick;  // while enabled
  std::uint64_t last_ns = 0;    // the previous firing (0: none yet since enable)
  detail::log_histogram histogram;
};

loop_delay_monitor::loop_delay_monitor(eddy::loop& loop, std::chrono::nanoseconds resolution)
    : state_(std::make_unique<state>(loop, resolution.count() > 0 ? resolution : std::chrono::milliseconds(1))) {}

loop_delay_monitor::~loop_delay_monitor() { disable(); }

bool loop_delay_monitor::enable() {
  if (state_->tick) return false;
  state* s = state_.get();
  s->tick = std::make_unique<timer>(s->loop);
  s->tick->set_name("eddy.loop_delay_monitor");
  s->tick->unref();  // sampling never keeps the loop alive (as Node's monitor)
  s->last_ns = 0;
  s->tick->start(s->resolution, s->resolution, [s] {
    // As Node: the interval since the previous firing, read from the clock itself (the
    // loop's cached time would hide a callback that blocked earlier in this iteration).
    const std::uint64_t now = eddy::loop::hrtime();
    if (s->last_ns != 0 && now > s->last_ns) s->histogram.record(now - s->last_ns);
    s->last_ns = now;
  });
  s->last_ns = eddy::loop::hrtime();
  detail::observer_of(s->loop.impl()).delay_monitor_ = this;
  return true;
}

bool loop_delay_monitor::disable() {
  if (!state_->tick) return false;
  state_->tick->close();
  state_->tick.reset();
  auto& o = detail::observer_of(state_->loop.impl());
  if (o.delay_monitor_ == this) o.delay_monitor_ = nullptr;
  return true;
}

void loop_delay_monitor::reset() noexcept { state_->histogram.reset(); }

std::chrono::nanoseconds loop_delay_monitor::min() const noexcept {
  return std::chrono::nanoseconds(state_->histogram.min());
}
std::chrono::nanoseconds loop_delay_monitor::max() const noexcept {
  return std::chrono::nanoseconds(state_->histogram.max());
}
std::chrono::nanoseconds loop_delay_monitor::mean() const noexcept {
  return std::chrono::nanoseconds(static_cast<std::int64_t>(state_->histogram.mean()));
}
std::chrono::nanoseconds loop_delay_monitor::stddev() const noexcept {
  return std::chrono::nanoseconds(static_cast<std::int64_t>(state_->histogram.stddev()));
}
std::chrono::nanoseconds loop_delay_monitor::percentile(double p) const noexcept {
  return std::chrono::nanoseconds(state_->histogram.percentile(p));
}
std::uint64_t loop_delay_monitor::count() const noexcept { return state_->histogram.count(); }
std::chrono::nanoseconds loop_delay_monitor::resolution() const noexcept { return state_->resolution; }
bool loop_delay_monitor::enabled() const noexcept { return static_cast<bool>(state_->tick); }

}  // namespace eddy
