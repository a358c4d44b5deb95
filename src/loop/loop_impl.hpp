// The loop's implementation: phases, handle bookkeeping, timers, queues and the port.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>
#include <string>
#include <utility>
#include <unordered_set>

#include "callback_queue.hpp"
#include "eddy/handle.hpp"
#include "eddy/loop.hpp"
#include "eddy/work.hpp"
#include "intrusive_list.hpp"
#include "loop/port.hpp"
#include "platform/contract/process.hpp"
#include "loop/timer_heap.hpp"

namespace eddy::detail {

// The loop's spare read buffers. A stream read without an allocator borrows one when the port
// is about to receive (its acquire()) and gives it back once the delivery has returned, so a
// connection waiting for input holds none (on io_uring and epoll, and on IOCP sockets; reads
// the kernel fills in the background, as IOCP's ReadFile on a pipe, hold theirs while in
// flight). Up to `keep` spares are kept; a loop serving many connections at once allocates
// only as many buffers as reads are being delivered together. Loop thread only.
class read_buffer_pool {
 public:
  static constexpr std::size_t buffer_size = 64 * 1024;
  std::unique_ptr<std::byte[]> take() {
    auto b = count_ == 0 ? std::make_unique_for_overwrite<std::byte[]>(buffer_size) : std::move(spare_[--count_]);
    ++in_use_;
    return b;
  }
  void give(std::unique_ptr<std::byte[]> b) noexcept {
    if (!b) return;
    --in_use_;
    if (count_ < spare_.size()) spare_[count_++] = std::move(b);
  }
  [[nodiscard]] std::uint64_t in_use() const noexcept { return in_use_; }

 private:
  std::uint64_t in_use_ = 0;
  std::array<std::unique_ptr<std::byte[]>, 4> spare_;
  std::size_t count_ = 0;
};

class loop_impl;
struct work_state;
class observer;      // src/loop/observe.hpp: the slow-callback detector and the trace
class trace_recorder;
struct observer_deleter {
  void operator()(observer* o) const noexcept;
};
struct trace_deleter {
  void operator()(trace_recorder* t) const noexcept;
};

// A handle's stored callback. The loop runs it without copying (a std::function copy may
// allocate) while still letting the callback replace it (start() again with a new one):
// the loop moves it out, runs it, and moves it back unless set() was called meanwhile.
struct callback_slot {
  std::function<void()> fn;
  std::uint32_t generation = 0;
  bool has_value = false;

  void set(std::function<void()> f) {
    fn = std::move(f);
    has_value = static_cast<bool>(fn);
    ++generation;
  }
};

struct all_tag {};
struct phase_tag {};
struct closing_tag {};

// The runtime's state for one handle. It outlives the public handle object when needed:
// it is released only after the close phase has run its close callback.
class handle_base : public list_node<all_tag>, public list_node<phase_tag>, public list_node<closing_tag> {
 public:
  handle_base(loop_impl& loop, handle_type type) noexcept;
  handle_base(const handle_base&) = delete;
  handle_base& operator=(const handle_base&) = delete;
  virtual ~handle_base();

  // Stops whatever the handle is doing; called once when it is closed.
  virtual void on_close() noexcept {}
  // True while operations are in flight: the close phase waits for them (a closing handle
  // cancels its operations and is queued for the close phase when the last completes).
  [[nodiscard]] virtual bool busy() const noexcept { return false; }
  // Releases OS resources, in the close phase, just before the close callback.
  virtual void on_release() noexcept {}
  // Queues a closing handle for the close phase (once it is no longer busy).
  void queue_for_close() noexcept;

  void set_active(bool active) noexcept;
  void set_ref(bool ref) noexcept;
  void start_close(std::function<void()> cb);
  // The runtime state behind a public handle object (nullptr once released).
  static handle_base* of(handle& h) noexcept { return h.impl_; }
  // Called when the public object goes away first.
  void detach_owner() noexcept { owner_ = nullptr; }
  void set_owner(handle* h) noexcept { owner_ = h; }

  loop_impl& loop_;
  handle* owner_ = nullptr;
  handle_type type_;
  bool active_ = false;
  bool ref_ = true;
  bool closing_ = false;
  bool waiting_for_ops_ = false;  // closed while busy: counted in loop_impl::closing_busy_
  std::function<void()> close_cb_;
  std::string name_;  // handle::set_name
};

// The timer's state; also an entry of the loop's timer heap. Handles that are driven by a
// timer of their own (fs_poll) derive from it and pass their own type.
class timer_impl : public handle_base {
 public:
  explicit timer_impl(loop_impl& loop, handle_type type = handle_type::timer) noexcept : handle_base(loop, type) {}
  void on_close() noexcept override;

