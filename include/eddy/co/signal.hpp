// eddy::co signals: co::signal waits for one delivery of a signal.
// Ownership: the awaiter owns its signal handle (closed when the awaiter goes, which stops
// the wait). Threads: loop thread only; the task resumes on the loop thread.
#pragma once

#include <coroutine>
#include <optional>

#include "eddy/co/core.hpp"
#include "eddy/co/detail/own_op.hpp"
#include "eddy/loop.hpp"
#include "eddy/signal.hpp"

namespace eddy {
namespace co {

namespace detail {

template <bool Throw>
struct signal_op : own_op<int, Throw> {
  signal_op(eddy::loop& l, int n) : loop(l), signum(n) {}
  signal_op(signal_op&& o) noexcept : loop(o.loop), signum(o.signum) {}
  bool await_suspend(std::coroutine_handle<> h) {
    this->waiter = h;
    s.emplace(loop);  // destroying the awaiter closes the handle
    auto ec = s->start_oneshot(signum, [this](int n) {
      this->out.res.value = n;
      this->finish();
    });
    this->out.res.error = ec;
    if (ec) this->waiter = {};
    return !ec;
  }
  eddy::loop& loop;
  int signum;
  std::optional<eddy::signal> s;
};

}  // namespace detail

// Waits for one delivery of signum; returns the signal number. Errors as signal::start.
inline detail::signal_op<true> signal(eddy::loop& loop, int signum) { return {loop, signum}; }
inline detail::signal_op<false> signal(eddy::loop& loop, int signum, nothrow_t) { return {loop, signum}; }

}  // namespace co
}  // namespace eddy
