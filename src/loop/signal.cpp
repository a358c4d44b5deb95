// eddy::signal. The OS hook (platform/contract/signal.hpp) calls contract::signal::dispatch(), which may run in a
// signal handler: it only touches lock-free atomics and wakes loops through their ports
// (an eventfd write, or PostQueuedCompletionStatus), both async-signal-safe.
#include "eddy/signal.hpp"

#include <array>
#include <atomic>
#include <mutex>
#include <thread>

#include "loop/loop_impl.hpp"
#include "platform/contract/signal.hpp"

namespace eddy {
namespace detail {
namespace {

constexpr int max_signal = 63;
constexpr std::size_t max_loops = 64;

std::array<std::atomic<loop_impl*>, max_loops> g_loops{};
std::atomic<int> g_dispatching{0};
std::mutex g_mutex;                        // registration, in normal context only
std::array<int, max_signal + 1> g_users{};  // started handles per signal, all loops

std::uint64_t bit(int signum) noexcept { return std::uint64_t{1} << signum; }

class signal_impl final : public handle_base {
 public:
  explicit signal_impl(loop_impl& loop) noexcept : handle_base(loop, handle_type::signal) {}
  void on_close() noexcept override { stop(); }

  std::error_code start(int signum, std::function<void(int)> fn, bool oneshot);
  void stop() noexcept;

  int signum = 0;
  bool oneshot = false;
  std::function<void(int)> cb;
};

std::error_code use_signal(int signum) {
  std::lock_guard lock(g_mutex);
  if (g_users[signum]++ == 0) {
    if (auto ec = contract::signal::hook(signum)) {
      --g_users[signum];
      return ec;
    }
  }
  return {};
}

void release_signal(int signum) noexcept {
  std::lock_guard lock(g_mutex);
  if (--g_users[signum] == 0) contract::signal::restore(signum);
}

// False when more than max_loops loops watch signals: this loop will not receive them.
bool register_loop(loop_impl& l) {
  if (l.signals_.slot >= 0) return true;
  std::lock_guard lock(g_mutex);
  for (std::size_t i = 0; i < max_loops; ++i) {
    loop_impl* expected = nullptr;
    if (g_loops[i].compare_exchange_strong(expected, &l)) {
      l.signals_.slot = static_cast<int>(i);
      return true;
    }
  }
  return false;
}

void recompute_interest(loop_impl& l) noexcept {
  std::uint64_t mask = l.signals_.internal;
  l.signals_.handles.for_each([&](handle_base& h) { mask |= bit(static_cast<signal_impl&>(h).signum); });
  l.signals_.interest.store(mask, std::memory_order_seq_cst);
}

std::error_code signal_impl::start(int num, std::function<void(int)> fn, bool once) {
  if (closing_) return make_error_code(errc::closed);
  if (num < 1 || num > max_signal) return make_error_code(errc::invalid_argument);
  if (num != signum) {
    if (auto ec = use_signal(num)) return ec;
    stop();
    signum = num;
    loop_.signals_.handles.push_back(*this);
    register_loop(loop_);
  }
  cb = std::move(fn);
  oneshot = once;
  set_active(true);
  recompute_interest(loop_);
  return {};
}

void signal_impl::stop() noexcept {
  if (signum == 0) return;
  intrusive_list<handle_base, phase_tag>::unlink_node(static_cast<list_node<phase_tag>&>(*this));
  release_signal(signum);
  signum = 0;
  set_active(false);
  recompute_interest(loop_);
}

signal_impl* as_signal(handle_base* h) noexcept { return static_cast<signal_impl*>(h); }

// The core's half of contract::signal::dispatch (defined below, outside this namespace).
void dispatch_to_loops(int signum) noexcept {
  if (signum < 1 || signum > max_signal) return;
  g_dispatching.fetch_add(1, std::memory_order_seq_cst);
  for (auto& slot : g_loops) {
    loop_impl* l = slot.load(std::memory_order_seq_cst);
    if (l == nullptr || (l->signals_.interest.load(std::memory_order_seq_cst) & bit(signum)) == 0) continue;
    l->signals_.pending.fetch_or(bit(signum), std::memory_order_seq_cst);
    if (!l->wake_pending_.exchange(true, std::memory_order_seq_cst)) l->wake();
  }
  g_dispatching.fetch_sub(1, std::memory_order_seq_cst);
}

}  // namespace

std::error_code loop_impl::set_internal_signal(int signum, bool on) noexcept {
  if (signum < 1 || signum > max_signal) return make_error_code(errc::invalid_argument);
  if (((signals_.internal & bit(signum)) != 0) == on) return {};
  if (on) {
    try {
      if (auto ec = use_signal(signum)) return ec;
      if (!register_loop(*this)) {
        release_signal(signum);
        return make_error_code(errc::busy);  // no slot left in the table the hook reads
      }
    } catch (...) {  // std::mutex::lock may throw
      return make_error_code(errc::no_memory);
    }
    signals_.internal |= bit(signum);
  } else {
    signals_.internal &= ~bit(signum);
    release_signal(signum);
  }
  recompute_interest(*this);
  return {};
}

void loop_impl::unregister_signals() noexcept {
  for (int num = 1; num <= max_signal; ++num) {
    if ((signals_.internal & bit(num)) != 0) (void)set_internal_signal(num, false);
  }
  if (signals_.slot < 0) return;
  g_loops[static_cast<std::size_t>(signals_.slot)].store(nullptr, std::memory_order_seq_cst);
  signals_.slot = -1;
  // A handler that loaded this loop before the store may still be using it.
  while (g_dispatching.load(std::memory_order_seq_cst) != 0) std::this_thread::yield();
}

void loop_impl::process_signals() {
  std::uint64_t pending = signals_.pending.exchange(0, std::memory_order_seq_cst);
  if ((pending & signals_.internal) != 0) children_.pending.store(true, std::memory_order_seq_cst);
  if (pending == 0 || signals_.handles.empty()) return;
  intrusive_list<handle_base, phase_tag> running;
  signals_.handles.splice_all(running);
  while (handle_base* h = running.front()) {
    running.erase(*h);
    signals_.handles.push_back(*h);
    auto& s = static_cast<signal_impl&>(*h);
    const int num = s.signum;
    if ((pending & bit(num)) == 0) continue;
    ++metrics_.events;
    std::function<void(int)> fn = s.cb;
    if (s.oneshot) s.stop();
    invoke(&s, [&] { fn(num); });
  }
}

}  // namespace detail

void contract::signal::dispatch(int signum) noexcept {
  detail::dispatch_to_loops(signum);
  contract::signal::after_dispatch(signum);
}

signal::signal(eddy::loop& owner)
    : handle(owner, new detail::signal_impl(owner.impl()), handle_type::signal) {}

std::error_code signal::start(int signum, std::function<void(int)> on_signal) {
  auto* s = detail::as_signal(impl_);
  return s ? s->start(signum, std::move(on_signal), false) : make_error_code(errc::closed);
}

std::error_code signal::start_oneshot(int signum, std::function<void(int)> on_signal) {
  auto* s = detail::as_signal(impl_);
  return s ? s->start(signum, std::move(on_signal), true) : make_error_code(errc::closed);
}

void signal::stop() noexcept {
  if (auto* s = detail::as_signal(impl_)) s->stop();
}

int signal::signum() const noexcept {
  auto* s = detail::as_signal(impl_);
  return s ? s->signum : 0;
}

}  // namespace eddy
