#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <fmt/format.h>
#include <gsl/assert>
#include <gsl/util>

#include "eddy/error.hpp"
#include "eddy/loop.hpp"
#include "loop/loop_impl.hpp"

namespace eddy {
namespace detail {

std::uint64_t monotonic_ns() noexcept {
  using namespace std::chrono;
  return static_cast<std::uint64_t>(duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count());
}

loop_impl::loop_impl(eddy::loop& owner, backend_kind kind) noexcept : owner_(owner), kind_(kind) {
  time_ns_ = monotonic_ns();
}

loop_impl::~loop_impl() = default;

std::error_code loop_impl::open_port() {
  return port_.open(kind_);
}

void loop_impl::report_exception(std::exception_ptr e) {
  if (uncaught_) {
    try {
      uncaught_(e);
      return;
    } catch (...) {
      e = std::current_exception();  // a throwing handler is fatal, like Node's
    }
  }
  std::string what = "unknown exception";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    what = ex.what();
  } catch (...) {
  }
  // Node prints the error and exits with status 1; so does eddy. _Exit, because unwinding
  // static state with a loop half-way through a callback would run user code again.
  std::fprintf(stderr, "eddy: uncaught exception: %s\n", what.c_str());
  std::fflush(stderr);
  std::fflush(stdout);
  std::_Exit(1);
}

void loop_impl::drain_ticks() {
  if (draining_) return;
  draining_ = true;
  // Node's processTicksAndRejections: all next ticks, then all microtasks (including those
  // queued by microtasks), again until both queues are empty.
  do {
    while (!ticks_.empty()) {
      auto fn = ticks_.pop();
      const std::uint64_t start = observing_ != nullptr ? observe_start() : 0;
      try {
        fn();
      } catch (...) {
        report_exception(std::current_exception());
      }
      if (observing_ != nullptr) observe_end(start, nullptr, "next_tick");
    }
    while (!microtasks_.empty()) {
      auto fn = microtasks_.pop();
      const std::uint64_t start = observing_ != nullptr ? observe_start() : 0;
      try {
        fn();
      } catch (...) {
        report_exception(std::current_exception());
      }
      if (observing_ != nullptr) observe_end(start, nullptr, "microtask");
    }
  } while (!ticks_.empty());
  draining_ = false;
}

void loop_impl::update_time() noexcept { time_ns_ = monotonic_ns(); }

// ---------------------------------------------------------------- timers

void loop_impl::timer_start(timer_impl& t, std::uint64_t timeout_ns) {
  if (timer_heap<timer_impl>::contains(t)) timers_.erase(&t);
  t.deadline = time_ns_ + timeout_ns;
  if (t.deadline < time_ns_) t.deadline = UINT64_MAX;  // overflow: effectively never
  t.seq = timer_seq_++;
  timers_.push(&t);
  t.set_active(true);
}

void loop_impl::timer_stop(timer_impl& t) noexcept {
  if (timer_heap<timer_impl>::contains(t)) timers_.erase(&t);
  t.set_active(false);
}

bool loop_impl::run_timers() {
  // Timers started while this phase runs (even with a zero timeout) wait for the next
  // iteration, as in Node; everything due that was started before runs in deadline order.
  const std::uint64_t phase_seq = timer_seq_;
  bool ran = false;
  while (timer_impl* t = timers_.top()) {
    if (t->deadline > time_ns_ || t->seq >= phase_seq) break;
    timers_.erase(t);
    if (t->repeat != 0) {
      timer_start(*t, t->repeat);
    } else {
      t->set_active(false);
    }
    ran = true;
    invoke_slot(*t, t->cb);
  }
  return ran;
}

// ---------------------------------------------------------------- operations

namespace {
// As libuv: a write, send, connect or shutdown is a request that keeps the loop alive on
// its own; a handle waiting for input (a read, a receive, an accept, a poll) keeps it alive only as
// an active, referenced handle, so unref() on a listening or reading handle lets the loop
// end.
bool keeps_loop_alive(op_kind kind) noexcept {
  return kind != op_kind::accept && kind != op_kind::recv && kind != op_kind::read && kind != op_kind::recvfrom &&
         kind != op_kind::poll;
}
}  // namespace

void loop_impl::submit(operation& op) noexcept {
  op.loop = this;
  op.in_flight = true;
  op.error = {};
  op.result = 0;
  ++ops_in_flight_;
  if (keeps_loop_alive(op.kind)) ++active_reqs_;
  port_.submit(op);
}

bool loop_impl::port_supports(op_kind kind) const noexcept {
  return port_.supports(kind);
}

bool loop_impl::cancel(operation& op) noexcept {
  if (!op.in_flight) return false;
  for (operation* p = pending_.head; p != nullptr; p = p->next) {
    if (p == &op) {
      op.error = make_error_code(errc::operation_canceled);
      return true;
    }
  }
  return port_.cancel(op);
}

void loop_impl::defer(operation& op) noexcept {
  op.next = nullptr;
  if (pending_.tail != nullptr) {
    pending_.tail->next = &op;
  } else {
    pending_.head = &op;
  }
  pending_.tail = &op;
}

bool loop_impl::run_pending() {
  if (pending_.head == nullptr) return false;
  // Only what was queued before this phase; completions deferred now wait a turn.
  operation* op = pending_.head;
  pending_.head = pending_.tail = nullptr;
  while (op != nullptr) {
    operation* next = op->next;
    op->next = nullptr;
    complete(*op);
    op = next;
  }
  return true;
}

std::error_code loop_impl::port_attach(io_object& io) {
  return port_.attach(io);
}

void loop_impl::port_detach(io_object& io) noexcept {
  port_.detach(io);
}

void loop_impl::wake() noexcept {
  port_.wake();
}

// ---------------------------------------------------------------- watchers and immediates

void loop_impl::run_watchers(intrusive_list<handle_base, phase_tag>& list) {
  if (list.empty()) return;
  // Snapshot the list so that handles started by these callbacks wait for the next
  // iteration and handles stopped or closed by them are skipped.
  intrusive_list<handle_base, phase_tag> running;
  list.splice_all(running);
  while (handle_base* h = running.front()) {
    running.erase(*h);
    list.push_back(*h);
    invoke_slot(*h, static_cast<watcher_impl*>(h)->cb);
  }
}

immediate_id loop_impl::set_immediate(std::function<void()> fn) {
  immediate_queue::entry e;
  e.id = ++immediates_.seq;
  e.fn = std::move(fn);
  immediates_.queue.push(std::move(e));
  ++immediates_.ref;
  return static_cast<immediate_id>(immediates_.seq);
}

void loop_impl::clear_immediate(immediate_id id) noexcept {
  auto v = static_cast<std::uint64_t>(id);
  if (v == 0 || v > immediates_.seq || immediates_.queue.empty() || v < immediates_.queue.front().id) return;
  try {
    if (immediates_.cleared.insert(v).second) --immediates_.ref;
  } catch (...) {
  }
}

void loop_impl::run_immediates() {
  // Immediates queued while this phase runs wait for the next iteration (Node's rule).
  std::size_t n = immediates_.queue.size();
  while (n-- > 0) {
    immediate_queue::entry e = immediates_.queue.pop();
    if (!immediates_.cleared.empty() && immediates_.cleared.erase(e.id) != 0) continue;
    --immediates_.ref;
    invoke(e.fn);
  }
}

// ---------------------------------------------------------------- closing

void loop_impl::run_closing() {
  if (closing_.empty()) return;
  intrusive_list<handle_base, closing_tag> batch;
  closing_.splice_all(batch);
  while (handle_base* h = batch.front()) {
    batch.erase(*h);
    h->on_release();
    auto cb = std::move(h->close_cb_);
    handles_.erase(*h);
    --handle_count_;
    if (h->owner_ != nullptr) {
      h->owner_->impl_ = nullptr;
      h->owner_ = nullptr;
    }
    delete h;
    if (cb) invoke(cb);
  }
}

void loop_impl::close_all_handles() {
  handles_.for_each([](handle_base& h) {
    if (!h.closing_) h.start_close({});
  });
}

std::error_code loop_impl::close() {
  if (!handles_.empty() || !closing_.empty() || active_reqs_ != 0 || ops_in_flight_ != 0) {
    return make_error_code(errc::busy);
  }
  unregister_signals();
  port_.close();
  return {};
}

// ---------------------------------------------------------------- asyncs

void loop_impl::process_asyncs() {
  wake_pending_.store(false, std::memory_order_seq_cst);
  // A callback may close any async handle, not only its own (which unlinks it): walk a
  // detached list, putting each handle back before its callback runs, as run_watchers does.
  intrusive_list<handle_base, phase_tag> running;
  asyncs_.splice_all(running);
  while (handle_base* h = running.front()) {
    running.erase(*h);
    asyncs_.push_back(*h);
    auto& a = static_cast<async_impl&>(*h);
    if (a.pending.exchange(false, std::memory_order_seq_cst) && !a.closing_) {
      ++metrics_.events;
      invoke_slot(a, a.cb);
    }
  }
}

// ---------------------------------------------------------------- the loop

std::int64_t loop_impl::poll_timeout() const noexcept {
  if (stop_flag_) return 0;
  if (!alive()) return 0;
  if (!idle_.empty() || pending_.head != nullptr || !closing_.empty() || immediates_.ref > 0) return 0;
  timer_impl* t = timers_.top();
  if (t == nullptr) return -1;
  if (t->deadline <= time_ns_) return 0;
  std::uint64_t d = t->deadline - time_ns_;
  return d > static_cast<std::uint64_t>(INT64_MAX) ? INT64_MAX : gsl::narrow_cast<std::int64_t>(d);
}

void loop_impl::poll(std::int64_t timeout_ns) {
  const std::uint64_t before = monotonic_ns();
  poll_entered_ns_ = before;  // the first completion delivered ends the idle time (deliver)
  poll_result r = port_.poll(timeout_ns);
  // Idle time is the time spent waiting, up to the first completion (as libuv counts it).
  if (poll_entered_ns_ != 0) metrics_.idle_time += std::chrono::nanoseconds(monotonic_ns() - before);
  poll_entered_ns_ = 0;
  if (r.woken) {
    process_asyncs();
    work_kind_ = "signal";
    process_signals();
    work_kind_ = "process";
    process_children();
    work_kind_ = "work";
    process_work();
  }
}

bool loop_impl::run(run_mode mode) {
  if (running_) return alive();  // run() from inside a callback: the outer run carries on
  running_ = true;
  if (loop_start_ns_ == 0) loop_start_ns_ = monotonic_ns();
  drain_ticks();  // what the main program queued before entering the loop
  bool r = alive();
  if (!r) update_time();
  while (r && !stop_flag_) {
    ++metrics_.iterations;
    update_time();
    enter_phase("timers", "timer");
    const bool ran_timers = run_timers();
    enter_phase("pending", "io");
    const bool ran_pending = run_pending();
    enter_phase("idle", "idle");
    run_watchers(idle_);
    enter_phase("prepare", "prepare");
    run_watchers(prepare_);

    // run(once) blocks only when nothing has run yet: a timer that fired above is progress,
    // and waiting for the next one could take as long as its timeout.
    std::int64_t timeout = 0;
    if ((mode == run_mode::once && !ran_pending && !ran_timers) || mode == run_mode::default_mode) {
      timeout = poll_timeout();
    }
    enter_phase("poll", "io");
    poll(timeout);
    update_time();

    enter_phase("check", "immediate");
    run_watchers(check_);
    run_immediates();
    enter_phase("close", "close");
    run_closing();

    if (mode == run_mode::once) {
      // run(once) promises progress: timers that became due while polling run now.
      enter_phase("timers", "timer");
      run_timers();
    }
    if (observing_ != nullptr) observe_phase(nullptr);
    r = alive();
    if (mode == run_mode::once || mode == run_mode::nowait) break;
  }
  stop_flag_ = false;
  running_ = false;
  return r;
}

std::string loop_impl::dump_handles(bool active_only) const {
  std::string out;
  const_cast<intrusive_list<handle_base, all_tag>&>(handles_).for_each([&](handle_base& h) {
    if (active_only && !h.active_) return;
    out += fmt::format("[{}{}{}] {:<8} {}{}\n", h.ref_ ? 'R' : '-', h.active_ ? 'A' : '-', h.closing_ ? 'C' : '-',
                       to_string(h.type_), static_cast<const void*>(&h), h.name_.empty() ? "" : " '" + h.name_ + "'");
  });
  return out;
}

void complete(operation& op) noexcept {
  Expects(op.in_flight && op.loop != nullptr);  // a port delivered an operation twice
  loop_impl& l = *op.loop;
  op.in_flight = false;
  --l.ops_in_flight_;
  if (keeps_loop_alive(op.kind)) --l.active_reqs_;
  ++l.metrics_.events;
  if (l.poll_entered_ns_ != 0) {  // the first completion of this poll: the wait is over
    l.metrics_.idle_time += std::chrono::nanoseconds(monotonic_ns() - l.poll_entered_ns_);
    l.poll_entered_ns_ = 0;
  }
  op.complete(&op);
}

}  // namespace detail

