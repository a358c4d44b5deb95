// eddy::co: awaitable forms of eddy's asynchronous operations, for eddy::task (task.hpp).
//
// Every operation comes in two forms:
//   co_await co::sleep(loop, 10ms);                 // throws std::system_error on failure
//   auto r = co_await co::sleep(loop, 10ms, co::nothrow);  // eddy::result<T>: r.error, r.value
// The error code is the one the callback form reports (eddy::errc). An exception thrown by
// the function given to co::queue_work reaches the awaiter as itself, in both forms.
// Operations: sleep (on a timer of its own or a kept one), yield, signal, queue_work; lookup,
// reverse_lookup, resolve (dns::resolver, every record type); tcp and pipe connect, read,
// write, shutdown, basic_acceptor (acceptor for tcp, pipe_acceptor); udp send and receive;
// run_process; every fs callback form (open, read, write, close, stat, mkdir, scandir, ...).
//
// They are built on the callback API only, and cost no more allocations than it does (a
// test counts them). The awaiter lives in the awaiting coroutine's frame. sleep, yield,
// signal, accept, read and receive register a callback that holds the awaiter's address:
// those operations stop synchronously when the awaiter goes. The others (connect, write,
// shutdown, send, queue_work, DNS, fs, run_process) complete through a cell shared with
// their callback, because the callback may outlive the awaiter (a write completes after its
// task was destroyed, a pool job finishes). Cells are recycled: each thread keeps a pool per
// result type, a cell has two shares (awaiter, callback) and returns to the pool when both
// let go, so a warm loop allocates none; the callback holds a plain pointer (the callback
// API runs those callbacks exactly once, with operation_canceled when their handle closes),
// which keeps std::function within its small buffer. Where the callback API may drop a
// callback unrun (a process closed before it exits, a resolver destroyed with queries in
// flight) the callback's share is a counted holder instead (one allocation, inside
// std::function). sleep(loop, d) creates a timer handle per sleep; sleep(timer, d) on a kept
// timer allocates nothing.
//
// Lifetimes: the awaiter is the operation. Destroying a task suspended in one (destroying
// the task, losing a when_any, timing out) cancels it first: timers and signal handles the
// awaiter owns are closed, a kept timer stopped, reads and receives stopped, queued pool
// work and fs requests cancelled when they have not started, and the callback of anything
// still in flight finds no awaiter and only gives its cell back. Borrowed things (streams,
// sockets, buffers, the acceptor, the resolver) must outlive the task or the operation: a
// buffer given to read, receive or write stays borrowed until that operation's callback
// would have run (close the handle to end it), as in the callback form. Views given as
// arguments (paths, names, buffer lists) are read when the operation starts, at co_await.
// timeout and with_cancellation accept a task or any of these awaitables (moved into a task).
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
#include "eddy/pipe.hpp"
#include "eddy/process.hpp"
#include "eddy/signal.hpp"
#include "eddy/stream.hpp"
#include "eddy/task.hpp"
#include "eddy/tcp.hpp"
#include "eddy/timer.hpp"
#include "eddy/udp.hpp"
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

// The form an operation was asked for: nothing (throws) or co::nothrow (returns a result).
template <class... Form>
concept form = sizeof...(Form) == 0 || (sizeof...(Form) == 1 && (std::is_same_v<Form, nothrow_t> && ...));
template <class... Form>
inline constexpr bool throws = sizeof...(Form) == 0;

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

// The state an awaiter shares with the callback it registered, for operations whose
// callback can outlive the awaiter (a write completes after its task was destroyed). The
// callback stores the outcome and resumes the waiter, or only stores it when the awaiter
// is gone. Two shares (refs): the awaiter's and the callback's; the last one to let go
// returns the cell to its thread's pool, so a warm loop allocates no cells.
template <class T>
struct cell : outcome<T> {
  std::coroutine_handle<> waiter;
  bool done = false;
  int refs = 0;
  cell* next_free = nullptr;
};

