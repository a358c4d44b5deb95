// The tick source of ticks.hpp and its calibration.
#include "loop/ticks.hpp"

namespace eddy::detail {

namespace {

#if EDDY_HAVE_TSC
// CPUID 0x80000007 EDX bit 8: the time-stamp counter runs at a constant rate in every
// power state (what Linux calls constant_tsc + nonstop_tsc, and Windows relies on for QPC).
bool invariant_tsc() noexcept {
  std::uint32_t r[4] = {};
  if (!contract::compiler::cpuid(0x80000007u, r)) return false;  // leaf not there
  return (r[3] & (1u << 8)) != 0;
}

struct reading {
  std::uint64_t ns;
  std::uint64_t tsc;
};

// One steady_clock time and the counter read between two clock reads that lie close together
// (a reading taken across a preemption is retaken).
reading read_both() noexcept {
  reading best{0, 0};
  std::uint64_t best_gap = ~std::uint64_t{0};
  for (int attempt = 0; attempt < 50; ++attempt) {
    const std::uint64_t a = monotonic_ns();
    const std::uint64_t t = contract::compiler::read_tsc();
    const std::uint64_t b = monotonic_ns();
    if (b - a < best_gap) {
      best_gap = b - a;
      best = {a + (b - a) / 2, t};
    }
    if (best_gap < 1000) break;
  }
  return best;
}

ticks_per_ns calibrate() noexcept {
  ticks_per_ns r;
  if (!invariant_tsc()) return r;
  const reading first = read_both();
  while (monotonic_ns() - first.ns < 500'000) {
  }
  const reading last = read_both();
  if (last.ns <= first.ns || last.tsc <= first.tsc) return r;
  const double per_ns = static_cast<double>(last.tsc - first.tsc) / static_cast<double>(last.ns - first.ns);
  // A counter between 100 MHz and 20 GHz is believable; anything else is a hypervisor's
  // artefact, and steady_clock is the safe choice.
  if (!(per_ns >= 0.1 && per_ns <= 20.0)) return r;
  r.tsc = true;
  r.per_ns = per_ns;
  return r;
}
#else
ticks_per_ns calibrate() noexcept { return {}; }
#endif

}  // namespace

const ticks_per_ns& tick_rate() noexcept {
  static const ticks_per_ns rate = calibrate();
  return rate;
}

}  // namespace eddy::detail
