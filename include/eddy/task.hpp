// eddy::task<T>: a C++20 coroutine that runs on an eddy loop, and spawn() to start one.
//
// A task is lazy: creating it runs nothing. It starts when awaited (co_await t, from another
// task) or when handed to spawn(). Awaiting a task resumes the awaiter by symmetric transfer
// when the task finishes, with its value, or rethrows the exception the task let escape.
//
// Ownership: the task object owns the coroutine frame. Destroying a task that is suspended
// destroys its frame, and with it the awaiters of eddy::co (co.hpp) that it waits on; those
// cancel or detach their operation first, so no callback ever touches the freed frame.
// spawn() takes the task over: the frame frees itself when the task has finished.
//
// Threads: a task runs on the thread of the loop whose operations it awaits (queue_work
// runs its function on the pool, but resumes the task on the loop thread).
#pragma once

#include <coroutine>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "eddy/loop.hpp"

namespace eddy {

template <class T = void>
class task;

namespace detail {

struct task_promise_base {
  std::coroutine_handle<> continuation = std::noop_coroutine();
  std::exception_ptr error;

  std::suspend_always initial_suspend() noexcept { return {}; }
  struct final_awaiter {
    bool await_ready() noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
      return h.promise().continuation;  // symmetric transfer back to the awaiter
    }
    void await_resume() noexcept {}
  };
  final_awaiter final_suspend() noexcept { return {}; }
  void unhandled_exception() noexcept { error = std::current_exception(); }
};

template <class T>
struct task_promise : task_promise_base {
  std::optional<T> value;
  task<T> get_return_object() noexcept;
  template <class U = T>
  void return_value(U&& v) {
    value.emplace(std::forward<U>(v));
  }
  T take() {
    if (error) std::rethrow_exception(error);
    return std::move(*value);
  }
};

template <>
struct task_promise<void> : task_promise_base {
  task<void> get_return_object() noexcept;
  void return_void() noexcept {}
  void take() {
    if (error) std::rethrow_exception(error);
  }
};

}  // namespace detail

template <class T>
class [[nodiscard]] task {
 public:
  using promise_type = detail::task_promise<T>;
  using handle_type = std::coroutine_handle<promise_type>;
  using value_type = T;

  task() noexcept = default;
  explicit task(handle_type h) noexcept : h_(h) {}
  task(task&& other) noexcept : h_(std::exchange(other.h_, {})) {}
  task& operator=(task&& other) noexcept {
    if (this != &other) {
      reset();
      h_ = std::exchange(other.h_, {});
    }
    return *this;
  }
  task(const task&) = delete;
  task& operator=(const task&) = delete;
  ~task() { reset(); }

  // False for a default-constructed or moved-from task.
  [[nodiscard]] bool valid() const noexcept { return static_cast<bool>(h_); }
  [[nodiscard]] bool done() const noexcept { return h_ && h_.done(); }
  // Destroys the frame (cancelling what a suspended task waits on).
  void reset() noexcept {
    if (h_) std::exchange(h_, {}).destroy();
  }

  // Starts the task (or picks up its result if it already finished) and resumes the awaiter
  // when it is done. A task is awaited once.
  auto operator co_await() noexcept {
    struct awaiter {
      handle_type h;
      bool await_ready() noexcept { return h.done(); }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) noexcept {
        h.promise().continuation = awaiting;
        return h;
      }
      T await_resume() { return h.promise().take(); }
    };
    return awaiter{h_};
  }

  // Internal (combinators and spawn): the frame, still owned by this task.
  [[nodiscard]] handle_type handle() const noexcept { return h_; }

 private:
  handle_type h_;
};

namespace detail {
template <class T>
task<T> task_promise<T>::get_return_object() noexcept {
  return task<T>(std::coroutine_handle<task_promise<T>>::from_promise(*this));
}
inline task<void> task_promise<void>::get_return_object() noexcept {
  return task<void>(std::coroutine_handle<task_promise<void>>::from_promise(*this));
}

// A coroutine that starts at once and frees its own frame when it ends.
struct detached {
  struct promise_type {
    detached get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }  // run_detached catches everything
  };
};

// Hands an exception to the loop's uncaught-exception handler (as if a callback threw it).
inline void report_uncaught(eddy::loop& loop, std::exception_ptr e) {
  loop.next_tick([e] { std::rethrow_exception(e); });
}

template <class T, class F>
detached run_detached(eddy::loop& loop, task<T> t, F on_done) {
  std::exception_ptr error;
  std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> value;
  try {
    if constexpr (std::is_void_v<T>) {
      co_await t;
      value.emplace(true);
    } else {
      value.emplace(co_await t);
    }
  } catch (...) {
    error = std::current_exception();
  }
  t.reset();
  try {
    if constexpr (std::is_same_v<F, std::nullptr_t>) {
      if (error) report_uncaught(loop, error);
    } else if constexpr (std::is_void_v<T>) {
      on_done(error);
    } else {
      on_done(error, std::move(value));
    }
  } catch (...) {
    report_uncaught(loop, std::current_exception());
  }
}
}  // namespace detail

// Starts t now (it runs until its first suspension inside this call) and lets it run on its
// own. When it ends, on_done runs on the loop thread with
//   on_done(std::exception_ptr error)                                    for task<void>
//   on_done(std::exception_ptr error, std::optional<T> value)            for task<T>
// (error is null on success; value is empty when error is set). An exception thrown by
// on_done goes to the loop's uncaught-exception handler. Without on_done, an exception the
// task lets escape goes to that handler (see loop::set_uncaught_exception_handler).
// The task must finish before its loop is destroyed: a task still suspended when the loop
// closes its handles is never resumed (its frame is leaked, not freed under a callback).
template <class T, class F>
void spawn(eddy::loop& loop, task<T> t, F on_done) {
  detail::run_detached<T, F>(loop, std::move(t), std::move(on_done));
}
template <class T>
void spawn(eddy::loop& loop, task<T> t) {
  detail::run_detached<T, std::nullptr_t>(loop, std::move(t), nullptr);
}

}  // namespace eddy
