// eddy's side of the benchmark harness's micro workloads (tools/bench/run); uv_micro.c is
// libuv's side with the same modes, sizes and output. Public eddy API only.
//
// Usage: eddy_micro MODE ARGS...   (the port comes from EDDY_BACKEND; see loop_options)
//   timers N                 N one-shot timers (1..10 ms), start + run + close
//   work N                   N empty queue_work jobs queued at once, until all completed
//   async N                  N wakeups: another thread sends, the callback answers, repeat
//   dns N INFLIGHT           N lookups of "localhost", INFLIGHT at a time
//   spawn N INFLIGHT         N children of /bin/true (stdio ignored), INFLIGHT at a time, each reaped
//   echo-server              echoes every connection (for pingpong); prints "listening on PORT"
//   pingpong PORT SECONDS    64-byte round trips against echo-server for SECONDS
//   pump-server              reads one connection to its end, reports GB/s; prints "listening on PORT"
//   pump PORT SECONDS        writes 256 KiB chunks (4 in flight) for SECONDS, then ends
// Prints one JSON object on stdout ({"value": ..., "unit": ...}); exits 1 on any error.
#include <semaphore.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "eddy/eddy.hpp"

namespace {

using namespace std::chrono_literals;

[[noreturn]] void fail(const char* what, const std::error_code& ec) {
  std::fprintf(stderr, "eddy_micro: %s: %s\n", what, ec.message().c_str());
  std::exit(1);
}

double ms_between(std::uint64_t t0, std::uint64_t t1) { return static_cast<double>(t1 - t0) / 1e6; }

void report(const char* unit, double value, double ms, eddy::loop& l) {
  std::printf("{\"value\": %.6g, \"unit\": \"%s\", \"ms\": %.3f, \"backend\": \"%s\"}\n", value, unit, ms,
              std::string(eddy::to_string(l.backend())).c_str());
}

int timers(eddy::loop& l, int n) {
  std::deque<eddy::timer> ts;  // a deque never moves its elements
  int fired = 0, closed = 0;
  auto t0 = eddy::loop::hrtime();
  for (int i = 0; i < n; ++i) ts.emplace_back(l).start(std::chrono::milliseconds(1 + i / (n / 10)), [&] { ++fired; });
  auto t1 = eddy::loop::hrtime();
  l.run();
  auto t2 = eddy::loop::hrtime();
  for (auto& t : ts) t.close([&] { ++closed; });
  l.run();
  ts.clear();
  auto t3 = eddy::loop::hrtime();
  if (fired != n || closed != n) {
    std::fprintf(stderr, "eddy_micro: %d of %d timers fired\n", fired, n);
    return 1;
  }
  std::printf("{\"value\": %.3f, \"unit\": \"ms\", \"start_ms\": %.3f, \"run_ms\": %.3f, \"close_ms\": %.3f}\n",
              ms_between(t0, t3), ms_between(t0, t1), ms_between(t1, t2), ms_between(t2, t3));
  return 0;
}

int work(eddy::loop& l, int n) {
  int done = 0;
  auto t0 = eddy::loop::hrtime();
  for (int i = 0; i < n; ++i) {
    eddy::queue_work(l, [] {}, [&](std::error_code ec) {
      if (ec) fail("queue_work", ec);
      ++done;
    });
  }
  l.run();
  auto t1 = eddy::loop::hrtime();
  if (done != n) return 1;
  report("jobs/s", n / (ms_between(t0, t1) / 1e3), ms_between(t0, t1), l);
  return 0;
}

int async_wakeups(eddy::loop& l, int n) {
  sem_t ack;
  sem_init(&ack, 0, 0);
  int seen = 0;
  eddy::async a(l, [&] {
    ++seen;
    sem_post(&ack);
    if (seen == n) a.close();
  });
  std::uint64_t t0 = 0, t1 = 0;
  std::thread sender([&] {
    t0 = eddy::loop::hrtime();
    for (int i = 0; i < n; ++i) {
      a.send();
      sem_wait(&ack);
    }
    t1 = eddy::loop::hrtime();
  });
  l.run();
  sender.join();
  sem_destroy(&ack);
  report("wakeups/s", n / (ms_between(t0, t1) / 1e3), ms_between(t0, t1), l);
  return 0;
}

int dns(eddy::loop& l, int n, int inflight) {
  int started = 0, done = 0;
  std::function<void()> next = [&] {
    ++started;
    eddy::dns::lookup(l, "localhost", "", {}, [&](std::error_code ec, std::vector<eddy::socket_address> addrs) {
      if (ec) fail("lookup localhost", ec);
      if (addrs.empty()) fail("lookup localhost", std::make_error_code(std::errc::no_such_device_or_address));
      ++done;
      if (started < n) next();
    });
  };
  auto t0 = eddy::loop::hrtime();
  for (int i = 0; i < inflight && i < n; ++i) next();
  l.run();
  auto t1 = eddy::loop::hrtime();
  if (done != n) return 1;
  report("lookups/s", n / (ms_between(t0, t1) / 1e3), ms_between(t0, t1), l);
  return 0;
}

int spawn(eddy::loop& l, int n, int inflight) {
  eddy::process_options o;
  o.file = "/bin/true";
  int started = 0, exited = 0;
  std::function<void()> next = [&] {
    ++started;
    auto p = std::make_shared<eddy::process>(l);
    auto ec = p->spawn(o, [&, p](std::int64_t status, int sig) {
      if (status != 0 || sig != 0) fail("/bin/true", std::make_error_code(std::errc::io_error));
      ++exited;
      p->close([p] {});  // the close callback keeps p alive until the handle is done
      if (started < n) next();
    });
    if (ec) fail("spawn /bin/true", ec);
  };
  auto t0 = eddy::loop::hrtime();
  for (int i = 0; i < inflight && i < n; ++i) next();
  l.run();
  auto t1 = eddy::loop::hrtime();
  if (exited != n) return 1;
  report("spawns/s", n / (ms_between(t0, t1) / 1e3), ms_between(t0, t1), l);
  return 0;
}

// A listener on 127.0.0.1 (any port) whose connections get on_conn; prints the port.
struct server {
  explicit server(eddy::loop& l, std::function<void(std::unique_ptr<eddy::tcp>)> on_conn) : listener(l) {
    if (auto ec = listener.bind(eddy::socket_address::loopback_v4(0))) fail("bind", ec);
    auto ec = listener.listen(1024, [this, &l, on_conn](std::error_code e) {
      if (e) fail("listen", e);
      auto c = std::make_unique<eddy::tcp>(l);
      if (auto ae = listener.accept(*c)) fail("accept", ae);
      (void)c->set_nodelay(true);
      on_conn(std::move(c));
    });
    if (ec) fail("listen", ec);
    std::printf("listening on %u\n", listener.local_address().port());
    std::fflush(stdout);
  }
  eddy::tcp listener;
};

int echo_server(eddy::loop& l) {
  std::vector<std::unique_ptr<eddy::tcp>> conns;
  server s(l, [&](std::unique_ptr<eddy::tcp> c) {
    eddy::tcp* sock = c.get();
    conns.push_back(std::move(c));
    (void)sock->read_start([sock](std::error_code ec, std::span<std::byte> data) {
      if (ec) {
        sock->close();
        return;
      }
      auto* copy = new std::string(reinterpret_cast<const char*>(data.data()), data.size());
      (void)sock->write(eddy::buffer(*copy), [copy](std::error_code) { delete copy; });
    });
  });
  l.run();
  return 0;
}

// Connects to 127.0.0.1:port, then calls on_connected.
void connect_to(eddy::tcp& c, int port, std::function<void()> on_connected) {
  auto ec = c.connect(eddy::socket_address::loopback_v4(static_cast<std::uint16_t>(port)),
                      [&c, cb = std::move(on_connected)](std::error_code e) {
                        if (e) fail("connect", e);
                        (void)c.set_nodelay(true);
                        cb();
                      });
  if (ec) fail("connect", ec);
}

int pingpong(eddy::loop& l, int port, double seconds) {
  constexpr std::size_t size = 64;
  static const std::string message(size, 'p');
  eddy::tcp c(l);
  std::uint64_t trips = 0, t0 = 0, t1 = 0;
  std::size_t got = 0;
  auto deadline = static_cast<std::uint64_t>(seconds * 1e9);
  connect_to(c, port, [&] {
    t0 = eddy::loop::hrtime();
    (void)c.write(eddy::buffer(message), [](std::error_code e) { if (e && e != eddy::errc::operation_canceled) fail("write", e); });
    (void)c.read_start([&](std::error_code ec, std::span<std::byte> data) {
      if (ec) fail("read", ec);
      got += data.size();
      if (got < size) return;
      got -= size;
      ++trips;
      if ((trips & 63) == 0 && eddy::loop::hrtime() - t0 >= deadline) {
        t1 = eddy::loop::hrtime();
        c.close();
        return;
      }
      (void)c.write(eddy::buffer(message), [](std::error_code e) { if (e && e != eddy::errc::operation_canceled) fail("write", e); });
    });
  });
  l.run();
  report("trips/s", static_cast<double>(trips) / (ms_between(t0, t1) / 1e3), ms_between(t0, t1), l);
  return 0;
}

int pump_server(eddy::loop& l) {
  std::unique_ptr<eddy::tcp> conn;
  std::uint64_t bytes = 0, t0 = 0, t1 = 0;
  std::unique_ptr<server> s;
  s = std::make_unique<server>(l, [&](std::unique_ptr<eddy::tcp> c) {
    conn = std::move(c);
    s->listener.close();
    (void)conn->read_start([&](std::error_code ec, std::span<std::byte> data) {
      if (ec) {
        if (ec != eddy::errc::eof) fail("read", ec);
        t1 = eddy::loop::hrtime();
        conn->close();
        return;
      }
      if (bytes == 0) t0 = eddy::loop::hrtime();
      bytes += data.size();
    });
  });
  l.run();
  report("GB/s", static_cast<double>(bytes) / (static_cast<double>(t1 - t0)), ms_between(t0, t1), l);
  return 0;
}

int pump(eddy::loop& l, int port, double seconds) {
  static const std::string chunk(256 * 1024, 'x');
  eddy::tcp c(l);
  std::uint64_t t0 = 0;
  auto deadline = static_cast<std::uint64_t>(seconds * 1e9);
  bool ending = false;
  std::function<void()> write_one = [&] {
    (void)c.write(eddy::buffer(chunk), [&](std::error_code e) {
      if (e) fail("write", e);
      if (ending) return;
      if (eddy::loop::hrtime() - t0 >= deadline) {
        ending = true;
        (void)c.shutdown([&](std::error_code) { c.close(); });
        return;
      }
      write_one();
    });
  };
  connect_to(c, port, [&] {
    t0 = eddy::loop::hrtime();
    for (int i = 0; i < 4; ++i) write_one();
  });
  l.run();
  std::printf("{}\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: eddy_micro MODE ARGS... (see the source)\n");
    return 2;
  }
  const std::string mode = argv[1];
  auto arg = [&](int i) { return i < argc ? std::atof(argv[i]) : 0.0; };
  try {
    eddy::loop l;
    if (mode == "timers") return timers(l, static_cast<int>(arg(2)));
    if (mode == "work") return work(l, static_cast<int>(arg(2)));
    if (mode == "async") return async_wakeups(l, static_cast<int>(arg(2)));
    if (mode == "dns") return dns(l, static_cast<int>(arg(2)), static_cast<int>(arg(3)));
    if (mode == "spawn") return spawn(l, static_cast<int>(arg(2)), static_cast<int>(arg(3)));
    if (mode == "echo-server") return echo_server(l);
    if (mode == "pingpong") return pingpong(l, static_cast<int>(arg(2)), arg(3));
    if (mode == "pump-server") return pump_server(l);
    if (mode == "pump") return pump(l, static_cast<int>(arg(2)), arg(3));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "eddy_micro: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "eddy_micro: unknown mode %s\n", mode.c_str());
  return 2;
}
