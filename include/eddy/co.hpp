// eddy::co: awaitable forms of eddy's asynchronous operations, for eddy::task (task.hpp).
//
// Every operation comes in two forms:
//   co_await co::sleep(loop, 10ms);                 // throws std::system_error on failure
//   auto r = co_await co::sleep(loop, 10ms, co::nothrow);  // eddy::result<T>: r.error, r.value
// The error code is the one the callback form reports (eddy::errc). An exception thrown by
// the function given to co::queue_work reaches the awaiter as itself, in both forms.
//
// They are built on the callback API only. Cost: the awaiter lives in the awaiting
// coroutine's frame. sleep, yield, signal and acceptor::accept register a callback that
// captures the awaiter's address (no allocation beyond the handle the callback form needs);
// the others share one small heap cell with their callback, because the callback may
// outlive the awaiter (a write completes after its task was destroyed, a pool job finishes).
//
// Lifetimes: the awaiter is the operation. Destroying a task suspended in one (destroying
// the task, losing a when_any, timing out) cancels it first: timers and signal handles the
// awaiter owns are closed, reads stopped, queued pool work and fs requests cancelled when
// they have not started, and the callback of anything still in flight finds no awaiter and
// does nothing. Borrowed things (streams, buffers, the acceptor) must outlive the task or
// the operation: a buffer given to read or write stays borrowed until that operation's
// callback would have run (close the stream to end it), as in the callback form.
// Threads: loop thread only; the task resumes on the loop thread.
#pragma once

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "eddy/dns.hpp"
#include "eddy/error.hpp"
#include "eddy/fs.hpp"
#include "eddy/loop.hpp"
#include "eddy/process.hpp"
#include "eddy/signal.hpp"
#include "eddy/stream.hpp"
#include "eddy/task.hpp"
#include "eddy/tcp.hpp"
#include "eddy/timer.hpp"
#include "eddy/work.hpp"

namespace eddy {

// An expected-style outcome: error is empty on success, value is meaningful only then.
template <class T>
struct result {
  std::error_code error;
  T value{};
  explicit operator bool() const noexcept { return !error; }
};
template <>
struct result<void> {
  std::error_code error;
  explicit operator bool() const noexcept { return !error; }
};

namespace co {

// Selects the non-throwing form of an operation.
struct nothrow_t {
  explicit nothrow_t() = default;
};
inline constexpr nothrow_t nothrow{};

namespace detail {

[[noreturn]] inline void throw_error(std::error_code ec, const std::string& what) {
  if (what.empty()) throw std::system_error(ec);
  throw std::system_error(ec, what);
}

// What an operation completes with: the result, a message for the exception (fs errors
// name the path), or an exception of the user's own (queue_work).
template <class T>
struct outcome {
  result<T> res;
  std::string what;
  std::exception_ptr exception;
};

// The common await_resume: returns the value or throws (Throw), or returns the result.
template <class T, bool Throw>
auto deliver(outcome<T>& o) {
  if (o.exception) std::rethrow_exception(o.exception);
  if constexpr (Throw) {
    if (o.res.error) throw_error(o.res.error, o.what);
    if constexpr (!std::is_void_v<T>) return std::move(o.res.value);
  } else {
    return std::move(o.res);
  }
}

// The state an awaiter shares with the callback it registered: the callback stores the
// outcome and resumes the waiter, or only stores it when the awaiter is gone.
template <class T>
struct cell : outcome<T> {
  std::coroutine_handle<> waiter;
  bool done = false;
};
template <class T>
using cell_ptr = std::shared_ptr<cell<T>>;

template <class T>
void complete(const cell_ptr<T>& c) {
  c->done = true;
  if (auto h = std::exchange(c->waiter, {})) h.resume();
}

inline void cancel_started(std::error_code) noexcept {}
inline void cancel_started(work_request& r) noexcept { r.cancel(); }
inline void cancel_started(fs::request& r) noexcept { r.cancel(); }
inline std::error_code start_error(std::error_code ec) noexcept { return ec; }
inline std::error_code start_error(const work_request&) noexcept { return {}; }
inline std::error_code start_error(const fs::request&) noexcept { return {}; }

// An operation of the callback API with a shared cell. start(cell_ptr) begins it and returns
// its synchronous error (std::error_code) or its request (work_request, fs::request), which
// the awaiter cancels if it is destroyed first.
template <class T, bool Throw, class Start>
class cell_op {
 public:
  explicit cell_op(Start start) : start_(std::move(start)) {}
  cell_op(const cell_op&) = delete;
  cell_op& operator=(const cell_op&) = delete;
  ~cell_op() {
    if (c_ && c_->waiter) {
      c_->waiter = {};
      cancel_started(*started_);
    }
  }

  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    c_ = std::make_shared<cell<T>>();
    started_.emplace(start_(c_));
    if (auto ec = start_error(*started_)) {
      c_->res.error = ec;
      return false;
    }
    if (c_->done) return false;
    c_->waiter = h;
    return true;
  }
  auto await_resume() { return deliver<T, Throw>(*c_); }

