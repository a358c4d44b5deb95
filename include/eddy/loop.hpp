// eddy::loop: one event loop, run by one thread.
//
// Threads: a loop and everything attached to it (handles, next_tick, immediates) may only be
// used from the thread that runs it, except async::send(), which any thread may call.
// A loop may be made on one thread and run on another. On the io_uring port the first
// thread that runs it keeps it: its ring is single-issuer with deferred completions (the
// kernel refuses such a ring to every other thread), so running it, or destroying it with
// handles still open, from another thread afterwards ends the process with a message. Set
// EDDY_URING_SINGLE_ISSUER=0 in a program that moves a loop between threads.
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
  // The slow-callback detector (see loop::on_slow_callback): a callback that runs at least
  // this long is reported. Zero turns it off (then no clock is read per callback); zero also
  // lets the environment variable EDDY_SLOW_CALLBACK_MS (milliseconds, may be fractional)
  // turn it on.
  std::chrono::nanoseconds slow_callback_threshold{0};
  // A Chrome trace-event file (Perfetto, chrome://tracing) written when the loop is
  // destroyed: one event per phase per iteration, every callback of at least
  // trace_callback_threshold, and the thread pool's jobs on their own threads. Empty: off,
  // unless EDDY_TRACE=path.json is set (the process's first loop writes path.json, the next
  // ones path-2.json, path-3.json, ...). At most trace_max_events are kept (the rest are
  // counted and dropped), so the file stays bounded (about 150 bytes an event).
  std::string trace_path{};
  std::chrono::nanoseconds trace_callback_threshold{std::chrono::microseconds(100)};
  std::size_t trace_max_events = 200000;
};

// One callback that held the loop for at least the slow-callback threshold. The views are
// valid only during the call of the handler that receives it.
struct slow_callback {
  // The handle's kind as to_string(handle_type) spells it ("timer", "tcp", ...), or the kind
  // of work for callbacks that are no handle's: "next_tick", "microtask", "immediate",
  // "work" (a thread-pool completion), "close" (a close callback), "io" (another completion).
  std::string_view handle_type;
  // The handle's name (handle::set_name), empty when it has none or is no handle.
  std::string_view handle_name;
  // The loop phase ("timers", "pending", "idle", "prepare", "poll", "check", "close") or the
  // queue ("next_tick", "microtask") the callback ran in.
  std::string_view phase;
  std::chrono::nanoseconds duration{0};
  // The handle's runtime address (what dump_handles prints), nullptr when it is no handle.
  const void* handle_address = nullptr;
};

// Node's performance.eventLoopUtilization(): the time the loop spent waiting in poll (idle)
// and the rest of its running time (active), and active / (idle + active).
struct loop_utilization {
  std::chrono::nanoseconds idle{0};
  std::chrono::nanoseconds active{0};
  double utilization = 0.0;
};

// Counters a loop keeps about itself. Event-loop utilisation over an interval is
// 1 - (idle_time delta / elapsed delta).
struct loop_metrics {
  std::uint64_t iterations = 0;        // loop iterations run
  std::uint64_t events = 0;            // completions and wakeups dispatched from poll
  std::chrono::nanoseconds idle_time{0};  // time spent blocked in poll
  // 64 KiB read buffers that streams read without an allocator hold now. A stream borrows one
  // only while a read is being delivered (or, where the kernel fills it in the background, as
  // a pipe on IOCP, while the read is in flight): connections waiting for input hold none.
  std::uint64_t read_buffers_in_use = 0;
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

  // Utilisation since the loop first ran (all zero before): idle is the time spent blocked
  // in poll, active the rest of the wall time since then. As Node's eventLoopUtilization().
  [[nodiscard]] loop_utilization utilization() const noexcept;
  // The change since `previous` (an earlier reading of this loop): idle and active deltas and
  // the utilisation over that interval. As Node's eventLoopUtilization(previous).
  [[nodiscard]] loop_utilization utilization(const loop_utilization& previous) const noexcept;

  // The slow-callback detector. With a threshold (loop_options::slow_callback_threshold,
  // EDDY_SLOW_CALLBACK_MS, or this setter; zero turns it off) every callback the loop runs
  // is timed, and one that took at least the threshold is passed to the handler set by
  // on_slow_callback, on the loop thread, right after it returned. Without a handler one
  // line goes to stderr: "eddy: slow callback: 57.3 ms in timer 'slowpoke' (timers phase)".
  // An empty function restores that default. Loop thread only.
  void set_slow_callback_threshold(std::chrono::nanoseconds threshold);
  [[nodiscard]] std::chrono::nanoseconds slow_callback_threshold() const noexcept;
  void on_slow_callback(std::function<void(const slow_callback&)> handler);
  // Slow callbacks reported so far.
  [[nodiscard]] std::uint64_t slow_callback_count() const noexcept;

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
