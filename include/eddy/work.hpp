// The thread pool (libuv's uv_queue_work): work that would block the loop runs on a pool
// thread; its completion callback runs on the loop thread.
//
// One pool per process, shared by every loop, started on first use with 4 threads, or
// EDDY_THREADPOOL_SIZE (1 to 1024), or the size given to set_threadpool_size() before
// first use. A bad EDDY_THREADPOOL_SIZE is an error, not a default: the pool does not
// start, a message on stderr says why, and every queue_work completes with
// errc::invalid_argument. Slow I/O (getaddrinfo, getnameinfo, work marked work_kind::slow_io) may occupy
// at most half the threads, so lookups cannot starve file operations.
// Completions reach the loop through its port's wake mechanism, many per wake.
#pragma once

#include <cstddef>
#include <functional>
#include <system_error>
#include <utility>

#include "eddy/export.hpp"

namespace eddy {

class loop;

enum class work_kind {
  cpu,      // user computation
  fast_io,  // file system calls
  slow_io,  // DNS lookups and the like: at most half of the threads at once
};

namespace detail {
struct work_state;
}

// A queued piece of work. Copyable; cancel() works until the work has started. Each copy
// holds a reference to the request's record (one allocation per queue_work, shared with the
// pool and the loop), so a work_request may outlive its completion and its loop; copies and
// destruction are safe on any thread, cancel() is for the loop thread.
class EDDY_API work_request {
 public:
  work_request() = default;
  work_request(const work_request& other) noexcept;
  work_request(work_request&& other) noexcept : state_(std::exchange(other.state_, nullptr)) {}
  work_request& operator=(work_request other) noexcept {
    std::swap(state_, other.state_);
    return *this;
  }
  ~work_request();

  // Cancels work that has not started: after_work then runs with errc::operation_canceled.
  // Returns false if it already started or finished. Loop thread only.
  bool cancel() noexcept;

 private:
  friend EDDY_API work_request queue_work(eddy::loop&, std::function<void()>, std::function<void(std::error_code)>,
                                          work_kind);
  explicit work_request(detail::work_state* adopted) noexcept : state_(adopted) {}  // takes over one reference
  detail::work_state* state_ = nullptr;
};

// Runs `work` on a pool thread, then `after_work` on the loop thread (with an empty code, or
// errc::operation_canceled after cancel(), or the message of an exception `work` threw as
// errc::unknown after reporting it to the loop's uncaught-exception handler). Pending work
// keeps the loop alive. Loop thread only.
EDDY_API work_request queue_work(eddy::loop& loop, std::function<void()> work,
                                 std::function<void(std::error_code)> after_work, work_kind kind = work_kind::cpu);

// Sets the pool size before first use (1 to 1024): errc::invalid_argument for a bad size,
// errc::already_started once the pool runs. Any thread.
EDDY_API std::error_code set_threadpool_size(std::size_t threads);

struct threadpool_metrics {
  std::size_t threads = 0;      // 0 until the pool starts
  std::size_t queued = 0;       // waiting for a thread
  std::size_t busy = 0;         // running now
  std::size_t slow_running = 0; // of which slow I/O
};
// A snapshot. Any thread.
EDDY_API threadpool_metrics threadpool_stats() noexcept;

}  // namespace eddy
