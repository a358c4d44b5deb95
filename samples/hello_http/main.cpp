// hello_http: the seeds' HTTP hello-world server on eddy.
//
// Usage: hello_http [--host 127.0.0.1] [--port 8080] [--backend auto|io_uring|epoll|iocp]
//                   [--slow-callback-ms N]
// Prints "listening on http://HOST:PORT" once it accepts, answers GET /metrics with the loop's
// metrics (Prometheus text, eddy::write_metrics) and every other request with "Hello World\n",
// and on SIGINT or SIGTERM (Ctrl-C on Windows) closes the listener and every connection and
// exits 0. With --slow-callback-ms, a callback that holds the loop that long is reported on
// stderr ("eddy: slow callback: ..."); EDDY_TRACE=trace.json writes a trace at exit.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "eddy/eddy.hpp"
#include "http_server.hpp"

int main(int argc, char** argv) {
  const auto cli = hello::parse_command_line(argc, argv, "hello_http");
  if (!cli) return 2;
  const eddy::loop_options& options = cli->options;
  const eddy::socket_address* addr = &cli->address;

  try {
    eddy::loop loop(options);
    hello::server server(loop);
    // The loop's delay, sampled every 10 ms, for the eddy_loop_delay_seconds series.
    eddy::loop_delay_monitor delay(loop, std::chrono::milliseconds(10));
    delay.enable();
    server.set_metrics([&](std::string& out) { eddy::write_metrics(loop, out); });
    if (auto ec = server.listen(*addr)) {
      std::fprintf(stderr, "hello_http: cannot listen on %s: %s\n", addr->to_string().c_str(), ec.message().c_str());
      return 1;
    }
    eddy::signal sigint(loop), sigterm(loop);
    sigint.set_name("SIGINT");
    sigterm.set_name("SIGTERM");
    auto stop = [&](int signum) {
      std::fprintf(stderr, "hello_http: signal %d, closing after %llu requests\n", signum,
                   static_cast<unsigned long long>(server.requests()));
      server.close();
      delay.disable();
      sigint.close();
      sigterm.close();
    };
    if (auto ec = sigint.start(eddy::signals::sigint, stop)) {
      std::fprintf(stderr, "hello_http: cannot watch SIGINT: %s\n", ec.message().c_str());
    }
    (void)sigterm.start(eddy::signals::sigterm, stop);  // not supported on Windows: Ctrl-C is SIGINT there
    auto bound = server.address();
    std::fprintf(stderr, "hello_http: eddy %s on %.*s\n", eddy::version(),
                 static_cast<int>(eddy::to_string(loop.backend()).size()), eddy::to_string(loop.backend()).data());
    std::printf("listening on http://%s\n", bound.to_string().c_str());
    std::fflush(stdout);
    loop.run();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hello_http: %s\n", e.what());
    return 1;
  }
}
