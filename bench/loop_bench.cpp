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
// - fs_random_reads: 4 KiB reads at random offsets of a 64 MiB file in the page cache, 64 in
//   flight, through fs::read: in the ring itself on io_uring, on the thread pool on epoll and
//   iocp. The ratio io_uring / epoll is the native path's gain over the pool.
//
// Nothing here asserts on timing; the numbers are for reading and for comparing runs.
#include <benchmark/benchmark.h>

#include <array>
#include <atomic>
#include <filesystem>
#include <functional>
#include <vector>
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

void fs_random_reads(benchmark::State& state, eddy::backend_kind kind) {
  constexpr std::size_t file_size = 64u << 20, block = 4096, in_flight = 64;
  auto l = make_loop(state, kind);
  if (!l) return;
  std::string dir;
  const std::string base = std::filesystem::temp_directory_path().generic_string();
  if (eddy::fs::mkdtemp(base + "/eddy-bench-XXXXXX", dir)) {
    state.SkipWithError("cannot make a temporary directory");
    return;
  }
  const std::string path = dir + "/data";
  eddy::fs::file f = eddy::fs::file::invalid;
  std::string chunk(1u << 20, 'x');
  bool ok = !eddy::fs::open(path, eddy::fs::open_flags::read_write | eddy::fs::open_flags::create, 0644, f);
  for (std::size_t off = 0; ok && off < file_size; off += chunk.size()) {
    const eddy::const_buffer b[] = {eddy::buffer(chunk)};
    std::size_t n = 0;
    ok = !eddy::fs::write(f, b, static_cast<std::int64_t>(off), n);
  }
  if (!ok) {
    state.SkipWithError("cannot write the test file");
  } else {
    std::uint64_t rng = 0x9E3779B97F4A7C15ull;
    const auto next_offset = [&] {
      rng ^= rng << 13;
      rng ^= rng >> 7;
      rng ^= rng << 17;
      return static_cast<std::int64_t>((rng % (file_size / block)) * block);
    };
    std::vector<std::array<std::byte, block>> bufs(in_flight);
    std::vector<eddy::mutable_buffer> spans(in_flight);
    for (std::size_t i = 0; i < in_flight; ++i) spans[i] = bufs[i];
    std::int64_t reads = 0;
    for (auto _ : state) {
      std::int64_t left = 100'000;  // reads per iteration
      std::function<void(std::size_t)> issue = [&](std::size_t slot) {
        eddy::fs::read(*l, f, std::span(&spans[slot], 1), next_offset(), [&, slot](const eddy::fs::error&, std::size_t) {
          ++reads;
          if (--left >= static_cast<std::int64_t>(in_flight)) issue(slot);
        });
      };
      for (std::size_t i = 0; i < in_flight; ++i) issue(i);
      l->run();
    }
    state.counters["reads"] = benchmark::Counter(static_cast<double>(reads), benchmark::Counter::kIsRate);
  }
  if (f != eddy::fs::file::invalid) eddy::fs::close(f);
  eddy::fs::unlink(path);
  eddy::fs::rmdir(dir);
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
    benchmark::RegisterBenchmark(("fs_random_reads/" + port).c_str(), fs_random_reads, kind)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
