// hello_http: the seeds' HTTP hello-world server on eddy.
//
// Usage: hello_http [--host 127.0.0.1] [--port 8080] [--backend auto|io_uring|epoll|iocp]
// Prints "listening on http://HOST:PORT" once it accepts, answers every request with
// "Hello World\n", and on SIGINT or SIGTERM (Ctrl-C on Windows) closes the listener and every
// connection and exits 0.
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
    if (auto ec = server.listen(*addr)) {
      std::fprintf(stderr, "hello_http: cannot listen on %s: %s\n", addr->to_string().c_str(), ec.message().c_str());
      return 1;
    }
    eddy::signal sigint(loop), sigterm(loop);
    auto stop = [&](int signum) {
      std::fprintf(stderr, "hello_http: signal %d, closing after %llu requests\n", signum,
                   static_cast<unsigned long long>(server.requests()));
      server.close();
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
