// spawn_pipe: runs a program, streams its standard output through a pipe, and prints how it
// ended (Node's child_process.spawn with stdio 'pipe').
//
// Usage: spawn_pipe                   runs eddy's test helper: `eddy_test_helper args ...`
//        spawn_pipe PROGRAM [ARGS...]  runs PROGRAM (searched in PATH; never through a shell)
// Exits with the child's exit status (128 + the signal if a signal ended it), or 127 if the
// program could not be started at all.
#include <cstdio>
#include <string>
#include <vector>

#include "eddy/eddy.hpp"

namespace {

// Where the build put the test helper, relative to this sample (set by CMake; empty when
// the tests were not built).
std::string default_helper() {
  std::string rel = EDDY_SAMPLE_HELPER;
  if (rel.empty()) return {};
  std::error_code ec;
  std::string self = eddy::os::executable_path(ec);
  if (ec) return {};
  return self.substr(0, self.find_last_of("/\\") + 1) + rel;
}

}  // namespace

int main(int argc, char** argv) {
  eddy::process_options options;
  if (argc > 1) {
    options.file = argv[1];
    options.args.assign(argv + 1, argv + argc);
  } else {
    options.file = default_helper();
    if (options.file.empty()) {
      std::fprintf(stderr, "usage: spawn_pipe PROGRAM [ARGS...] (no test helper was built)\n");
      return 2;
    }
    options.args = {options.file, "args", "hello from a child", "through a pipe"};
  }

  eddy::loop loop;
  eddy::process child(loop);
  eddy::pipe out(loop);
  // stdin: nothing; stdout: a pipe we read; stderr: ours.
  options.stdio = {eddy::stdio_option::ignored(), eddy::stdio_option::new_pipe(out, false, true),
                   eddy::stdio_option::inherited()};
  int result = 0;
  auto ec = child.spawn(options, [&](std::int64_t status, int term_signal) {
    if (term_signal != 0) {
      std::printf("[spawn_pipe] child ended by signal %d\n", term_signal);
      result = 128 + term_signal;
    } else {
      std::printf("[spawn_pipe] child exited with status %lld\n", static_cast<long long>(status));
      result = static_cast<int>(status & 0xff);
    }
    child.close();
  });
  if (ec) {
    std::fprintf(stderr, "[spawn_pipe] cannot start %s: %s\n", options.file.c_str(), ec.message().c_str());
    out.close();
    return 127;
  }
  std::printf("[spawn_pipe] started pid %d\n", child.pid());
  // The child's output, as it comes; end of stream when it (and anything it started with
  // the same stdout) has closed it.
  (void)out.read_start([&](std::error_code rec, std::span<std::byte> data) {
    if (rec) {
      if (rec != eddy::errc::eof) std::fprintf(stderr, "[spawn_pipe] read: %s\n", rec.message().c_str());
      out.close();
      return;
    }
    std::fwrite(data.data(), 1, data.size(), stdout);
    std::fflush(stdout);
  });
  loop.run();
  return result;
}
