// eddy::co thread pool: co::queue_work runs a function on a pool thread and resumes the task
// on the loop thread with its value (or rethrows what it threw).
// Ownership: the function moves to the pool job; the result travels in a cell shared with the
// job's callback (detail/cell.hpp), so a task destroyed while the function runs leaves it to
// finish (its result dropped); what it captures by reference must outlive that. A job that
// has not started is cancelled with the awaiter. Threads: the function runs on a pool thread,
// everything else on the loop thread.
#pragma once

#include <type_traits>
#include <utility>

#include "eddy/co/core.hpp"
#include "eddy/co/detail/cell.hpp"
#include "eddy/loop.hpp"
#include "eddy/work.hpp"

namespace eddy {
namespace co {

// Runs fn() on a pool thread; resumes on the loop thread with its return value (which must
// be default-constructible and movable), or rethrows what fn threw. errc::operation_canceled
// if the pool cancelled it; a pool that failed to start gives errc::invalid_argument.
// fn is moved to the pool job. If the task is destroyed while fn runs, fn still runs to its
// end (its result is dropped): what fn captures by reference must outlive that.
template <bool Throw = true, class F>
auto queue_work_impl(eddy::loop& loop, F fn, work_kind kind) {
  using R = std::invoke_result_t<F&>;
  return detail::make_op<R, Throw>([&loop, kind, fn = std::move(fn)](detail::cell<R>* c) mutable {
    return eddy::queue_work(
        loop,
        [c, fn = std::move(fn)]() mutable {
          try {
            if constexpr (std::is_void_v<R>) {
              fn();
            } else {
              c->res.value = fn();
            }
          } catch (...) {
            c->exception = std::current_exception();
          }
        },
        [c](std::error_code ec) {
          c->res.error = ec;
          detail::complete(c);
        },
        kind);
  });
}
template <class F>
auto queue_work(eddy::loop& loop, F fn, work_kind kind = work_kind::cpu) {
  return queue_work_impl<true>(loop, std::move(fn), kind);
}
template <class F>
auto queue_work(eddy::loop& loop, F fn, nothrow_t, work_kind kind = work_kind::cpu) {
  return queue_work_impl<false>(loop, std::move(fn), kind);
}

}  // namespace co
}  // namespace eddy
