// eddy::co internals: what when_all, when_any, timeout and with_cancellation are made of: a
// join state, one watcher coroutine per child task, race (a task against a trigger) and
// as_task (an awaitable moved into a task). Not user API.
// Ownership: the parent coroutine's frame owns the join state, the watchers and the children;
// destroying a child destroys what it awaits, which cancels it. Threads: loop thread only.
#pragma once

#include <coroutine>
#include <cstddef>
#include <exception>
#include <span>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "eddy/error.hpp"
#include "eddy/task.hpp"

namespace eddy {
namespace co {
namespace detail {

// Runs an awaitable as a task (for timeout and with_cancellation): the awaitable moves into
// the task's frame; destroying the task destroys it, which cancels the operation.
template <class A>
using await_result_t = decltype(std::declval<A&>().await_resume());
template <class A>
task<await_result_t<A>> as_task(A a) {
  co_return co_await a;
}
template <class A>
inline constexpr bool is_task = false;
template <class T>
inline constexpr bool is_task<task<T>> = true;

// What when_all / when_any wait on: children, and the parent to resume.
struct join_state {
  static constexpr std::size_t none = static_cast<std::size_t>(-1);
  bool any = false;           // when_any: the first to finish wins
  bool starting = true;       // the parent is still starting children
  std::size_t remaining = 0;  // when_all: children not finished
  std::size_t winner = none;  // when_any: the first finished
  std::coroutine_handle<> parent;
  [[nodiscard]] bool finished() const noexcept { return any ? winner != none : remaining == 0; }
};

// A coroutine watching one child: it waits for the child without taking its result, then
// tells the join state (resuming the parent by symmetric transfer when it is the one).
struct watcher {
  struct promise_type {
    join_state* state = nullptr;
    std::size_t index = 0;
    watcher get_return_object() noexcept { return watcher{std::coroutine_handle<promise_type>::from_promise(*this)}; }
    std::suspend_always initial_suspend() noexcept { return {}; }
    struct final_awaiter {
      bool await_ready() noexcept { return false; }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> self) noexcept {
        join_state& s = *self.promise().state;
        bool last = false;
        if (s.any) {
          if (s.winner == join_state::none) {
            s.winner = self.promise().index;
            last = true;
          }
        } else {
          last = --s.remaining == 0;
        }
        if (last && !s.starting) return s.parent;
        return std::noop_coroutine();
      }
      void await_resume() noexcept {}
    };
    final_awaiter final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }  // children keep their exceptions
  };
  explicit watcher(std::coroutine_handle<promise_type> frame) noexcept : h(frame) {}
  watcher(watcher&& o) noexcept : h(std::exchange(o.h, {})) {}
  watcher& operator=(watcher&&) = delete;
  ~watcher() {
    if (h) h.destroy();
  }
  std::coroutine_handle<promise_type> h;
};

template <class T>
struct wait_done {
  task<T>& t;
  bool await_ready() const noexcept { return t.done(); }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) noexcept {
    t.handle().promise().continuation = h;
    return t.handle();
  }
  void await_resume() const noexcept {}
};

template <class T>
watcher watch(task<T>& t) {
  co_await wait_done<T>{t};
}

template <class T>
watcher make_watcher(task<T>& t, join_state& s, std::size_t index) {
  watcher w = watch(t);
  w.h.promise().state = &s;
  w.h.promise().index = index;
  return w;
}

// Starts the watchers in order (when_any stops once one has finished) and suspends the
// parent unless everything needed finished during the start.
struct start_all {
  join_state& s;
  std::span<watcher> watchers;
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) noexcept {
    s.parent = h;
    for (auto& w : watchers) {
      if (s.any && s.winner != join_state::none) break;
      w.h.resume();
    }
    s.starting = false;
    return !s.finished();
  }
  void await_resume() const noexcept {}
};

template <class T>
using value_or_monostate = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

template <class T>
value_or_monostate<T> take(task<T>& t) {
  if constexpr (std::is_void_v<T>) {
    t.handle().promise().take();
    return {};
  } else {
    return t.handle().promise().take();
  }
}

template <class... T, std::size_t... I>
task<std::tuple<value_or_monostate<T>...>> when_all_impl(std::index_sequence<I...>, task<T>... tasks) {
  join_state s;
  s.remaining = sizeof...(T);
  std::vector<watcher> watchers;
  watchers.reserve(sizeof...(T));
  (watchers.push_back(make_watcher(tasks, s, I)), ...);
  co_await start_all{s, watchers};
  watchers.clear();
  // Braced initialisation: in order, so the first failed child (in argument order) throws.
  co_return std::tuple<value_or_monostate<T>...>{take(tasks)...};
}

// Runs t against trigger: t's outcome if t finishes first; else t is destroyed (cancelling
// what it waits on) and std::system_error(code) is thrown.
template <class T>
task<T> race(task<T> t, task<void> trigger, errc code, const char* what) {
  join_state s;
  s.any = true;
  std::vector<watcher> watchers;
  watchers.push_back(make_watcher(t, s, 0));
  watchers.push_back(make_watcher(trigger, s, 1));
  co_await start_all{s, watchers};
  watchers.clear();
  if (s.winner == 1) {
    t.reset();
    trigger.reset();
    throw std::system_error(make_error_code(code), what);
  }
  trigger.reset();
  co_return co_await t;
}

}  // namespace detail

}  // namespace co
}  // namespace eddy
