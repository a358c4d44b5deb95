// Spawning and reaping a trivial child, eddy against libuv (when its development package is
// installed), in the same run: children per second.
//
// - spawn_reap_sequential: one child at a time: spawn, wait for its exit, repeat.
// - spawn_reap_batch16: 16 children at once, all reaped, repeat.
// The child is EDDY_BENCH_CHILD (default: /bin/true, or the test helper's `exit 0` when it
// was built). Nothing here asserts on timing.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "eddy/eddy.hpp"

#if defined(EDDY_BENCH_LIBUV)
#include <uv.h>
#endif

namespace {

std::vector<std::string> child_args() {
  if (const char* c = std::getenv("EDDY_BENCH_CHILD")) return {c};
  std::string helper = EDDY_BENCH_HELPER;
  if (!helper.empty()) return {helper, "exit", "0"};
  return {"/bin/true"};
}

void eddy_spawn_reap(benchmark::State& state, eddy::backend_kind kind) {
  const int batch = static_cast<int>(state.range(0));
  std::error_code ec;
  auto loop = eddy::loop::create(eddy::loop_options{kind}, ec);
  if (!loop) {
    const std::string why = std::string(eddy::to_string(kind)) + " unavailable: " + ec.message();
    state.SkipWithError(why.c_str());
    return;
  }
  eddy::process_options o;
  o.args = child_args();
  o.file = o.args[0];
  std::int64_t reaped = 0;
  for (auto _ : state) {
    std::vector<std::unique_ptr<eddy::process>> procs;
    for (int i = 0; i < batch; ++i) {
      auto& p = *procs.emplace_back(std::make_unique<eddy::process>(*loop));
      if (auto e = p.spawn(o, [&reaped, &p](std::int64_t, int) {
            ++reaped;
            p.close();
          })) {
        state.SkipWithError(e.message().c_str());
        return;
      }
    }
    loop->run();
  }
  state.SetItemsProcessed(reaped);
}

#if defined(EDDY_BENCH_LIBUV)
void libuv_spawn_reap(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  uv_loop_t loop;
  uv_loop_init(&loop);
  std::vector<std::string> args = child_args();
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  uv_process_options_t o{};
  o.file = argv[0];
  o.args = argv.data();
  o.exit_cb = [](uv_process_t* p, std::int64_t, int) {
    ++*static_cast<std::int64_t*>(p->loop->data);
    uv_close(reinterpret_cast<uv_handle_t*>(p), nullptr);
  };
  std::int64_t reaped = 0;
  loop.data = &reaped;
  std::vector<uv_process_t> procs(static_cast<std::size_t>(batch));
  for (auto _ : state) {
    for (auto& p : procs) {
      if (int rc = uv_spawn(&loop, &p, &o)) {
        state.SkipWithError(uv_strerror(rc));
        return;
      }
    }
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  uv_loop_close(&loop);
  state.SetItemsProcessed(reaped);
}
BENCHMARK(libuv_spawn_reap)->Name("spawn_reap/libuv")->Arg(1)->Arg(16)->UseRealTime();
#endif

void eddy_uring(benchmark::State& s) { eddy_spawn_reap(s, eddy::backend_kind::io_uring); }
void eddy_epoll(benchmark::State& s) { eddy_spawn_reap(s, eddy::backend_kind::epoll); }
void eddy_iocp(benchmark::State& s) { eddy_spawn_reap(s, eddy::backend_kind::iocp); }

}  // namespace

BENCHMARK(eddy_uring)->Name("spawn_reap/eddy_io_uring")->Arg(1)->Arg(16)->UseRealTime();
BENCHMARK(eddy_epoll)->Name("spawn_reap/eddy_epoll")->Arg(1)->Arg(16)->UseRealTime();
BENCHMARK(eddy_iocp)->Name("spawn_reap/eddy_iocp")->Arg(1)->Arg(16)->UseRealTime();

BENCHMARK_MAIN();