// ---------------------------------------------------------------- public loop

std::string_view to_string(backend_kind kind) noexcept {
  switch (kind) {
    case backend_kind::automatic: return "automatic";
    case backend_kind::io_uring: return "io_uring";
    case backend_kind::epoll: return "epoll";
    case backend_kind::iocp: return "iocp";
  }
  return "unknown";
}

std::optional<backend_kind> parse_backend(std::string_view name) noexcept {
  for (auto k : {backend_kind::automatic, backend_kind::io_uring, backend_kind::epoll, backend_kind::iocp}) {
    if (name == to_string(k)) return k;
  }
  if (name == "uring") return backend_kind::io_uring;
  return std::nullopt;
}

bool backend_compiled(backend_kind kind) noexcept { return detail::loop_port::compiled(kind); }

namespace {

std::unique_ptr<detail::loop_impl> make_impl(loop& owner, const loop_options& options, std::error_code& ec) {
  backend_kind wanted = options.backend;
  if (wanted == backend_kind::automatic) {
    if (const char* env = std::getenv("EDDY_BACKEND"); env != nullptr && *env != '\0') {
      auto parsed = parse_backend(env);
      if (!parsed) {
        ec = make_error_code(errc::invalid_argument);
        std::fprintf(stderr, "eddy: EDDY_BACKEND=%s is not a backend (io_uring, epoll, iocp)\n", env);
        return nullptr;
      }
      wanted = *parsed;
    }
  }
  if (wanted != backend_kind::automatic) {
    auto impl = std::make_unique<detail::loop_impl>(owner, wanted);
    if ((ec = impl->open_port())) return nullptr;
    return impl;
  }
  for (backend_kind k : detail::loop_port::defaults()) {
    auto impl = std::make_unique<detail::loop_impl>(owner, k);
    if (!(ec = impl->open_port())) return impl;
  }
  ec = make_error_code(errc::backend_unavailable);
  return nullptr;
}

}  // namespace