  std::uint64_t deadline = 0;
  std::uint64_t seq = 0;
  std::size_t heap_index = timer_heap<timer_impl>::npos;
  std::uint64_t repeat = 0;
  callback_slot cb;
};

// idle, prepare and check handles.
class watcher_impl final : public handle_base {
 public:
  watcher_impl(loop_impl& loop, handle_type type) noexcept : handle_base(loop, type) {}
  void on_close() noexcept override;
  void start(std::function<void()> fn);
  void stop() noexcept;

  callback_slot cb;
};

class async_impl final : public handle_base {
 public:
  async_impl(loop_impl& loop, std::function<void()> fn) noexcept;
  void on_close() noexcept override;
  void send() noexcept;

  callback_slot cb;
  std::atomic<bool> pending{false};
  std::atomic<int> sending{0};
};

// The loop's owned parts: each groups the state of one concern, embedded by value in
// loop_impl (no allocation, no indirection). Loop thread only unless a field says otherwise.

// Signals (src/loop/signal.cpp): the handles, which signals they watch, which have arrived,
// and this loop's slot in the process-wide table the signal hook reads.
struct signal_state {
  intrusive_list<handle_base, phase_tag> handles;
  std::atomic<std::uint64_t> interest{0};  // read by the signal hook (any thread)
  std::atomic<std::uint64_t> pending{0};   // set by the signal hook (any thread)
  int slot = -1;
  // Signals the loop watches for itself (SIGCHLD while it has children), on top of its
  // handles' interest; loop_impl::set_internal_signal() hooks and releases them.
  std::uint64_t internal = 0;
};

// Children (src/process/process.cpp): the running ones (process handles), those whose handle
// closed first and that still need reaping, and the flag set when an exit was announced
// (by SIGCHLD through process_signals, or from the wait thread: any thread).
struct child_state {
  intrusive_list<handle_base, phase_tag> running;
  std::vector<contract::process::child> orphans;
  std::atomic<bool> pending{false};
};

// Thread pool completions (src/pool/threadpool.cpp): a stack linked through
// work_state::done_next, pushed by pool threads (and by cancel()), drained in poll under
// mutex, which also guards pushing onto an empty stack and the wake that goes with it.
struct work_inbox {
  std::mutex mutex;
  std::atomic<work_state*> done{nullptr};
};

// Operations whose completion waits for the pending phase, linked through operation::next.
struct pending_queue {
  operation* head = nullptr;
  operation* tail = nullptr;
};

// set_immediate() callbacks, in order; a cleared one stays queued but is skipped.
struct immediate_queue {
  struct entry {
    std::uint64_t id = 0;
    std::function<void()> fn;
  };
  ring_queue<entry> queue;
  std::unordered_set<std::uint64_t> cleared;
  std::size_t ref = 0;  // queued and not cleared: they keep the loop alive
  std::uint64_t seq = 0;
};

class loop_impl {
 public:
  loop_impl(eddy::loop& owner, backend_kind kind) noexcept;
  ~loop_impl();
  std::error_code open_port();

  // Runs fn as a user callback of handle h (nullptr: no handle's): exceptions go to the
  // uncaught-exception handler, then the next-tick and microtask queues are drained (unless
  // already draining). With an observer (src/loop/observe.cpp) the callback is timed.
  template <class Fn>
  void invoke(const handle_base* h, Fn&& fn) {
    const std::uint64_t start = observing_ != nullptr ? observe_start() : 0;
    try {
      fn();
    } catch (...) {
      report_exception(std::current_exception());
    }
    if (observing_ != nullptr) observe_end(start, h, nullptr);
    drain_ticks();
  }
  template <class Fn>
  void invoke(Fn&& fn) {
    invoke(nullptr, std::forward<Fn>(fn));
  }
  // Runs a handle's callback slot through invoke() (see callback_slot).
  void invoke_slot(const handle_base& h, callback_slot& slot) {
    const std::uint32_t generation = slot.generation;
    std::function<void()> fn = std::move(slot.fn);
    invoke(&h, fn);
    if (slot.generation == generation) slot.fn = std::move(fn);
  }
  // Observability hooks (src/loop/observe.cpp). observing_ is null unless the slow-callback
  // detector or the trace is on, so that off costs one test per callback and no clock read.
  // phase_ names the phase run() is in; work_kind_ what a callback of no handle is.
  std::uint64_t observe_start() noexcept;
  void observe_end(std::uint64_t start, const handle_base* h, const char* kind);
  void enter_phase(const char* phase, const char* work_kind) noexcept {
    if (observing_ != nullptr) observe_phase(phase);
    phase_ = phase;
    work_kind_ = work_kind;
  }
  void observe_phase(const char* next) noexcept;
  void configure_observer(const loop_options& options);
  observer* observing_ = nullptr;
  std::unique_ptr<observer, observer_deleter> observer_;
  // Set once, before the loop runs, so pool threads may read it (src/loop/trace.cpp).
  std::unique_ptr<trace_recorder, trace_deleter> trace_;
  void trace_pool_job(work_kind kind, std::uint64_t start_ns) noexcept;  // any thread
  const char* phase_ = "timers";
  const char* work_kind_ = "io";
  std::uint64_t loop_start_ns_ = 0;   // when run() first ran (utilization)
  std::uint64_t poll_entered_ns_ = 0;  // while in the port's poll: when it began (idle time)
  void drain_ticks();
  void report_exception(std::exception_ptr e);

