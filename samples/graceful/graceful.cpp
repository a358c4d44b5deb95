// graceful: a TCP server that shuts down gracefully on SIGINT or SIGTERM — it stops
// accepting, lets every connection finish the request it is working on, and exits 0.
//
// Protocol: each line a client sends is a request. The server answers at once with
// "working: LINE", then after a little simulated work with "done: LINE".
// Usage: graceful [--port N] [--host ADDR] [--work-ms N]   (defaults: 7001, 127.0.0.1, 200)
// Prints "listening on tcp://HOST:PORT" once it accepts. A second signal stops at once.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <list>
#include <memory>
#include <string>

#include "eddy/eddy.hpp"

namespace {

struct server;

// One client. Requests are answered one at a time, in order; `busy` while one is worked on.
struct connection {
  connection(server& s, eddy::loop& loop) : srv(s), sock(loop), work(loop) {}
  server& srv;
  eddy::tcp sock;
  eddy::timer work;
  std::string input;
  bool busy = false;
  bool closing = false;
  std::list<connection>::iterator self;

  void start();
  void next_request();
  void send(std::string text);
  void close();
};

struct server {
  eddy::loop& loop;
  eddy::tcp listener;
  std::list<connection> conns;
  std::chrono::milliseconds work_time;
  bool draining = false;

  server(eddy::loop& l, std::chrono::milliseconds w) : loop(l), listener(l), work_time(w) {}

  // Stops accepting; idle connections close now, busy ones when their request is done.
  void drain() {
    if (draining) return;
    draining = true;
    // The close callback runs once the listening socket is really closed.
    listener.close([this] {
      std::printf("[graceful] stopped accepting; %zu connection(s) to finish\n", conns.size());
      std::fflush(stdout);
    });
    for (auto& c : conns) {
      if (!c.busy) c.close();
    }
  }

  void stop_now() {
    listener.close();
    for (auto& c : conns) c.close();
  }
};

void connection::start() {
  (void)sock.read_start([this](std::error_code ec, std::span<std::byte> data) {
    if (ec) {
      close();  // the client is done (or gone)
      return;
    }
    input.append(reinterpret_cast<const char*>(data.data()), data.size());
    if (!busy) next_request();
  });
}

void connection::next_request() {
  const auto nl = input.find('\n');
  if (nl == std::string::npos) return;
  std::string line = input.substr(0, nl);
  input.erase(0, nl + 1);
  busy = true;
  send("working: " + line + "\n");
  work.start(srv.work_time, std::chrono::milliseconds(0), [this, line] {
    send("done: " + line + "\n");
    busy = false;
    if (srv.draining) {
      close();  // finished what it had; take no more
    } else {
      next_request();
    }
  });
}

void connection::send(std::string text) {
  auto buf = std::make_shared<std::string>(std::move(text));
  (void)sock.write(eddy::buffer(*buf), [buf](std::error_code) {});
}

void connection::close() {
  if (closing) return;
  closing = true;
  work.close();
  // Queued writes finish first; then the peer sees the end of the stream.
  (void)sock.shutdown([this](std::error_code) {
    sock.close([this] { srv.conns.erase(self); });
  });
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  long port = 7001;
  long work_ms = 200;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string arg = argv[i];
    if (arg == "--port") {
      port = std::strtol(argv[i + 1], nullptr, 10);
    } else if (arg == "--host") {
      host = argv[i + 1];
    } else if (arg == "--work-ms") {
      work_ms = std::strtol(argv[i + 1], nullptr, 10);
    } else {
      std::fprintf(stderr, "usage: %s [--port N] [--host ADDR] [--work-ms N]\n", argv[0]);
      return 2;
    }
  }
  auto addr = eddy::socket_address::parse(host, static_cast<std::uint16_t>(port));
  if (!addr || port < 0 || port > 65535 || work_ms < 0) {
    std::fprintf(stderr, "graceful: bad arguments\n");
    return 2;
  }

  eddy::loop loop;
  server srv(loop, std::chrono::milliseconds(work_ms));
  if (auto ec = srv.listener.bind(*addr)) {
    std::fprintf(stderr, "graceful: cannot bind %s: %s\n", addr->to_string().c_str(), ec.message().c_str());
    return 1;
  }
  auto ec = srv.listener.listen(128, [&](std::error_code aec) {
    if (aec || srv.draining) return;
    auto it = srv.conns.emplace(srv.conns.end(), srv, loop);
    it->self = it;
    if (srv.listener.accept(it->sock)) {
      it->sock.close([&srv, it] { srv.conns.erase(it); });
      return;
    }
    it->start();
  });
  if (ec) {
    std::fprintf(stderr, "graceful: cannot listen: %s\n", ec.message().c_str());
    return 1;
  }

  // SIGINT (Ctrl-C; CTRL_C on Windows) or SIGTERM: drain. A second one: stop at once.
  eddy::signal sigint(loop);
  eddy::signal sigterm(loop);
  int signals_seen = 0;
  auto on_signal = [&](int) {
    if (++signals_seen == 1) {
      srv.drain();
      // Still listening for a second signal, but no longer keeping the loop alive: it ends
      // when the last connection does.
      sigint.unref();
      sigterm.unref();
    } else {
      srv.stop_now();
      sigint.close();
      sigterm.close();
    }
  };
  (void)sigint.start(eddy::signals::sigint, on_signal);
  // SIGTERM cannot be watched on Windows (not_supported): Ctrl-C is enough there.
  (void)sigterm.start(eddy::signals::sigterm, on_signal);
  std::printf("listening on tcp://%s\n", srv.listener.local_address().to_string().c_str());
  std::fflush(stdout);
  loop.run();
  std::printf("[graceful] all connections finished; bye\n");
  return 0;
}