// The free cells of one type on this thread, reused in LIFO order; at most `keep` are kept
// (more are freed), and the rest are freed when the thread ends. A cell in use is owned by
// its shares alone. Loop thread only: a cell is taken and given back on its loop's thread.
template <class T>
class cell_pool {
 public:
  static constexpr std::size_t keep = 1024;
  static cell_pool& local() {
    thread_local cell_pool pool;
    return pool;
  }
  cell_pool() = default;
  cell_pool(const cell_pool&) = delete;
  cell_pool& operator=(const cell_pool&) = delete;
  ~cell_pool() {
    while (free_ != nullptr) delete std::exchange(free_, free_->next_free);
  }
  // A clean cell with both shares taken.
  cell<T>* acquire() {
    cell<T>* c = free_;
    if (c != nullptr) {
      free_ = c->next_free;
      --free_count_;
    } else {
      c = new cell<T>;
    }
    c->refs = 2;
    return c;
  }
  void release(cell<T>* c) noexcept {
    if (--c->refs != 0) return;
    if (free_count_ == keep) {
      delete c;
      return;
    }
    static_cast<outcome<T>&>(*c) = outcome<T>{};  // drops a value nobody took
    c->waiter = {};
    c->done = false;
    c->next_free = std::exchange(free_, c);
    ++free_count_;
  }
  // Cells ready for reuse (tests watch it).
  [[nodiscard]] std::size_t free_count() const noexcept { return free_count_; }

 private:
  cell<T>* free_ = nullptr;
  std::size_t free_count_ = 0;
};

template <class T>
void release(cell<T>* c) noexcept {
  cell_pool<T>::local().release(c);
}
// The operation finished: resume the waiter if there still is one.
template <class T>
void resume(cell<T>* c) {
  c->done = true;
  if (auto h = std::exchange(c->waiter, {})) h.resume();
}
// The end of a callback that holds the cell by a plain pointer (callbacks the callback API
// always runs exactly once): lets go of the callback's share, then resumes the waiter (whose
// share keeps the cell), so the resumed task's next operation can reuse the cell at once.
template <class T>
void complete(cell<T>* c) {
  c->done = true;
  auto h = std::exchange(c->waiter, {});
  release(c);
  if (h) h.resume();
}

// The callback's share for callbacks that may be dropped without running (a process
// closed before it exits, a destroyed resolver): released when the callback is destroyed.
// Costs std::function a heap cell of its own (a copyable capture with a destructor).
template <class T>
class cell_hold {
 public:
  explicit cell_hold(cell<T>* c) noexcept : c_(c) {}  // adopts the callback's share
  cell_hold(const cell_hold& o) noexcept : c_(o.c_) { ++c_->refs; }
  cell_hold(cell_hold&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
  cell_hold& operator=(const cell_hold&) = delete;
  ~cell_hold() {
    if (c_ != nullptr) release(c_);
  }
  cell<T>* operator->() const noexcept { return c_; }
  [[nodiscard]] cell<T>* get() const noexcept { return c_; }

 private:
  cell<T>* c_;
};

inline void cancel_started(std::error_code) noexcept {}
inline void cancel_started(work_request& r) noexcept { r.cancel(); }
inline void cancel_started(fs::request& r) noexcept { r.cancel(); }
inline std::error_code start_error(std::error_code ec) noexcept { return ec; }
inline std::error_code start_error(const work_request&) noexcept { return {}; }
inline std::error_code start_error(const fs::request&) noexcept { return {}; }

// An operation of the callback API with a cell. start(cell<T>*) begins it and returns its
// synchronous error (std::error_code) or its request (work_request, fs::request), which the
// awaiter cancels if it is destroyed first. On a synchronous error start has already let go
// of the callback's share (no callback will run). Movable until it is awaited.
template <class T, bool Throw, class Start>
class cell_op {
 public:
  explicit cell_op(Start start) : start_(std::move(start)) {}
  cell_op(cell_op&& o) noexcept(std::is_nothrow_move_constructible_v<Start>) : start_(std::move(o.start_)) {}
  cell_op& operator=(const cell_op&) = delete;
  ~cell_op() {
    if (c_ == nullptr) return;
    if (c_->waiter) {
      c_->waiter = {};
      cancel_started(*started_);
    }
    release(c_);
  }

  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    c_ = cell_pool<T>::local().acquire();
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
  using started_t = std::invoke_result_t<Start&, cell<T>*>;
  Start start_;
  cell<T>* c_ = nullptr;
  std::optional<started_t> started_;
};

template <class T, bool Throw, class Start>
cell_op<T, Throw, Start> make_op(Start start) {
  return cell_op<T, Throw, Start>(std::move(start));
}

// An operation that reports only an error: start(completion_callback) returns the
// synchronous error of a callback-API call (stream::write, udp::send, ...).
template <bool Throw, class Start>
auto void_op(Start start) {
  return make_op<void, Throw>([start = std::move(start)](cell<void>* c) mutable {
    auto ec = start(completion_callback([c](std::error_code e) {
      c->res.error = e;
      complete(c);
    }));
    if (ec) release(c);  // no callback will run
    return ec;
  });
}

// Base of the awaiters that own their handle or register their own address (the callback
// API calls them back only while they exist, or they stop it synchronously).
template <class T, bool Throw>
struct own_op {
  outcome<T> out;
  std::coroutine_handle<> waiter;
  own_op() = default;
  own_op(own_op&&) noexcept {}  // before the start: nothing to move
  own_op& operator=(const own_op&) = delete;
  bool await_ready() const noexcept { return false; }
  auto await_resume() { return deliver<T, Throw>(out); }
  // Resumes the waiter (call it last: the coroutine may destroy this awaiter).
  void finish() { std::exchange(waiter, {}).resume(); }
};

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

}  // namespace detail

