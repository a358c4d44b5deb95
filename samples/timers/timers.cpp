// timers: an interval ticker that stops itself after N ticks.
//
// Usage: timers [N] [interval_ms]     (defaults: 5 ticks, 100 ms)
// Prints one line per tick with the milliseconds elapsed since the loop started, then closes
// the timer from its own callback, which lets run() return: no referenced handle is left.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string_view>

#include "eddy/eddy.hpp"

namespace {

long parse_positive(const char* text, long fallback) {
  if (text == nullptr) return fallback;
  char* end = nullptr;
  const long v = std::strtol(text, &end, 10);
  return (end != text && *end == '\0' && v > 0) ? v : -1;
}

}  // namespace

int main(int argc, char** argv) {
  const long ticks = parse_positive(argc > 1 ? argv[1] : nullptr, 5);
  const long interval_ms = parse_positive(argc > 2 ? argv[2] : nullptr, 100);
  if (ticks < 0 || interval_ms < 0) {
    std::fprintf(stderr, "usage: %s [ticks > 0] [interval_ms > 0]\n", argv[0]);
    return 2;
  }

  try {
    eddy::loop loop;  // honours EDDY_BACKEND
    const std::string_view port = eddy::to_string(loop.backend());
    std::printf("timers: %ld ticks every %ld ms on %.*s (eddy %s)\n", ticks, interval_ms, static_cast<int>(port.size()),
                port.data(), eddy::version());
    std::fflush(stdout);

    // Deadlines count from the loop's cached clock; refresh it and measure from the same instant.
    loop.update_time();
    const std::uint64_t start_ns = loop.now_ns();
    long count = 0;
    eddy::timer ticker(loop);
    const auto interval = std::chrono::milliseconds(interval_ms);
    ticker.start(interval, interval, [&] {
      ++count;
      const double elapsed_ms = static_cast<double>(eddy::loop::hrtime() - start_ns) / 1e6;
      std::printf("tick %ld at %.1f ms\n", count, elapsed_ms);
      std::fflush(stdout);
      if (count == ticks) {
        ticker.close([] {
          std::puts("timer closed");
          std::fflush(stdout);
        });
      }
    });
    loop.run();
    if (std::error_code ec = loop.close()) {
      std::fprintf(stderr, "timers: loop.close: %s\n", ec.message().c_str());
      return 1;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "timers: %s\n", e.what());
    return 1;
  }
  return 0;
}
