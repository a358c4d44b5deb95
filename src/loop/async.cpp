#include "eddy/async.hpp"

#include <thread>

#include "loop/loop_impl.hpp"

namespace eddy {
namespace detail {

async_impl::async_impl(loop_impl& loop, std::function<void()> fn) noexcept
    : handle_base(loop, handle_type::async) {
  cb.set(std::move(fn));
  loop_.asyncs_.push_back(*this);
  set_active(true);
}

void async_impl::send() noexcept {
  sending.fetch_add(1, std::memory_order_acq_rel);
  // Coalesce: only the send that flips the flag, and only the first since the loop last
  // looked, pays for a wake.
  if (!pending.exchange(true, std::memory_order_seq_cst)) {
    if (!loop_.wake_pending_.exchange(true, std::memory_order_seq_cst)) loop_.wake();
  }
  sending.fetch_sub(1, std::memory_order_acq_rel);
}

void async_impl::on_close() noexcept {
  // A sender may still be inside send(); the state must outlive it.
  while (sending.load(std::memory_order_acquire) != 0) std::this_thread::yield();
  intrusive_list<handle_base, phase_tag>::unlink_node(static_cast<list_node<phase_tag>&>(*this));
}

}  // namespace detail

async::async(eddy::loop& owner, std::function<void()> cb)
    : handle(owner, new detail::async_impl(owner.impl(), std::move(cb)), handle_type::async) {}

void async::send() noexcept {
  if (auto* a = static_cast<detail::async_impl*>(impl_)) a->send();
}

}  // namespace eddy
