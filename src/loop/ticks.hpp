// A cheap counter for timing callbacks (the slow-callback detector and the trace, observe.cpp).
//
// Timing every callback costs one counter read per callback. steady_clock goes through the
// vDSO (or QueryPerformanceCounter) and costs 20-40 ns on a virtual machine; the CPU's
// time-stamp counter costs a third of that. So on x86-64, when the processor says its counter
// is invariant (constant rate, runs in every power state: CPUID 0x80000007, EDX bit 8), ticks
// are TSC cycles and tick_rate() converts them to nanoseconds; on every other machine ticks
// are steady_clock nanoseconds and the rate is 1. Either way a tick count is only compared
// and subtracted on the hot path; it is turned into nanoseconds only for a callback that is
// reported.
//
// Thread rules: read_ticks() from any thread; tick_rate() is computed once per process (the
// first call calibrates against steady_clock for about half a millisecond) and is then
// immutable.
#pragma once

#include <cstdint>

#include "platform/contract/compiler.hpp"  // EDDY_HAVE_TSC, contract::compiler::read_tsc

namespace eddy::detail {

std::uint64_t monotonic_ns() noexcept;  // steady_clock, in nanoseconds (loop.cpp)

struct ticks_per_ns {
  bool tsc = false;     // ticks are TSC cycles (else steady_clock nanoseconds)
  double per_ns = 1.0;  // ticks per nanosecond

  std::uint64_t from_ns(std::uint64_t ns) const noexcept { return static_cast<std::uint64_t>(static_cast<double>(ns) * per_ns); }
  std::uint64_t to_ns(std::uint64_t ticks) const noexcept { return static_cast<std::uint64_t>(static_cast<double>(ticks) / per_ns); }
};

// The process's tick rate (calibrated on the first call).
const ticks_per_ns& tick_rate() noexcept;

// The counter tick_rate() describes. tick_rate() must have been called once before (it picks
// the source); the observer does so when it is made.
inline std::uint64_t read_ticks(const ticks_per_ns& rate) noexcept {
#if EDDY_HAVE_TSC
  if (rate.tsc) return contract::compiler::read_tsc();
#endif
  (void)rate;
  return monotonic_ns();
}

}  // namespace eddy::detail
