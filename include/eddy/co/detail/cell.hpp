// eddy::co internals: cells, the state an awaiter shares with a callback that may outlive it
// (connect, write, shutdown, send, queue_work, DNS, fs, run_process), their per-thread pools,
// and cell_op, the awaiter built on a cell. Not user API.
// Ownership: a cell has two shares (the awaiter's and the callback's) and goes back to its
// thread's pool when both let go; a callback the callback API may drop unrun holds its share
// in a cell_hold. Threads: loop thread only (a cell is taken and given back on one thread).
#pragma once

#include <coroutine>
#include <cstddef>
#include <optional>
#include <system_error>
#include <type_traits>
#include <utility>

#include "eddy/co/detail/outcome.hpp"
#include "eddy/fs.hpp"
#include "eddy/stream.hpp"
#include "eddy/work.hpp"

namespace eddy {
namespace co {
namespace detail {

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

}  // namespace detail

}  // namespace co
}  // namespace eddy