  bool run(run_mode mode);
  [[nodiscard]] bool alive() const noexcept {
    return active_ref_handles_ > 0 || active_reqs_ > 0 || !closing_.empty() || closing_busy_ > 0 || immediates_.ref > 0 ||
           pending_.head != nullptr;
  }
  void update_time() noexcept;
  std::error_code close();
  void close_all_handles();

  // Timers.
  void timer_start(timer_impl& t, std::uint64_t timeout_ns);
  void timer_stop(timer_impl& t) noexcept;

  // Operations.
  void submit(operation& op) noexcept;
  bool cancel(operation& op) noexcept;
  // Whether the port performs kind itself (the file_* kinds may be missing).
  [[nodiscard]] bool port_supports(op_kind kind) const noexcept;
  std::error_code port_attach(io_object& io);
  void port_detach(io_object& io) noexcept;
  // Queues op's completion for the pending phase of the next iteration.
  void defer(operation& op) noexcept;
  void wake() noexcept;

  // Immediates.
  immediate_id set_immediate(std::function<void()> fn);
  void clear_immediate(immediate_id id) noexcept;

  std::string dump_handles(bool active_only) const;

  eddy::loop& owner_;
  backend_kind kind_;
  loop_port port_;
  bool stop_flag_ = false;
  bool running_ = false;
  bool draining_ = false;
  std::uint64_t time_ns_ = 0;

  intrusive_list<handle_base, all_tag> handles_;
  std::size_t handle_count_ = 0;
  intrusive_list<handle_base, phase_tag> idle_, prepare_, check_;
  intrusive_list<handle_base, closing_tag> closing_;
  std::size_t active_ref_handles_ = 0;
  // Requests that keep the loop alive: queued work, and operations other than a handle's
  // watching for input (see keeps_loop_alive in loop.cpp).
  std::size_t active_reqs_ = 0;
  // Every operation submitted and not yet delivered (close() waits for them all).
  std::size_t ops_in_flight_ = 0;
  // Closed handles whose operations have not all come back yet (handle_base::start_close).
  std::size_t closing_busy_ = 0;

  timer_heap<timer_impl> timers_;
  std::uint64_t timer_seq_ = 0;

  intrusive_list<handle_base, phase_tag> asyncs_;
  std::atomic<bool> wake_pending_{false};

  signal_state signals_;
  std::error_code set_internal_signal(int signum, bool on) noexcept;
  void process_signals();
  void unregister_signals() noexcept;

  child_state children_;
  // Hooks the exit signal while children exist (or one is being spawned), releases it after.
  std::error_code update_child_watch(bool spawning = false) noexcept;
  void process_children();

  work_inbox work_;
  // Pushes w (with a reference for the loop) and wakes the loop if needed. Any thread.
  void post_work_done(work_state* w);
  void process_work();

  // Completions deferred to the pending phase (defer(), run_pending()).
  pending_queue pending_;

  ring_queue<std::function<void()>> ticks_, microtasks_;
  immediate_queue immediates_;

  std::function<void(std::exception_ptr)> uncaught_;
  loop_metrics metrics_;
  read_buffer_pool read_buffers_;

 private:
  bool run_timers();  // true when a callback ran
  bool run_pending();
  void run_watchers(intrusive_list<handle_base, phase_tag>& list);
  void run_immediates();
  void run_closing();
  void poll(std::int64_t timeout_ns);
  void process_asyncs();
  [[nodiscard]] std::int64_t poll_timeout() const noexcept;
};

// The monotonic clock in nanoseconds.
std::uint64_t monotonic_ns() noexcept;

}  // namespace eddy::detail
