// What the slow-callback detector costs per callback (issue 16: under 25 ns).
//
// callbacks/off and callbacks/on run the same loop iterations: 64 idle handles whose
// callbacks do nothing, run(nowait) per benchmark iteration, so each iteration is 64
// callbacks plus one loop iteration. "on" sets a threshold of one second (nothing is ever
// reported): the difference of the two ns_per_callback counters is the detector's cost per
// callback, which is one read of the tick counter (src/loop/ticks.hpp: the CPU's time-stamp
// counter where it is invariant; the start of a callback is the end of the one before it)
// and a comparison. The clock itself is read once per phase that runs callbacks, and for a
// callback that is reported.
//
// clock_read is one read of the monotonic clock, for comparison: what the detector would
// cost per callback if it timed callbacks with the clock (25-40 ns on a virtual machine).
//
// The same pair with the trace on (trace_on) shows what tracing adds (phase events and the
// per-callback check; nothing is over its threshold, so no callback events are stored).
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <vector>

#include "eddy/eddy.hpp"

namespace {

constexpr int handles = 64;

void run_callbacks(benchmark::State& state, const eddy::loop_options& options) {
  std::error_code ec;
  auto loop = eddy::loop::create(options, ec);
  if (!loop) {
    state.SkipWithError("no loop");
    return;
  }
  std::vector<std::unique_ptr<eddy::idle>> idles;
  std::uint64_t calls = 0;
  for (int i = 0; i < handles; ++i) {
    idles.push_back(std::make_unique<eddy::idle>(*loop));
    idles.back()->start([&calls] { ++calls; });
  }
  for (auto _ : state) loop->run(eddy::run_mode::nowait);
  benchmark::DoNotOptimize(calls);
  state.counters["ns_per_callback"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * handles, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  for (auto& i : idles) i->close();
  loop->run();
}

void callbacks_off(benchmark::State& state) { run_callbacks(state, {}); }

void callbacks_on(benchmark::State& state) {
  eddy::loop_options o;
  o.slow_callback_threshold = std::chrono::seconds(1);
  run_callbacks(state, o);
}

void callbacks_trace_on(benchmark::State& state) {
  eddy::loop_options o;
  o.slow_callback_threshold = std::chrono::seconds(1);
  o.trace_path = (std::filesystem::temp_directory_path() / "eddy-observe-bench-trace.json").string();
  o.trace_callback_threshold = std::chrono::seconds(1);
  o.trace_max_events = 100000;
  run_callbacks(state, o);
  std::error_code ec;
  std::filesystem::remove(o.trace_path, ec);
}

// The floor under "on": one read of the clock the detector uses (eddy::loop::hrtime).
void clock_read(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(eddy::loop::hrtime());
}

BENCHMARK(clock_read)->Name("clock_read");
BENCHMARK(callbacks_off)->Name("callbacks/off");
BENCHMARK(callbacks_on)->Name("callbacks/on");
BENCHMARK(callbacks_trace_on)->Name("callbacks/trace_on");

}  // namespace

BENCHMARK_MAIN();