loop::loop(const loop_options& options) {
  std::error_code ec;
  impl_ = make_impl(*this, options, ec);
  if (!impl_) {
    throw std::system_error(ec, fmt::format("eddy: cannot create a loop on {}", to_string(options.backend)));
  }
  impl_->configure_observer(options);
}

loop::loop(private_tag, std::unique_ptr<detail::loop_impl> impl) : impl_(std::move(impl)) {}

std::unique_ptr<loop> loop::create(const loop_options& options, std::error_code& ec) {
  ec.clear();
  std::unique_ptr<loop> l(new loop(private_tag{}, nullptr));
  l->impl_ = make_impl(*l, options, ec);
  if (!l->impl_) return nullptr;
  l->impl_->configure_observer(options);
  return l;
}

loop::~loop() {
  if (!impl_) return;
  if (impl_->close()) {
    impl_->close_all_handles();
    // Closed handles cancel their operations; run until those have completed, the close
    // callbacks have run and queued work has come back (this waits for running work).
    while (impl_->handle_count_ != 0 || impl_->active_reqs_ != 0 || impl_->ops_in_flight_ != 0) {
      impl_->run(run_mode::once);
    }
    (void)impl_->close();
  }
}

std::error_code loop::close() { return impl_->close(); }
bool loop::run(run_mode mode) { return impl_->run(mode); }
void loop::stop() noexcept { impl_->stop_flag_ = true; }
bool loop::alive() const noexcept { return impl_->alive(); }
std::uint64_t loop::now() const noexcept { return impl_->time_ns_ / 1'000'000; }
std::uint64_t loop::now_ns() const noexcept { return impl_->time_ns_; }
void loop::update_time() noexcept { impl_->update_time(); }
std::uint64_t loop::hrtime() noexcept { return detail::monotonic_ns(); }
backend_kind loop::backend() const noexcept { return impl_->kind_; }

void loop::walk(const std::function<void(handle&)>& fn) {
  impl_->handles_.for_each([&](detail::handle_base& h) {
    if (h.owner_ != nullptr && !h.closing_) fn(*h.owner_);
  });
}

std::string loop::dump_handles(bool active_only) const { return impl_->dump_handles(active_only); }
std::size_t loop::handle_count() const noexcept { return impl_->handle_count_; }
loop_metrics loop::metrics() const noexcept {
  loop_metrics m = impl_->metrics_;
  m.read_buffers_in_use = impl_->read_buffers_.in_use();
  return m;
}
void loop::next_tick(std::function<void()> fn) { impl_->ticks_.push(std::move(fn)); }
void loop::queue_microtask(std::function<void()> fn) { impl_->microtasks_.push(std::move(fn)); }
immediate_id loop::set_immediate(std::function<void()> fn) { return impl_->set_immediate(std::move(fn)); }
void loop::clear_immediate(immediate_id id) noexcept { impl_->clear_immediate(id); }
void loop::set_uncaught_exception_handler(std::function<void(std::exception_ptr)> handler) {
  impl_->uncaught_ = std::move(handler);
}

}  // namespace eddy
