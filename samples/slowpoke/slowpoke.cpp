// slowpoke: a loop with one callback that blocks it, and the instruments that find it
// (docs/guide.md, "Finding what blocks the loop").
//
// Usage: slowpoke [seconds]   (1 by default)
// A timer named "ticker" fires every 5 ms; a timer named "slowpoke" spins for 60 ms every
// 250 ms; the thread pool runs a 20 ms job every 100 ms. The slow-callback detector (50 ms)
// reports slowpoke on stderr, and at the end the loop-delay monitor and the utilisation are
// printed. Run with EDDY_TRACE=trace.json to get a trace of the same run (Perfetto,
// chrome://tracing, or tools/trace-screenshot.sh).
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "eddy/eddy.hpp"

using namespace std::chrono_literals;

namespace {
void spin(std::chrono::nanoseconds d) {
  const auto until = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < until) {
  }
}
}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 1.0;
  eddy::loop_options options;
  options.slow_callback_threshold = 50ms;
  eddy::loop loop(options);
  eddy::loop_delay_monitor delay(loop, 10ms);
  delay.enable();

  eddy::timer ticker(loop), slowpoke(loop), pool(loop), end(loop);
  ticker.set_name("ticker");
  slowpoke.set_name("slowpoke");
  pool.set_name("pool feeder");
  ticker.start(5ms, 5ms, [] {});
  slowpoke.start(250ms, 250ms, [] { spin(60ms); });
  pool.start(100ms, 100ms, [&] { eddy::queue_work(loop, [] { spin(20ms); }, [](std::error_code) {}); });
  end.start(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(seconds)), [&] {
    ticker.close();
    slowpoke.close();
    pool.close();
    end.close();
    delay.disable();
  });
  const eddy::loop_utilization start = loop.utilization();
  loop.run();
  const eddy::loop_utilization u = loop.utilization(start);
  std::printf("loop delay: min %.1f ms, p50 %.1f ms, p99 %.1f ms, max %.1f ms over %llu samples\n",
              static_cast<double>(delay.min().count()) / 1e6, static_cast<double>(delay.percentile(50).count()) / 1e6,
              static_cast<double>(delay.percentile(99).count()) / 1e6, static_cast<double>(delay.max().count()) / 1e6,
              static_cast<unsigned long long>(delay.count()));
  std::printf("utilisation: %.2f (idle %.0f ms, active %.0f ms); slow callbacks: %llu\n", u.utilization,
              static_cast<double>(u.idle.count()) / 1e6, static_cast<double>(u.active.count()) / 1e6,
              static_cast<unsigned long long>(loop.slow_callback_count()));
  return 0;
}
