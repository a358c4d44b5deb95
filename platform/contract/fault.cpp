// The fault injection hook (see fault.hpp). Built only with EDDY_FAULT_INJECTION=ON.
#include "platform/contract/fault.hpp"

#include <array>
#include <atomic>

namespace eddy::contract::fault {
namespace {

struct point {
  std::atomic<std::uint64_t> calls{0};
  std::atomic<std::uint64_t> fired{0};
  // Passes left before the fault fires (0: not armed), and the error it fires with.
  std::atomic<std::uint32_t> countdown{0};
  std::atomic<int> error{0};
};

std::array<point, kind_count> g_points;
std::atomic<int> g_armed{0};  // how many kinds are armed: the fast path reads only this

point& at(kind k) noexcept { return g_points[static_cast<std::size_t>(k)]; }

}  // namespace

void arm(kind k, std::uint32_t nth, std::errc e) noexcept {
  point& p = at(k);
  p.error.store(static_cast<int>(e), std::memory_order_relaxed);
  if (p.countdown.exchange(nth, std::memory_order_acq_rel) == 0 && nth != 0) g_armed.fetch_add(1, std::memory_order_release);
}

void disarm_all() noexcept {
  for (point& p : g_points) {
    p.countdown.store(0, std::memory_order_relaxed);
    p.calls.store(0, std::memory_order_relaxed);
    p.fired.store(0, std::memory_order_relaxed);
  }
  g_armed.store(0, std::memory_order_release);
}

std::uint64_t calls(kind k) noexcept { return at(k).calls.load(std::memory_order_relaxed); }
std::uint64_t fired(kind k) noexcept { return at(k).fired.load(std::memory_order_relaxed); }

int hit(kind k) noexcept {
  point& p = at(k);
  p.calls.fetch_add(1, std::memory_order_relaxed);
  if (g_armed.load(std::memory_order_acquire) == 0) return 0;
  std::uint32_t left = p.countdown.load(std::memory_order_acquire);
  while (left != 0) {
    if (p.countdown.compare_exchange_weak(left, left - 1, std::memory_order_acq_rel)) {
      if (left != 1) return 0;
      g_armed.fetch_sub(1, std::memory_order_release);
      p.fired.fetch_add(1, std::memory_order_relaxed);
      return p.error.load(std::memory_order_relaxed);
    }
  }
  return 0;
}

}  // namespace eddy::contract::fault
