// echo_server: echoes every byte back, over TCP or a local pipe.
//
// Usage: echo_server [--port N] [--host ADDR]     TCP (default port 7000 on 127.0.0.1)
//        echo_server --pipe NAME                   a Unix socket path / \\.\pipe\NAME
//        [--backlog N]                             the listen backlog (default 128)
// Prints "listening on ..." once it accepts. Ctrl-C (SIGINT) stops it.
#include <cstdio>
#include <cstdlib>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "eddy/eddy.hpp"

namespace {

// Serves one connection of either kind. Each read's bytes are lent by the loop (read_start
// without an allocator) and copied into the echo, which lives until its write completes: an
// idle connection holds no buffer. At the peer's end of stream the echo still queued is sent
// before the write side is shut down (closing at once would cancel it, and a peer that
// half-closed would miss the end of its echo); then the stream is closed. on_closed runs once
// the handle is closed (then its memory may be released).
template <class Stream, class OnClosed>
void serve(Stream& s, OnClosed on_closed) {
  s.read_start([&s, on_closed](std::error_code ec, std::span<std::byte> data) {
    if (ec == eddy::errc::eof) {
      if (s.shutdown([&s, on_closed](std::error_code) { s.close(on_closed); })) s.close(on_closed);
      return;
    }
    if (ec) {
      s.close(on_closed);  // a reset or another error
      return;
    }
    auto copy = std::make_shared<std::vector<std::byte>>(data.begin(), data.end());
    s.write(eddy::const_buffer(*copy), [copy](std::error_code) {});
  });
}

template <class Stream>
int run(eddy::loop& loop, Stream& listener, const std::string& where, int backlog) {
  std::list<Stream> conns;
  auto ec = listener.listen(backlog, [&](std::error_code aec) {
    if (aec) return;
    auto it = conns.emplace(conns.end(), loop);
    auto forget = [&conns, it] { conns.erase(it); };
    if (listener.accept(*it)) {
      it->close(forget);
      return;
    }
    serve(*it, forget);
  });
  if (ec) {
    std::fprintf(stderr, "echo_server: cannot listen on %s: %s\n", where.c_str(), ec.message().c_str());
    return 1;
  }
  eddy::signal sigint(loop);
  (void)sigint.start(eddy::signals::sigint, [&](int) {
    listener.close();
    for (auto& c : conns) c.close();
    sigint.close();
  });
  std::printf("listening on %s\n", where.c_str());
  std::fflush(stdout);
  loop.run();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1", pipe_name;
  long port = 7000, backlog = 128;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string arg = argv[i];
    if (arg == "--port") {
      port = std::strtol(argv[i + 1], nullptr, 10);
    } else if (arg == "--host") {
      host = argv[i + 1];
    } else if (arg == "--backlog") {
      backlog = std::strtol(argv[i + 1], nullptr, 10);
    } else if (arg == "--pipe") {
      pipe_name = argv[i + 1];
    } else {
      std::fprintf(stderr, "usage: %s [--port N] [--host ADDR] | --pipe NAME [--backlog N]\n", argv[0]);
      return 2;
    }
  }
  eddy::loop loop;
  if (!pipe_name.empty()) {
    eddy::pipe listener(loop);
    if (auto ec = listener.bind(pipe_name)) {
      std::fprintf(stderr, "echo_server: cannot bind %s: %s\n", pipe_name.c_str(), ec.message().c_str());
      return 1;
    }
    return run(loop, listener, pipe_name, static_cast<int>(backlog));
  }
  auto addr = eddy::socket_address::parse(host, static_cast<std::uint16_t>(port));
  if (!addr || port < 0 || port > 65535) {
    std::fprintf(stderr, "echo_server: bad address %s:%ld\n", host.c_str(), port);
    return 2;
  }
  eddy::tcp listener(loop);
  if (auto ec = listener.bind(*addr)) {
    std::fprintf(stderr, "echo_server: cannot bind %s: %s\n", addr->to_string().c_str(), ec.message().c_str());
    return 1;
  }
  return run(loop, listener, "tcp://" + listener.local_address().to_string(), static_cast<int>(backlog));
}
