// cluster_http: the seeds' cluster example as an eddy program. The primary starts N workers
// (this same program again); every worker answers HTTP requests with "hello world from PID".
// The primary prints one line per lifecycle event and, with --status-s, a table of every
// worker's last health report. With --stall-one-in K a worker spins forever on one request
// in K: its heartbeats stop, the primary kills it and starts another.
//
//   cluster_http [--port 8080] [--workers N] [--sched rr|shared] [--stall-one-in K]
//                [--heartbeat-ms 1000] [--stuck-ms 5000] [--status-s S] [--metrics-port N]
//
// With --metrics-port the primary answers GET /metrics on 127.0.0.1:N (0: any free port; it
// prints "metrics on http://..."): every worker's loop metrics from its last heartbeat, in the
// Prometheus text format, each series labelled worker="ID" (primary::write_metrics).
//
// Ctrl-C (SIGINT) or SIGTERM: a graceful shutdown (workers finish what they have, exit 0);
// SIGHUP (POSIX): a rolling restart.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "eddy/cluster.hpp"
#include "eddy/eddy.hpp"
#include "../hello_http/http_server.hpp"

namespace {

struct settings {
  std::uint16_t port = 8080;
  unsigned workers = 0;
  std::string sched;
  unsigned stall_one_in = 0;
  unsigned heartbeat_ms = 1000;
  unsigned stuck_ms = 5000;
  unsigned status_s = 0;
  int metrics_port = -1;  // -1: no metrics endpoint
};

bool parse_args(int argc, char** argv, settings& s) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    const bool has_value = i + 1 < argc;
    auto num = [&](unsigned& out) {
      if (!has_value) return false;
      out = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
      return true;
    };
    unsigned port = 0;
    if (a == "--port" && num(port)) {
      s.port = static_cast<std::uint16_t>(port);
    } else if (a == "--workers" && num(s.workers)) {
    } else if (a == "--sched" && has_value) {
      s.sched = argv[++i];
      if (s.sched != "rr" && s.sched != "shared") return false;
    } else if (a == "--stall-one-in" && num(s.stall_one_in)) {
    } else if (a == "--heartbeat-ms" && num(s.heartbeat_ms)) {
    } else if (a == "--stuck-ms" && num(s.stuck_ms)) {
    } else if (a == "--status-s" && num(s.status_s)) {
    } else if (a == "--metrics-port" && num(port)) {
      s.metrics_port = static_cast<int>(port);
    } else {
      return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------- a worker

class http_worker {
 public:
  http_worker(eddy::loop& loop, eddy::cluster::worker& w, const settings& s) : loop_(loop), w_(w), s_(s) {
    body_ = "hello world from " + std::to_string(eddy::os::pid()) + "\n";
    response_ = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body_.size()) +
                "\r\n\r\n" + body_;
  }

  void start() {
    w_.on_disconnect = [this] {
      leaving_ = true;
      for (auto& [c, conn] : conns_) {
        if (conn->pending_writes == 0) conn->sock.close();
      }
    };
    w_.listen(eddy::socket_address::any_v4(s_.port), 511, [this](std::error_code ec) {
      if (ec) {
        std::fprintf(stderr, "worker %d: cannot listen: %s\n", eddy::os::pid(), ec.message().c_str());
        w_.disconnect();
        return;
      }
      accept_one();
    });
  }

 private:
  struct connection {
    explicit connection(eddy::loop& l) : sock(l) {}
    eddy::tcp sock;
    std::string in;
    int pending_writes = 0;
  };

  void accept_one() {
    auto owned = std::make_unique<connection>(loop_);
    connection* c = owned.get();
    if (w_.accept(c->sock)) return;
    conns_.emplace(c, std::move(owned));
    c->sock.read_start([this, c](std::error_code ec, std::span<std::byte> data) {
      if (ec) return drop(c);
      c->in.append(reinterpret_cast<const char*>(data.data()), data.size());
      std::size_t answered = 0;
      for (;;) {
        const auto r = hello::parse_request(std::string_view(c->in).substr(answered));
        if (r.kind == hello::parse_result::incomplete) break;
        if (r.kind != hello::parse_result::request) return drop(c);
        answered += r.consumed;
        if (s_.stall_one_in != 0 && ++requests_ % s_.stall_one_in == 0) {
          std::atomic<unsigned long> spin{0};
          for (;;) spin.fetch_add(1, std::memory_order_relaxed);  // the seeds' stuck worker
        }
        ++c->pending_writes;
        c->sock.write(eddy::buffer(response_), [this, c](std::error_code) {
          if (--c->pending_writes == 0 && leaving_) c->sock.close([this, c] { conns_.erase(c); });
        });
      }
      c->in.erase(0, answered);
    });
  }

  void drop(connection* c) {
    c->sock.close([this, c] { conns_.erase(c); });
  }

  eddy::loop& loop_;
  eddy::cluster::worker& w_;
  const settings& s_;
  std::string body_;
  std::string response_;
  std::map<connection*, std::unique_ptr<connection>> conns_;
  unsigned long requests_ = 0;
  bool leaving_ = false;
};

// ---------------------------------------------------------------- the primary

void watch_primary(eddy::cluster::primary& p, eddy::loop& loop, const settings& s, eddy::timer& status) {
  auto replaced = std::make_shared<std::deque<int>>();  // pids that died, waiting for their replacement
  auto pid_of = std::make_shared<std::map<int, int>>();  // id -> pid (kept after exit for messages)
  p.on_fork = [&p, replaced, pid_of](int id) {
    const int pid = p.pid(id);
    (*pid_of)[id] = pid;
    if (replaced->empty()) {
      std::printf("worker %d started\n", pid);
    } else {
      std::printf("worker %d started (replacing %d)\n", pid, replaced->front());
      replaced->pop_front();
    }
    std::fflush(stdout);
  };
  p.on_online = [&p](int id) {
    std::printf("worker %d online\n", p.pid(id));
    std::fflush(stdout);
  };
  p.on_listening = [&p](int id, const eddy::socket_address& a) {
    std::printf("worker %d listening on %s\n", p.pid(id), a.to_string().c_str());
    std::fflush(stdout);
  };
  p.on_error = [&p, &s, pid_of](int id, eddy::cluster::worker_problem what, std::error_code ec) {
    const int pid = (*pid_of)[id];
    switch (what) {
      case eddy::cluster::worker_problem::stuck:
        std::printf("worker %d stuck (no heartbeat for %u ms): killed\n", pid, s.stuck_ms);
        break;
      case eddy::cluster::worker_problem::crash_loop:
        std::printf("worker %d keeps dying young: not restarted any more\n", pid);
        break;
      default:
        std::printf("worker %d: %s\n", pid, ec.message().c_str());
    }
    std::fflush(stdout);
    (void)p;
  };
  p.on_exit = [replaced, pid_of](int id, std::int64_t code, int sig) {
    const int pid = (*pid_of)[id];
    std::printf("worker %d exited (code %lld, signal %d)\n", pid, static_cast<long long>(code), sig);
    std::fflush(stdout);
    replaced->push_back(pid);
  };
  if (s.status_s != 0) {
    status.start(std::chrono::seconds(s.status_s), std::chrono::seconds(s.status_s), [&p] {
      std::printf("%8s %10s %10s %8s %8s\n", "pid", "rss MiB", "lag ms", "util %", "handles");
      for (int id : p.workers()) {
        const auto h = p.health(id);
        if (!h) {
          std::printf("%8d %10s\n", p.pid(id), "(no report yet)");
          continue;
        }
        std::printf("%8d %10.1f %10.2f %8.1f %8u\n", p.pid(id), static_cast<double>(h->rss) / (1 << 20),
                    static_cast<double>(h->loop_lag.count()) / 1000.0, h->utilization * 100, h->handles);
      }
      std::fflush(stdout);
    });
    status.unref();
  }
  (void)loop;
}

}  // namespace

