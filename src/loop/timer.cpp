#include "eddy/timer.hpp"

#include "loop/loop_impl.hpp"

namespace eddy {
namespace {

std::uint64_t to_ns(std::chrono::nanoseconds d) noexcept { return d.count() < 0 ? 0 : static_cast<std::uint64_t>(d.count()); }

detail::timer_impl* as_timer(detail::handle_base* h) noexcept { return static_cast<detail::timer_impl*>(h); }

}  // namespace

void detail::timer_impl::on_close() noexcept {
  loop_.timer_stop(*this);
}

timer::timer(eddy::loop& owner) : handle(owner, new detail::timer_impl(owner.impl()), handle_type::timer) {}

void timer::start(std::chrono::nanoseconds timeout, std::chrono::nanoseconds repeat, std::function<void()> cb) {
  auto* t = as_timer(impl_);
  if (t == nullptr || t->closing_) return;
  t->cb.set(std::move(cb));
  t->repeat = to_ns(repeat);
  t->loop_.timer_start(*t, to_ns(timeout));
}

void timer::stop() noexcept {
  if (auto* t = as_timer(impl_)) t->loop_.timer_stop(*t);
}

std::error_code timer::again() {
  auto* t = as_timer(impl_);
  if (t == nullptr || t->closing_) return make_error_code(errc::closed);
  if (!t->cb.has_value) return make_error_code(errc::not_started);
  if (t->repeat != 0) {
    t->loop_.timer_start(*t, t->repeat);
  } else {
    t->loop_.timer_stop(*t);
  }
  return {};
}

void timer::set_repeat(std::chrono::nanoseconds repeat) noexcept {
  if (auto* t = as_timer(impl_)) t->repeat = to_ns(repeat);
}

std::chrono::nanoseconds timer::repeat() const noexcept {
  auto* t = as_timer(impl_);
  return std::chrono::nanoseconds(t == nullptr ? 0 : static_cast<std::int64_t>(t->repeat));
}

std::chrono::nanoseconds timer::due_in() const noexcept {
  auto* t = as_timer(impl_);
  if (t == nullptr || !t->active_ || t->deadline <= t->loop_.time_ns_) return std::chrono::nanoseconds{0};
  return std::chrono::nanoseconds(static_cast<std::int64_t>(t->deadline - t->loop_.time_ns_));
}

}  // namespace eddy
