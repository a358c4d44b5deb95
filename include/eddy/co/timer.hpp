// eddy::co time: co::sleep (on a timer of its own, or on a kept eddy::timer) and co::yield
// (the check phase, as loop::set_immediate).
// Ownership: the awaiter is the operation: a sleep's own timer is closed with it, a kept timer
// (borrowed, must outlive the awaiter) is stopped if the awaiter goes first, a yield's
// immediate is cleared. Threads: loop thread only; the task resumes on the loop thread.
#pragma once

#include <chrono>
#include <coroutine>
#include <optional>

#include "eddy/co/core.hpp"
#include "eddy/co/detail/own_op.hpp"
#include "eddy/loop.hpp"
#include "eddy/timer.hpp"

namespace eddy {
namespace co {

namespace detail {

template <bool Throw>
struct sleep_op : own_op<void, Throw> {
  sleep_op(eddy::loop& l, std::chrono::nanoseconds d) : loop(&l), duration(d) {}
  sleep_op(eddy::timer& t, std::chrono::nanoseconds d) : borrowed(&t), duration(d) {}
  sleep_op(sleep_op&& o) noexcept : loop(o.loop), borrowed(o.borrowed), duration(o.duration) {}
  ~sleep_op() {
    if (this->waiter && borrowed != nullptr) borrowed->stop();
  }
  void await_suspend(std::coroutine_handle<> h) {
    this->waiter = h;
    eddy::timer* t = borrowed != nullptr ? borrowed : &own.emplace(*loop);  // own: closed with the awaiter
    t->start(duration, [this] { this->finish(); });
  }
  eddy::loop* loop = nullptr;
  eddy::timer* borrowed = nullptr;
  std::chrono::nanoseconds duration;
  std::optional<eddy::timer> own;
};

template <bool Throw>
struct yield_op : own_op<void, Throw> {
  explicit yield_op(eddy::loop& l) : loop(l) {}
  yield_op(yield_op&& o) noexcept : loop(o.loop) {}
  ~yield_op() {
    if (this->waiter) loop.clear_immediate(id);
  }
  void await_suspend(std::coroutine_handle<> h) {
    this->waiter = h;
    id = loop.set_immediate([this] { this->finish(); });
  }
  eddy::loop& loop;
  immediate_id id{};
};

}  // namespace detail

// Resumes after d, on a timer of its own (a handle created per sleep). Never fails.
inline detail::sleep_op<true> sleep(eddy::loop& loop, std::chrono::nanoseconds d) { return {loop, d}; }
inline detail::sleep_op<false> sleep(eddy::loop& loop, std::chrono::nanoseconds d, nothrow_t) { return {loop, d}; }
// Resumes after d on t (borrowed; restarted with a callback of this sleep's, stopped if the
// awaiter goes first): sleeping on a timer kept across sleeps allocates nothing. Don't
// again() t afterwards: its callback belongs to a finished sleep.
inline detail::sleep_op<true> sleep(eddy::timer& t, std::chrono::nanoseconds d) { return {t, d}; }
inline detail::sleep_op<false> sleep(eddy::timer& t, std::chrono::nanoseconds d, nothrow_t) { return {t, d}; }
// Resumes in the check phase of this or the next iteration (loop::set_immediate).
inline detail::yield_op<true> yield(eddy::loop& loop) { return detail::yield_op<true>(loop); }
inline detail::yield_op<false> yield(eddy::loop& loop, nothrow_t) { return detail::yield_op<false>(loop); }

}  // namespace co
}  // namespace eddy
