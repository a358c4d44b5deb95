// Loop micro-benchmarks, run once per port compiled into this build ("<name>/io_uring",
// "<name>/epoll", "<name>/iocp"); a port this machine does not allow is reported as skipped.
//
// - million_timers: 1,000,000 one-shot timers (timeouts spread over 1..10 ms). The start
//   phase (construct + start), the run phase (loop.run() until all fired, which includes
//   waiting for the last deadline) and the close phase (close + close callbacks + destroy)
//   are reported as the counters start_ms, run_ms and close_ms.
// - idle_iterations: loop iterations per second with one active idle handle.
// - async_send: async::send() calls per second from a thread other than the loop's, while the
//   loop runs (sends coalesce, so this is the cost of an uncontended send).
// - async_wakeup: round trips per second: another thread sends, the loop's callback signals
//   back, the sender waits for that signal before the next send.
//
// Nothing here asserts on timing; the numbers are for reading and for comparing runs.
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <future>
#include <memory>
#include <string>
#include <system_error>
#include <thread>

#include "eddy/eddy.hpp"

namespace {

using namespace std::chrono_literals;

// Creates a loop on `kind`, or marks the benchmark skipped with the reason.
std::unique_ptr<eddy::loop> make_loop(benchmark::State& state, eddy::backend_kind kind) {
  std::error_code ec;
  auto l = eddy::loop::create(eddy::loop_options{kind}, ec);
  if (!l) {
    const std::string why = std::string(eddy::to_string(kind)) + " unavailable: " + ec.message();
    state.SkipWithError(why.c_str());
  }
  return l;
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

void million_timers(benchmark::State& state, eddy::backend_kind kind) {
  constexpr int timer_count = 1'000'000;
  auto l = make_loop(state, kind);
  if (!l) return;
  double start_ms = 0;
  double run_ms = 0;
  double close_ms = 0;
  for (auto _ : state) {
    std::deque<eddy::timer> timers;  // a deque never moves its elements
    int fired = 0;
    int closed = 0;

    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < timer_count; ++i) {
      auto timeout = std::chrono::milliseconds(1 + i / (timer_count / 10));
      timers.emplace_back(*l).start(timeout, [&fired] { ++fired; });
    }
    start_ms += ms_since(t0);

    t0 = std::chrono::steady_clock::now();
    l->run();
    run_ms += ms_since(t0);

    t0 = std::chrono::steady_clock::now();
    for (auto& t : timers) t.close([&closed] { ++closed; });
    l->run();
    timers.clear();
    close_ms += ms_since(t0);

    if (fired != timer_count || closed != timer_count) {
      state.SkipWithError("not every timer fired and closed");
      break;
    }
  }
  const auto avg = benchmark::Counter::kAvgIterations;
  state.counters["start_ms"] = benchmark::Counter(start_ms, avg);
  state.counters["run_ms"] = benchmark::Counter(run_ms, avg);
  state.counters["close_ms"] = benchmark::Counter(close_ms, avg);
  state.counters["timers"] = timer_count;
  (void)l->close();
}

void idle_iterations(benchmark::State& state, eddy::backend_kind kind) {
  auto l = make_loop(state, kind);
  if (!l) return;
  eddy::idle spin(*l);
  std::int64_t remaining = 0;
  spin.start([&] {
    if (--remaining <= 0) l->stop();
  });
  constexpr std::int64_t batch = 10'000;
  while (state.KeepRunningBatch(batch)) {
    remaining = batch;
    l->run();
  }
  state.counters["iterations"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  spin.close();
  l->run();
  (void)l->close();
}

// A loop running on its own thread with one async handle whose callback is `on_async`, and a
// second async handle that shuts it down. Construction returns once the loop thread is ready.
class loop_thread {
 public:
  loop_thread(eddy::backend_kind kind, std::function<void()> on_async) {
    std::promise<std::error_code> ready;
    auto ready_future = ready.get_future();
    thread_ = std::thread([&, kind, cb = std::move(on_async)]() mutable {
      std::error_code ec;
      auto l = eddy::loop::create(eddy::loop_options{kind}, ec);
      if (!l) {
        ready.set_value(ec);
        return;
      }
      eddy::async work(*l, std::move(cb));
      eddy::async quit(*l, [&] {
        work.close();
        quit.close();
      });
      work_ = &work;
      quit_ = &quit;
      ready.set_value({});
      l->run();
      (void)l->close();
    });
    error_ = ready_future.get();
    if (error_) thread_.join();
  }
  ~loop_thread() {
    if (thread_.joinable()) {
      quit_->send();
      thread_.join();
    }
  }
  loop_thread(const loop_thread&) = delete;
  loop_thread& operator=(const loop_thread&) = delete;

  [[nodiscard]] const std::error_code& error() const { return error_; }
  void send() noexcept { work_->send(); }

 private:
  std::thread thread_;
  std::error_code error_;
  eddy::async* work_ = nullptr;
  eddy::async* quit_ = nullptr;
};

void async_send(benchmark::State& state, eddy::backend_kind kind) {
  std::atomic<std::uint64_t> callbacks{0};
  loop_thread lt(kind, [&] { callbacks.fetch_add(1, std::memory_order_relaxed); });
  if (lt.error()) {
    state.SkipWithError((std::string(eddy::to_string(kind)) + " unavailable: " + lt.error().message()).c_str());
    return;
  }
  for (auto _ : state) lt.send();
  state.counters["sends"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["callbacks_per_send"] =
      static_cast<double>(callbacks.load()) / static_cast<double>(state.iterations() == 0 ? 1 : state.iterations());
}

void async_wakeup(benchmark::State& state, eddy::backend_kind kind) {
  std::atomic<std::uint64_t> sent{0};
  std::atomic<std::uint64_t> acked{0};
  loop_thread lt(kind, [&] {
    // Every send that happened before this callback is answered by it (sends coalesce).
    acked.store(sent.load(std::memory_order_acquire), std::memory_order_release);
    acked.notify_one();
  });
  if (lt.error()) {
    state.SkipWithError((std::string(eddy::to_string(kind)) + " unavailable: " + lt.error().message()).c_str());
    return;
  }
  for (auto _ : state) {
    const std::uint64_t target = sent.fetch_add(1, std::memory_order_release) + 1;
    lt.send();
    for (std::uint64_t seen = acked.load(std::memory_order_acquire); seen < target;
         seen = acked.load(std::memory_order_acquire)) {
      acked.wait(seen, std::memory_order_acquire);
    }
  }
  state.counters["wakeups"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  for (auto kind : {eddy::backend_kind::io_uring, eddy::backend_kind::epoll, eddy::backend_kind::iocp}) {
    if (!eddy::backend_compiled(kind)) continue;
    const std::string port(eddy::to_string(kind));
    benchmark::RegisterBenchmark(("million_timers/" + port).c_str(), million_timers, kind)
        ->Unit(benchmark::kMillisecond)
        ->Iterations(3)
        ->UseRealTime();
    benchmark::RegisterBenchmark(("idle_iterations/" + port).c_str(), idle_iterations, kind)->UseRealTime();
    benchmark::RegisterBenchmark(("async_send/" + port).c_str(), async_send, kind)->UseRealTime();
    benchmark::RegisterBenchmark(("async_wakeup/" + port).c_str(), async_wakeup, kind)->UseRealTime();
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