int main(int argc, char** argv) {
  settings s;
  if (!parse_args(argc, argv, s)) {
    std::fprintf(stderr,
                 "usage: cluster_http [--port 8080] [--workers N] [--sched rr|shared] [--stall-one-in K]\n"
                 "                    [--heartbeat-ms 1000] [--stuck-ms 5000] [--status-s S] [--metrics-port N]\n");
    return 2;
  }
  eddy::cluster::options o;
  o.workers = s.workers;
  if (s.sched == "rr") o.policy = eddy::cluster::scheduling::round_robin;
  if (s.sched == "shared") o.policy = eddy::cluster::scheduling::shared;
  o.heartbeat_interval = std::chrono::milliseconds(s.heartbeat_ms);
  o.stuck_timeout = std::chrono::milliseconds(s.stuck_ms);

  // Made inside run(); run()'s loop releases their handles before it returns, so they may
  // be destroyed after it.
  std::unique_ptr<eddy::timer> status;
  std::unique_ptr<hello::server> metrics;
  std::unique_ptr<http_worker> server;
  return eddy::cluster::run(
      argc, argv, o,
      [&](eddy::cluster::primary& p) {
        status = std::make_unique<eddy::timer>(p.get_loop());
        watch_primary(p, p.get_loop(), s, *status);
        if (s.metrics_port >= 0) {
          metrics = std::make_unique<hello::server>(p.get_loop());
          metrics->set_metrics([&p](std::string& out) { p.write_metrics(out); });
          const auto at = eddy::socket_address::parse("127.0.0.1", static_cast<std::uint16_t>(s.metrics_port));
          if (auto ec = metrics->listen(*at)) {
            std::fprintf(stderr, "cluster_http: cannot serve metrics: %s\n", ec.message().c_str());
          } else {
            metrics->unref();  // the cluster's shutdown ends the primary's loop all the same
            std::printf("metrics on http://%s/metrics\n", metrics->address().to_string().c_str());
            std::fflush(stdout);
          }
        }
      },
      [&](eddy::cluster::worker& w) {
        server = std::make_unique<http_worker>(w.get_loop(), w, s);
        server->start();
      });
}
