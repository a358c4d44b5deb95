#include "eddy/idle.hpp"
#include "loop/loop_impl.hpp"

namespace eddy {
namespace detail {
namespace {

intrusive_list<handle_base, phase_tag>& list_for(loop_impl& loop, handle_type type) noexcept {
  switch (type) {
    case handle_type::idle: return loop.idle_;
    case handle_type::prepare: return loop.prepare_;
    default: return loop.check_;
  }
}

}  // namespace

void watcher_impl::start(std::function<void()> fn) {
  if (closing_) return;
  cb.set(std::move(fn));
  if (active_) return;
  list_for(loop_, type_).push_back(*this);
  set_active(true);
}

void watcher_impl::stop() noexcept {
  if (!active_) return;
  // The phase may be running a snapshot list that holds this handle; unlinking from
  // whichever list it is in is what matters.
  intrusive_list<handle_base, phase_tag>::unlink_node(static_cast<list_node<phase_tag>&>(*this));
  set_active(false);
}

void watcher_impl::on_close() noexcept { stop(); }

}  // namespace detail

namespace {
// A closed handle has no implementation left; its calls do nothing.
struct watcher_ref {
  detail::watcher_impl* w;
  void start(std::function<void()> cb) {
    if (w != nullptr) w->start(std::move(cb));
  }
  void stop() noexcept {
    if (w != nullptr) w->stop();
  }
  watcher_ref* operator->() noexcept { return this; }
};
watcher_ref as_watcher(detail::handle_base* h) noexcept { return {static_cast<detail::watcher_impl*>(h)}; }
}  // namespace

idle::idle(eddy::loop& owner) : handle(owner, new detail::watcher_impl(owner.impl(), handle_type::idle), handle_type::idle) {}
void idle::start(std::function<void()> cb) { as_watcher(impl_)->start(std::move(cb)); }
void idle::stop() noexcept { as_watcher(impl_)->stop(); }

prepare::prepare(eddy::loop& owner)
    : handle(owner, new detail::watcher_impl(owner.impl(), handle_type::prepare), handle_type::prepare) {}
void prepare::start(std::function<void()> cb) { as_watcher(impl_)->start(std::move(cb)); }
void prepare::stop() noexcept { as_watcher(impl_)->stop(); }

check::check(eddy::loop& owner) : handle(owner, new detail::watcher_impl(owner.impl(), handle_type::check), handle_type::check) {}
void check::start(std::function<void()> cb) { as_watcher(impl_)->start(std::move(cb)); }
void check::stop() noexcept { as_watcher(impl_)->stop(); }

}  // namespace eddy
