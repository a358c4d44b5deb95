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

namespace {

int usage(const char* argv0) {
  std::fprintf(stderr, "usage: %s [--host ADDR] [--port N] [--backend auto|io_uring|epoll|iocp]\n", argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  long port = 8080;
  eddy::loop_options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    if (value == nullptr) return usage(argv[0]);
    if (arg == "--host") {
      host = value;
    } else if (arg == "--port") {
      char* end = nullptr;
      port = std::strtol(value, &end, 10);
      if (end == value || *end != '\0' || port < 0 || port > 65535) return usage(argv[0]);
    } else if (arg == "--backend") {
      auto kind = eddy::parse_backend(std::strcmp(value, "auto") == 0 ? "automatic" : value);
      if (!kind) return usage(argv[0]);
      options.backend = *kind;
    } else {
      return usage(argv[0]);
    }
    ++i;
  }
  auto addr = eddy::socket_address::parse(host, static_cast<std::uint16_t>(port));
  if (!addr) {
    std::fprintf(stderr, "hello_http: %s is not an IPv4 or IPv6 address\n", host.c_str());
    return 2;
  }

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