// ---- time

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

// ---- DNS (names given as string_view are read when the operation starts: at the co_await)

template <bool Throw = true>
auto lookup(eddy::loop& loop, std::string_view host, std::string_view service, dns::lookup_hints hints = {}) {
  using R = std::vector<socket_address>;
  return detail::make_op<R, Throw>([&loop, host, service, hints](detail::cell<R>* c) {
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

// What reverse_lookup finds: the host and service names of an address.
struct host_service {
  std::string host;
  std::string service;
};

// dns::reverse_lookup (getnameinfo on the pool). numeric: numbers only, no lookup.
template <class... Form>
requires detail::form<Form...>
auto reverse_lookup(eddy::loop& loop, const socket_address& address, bool numeric, Form...) {
  return detail::make_op<host_service, detail::throws<Form...>>([&loop, address,
                                                                 numeric](detail::cell<host_service>* c) {
    return dns::reverse_lookup(loop, address, numeric, [c](std::error_code ec, std::string host, std::string service) {
      c->res.error = ec;
      c->res.value = {std::move(host), std::move(service)};
      detail::complete(c);
    });
  });
}

// r.resolve(name, type): name's records of one type from r's servers (dns::resolver; its
// errors: errc::no_data, host_not_found, timed_out, not_supported without c-ares, ...).
// r must outlive the awaiter; destroying the awaiter leaves the query to finish unseen
// (resolver::cancel() ends every query of r).
template <class... Form>
requires detail::form<Form...>
auto resolve(dns::resolver& r, std::string_view name, dns::record_type type, Form...) {
  using R = dns::records;
  return detail::make_op<R, detail::throws<Form...>>([&r, name, type](detail::cell<R>* c) {
    // The resolver drops its callbacks when it is destroyed: the callback holds its share.
    return r.resolve(name, type, [h = detail::cell_hold<R>(c)](std::error_code ec, R answer) {
      h->res.error = ec;
      h->res.value = std::move(answer);
      detail::resume(h.get());
    });
  });
}
// dns::resolve: one query with a resolver of its own on the system's servers.
template <class... Form>
requires detail::form<Form...>
auto resolve(eddy::loop& loop, std::string_view name, dns::record_type type, Form...) {
  using R = dns::records;
  return detail::make_op<R, detail::throws<Form...>>([&loop, name, type](detail::cell<R>* c) {
    dns::resolve(loop, name, type, [c](std::error_code ec, R answer) {
      c->res.error = ec;
      c->res.value = std::move(answer);
      detail::complete(c);
    });
    return std::error_code{};
  });
}

// ---- streams, TCP and pipes

namespace detail {
// Reads once into a borrowed buffer (stream::read_some). The read callback holds the
// awaiter's address: an awaiter that goes first stops the read, after which no callback
// runs (read_stop is synchronous).
template <bool Throw>
class read_op : public own_op<std::size_t, Throw> {
 public:
  read_op(stream& s, mutable_buffer buf) : s_(s), buf_(buf) {}
  read_op(read_op&& o) noexcept : own_op<std::size_t, Throw>(std::move(o)), s_(o.s_), buf_(o.buf_) {}
  ~read_op() {
    if (this->waiter) s_.read_stop();
  }
  bool await_suspend(std::coroutine_handle<> h) {
    auto ec = s_.read_some(buf_, [this](std::error_code e, std::span<std::byte> data) {
      if (e != errc::eof) this->out.res.error = e;
      this->out.res.value = data.size();
      this->finish();
    });
    this->out.res.error = ec;
    if (!ec) this->waiter = h;
    return !ec;
  }

 private:
  stream& s_;
  mutable_buffer buf_;
};
}  // namespace detail

// Reads some bytes into buf (borrowed until the read completes or the stream closes).
// Returns how many; 0 at the end of the stream. Closing the stream while a task waits here
// resumes it with errc::operation_canceled.
inline detail::read_op<true> read(stream& s, mutable_buffer buf) { return {s, buf}; }
inline detail::read_op<false> read(stream& s, mutable_buffer buf, nothrow_t) { return {s, buf}; }

// Writes all of buf (borrowed until the write completes; see stream::write).
template <bool Throw = true>
auto write(stream& s, const_buffer buf) {
  return detail::void_op<Throw>([&s, buf](completion_callback cb) { return s.write(buf, std::move(cb)); });
}
inline auto write(stream& s, const_buffer buf, nothrow_t) { return write<false>(s, buf); }

// Shuts the write side down after queued writes (stream::shutdown).
template <bool Throw = true>
auto shutdown(stream& s) {
  return detail::void_op<Throw>([&s](completion_callback cb) { return s.shutdown(std::move(cb)); });
}
inline auto shutdown(stream& s, nothrow_t) { return shutdown<false>(s); }

// Connects a fresh tcp to addr. Errors: errc::connection_refused, ...
template <bool Throw = true>
auto connect(tcp& socket, const socket_address& addr) {
  return detail::void_op<Throw>(
      [&socket, addr](completion_callback cb) { return socket.connect(addr, std::move(cb)); });
}
inline auto connect(tcp& socket, const socket_address& addr, nothrow_t) { return connect<false>(socket, addr); }

// Connects a fresh pipe to the pipe server called name (see pipe::connect).
template <class... Form>
requires detail::form<Form...>
auto connect(pipe& p, std::string_view name, Form...) {
  return detail::void_op<detail::throws<Form...>>(
      [&p, name](completion_callback cb) { return p.connect(name, std::move(cb)); });
}

// A listening socket (tcp or pipe) whose connections are awaited: co_await a.accept(client).
// Owns the server socket; destroy it only when no task awaits accept() on it.
// One accept() may be awaited at a time (a second one fails with errc::already_started).
template <class Socket>
class basic_acceptor {
  template <bool Throw>
  struct accept_op;

 public:
  explicit basic_acceptor(eddy::loop& loop) : server_(loop) {}
  basic_acceptor(const basic_acceptor&) = delete;
  basic_acceptor& operator=(const basic_acceptor&) = delete;

  // Binds to where (a socket_address for tcp, a name for pipe) and listens.
  template <class Where>
  std::error_code listen(const Where& where, int backlog = 128) {
    if (auto ec = server_.bind(where)) return ec;
    return server_.listen(backlog, [this](std::error_code ec) { on_connection(ec); });
  }
  Socket& socket() noexcept { return server_; }

  // Moves the next connection into client (a fresh socket of the same kind on the same loop).
  accept_op<true> accept(Socket& client) { return {*this, client}; }
  accept_op<false> accept(Socket& client, nothrow_t) { return {*this, client}; }

 private:
  struct waiter_base {
    virtual void ready() = 0;
    virtual ~waiter_base() = default;
  };
  template <bool Throw>
  struct accept_op : detail::own_op<void, Throw>, waiter_base {
    accept_op(basic_acceptor& a, Socket& c) : owner(a), client(c) {}
    accept_op(accept_op&& o) noexcept : owner(o.owner), client(o.client) {}
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
      this->finish();
    }
    basic_acceptor& owner;
    Socket& client;
  };

  bool has_connection() const noexcept { return ready_ != 0 || error_; }
  std::error_code take(Socket& client) {
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

  Socket server_;
  std::size_t ready_ = 0;
  std::error_code error_;
  waiter_base* waiter_ = nullptr;
};
using acceptor = basic_acceptor<tcp>;
using pipe_acceptor = basic_acceptor<pipe>;

// ---- UDP

// One received datagram: its size in the buffer, its sender, and whether it was larger than
// the buffer (cut short).
struct datagram {
  std::size_t size = 0;
  socket_address from;
  bool truncated = false;
};

namespace detail {
// Receives one datagram into a borrowed buffer (udp::recv_once); as read_op, the callback
// holds the awaiter's address and an awaiter that goes first stops the receive.
template <bool Throw>
class recv_op : public own_op<datagram, Throw> {
 public:
  recv_op(udp& u, mutable_buffer buf) : u_(u), buf_(buf) {}
  recv_op(recv_op&& o) noexcept : own_op<datagram, Throw>(std::move(o)), u_(o.u_), buf_(o.buf_) {}
  ~recv_op() {
    if (this->waiter) u_.recv_stop();
  }
  bool await_suspend(std::coroutine_handle<> h) {
    auto ec = u_.recv_once(buf_, [this](std::error_code e, std::span<std::byte> data, const socket_address& from, bool cut) {
      this->out.res.error = e;
      this->out.res.value = {data.size(), from, cut};
      this->finish();
    });
    this->out.res.error = ec;
    if (!ec) this->waiter = h;
    return !ec;
  }

 private:
  udp& u_;
  mutable_buffer buf_;
};
}  // namespace detail

// Receives one datagram into buf (borrowed until it arrives, or until the socket closes if
// the awaiter goes first; a datagram arriving after that is not kept). Binds an unbound
// socket to the IPv4 wildcard first, as udp::recv_start. Closing the socket while a task
// waits here resumes it with errc::operation_canceled.
inline detail::recv_op<true> receive(udp& u, mutable_buffer buf) { return {u, buf}; }
inline detail::recv_op<false> receive(udp& u, mutable_buffer buf, nothrow_t) { return {u, buf}; }

// Sends one datagram made of bufs (the span is copied; the bytes are borrowed until the
// send completes) to `to` (unspecified: the connected peer).
template <class... Form>
requires detail::form<Form...>
auto send(udp& u, std::span<const const_buffer> bufs, const socket_address& to, Form...) {
  return detail::void_op<detail::throws<Form...>>(
      [&u, bufs, to](completion_callback cb) { return u.send(bufs, to, std::move(cb)); });
}
template <class... Form>
requires detail::form<Form...>
auto send(udp& u, const_buffer buf, const socket_address& to, Form...) {
  return detail::void_op<detail::throws<Form...>>(
      [&u, buf, to](completion_callback cb) { return u.send(buf, to, std::move(cb)); });
}

// ---- processes

struct exit_status {
  std::int64_t exit_status = 0;
  int term_signal = 0;
};

// Spawns a child with p (an unused process handle) and waits for it to exit. Spawn errors
// (errc::no_such_file, ...) are the operation's error. p must stay open until the exit.
template <bool Throw = true>
auto run_process(process& p, const process_options& options) {
  return detail::make_op<exit_status, Throw>([&p, &options](detail::cell<exit_status>* c) {
    // Closing p drops the exit callback unrun: the callback holds its share.
    return p.spawn(options, [h = detail::cell_hold<exit_status>(c)](std::int64_t status, int sig) {
      h->res.value = {status, sig};
      detail::resume(h.get());
    });
  });
}
inline auto run_process(process& p, const process_options& options, nothrow_t) {
  return run_process<false>(p, options);
}

// ---- file system
// Every fs callback form (fs.hpp) as an awaitable with the same arguments; the value is
// what the callback receives. Errors' messages name the call and the path(s) ("no such file
// or directory: open '/tmp/x'"). Paths (string_view) and buffer lists are read when the
// operation starts (at the co_await); buffers' bytes are borrowed until it completes.

// What mkstemp gives: the open file and its path.
struct temp_file {
  fs::file file = fs::file::invalid;
  std::string path;
};

namespace detail {
// The callback of every fs operation: stores the error (and its message), then the value
// (one argument) or the values (several: T is built from them).
template <class T>
struct fs_done {
  cell<T>* c;
  template <class... V>
  void operator()(const fs::error& err, V&&... v) const {
    c->res.error = err.code();
    if (err) c->what = err.message();
    if constexpr (sizeof...(V) == 1) {
      ((c->res.value = std::forward<V>(v)), ...);
    } else if constexpr (sizeof...(V) > 1) {
      c->res.value = T{std::forward<V>(v)...};
    }
    complete(c);
  }
};
// call(fs_done<T>) starts the operation and returns its fs::request.
template <class T, class... Form, class Call>
auto fs_op(Call call) {
  static_assert(form<Form...>, "the last argument may only be co::nothrow");
  return make_op<T, throws<Form...>>([call](cell<T>* c) { return call(fs_done<T>{c}); });
}
}  // namespace detail

template <class... Form>
auto open(eddy::loop& l, std::string_view path, fs::open_flags flags, int mode, Form...) {
  return detail::fs_op<fs::file, Form...>(
      [&l, path, flags, mode](auto cb) { return fs::open(l, path, flags, mode, cb); });
}
template <class... Form>
auto close(eddy::loop& l, fs::file f, Form...) {
  return detail::fs_op<void, Form...>([&l, f](auto cb) { return fs::close(l, f, cb); });
}
// Bytes read (0 at the end of the file); offset -1: at the file's position.
template <class... Form>
auto read(eddy::loop& l, fs::file f, std::span<const mutable_buffer> bufs, std::int64_t offset, Form...) {
  return detail::fs_op<std::size_t, Form...>(
      [&l, f, bufs, offset](auto cb) { return fs::read(l, f, bufs, offset, cb); });
}
template <class... Form>
auto read(eddy::loop& l, fs::file f, mutable_buffer buf, std::int64_t offset, Form...) {
  return detail::fs_op<std::size_t, Form...>(
      [&l, f, buf, offset](auto cb) { return fs::read(l, f, std::span(&buf, 1), offset, cb); });
}
// Bytes written; offset -1: at the file's position.
template <class... Form>
auto write(eddy::loop& l, fs::file f, std::span<const const_buffer> bufs, std::int64_t offset, Form...) {
  return detail::fs_op<std::size_t, Form...>(
      [&l, f, bufs, offset](auto cb) { return fs::write(l, f, bufs, offset, cb); });
}
template <class... Form>
auto write(eddy::loop& l, fs::file f, const_buffer buf, std::int64_t offset, Form...) {
  return detail::fs_op<std::size_t, Form...>(
      [&l, f, buf, offset](auto cb) { return fs::write(l, f, std::span(&buf, 1), offset, cb); });
}
template <class... Form>
auto stat(eddy::loop& l, std::string_view path, Form...) {
  return detail::fs_op<fs::stat_info, Form...>([&l, path](auto cb) { return fs::stat(l, path, cb); });
}
template <class... Form>
auto lstat(eddy::loop& l, std::string_view path, Form...) {
  return detail::fs_op<fs::stat_info, Form...>([&l, path](auto cb) { return fs::lstat(l, path, cb); });
}
template <class... Form>
auto fstat(eddy::loop& l, fs::file f, Form...) {
  return detail::fs_op<fs::stat_info, Form...>([&l, f](auto cb) { return fs::fstat(l, f, cb); });
}
template <class... Form>
auto statfs(eddy::loop& l, std::string_view path, Form...) {
  return detail::fs_op<fs::statfs_info, Form...>([&l, path](auto cb) { return fs::statfs(l, path, cb); });
}
template <class... Form>
auto rename(eddy::loop& l, std::string_view from, std::string_view to, Form...) {
  return detail::fs_op<void, Form...>([&l, from, to](auto cb) { return fs::rename(l, from, to, cb); });
}
template <class... Form>
auto unlink(eddy::loop& l, std::string_view path, Form...) {
  return detail::fs_op<void, Form...>([&l, path](auto cb) { return fs::unlink(l, path, cb); });
}
template <class... Form>
auto mkdir(eddy::loop& l, std::string_view path, int mode, Form...) {
  return detail::fs_op<void, Form...>([&l, path, mode](auto cb) { return fs::mkdir(l, path, mode, cb); });
}
// The new directory's path.
template <class... Form>
auto mkdtemp(eddy::loop& l, std::string_view tmpl, Form...) {
  return detail::fs_op<std::string, Form...>([&l, tmpl](auto cb) { return fs::mkdtemp(l, tmpl, cb); });
}
template <class... Form>
auto mkstemp(eddy::loop& l, std::string_view tmpl, Form...) {
  return detail::fs_op<temp_file, Form...>([&l, tmpl](auto cb) { return fs::mkstemp(l, tmpl, cb); });
}
template <class... Form>
auto rmdir(eddy::loop& l, std::string_view path, Form...) {
  return detail::fs_op<void, Form...>([&l, path](auto cb) { return fs::rmdir(l, path, cb); });
}
template <class... Form>
auto scandir(eddy::loop& l, std::string_view path, Form...) {
  return detail::fs_op<std::vector<fs::dir_entry>, Form...>([&l, path](auto cb) { return fs::scandir(l, path, cb); });
}
template <class... Form>
auto opendir(eddy::loop& l, std::string_view path, Form...) {
  return detail::fs_op<fs::dir, Form...>([&l, path](auto cb) { return fs::opendir(l, path, cb); });
}
template <class... Form>
auto readdir(eddy::loop& l, fs::dir d, std::size_t max_entries, Form...) {
  return detail::fs_op<std::vector<fs::dir_entry>, Form...>(
      [&l, d, max_entries](auto cb) { return fs::readdir(l, d, max_entries, cb); });
}
template <class... Form>
auto closedir(eddy::loop& l, fs::dir d, Form...) {
  return detail::fs_op<void, Form...>([&l, d](auto cb) { return fs::closedir(l, d, cb); });
}
template <class... Form>
auto fsync(eddy::loop& l, fs::file f, Form...) {
  return detail::fs_op<void, Form...>([&l, f](auto cb) { return fs::fsync(l, f, cb); });
}
template <class... Form>
auto fdatasync(eddy::loop& l, fs::file f, Form...) {
  return detail::fs_op<void, Form...>([&l, f](auto cb) { return fs::fdatasync(l, f, cb); });
}
template <class... Form>
auto ftruncate(eddy::loop& l, fs::file f, std::int64_t length, Form...) {
  return detail::fs_op<void, Form...>([&l, f, length](auto cb) { return fs::ftruncate(l, f, length, cb); });
}
template <class... Form>
auto copyfile(eddy::loop& l, std::string_view from, std::string_view to, fs::copy_flags flags, Form...) {
  return detail::fs_op<void, Form...>([&l, from, to, flags](auto cb) { return fs::copyfile(l, from, to, flags, cb); });
}
// Bytes copied.
template <class... Form>
auto sendfile(eddy::loop& l, fs::file out, fs::file in, std::int64_t in_offset, std::size_t length, Form...) {
  return detail::fs_op<std::size_t, Form...>(
      [&l, out, in, in_offset, length](auto cb) { return fs::sendfile(l, out, in, in_offset, length, cb); });
}
template <class... Form>
auto access(eddy::loop& l, std::string_view path, fs::access_mode mode, Form...) {
  return detail::fs_op<void, Form...>([&l, path, mode](auto cb) { return fs::access(l, path, mode, cb); });
}
template <class... Form>
auto chmod(eddy::loop& l, std::string_view path, int mode, Form...) {
  return detail::fs_op<void, Form...>([&l, path, mode](auto cb) { return fs::chmod(l, path, mode, cb); });
}
template <class... Form>
auto fchmod(eddy::loop& l, fs::file f, int mode, Form...) {
  return detail::fs_op<void, Form...>([&l, f, mode](auto cb) { return fs::fchmod(l, f, mode, cb); });
}
template <class... Form>
auto chown(eddy::loop& l, std::string_view path, std::uint32_t uid, std::uint32_t gid, Form...) {
  return detail::fs_op<void, Form...>([&l, path, uid, gid](auto cb) { return fs::chown(l, path, uid, gid, cb); });
}
template <class... Form>
auto fchown(eddy::loop& l, fs::file f, std::uint32_t uid, std::uint32_t gid, Form...) {
  return detail::fs_op<void, Form...>([&l, f, uid, gid](auto cb) { return fs::fchown(l, f, uid, gid, cb); });
}
template <class... Form>
auto utime(eddy::loop& l, std::string_view path, std::int64_t atime_ns, std::int64_t mtime_ns, Form...) {
  return detail::fs_op<void, Form...>(
      [&l, path, atime_ns, mtime_ns](auto cb) { return fs::utime(l, path, atime_ns, mtime_ns, cb); });
}
template <class... Form>
auto futime(eddy::loop& l, fs::file f, std::int64_t atime_ns, std::int64_t mtime_ns, Form...) {
  return detail::fs_op<void, Form...>(
      [&l, f, atime_ns, mtime_ns](auto cb) { return fs::futime(l, f, atime_ns, mtime_ns, cb); });
}
template <class... Form>
auto link(eddy::loop& l, std::string_view existing, std::string_view new_path, Form...) {
  return detail::fs_op<void, Form...>(
      [&l, existing, new_path](auto cb) { return fs::link(l, existing, new_path, cb); });
}
template <class... Form>
auto symlink(eddy::loop& l, std::string_view target, std::string_view path, fs::symlink_flags flags, Form...) {
  return detail::fs_op<void, Form...>(
      [&l, target, path, flags](auto cb) { return fs::symlink(l, target, path, flags, cb); });
}
template <class... Form>
auto readlink(eddy::loop& l, std::string_view path, Form...) {
  return detail::fs_op<std::string, Form...>([&l, path](auto cb) { return fs::readlink(l, path, cb); });
}
template <class... Form>
auto realpath(eddy::loop& l, std::string_view path, Form...) {
  return detail::fs_op<std::string, Form...>([&l, path](auto cb) { return fs::realpath(l, path, cb); });
}
// The whole content of the file at path.
template <class... Form>
auto read_file(eddy::loop& l, std::string_view path, Form...) {
  return detail::fs_op<std::string, Form...>([&l, path](auto cb) { return fs::read_file(l, path, cb); });
}
// Creates or replaces the file at path with data (copied when the operation starts).
template <class... Form>
auto write_file(eddy::loop& l, std::string_view path, std::string_view data, Form...) {
  return detail::fs_op<void, Form...>([&l, path, data](auto cb) { return fs::write_file(l, path, data, cb); });
}

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
