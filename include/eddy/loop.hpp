// eddy::loop: one event loop, run by one thread.
//
// Threads: a loop and everything attached to it (handles, next_tick, immediates) may only be
// used from the thread that runs it, except async::send(), which any thread may call.
// Ownership: the user owns the loop object. Handles must be closed (and their close
// callbacks run) before close() succeeds; the destructor closes what is still open.
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "eddy/export.hpp"

namespace eddy {

namespace detail {
class loop_impl;
}
class handle;

// How run() behaves (libuv's UV_RUN_DEFAULT, UV_RUN_ONCE and UV_RUN_NOWAIT).
enum class run_mode {
  default_mode,  // run until no referenced handle or request is left, or stop() is called
  once,          // poll once, blocking if there is nothing else to do, then return
  nowait,        // poll once without blocking, then return
};

// The OS mechanism a loop is built on ("port").
enum class backend_kind {
  automatic,  // io_uring when the kernel allows it, else epoll (Linux); iocp (Windows)
  io_uring,
  epoll,
  iocp,
};

// "io_uring", "epoll", "iocp" or "automatic".
EDDY_API std::string_view to_string(backend_kind kind) noexcept;
// Parses the names above; std::nullopt for anything else.
EDDY_API std::optional<backend_kind> parse_backend(std::string_view name) noexcept;
// The ports compiled into this build, whether or not this machine allows them.
EDDY_API bool backend_compiled(backend_kind kind) noexcept;

struct loop_options {
  // automatic honours the EDDY_BACKEND environment variable (io_uring | epoll | iocp).
  backend_kind backend = backend_kind::automatic;
};

// Counters a loop keeps about itself. Event-loop utilisation over an interval is
// 1 - (idle_time delta / elapsed delta).
struct loop_metrics {
  std::uint64_t iterations = 0;        // loop iterations run
  std::uint64_t events = 0;            // completions and wakeups dispatched from poll
  std::chrono::nanoseconds idle_time{0};  // time spent blocked in poll
};

// Identifies an immediate for clear_immediate(). Zero is never a valid id.
enum class immediate_id : std::uint64_t {};

class EDDY_API loop {
 public:
  // Creates a loop on the requested port. Throws std::system_error with
  // errc::backend_unavailable or errc::invalid_argument (bad EDDY_BACKEND) on failure.
  explicit loop(const loop_options& options = {});
  // Same, without exceptions: returns nullptr and sets ec on failure.
  static std::unique_ptr<loop> create(const loop_options& options, std::error_code& ec);

  loop(const loop&) = delete;
  loop& operator=(const loop&) = delete;
  // Closes every handle that is still open, runs their close callbacks, then releases the port.
  ~loop();

  // Releases the port. Fails with errc::busy while handles are open or closing; the loop
  // stays usable then. Idempotent once it has succeeded.
  std::error_code close();

  // Runs the loop (see run_mode). Returns true when referenced handles or requests are left
  // (more to do), false when the loop is done. Must not be called from inside a callback.
  bool run(run_mode mode = run_mode::default_mode);
  // Makes run() return at the end of the current iteration (before blocking again).
  void stop() noexcept;
  // True while referenced active handles, requests, immediates or closing handles exist.
  [[nodiscard]] bool alive() const noexcept;

  // The loop's cached clock in milliseconds, updated at the start of each iteration.
  [[nodiscard]] std::uint64_t now() const noexcept;
  // The same clock in nanoseconds.
  [[nodiscard]] std::uint64_t now_ns() const noexcept;
  // Refreshes the cached clock.
  void update_time() noexcept;
  // A monotonic clock in nanoseconds (not cached).
  static std::uint64_t hrtime() noexcept;

  // The port this loop runs on (never automatic).
  [[nodiscard]] backend_kind backend() const noexcept;

  // Calls fn for every handle that is open and still owned by a handle object.
  void walk(const std::function<void(handle&)>& fn);
  // A listing of the open handles, one per line ("[RA-] timer 0x..."): R referenced,
  // A active, C closing. Like uv_print_all_handles / uv_print_active_handles.
  [[nodiscard]] std::string dump_handles(bool active_only = false) const;
  [[nodiscard]] std::size_t handle_count() const noexcept;

  [[nodiscard]] loop_metrics metrics() const noexcept;

  // Node's process.nextTick and queueMicrotask. After every callback the loop runs the
  // next-tick queue, then the microtask queue, and repeats until both are empty.
  void next_tick(std::function<void()> fn);
  void queue_microtask(std::function<void()> fn);

  // Node's setImmediate: fn runs in the check phase of the next iteration (of this one if
  // called before the check phase). Pending immediates keep the loop alive and make poll
  // return without blocking.
  immediate_id set_immediate(std::function<void()> fn);
  // Cancels an immediate that has not run yet. Unknown ids are ignored.
  void clear_immediate(immediate_id id) noexcept;

  // An exception escaping a user callback is passed here. Without a handler the process
  // prints the exception's message on stderr and terminates, as Node does.
  void set_uncaught_exception_handler(std::function<void(std::exception_ptr)> handler);

  // Internal: the implementation behind this loop.
  detail::loop_impl& impl() noexcept { return *impl_; }
  const detail::loop_impl& impl() const noexcept { return *impl_; }

 private:
  struct private_tag {};
  loop(private_tag, std::unique_ptr<detail::loop_impl> impl);
  std::unique_ptr<detail::loop_impl> impl_;
};

}  // namespace eddy