 private:
  using started_t = std::invoke_result_t<Start&, const cell_ptr<T>&>;
  Start start_;
  cell_ptr<T> c_;
  std::optional<started_t> started_;
};

template <class T, bool Throw, class Start>
cell_op<T, Throw, Start> make_op(Start start) {
  return cell_op<T, Throw, Start>(std::move(start));
}

// Base of the awaiters that own their handle or register their own address.
template <class T, bool Throw>
struct own_op {
  outcome<T> out;
  std::coroutine_handle<> waiter;
  own_op() = default;
  own_op(const own_op&) = delete;
  own_op& operator=(const own_op&) = delete;
  bool await_ready() const noexcept { return false; }
  auto await_resume() { return deliver<T, Throw>(out); }
};

template <bool Throw>
struct sleep_op : own_op<void, Throw> {
  sleep_op(eddy::loop& l, std::chrono::nanoseconds d) : loop(l), duration(d) {}
  void await_suspend(std::coroutine_handle<> h) {
    this->waiter = h;
    t.emplace(loop);  // destroying the awaiter destroys (closes) the timer
    t->start(duration, [this] { this->waiter.resume(); });
  }
  eddy::loop& loop;
  std::chrono::nanoseconds duration;
  std::optional<eddy::timer> t;
};

template <bool Throw>
struct yield_op : own_op<void, Throw> {
  explicit yield_op(eddy::loop& l) : loop(l) {}
  ~yield_op() {
    if (pending) loop.clear_immediate(id);
  }
  void await_suspend(std::coroutine_handle<> h) {
    this->waiter = h;
    pending = true;
    id = loop.set_immediate([this] {
      pending = false;
      this->waiter.resume();
    });
  }
  eddy::loop& loop;
  immediate_id id{};
  bool pending = false;
};

template <bool Throw>
struct signal_op : own_op<int, Throw> {
  signal_op(eddy::loop& l, int n) : loop(l), signum(n) {}
  bool await_suspend(std::coroutine_handle<> h) {
    this->waiter = h;
    s.emplace(loop);  // destroying the awaiter closes the handle
    auto ec = s->start_oneshot(signum, [this](int n) {
      this->out.res.value = n;
      this->waiter.resume();
    });
    this->out.res.error = ec;
    return !ec;
  }
  eddy::loop& loop;
  int signum;
  std::optional<eddy::signal> s;
};

}  // namespace detail

// ---- time

// Resumes after d (a timer). Never fails.
inline detail::sleep_op<true> sleep(eddy::loop& loop, std::chrono::nanoseconds d) { return {loop, d}; }
inline detail::sleep_op<false> sleep(eddy::loop& loop, std::chrono::nanoseconds d, nothrow_t) { return {loop, d}; }
// Resumes in the check phase of this or the next iteration (loop::set_immediate).
inline detail::yield_op<true> yield(eddy::loop& loop) { return detail::yield_op<true>(loop); }
inline detail::yield_op<false> yield(eddy::loop& loop, nothrow_t) { return detail::yield_op<false>(loop); }

// ---- signals

// Waits for one delivery of signum; returns the signal number. Errors as signal::start.
inline detail::signal_op<true> signal(eddy::loop& loop, int signum) { return {loop, signum}; }
inline detail::signal_op<false> signal(eddy::loop& loop, int signum, nothrow_t) { return {loop, signum}; }

// ---- thread pool

// Runs fn() on a pool thread; resumes on the loop thread with its return value (which must
// be default-constructible and movable), or rethrows what fn threw. errc::operation_canceled
// if the pool cancelled it; a pool that failed to start gives errc::invalid_argument.
// fn is moved to the pool job. If the task is destroyed while fn runs, fn still runs to its
// end (its result is dropped): what fn captures by reference must outlive that.
template <bool Throw = true, class F>
auto queue_work_impl(eddy::loop& loop, F fn, work_kind kind) {
  using R = std::invoke_result_t<F&>;
  return detail::make_op<R, Throw>([&loop, kind, fn = std::move(fn)](const detail::cell_ptr<R>& c) mutable {
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

// ---- DNS

template <bool Throw = true>
auto lookup(eddy::loop& loop, std::string_view host, std::string_view service, dns::lookup_hints hints = {}) {
  using R = std::vector<socket_address>;
  return detail::make_op<R, Throw>([&loop, host, service, hints](const detail::cell_ptr<R>& c) {
    // The strings are copied by dns::lookup, inside the co_await expression.
    return dns::lookup(loop, host, service, hints, [c](std::error_code ec, R addresses) {
      c->res.error = ec;
      c->res.value = std::move(addresses);
      detail::complete(c);
    });
  });
}
// dns::lookup: the addresses of host (and service). Errors: errc::host_not_found, ...
inline auto lookup(eddy::loop& loop, std::string_view host, std::string_view service, nothrow_t,
                   dns::lookup_hints hints = {}) {
  return lookup<false>(loop, host, service, hints);
}

// ---- streams and TCP

namespace detail {
template <bool Throw, class Start>
auto void_op(Start start) {
  return make_op<void, Throw>(std::move(start));
}
inline completion_callback completer(const cell_ptr<void>& c) {
  return [c](std::error_code ec) {
    c->res.error = ec;
    complete(c);
  };
}

// Reads once into a borrowed buffer; stops reading when the awaiter goes.
template <bool Throw>
class read_op : public own_op<std::size_t, Throw> {
 public:
  read_op(stream& s, mutable_buffer buf) : s_(s), buf_(buf) {}
  ~read_op() {
    if (c_ && c_->waiter) {
      c_->waiter = {};
      s_.read_stop();
    }
  }
  bool await_suspend(std::coroutine_handle<> h) {
    c_ = std::make_shared<cell<std::size_t>>();
    auto started = s_.read_start([buf = buf_](std::size_t) { return buf; },
                            [c = c_, s = &s_](std::error_code ec, std::span<std::byte> data) {
                              if (c->done) return;
                              s->read_stop();
                              if (ec != errc::eof) c->res.error = ec;
                              c->res.value = data.size();
                              complete(c);
                            });
    if (started) {
      c_->res.error = started;
      return false;
    }
    if (c_->done) return false;
    c_->waiter = h;
    return true;
  }
  auto await_resume() { return deliver<std::size_t, Throw>(*c_); }

 private:
  stream& s_;
  mutable_buffer buf_;
  cell_ptr<std::size_t> c_;
};
}  // namespace detail

// Reads some bytes into buf (borrowed until the read completes or the stream closes).
// Returns how many; 0 at the end of the stream.
inline detail::read_op<true> read(stream& s, mutable_buffer buf) { return {s, buf}; }
inline detail::read_op<false> read(stream& s, mutable_buffer buf, nothrow_t) { return {s, buf}; }

// Writes all of buf (borrowed until the write completes; see stream::write).
template <bool Throw = true>
auto write(stream& s, const_buffer buf) {
  return detail::void_op<Throw>(
      [&s, buf](const detail::cell_ptr<void>& c) { return s.write(buf, detail::completer(c)); });
}
inline auto write(stream& s, const_buffer buf, nothrow_t) { return write<false>(s, buf); }

// Shuts the write side down after queued writes (stream::shutdown).
template <bool Throw = true>
auto shutdown(stream& s) {
  return detail::void_op<Throw>([&s](const detail::cell_ptr<void>& c) { return s.shutdown(detail::completer(c)); });
}
inline auto shutdown(stream& s, nothrow_t) { return shutdown<false>(s); }

// Connects a fresh tcp to addr. Errors: errc::connection_refused, ...
template <bool Throw = true>
auto connect(tcp& socket, const socket_address& addr) {
  return detail::void_op<Throw>(
      [&socket, addr](const detail::cell_ptr<void>& c) { return socket.connect(addr, detail::completer(c)); });
}
inline auto connect(tcp& socket, const socket_address& addr, nothrow_t) { return connect<false>(socket, addr); }

// A listening TCP socket whose connections are awaited: co_await a.accept(client).
// Owns the server socket; destroy it only when no task awaits accept() on it.
// One accept() may be awaited at a time (a second one fails with errc::already_started).
class acceptor {
  template <bool Throw>
  struct accept_op;

 public:
  explicit acceptor(eddy::loop& loop) : server_(loop) {}
  acceptor(const acceptor&) = delete;
  acceptor& operator=(const acceptor&) = delete;

  // Binds to addr and listens.
  std::error_code listen(const socket_address& addr, int backlog = 128) {
    if (auto ec = server_.bind(addr)) return ec;
    return server_.listen(backlog, [this](std::error_code ec) { on_connection(ec); });
  }
  tcp& socket() noexcept { return server_; }

  // Moves the next connection into client (a fresh tcp on the same loop).
  accept_op<true> accept(tcp& client) { return {*this, client}; }
  accept_op<false> accept(tcp& client, nothrow_t) { return {*this, client}; }

 private:
  struct waiter_base {
    virtual void ready() = 0;
    virtual ~waiter_base() = default;
  };
  template <bool Throw>
  struct accept_op : detail::own_op<void, Throw>, waiter_base {
    accept_op(acceptor& a, tcp& c) : owner(a), client(c) {}
    ~accept_op() {
      if (owner.waiter_ == this) owner.waiter_ = nullptr;
    }
    bool await_ready() noexcept {
      if (owner.waiter_ != nullptr) {
        this->out.res.error = errc::already_started;
        return true;
      }
      if (!owner.has_connection()) return false;
      this->out.res.error = owner.take(client);
      return true;
    }
    void await_suspend(std::coroutine_handle<> h) {
      this->waiter = h;
      owner.waiter_ = this;
    }
    void ready() override {
      owner.waiter_ = nullptr;
      this->out.res.error = owner.take(client);
      this->waiter.resume();
    }
    acceptor& owner;
    tcp& client;
  };

  bool has_connection() const noexcept { return ready_ != 0 || error_; }
  std::error_code take(tcp& client) {
    if (error_) return std::exchange(error_, {});
    --ready_;
    return server_.accept(client);
  }
  void on_connection(std::error_code ec) {
    if (ec) {
      error_ = ec;
    } else {
      ++ready_;
    }
    if (waiter_ != nullptr) waiter_->ready();
  }

  tcp server_;
  std::size_t ready_ = 0;
  std::error_code error_;
  waiter_base* waiter_ = nullptr;
};

// ---- processes

struct exit_status {
  std::int64_t exit_status = 0;
  int term_signal = 0;
};

// Spawns a child with p (an unused process handle) and waits for it to exit. Spawn errors
// (errc::no_such_file, ...) are the operation's error.
template <bool Throw = true>
auto run_process(process& p, const process_options& options) {
  return detail::make_op<exit_status, Throw>([&p, &options](const detail::cell_ptr<exit_status>& c) {
    return p.spawn(options, [c](std::int64_t status, int sig) {
      c->res.value = {status, sig};
      detail::complete(c);
    });
  });
}
inline auto run_process(process& p, const process_options& options, nothrow_t) {
  return run_process<false>(p, options);
}

// ---- file system (the errors' messages name the call and the path)

namespace detail {
template <class T, bool Throw, class Start>
auto fs_op(Start start) {
  return make_op<T, Throw>(std::move(start));
}
template <class T>
void fs_fail(const cell_ptr<T>& c, const fs::error& err) {
  c->res.error = err.code();
  if (err) c->what = err.message();
}
}  // namespace detail

// The whole content of the file at path.
template <bool Throw = true>
auto read_file(eddy::loop& loop, std::string_view path) {
  return detail::fs_op<std::string, Throw>([&loop, path](const detail::cell_ptr<std::string>& c) {
    return fs::read_file(loop, path, [c](const fs::error& err, std::string data) {
      detail::fs_fail(c, err);
      c->res.value = std::move(data);
      detail::complete(c);
    });
  });
}
inline auto read_file(eddy::loop& loop, std::string_view path, nothrow_t) { return read_file<false>(loop, path); }

// Creates or replaces the file at path with data (copied).
template <bool Throw = true>
auto write_file(eddy::loop& loop, std::string_view path, std::string_view data) {
  return detail::fs_op<void, Throw>([&loop, path, data](const detail::cell_ptr<void>& c) {
    return fs::write_file(loop, path, data, [c](const fs::error& err) {
      detail::fs_fail(c, err);
      detail::complete(c);
    });
  });
}
inline auto write_file(eddy::loop& loop, std::string_view path, std::string_view data, nothrow_t) {
  return write_file<false>(loop, path, data);
}

template <bool Throw = true>
auto stat(eddy::loop& loop, std::string_view path) {
  return detail::fs_op<fs::stat_info, Throw>([&loop, path](const detail::cell_ptr<fs::stat_info>& c) {
    return fs::stat(loop, path, [c](const fs::error& err, const fs::stat_info& st) {
      detail::fs_fail(c, err);
      c->res.value = st;
      detail::complete(c);
    });
  });
}
inline auto stat(eddy::loop& loop, std::string_view path, nothrow_t) { return stat<false>(loop, path); }

template <bool Throw = true>
auto unlink(eddy::loop& loop, std::string_view path) {
  return detail::fs_op<void, Throw>([&loop, path](const detail::cell_ptr<void>& c) {
    return fs::unlink(loop, path, [c](const fs::error& err) {
      detail::fs_fail(c, err);
      detail::complete(c);
    });
  });
}
inline auto unlink(eddy::loop& loop, std::string_view path, nothrow_t) { return unlink<false>(loop, path); }

// ---- combinators

namespace detail {

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
      std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> h) noexcept {
        join_state& s = *h.promise().state;
        bool last = false;
        if (s.any) {
          if (s.winner == join_state::none) {
            s.winner = h.promise().index;
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

}  // namespace detail

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

// ---- cancellation

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
inline task<void> sleep_task(eddy::loop& loop, std::chrono::nanoseconds d) { co_await co::sleep(loop, d); }
inline task<void> cancelled_task(cancellation_token token) { co_await token.wait(); }
}  // namespace detail

// t's result, or std::system_error(errc::timed_out) after d (t is then destroyed, which
// cancels its pending operation).
template <class T>
task<T> timeout(eddy::loop& loop, std::chrono::nanoseconds d, task<T> t) {
  return detail::race(std::move(t), detail::sleep_task(loop, d), errc::timed_out, "timeout");
}

// t's result, or std::system_error(errc::operation_canceled) once token's source is
// cancelled (t is then destroyed, which cancels its pending operation).
template <class T>
task<T> with_cancellation(cancellation_token token, task<T> t) {
  return detail::race(std::move(t), detail::cancelled_task(token), errc::operation_canceled, "cancelled");
}

}  // namespace co
}  // namespace eddy
