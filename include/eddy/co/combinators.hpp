// eddy::co combinators: when_all, when_any, timeout, cancellation_source / cancellation_token
// and with_cancellation.
// Ownership: each combinator's task owns the tasks given to it (moved in); a loser, or a task
// that timed out or was cancelled, is destroyed, which cancels what it awaits. timeout and
// with_cancellation also accept any eddy::co awaitable (moved into a task). A
// cancellation_source must outlive the tasks that use its token.
// Threads: loop thread only; the tasks resume on the loop thread.
#pragma once

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "eddy/co/core.hpp"
#include "eddy/co/detail/join.hpp"
#include "eddy/co/timer.hpp"
#include "eddy/error.hpp"
#include "eddy/loop.hpp"
#include "eddy/task.hpp"

namespace eddy {
namespace co {

// Starts every task (in argument order, each up to its first suspension) and resumes when
// all have finished, with their results in argument order (std::monostate for task<void>).
// If any threw, the first in argument order is rethrown (after all have finished).
template <class... T>
task<std::tuple<detail::value_or_monostate<T>...>> when_all(task<T>... tasks) {
  return detail::when_all_impl(std::index_sequence_for<T...>{}, std::move(tasks)...);
}

// The winner of when_any: its index and its value (no value for task<void>).
template <class T>
struct any_result {
  std::size_t index = 0;
  T value;
};
template <>
struct any_result<void> {
  std::size_t index = 0;
};

// Starts the tasks in order and resumes with the first one to finish (its value, or its
// exception rethrown). The others are destroyed at once, which cancels what they wait on;
// tasks after an immediate winner are never started. errc::invalid_argument if empty.
template <class T>
task<any_result<T>> when_any(std::vector<task<T>> tasks) {
  if (tasks.empty()) throw std::system_error(make_error_code(errc::invalid_argument), "when_any of nothing");
  detail::join_state s;
  s.any = true;
  std::vector<detail::watcher> watchers;
  watchers.reserve(tasks.size());
  for (std::size_t i = 0; i < tasks.size(); ++i) watchers.push_back(detail::make_watcher(tasks[i], s, i));
  co_await detail::start_all{s, watchers};
  watchers.clear();
  const std::size_t w = s.winner;
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    if (i != w) tasks[i].reset();  // cancels the losers
  }
  if constexpr (std::is_void_v<T>) {
    tasks[w].handle().promise().take();
    co_return any_result<void>{w};
  } else {
    co_return any_result<T>{w, tasks[w].handle().promise().take()};
  }
}

// Cancels the tasks run with its token (co::with_cancellation). Loop thread only.
// A source must outlive the tasks that use its token.
class cancellation_source;

class cancellation_token {
 public:
  cancellation_token() = default;
  [[nodiscard]] bool cancelled() const noexcept;
  // Resumes when the source is cancelled (at once if it already is).
  struct wait_op;
  [[nodiscard]] wait_op wait() const noexcept;

 private:
  friend class cancellation_source;
  explicit cancellation_token(cancellation_source* s) noexcept : source_(s) {}
  cancellation_source* source_ = nullptr;
};

class cancellation_source {
 public:
  cancellation_source() = default;
  cancellation_source(const cancellation_source&) = delete;
  cancellation_source& operator=(const cancellation_source&) = delete;
  [[nodiscard]] cancellation_token token() noexcept { return cancellation_token(this); }
  [[nodiscard]] bool cancelled() const noexcept { return cancelled_; }
  // Resumes every waiter (each with_cancellation then throws operation_canceled). Idempotent.
  void cancel() {
    if (cancelled_) return;
    cancelled_ = true;
    while (!waiters_.empty()) {
      auto h = waiters_.back();
      waiters_.pop_back();
      h.resume();
    }
  }

 private:
  friend struct cancellation_token::wait_op;
  bool cancelled_ = false;
  std::vector<std::coroutine_handle<>> waiters_;
};

struct cancellation_token::wait_op {
  cancellation_source* source;
  std::coroutine_handle<> h;
  wait_op(cancellation_source* s) noexcept : source(s) {}
  wait_op(const wait_op&) = delete;
  wait_op& operator=(const wait_op&) = delete;
  ~wait_op() {
    if (!h) return;
    auto& w = source->waiters_;
    for (auto it = w.begin(); it != w.end(); ++it) {
      if (*it == h) {
        w.erase(it);
        break;
      }
    }
  }
  bool await_ready() const noexcept { return source != nullptr && source->cancelled_; }
  void await_suspend(std::coroutine_handle<> handle) {
    if (source == nullptr) return;  // a default token is never cancelled
    h = handle;
    source->waiters_.push_back(h);
  }
  void await_resume() noexcept { h = {}; }
};

inline bool cancellation_token::cancelled() const noexcept { return source_ != nullptr && source_->cancelled(); }
inline cancellation_token::wait_op cancellation_token::wait() const noexcept { return {source_}; }

namespace detail {
inline task<void> sleep_task(eddy::loop& loop, std::chrono::nanoseconds d) { co_await co::sleep(loop, d); }
inline task<void> cancelled_task(cancellation_token token) { co_await token.wait(); }
}  // namespace detail

// t's result, or std::system_error(errc::timed_out) after d (t is then destroyed, which
// cancels its pending operation).
template <class T>
task<T> timeout(eddy::loop& loop, std::chrono::nanoseconds d, task<T> t) {
  return detail::race(std::move(t), detail::sleep_task(loop, d), errc::timed_out, "timeout");
}
// The same for any awaitable of eddy::co (co::read, co::connect, ...): it moves into a task
// (one coroutine frame), and timing out destroys it, which cancels the operation (a read is
// stopped, the stream stays usable). Its nothrow form still throws errc::timed_out.
template <class A>
requires(!detail::is_task<A>) auto timeout(eddy::loop& loop, std::chrono::nanoseconds d, A a) {
  return timeout(loop, d, detail::as_task(std::move(a)));
}

// t's result, or std::system_error(errc::operation_canceled) once token's source is
// cancelled (t is then destroyed, which cancels its pending operation).
template <class T>
task<T> with_cancellation(cancellation_token token, task<T> t) {
  return detail::race(std::move(t), detail::cancelled_task(token), errc::operation_canceled, "cancelled");
}
// The same for any awaitable of eddy::co (moved into a task, as for timeout).
template <class A>
requires(!detail::is_task<A>) auto with_cancellation(cancellation_token token, A a) {
  return with_cancellation(token, detail::as_task(std::move(a)));
}

}  // namespace co
}  // namespace eddy
