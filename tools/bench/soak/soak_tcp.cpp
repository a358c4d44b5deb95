// soak_tcp: a TCP soak of an echo server (issue 12, part 4; a benchmark tool, not a CI test).
//
// Starts the server (samples/echo_server, `--port 0 --backlog 1024`) as a child process, so its resident set
// and descriptors are read from /proc, and drives it from a raw epoll client that shares no
// code with the runtime under test: N concurrent loopback connections for a given time, each
// one replaced by a new one of the same kind when it ends, so the mix stays fixed:
//   normal  ping-pong of 1..16 chunks of 1..4 KiB, each after a pause of 0..--think-ms, then close();
//   half    the same, but shutdown(SHUT_WR) after the last chunk, then read the rest until EOF;
//   reset   the same, but SO_LINGER 0 + close() (an RST) at a random point, sometimes at once;
//   slow    sends --slow-bytes at once with a small receive buffer and reads 4 KiB per 100 ms,
//           so the server's write queue grows and drains; then half-closes as above.
// Every byte is checked against a deterministic per-connection pattern. At the end (no new
// connections after --seconds; the open ones finish), the tool requires: no failure on any
// connection, the server's descriptor count back to its value at start, its RSS at most 5%
// above the highest level it reached by the end of warm-up (every slow slot's first connection has ended, so the slow
// readers' queues have grown and drained once; then --warmup s) (not checked with --quick, where warm-up is too
// short and a sanitizer's quarantine grows it), a fresh client served, and a clean exit (status 0) on SIGINT. Exit
// status 1 if a check fails, 2 for bad usage.
//
// Usage: soak_tcp --server PATH [--backend io_uring|epoll] [--seconds 60] [--connections 10000]
//                 [--warmup S] [--think-ms N] [--slow-bytes N] [--seed N] [--quick]
// The backend goes to the server as EDDY_BACKEND. Loopback only; bounded in count and time.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "soak_load.hpp"

extern char** environ;

namespace {

using namespace soak_tcp;

struct server_proc {
  pid_t pid = -1;
  int port = 0;
};

// Starts the server with --port 0 --backlog 1024 and reads its "listening on tcp://127.0.0.1:PORT" line.
bool start_server(const options& o, server_proc& s) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return false;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  if (!o.backend.empty()) setenv("EDDY_BACKEND", o.backend.c_str(), 1);
  std::string exe = o.server;
  char port0[] = "0", port_flag[] = "--port", backlog[] = "1024", backlog_flag[] = "--backlog";
  char* argv[] = {exe.data(), port_flag, port0, backlog_flag, backlog, nullptr};
  int rc = posix_spawn(&s.pid, exe.c_str(), &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(out[1]);
  if (rc != 0) {
    std::fprintf(stderr, "soak_tcp: cannot start %s: %s\n", exe.c_str(), std::strerror(rc));
    close(out[0]);
    return false;
  }
  std::string line;
  char ch;
  while (line.size() < 512 && read(out[0], &ch, 1) == 1 && ch != '\n') line += ch;
  close(out[0]);  // the server prints nothing more (a write would get EPIPE, which it ignores)
  auto colon = line.rfind(':');
  if (line.find("listening on") == std::string::npos || colon == std::string::npos) {
    std::fprintf(stderr, "soak_tcp: no 'listening on' line from the server (got '%s')\n", line.c_str());
    return false;
  }
  s.port = std::atoi(line.c_str() + colon + 1);
  return s.port > 0;
}

// One blocking client after the soak: 64 KiB out, half-close, the same bytes back, EOF.
bool fresh_client(int port, std::string& why) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{5, 0};  // a guard: a server that does not answer fails the check
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::vector<unsigned char> out(65536), in;
  fill_pattern(12345, 0, out.data(), out.size());
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
            send(fd, out.data(), out.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(out.size()) &&
            shutdown(fd, SHUT_WR) == 0;
  if (!ok) why = std::string("connect or send: ") + std::strerror(errno);
  unsigned char buf[16384];
  ssize_t r = 0;
  while (ok && (r = recv(fd, buf, sizeof buf, 0)) > 0) in.insert(in.end(), buf, buf + r);
  if (ok && (r < 0 || in != out)) {
    ok = false;
    why = "got " + std::to_string(in.size()) + " bytes back of the 65536 sent" +
          (r < 0 ? std::string(", then ") + std::strerror(errno) : std::string(", then end of stream"));
  }
  close(fd);
  return ok;
}

// Waits (polling /proc, bounded by guard_s) until pred(); returns whether it became true.
template <class Pred>
bool wait_for(double guard_s, Pred pred) {
  auto start = clock_type::now();
  while (!pred()) {
    if (seconds_since(start) > guard_s) return false;
    usleep(20000);
  }
  return true;
}

int usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s --server PATH [--backend io_uring|epoll] [--seconds S] [--connections N]\n"
               "          [--warmup S] [--think-ms N] [--slow-bytes N] [--seed N] [--quick]\n",
               argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  bool seconds_set = false, conns_set = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    bool has = i + 1 < argc;
    if (a == "--quick") {
      o.quick = true;
    } else if (a == "--server" && has) {
      o.server = argv[++i];
    } else if (a == "--backend" && has) {
      o.backend = argv[++i];
    } else if (a == "--seconds" && has) {
      o.seconds = std::atof(argv[++i]);
      seconds_set = true;
    } else if (a == "--connections" && has) {
      o.connections = std::strtoul(argv[++i], nullptr, 10);
      conns_set = true;
    } else if (a == "--warmup" && has) {
      o.warmup = std::atof(argv[++i]);
    } else if (a == "--think-ms" && has) {
      o.think_ms = std::strtoul(argv[++i], nullptr, 10);
    } else if (a == "--slow-bytes" && has) {
      o.slow_bytes = std::strtoul(argv[++i], nullptr, 10);
    } else if (a == "--seed" && has) {
      o.seed = std::strtoull(argv[++i], nullptr, 10);
    } else {
      return usage(argv[0]);
    }
  }
  if (o.server.empty() || o.seconds <= 0 || o.connections == 0 || o.slow_bytes == 0) return usage(argv[0]);
  if (o.quick) {
    if (!seconds_set) o.seconds = 5;
    if (!conns_set) o.connections = 1000;
  }
  if (o.think_ms == 0) o.think_ms = o.quick ? 200 : 4000;
  if (o.slow_tick_ms == 0) o.slow_tick_ms = o.quick ? 10 : 100;
  if (o.warmup < 0) o.warmup = o.quick ? 0.5 : 5;
  const bool check_rss = !o.quick;

  // Both sides need a descriptor per connection: raise the soft limit to the hard one (the
  // server inherits it).
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < o.connections + 64) {
    std::fprintf(stderr, "soak_tcp: %zu connections need %zu descriptors; the limit is %llu (ulimit -Hn)\n",
                 o.connections, o.connections + 64, static_cast<unsigned long long>(rl.rlim_cur));
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);

  server_proc srv;
  if (!start_server(o, srv)) {
    if (srv.pid > 0) kill(srv.pid, SIGKILL), waitpid(srv.pid, nullptr, 0);
    return 1;
  }
  const char* backend = o.backend.empty() ? "default" : o.backend.c_str();
  std::printf("soak_tcp: %s (EDDY_BACKEND=%s) on port %d: %zu connections for %g s, warm-up %g s, seed %llu\n",
              o.server.c_str(), backend, srv.port, o.connections, o.seconds, o.warmup,
              static_cast<unsigned long long>(o.seed));
  std::fflush(stdout);
  const long fds_start = fd_count(srv.pid);

  soak s(o, srv.port);
  s.run(srv.pid);

  long fds_end = -1, rss_end = -1, data_end = -1;
  bool served = false, clean_exit = false;
  std::string why;
  if (!s.server_gone()) {
    // The server closes its side after ours: wait (bounded) for its count to come back.
    wait_for(10, [&] { return fd_count(srv.pid) == fds_start; });
    fds_end = fd_count(srv.pid);
    rss_end = rss_kib(srv.pid);
    data_end = status_kib(srv.pid, "VmData:");
    if (fds_end != fds_start) s.fail("the server holds %ld descriptors, %ld at start", fds_end, fds_start);
    served = fresh_client(srv.port, why);
    if (!served) s.fail("a fresh client was not served: %s", why.c_str());
    kill(srv.pid, SIGINT);
    int status = 0;
    clean_exit = wait_for(10, [&] { return waitpid(srv.pid, &status, WNOHANG) == srv.pid; });
    if (!clean_exit) {
      kill(srv.pid, SIGKILL);
      waitpid(srv.pid, nullptr, 0);
      s.fail("the server did not exit within 10 s of SIGINT");
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      clean_exit = false;
      s.fail("the server's exit status after SIGINT was %d (a sanitizer report above?)", status);
    }
  }
  double growth = s.rss_warm > 0 && rss_end > 0 ? 100.0 * double(rss_end - s.rss_warm) / double(s.rss_warm) : 0;
  if (check_rss && s.rss_warm < 0) {
    s.fail("no warm-up: not every slow slot went through a whole connection in time");
  } else if (check_rss && growth > 5.0) {
    s.fail("the server's RSS grew %.1f%% after warm-up (%ld -> %ld KiB)", growth, s.rss_warm, rss_end);
  }

  std::size_t total = s.done[0] + s.done[1] + s.done[2] + s.done[3];
  std::printf("connections: %zu completed (normal %zu, half-close %zu, reset %zu, slow %zu)\n", total, s.done[0],
              s.done[1], s.done[2], s.done[3]);
  std::printf(
      "concurrent: %zu reached after %.1f s, max %zu, mean %.0f after warm-up (from %.1f s: every slow slot's first "
      "connection ended + %g s)\n",
      o.connections, s.ramp_seconds, s.max_live, s.live_samples ? s.live_sum / double(s.live_samples) : 0.0,
      s.cycle_seconds < 0 ? -1.0 : s.cycle_seconds + o.warmup, o.warmup);
  std::printf("bytes: %.1f MiB sent, %.1f MiB echoed and checked; slow readers: up to %zu KiB in flight, %.2f s each\n",
              double(s.bytes_sent) / 1048576.0, double(s.bytes_checked) / 1048576.0, s.slow_max_in_flight / 1024,
              s.slow_mean_seconds());
  std::printf("server RSS: %.1f MiB high-water by the end of warm-up, %.1f MiB peak, %.1f MiB at end (%+.1f%%%s)\n",
              double(s.rss_warm) / 1024.0, double(s.rss_peak) / 1024.0, double(rss_end) / 1024.0, growth,
              check_rss ? ", limit +5%" : ", not checked with --quick");
  std::printf("server VmData: %.1f MiB after warm-up, %.1f MiB at end\n", double(s.data_warm) / 1024.0,
              double(data_end) / 1024.0);
  std::printf("server fds: %ld at start, %ld peak, %ld at end; fresh client %s; exit on SIGINT %s\n", fds_start,
              s.fds_peak, fds_end, served ? "served" : "NOT served", clean_exit ? "clean" : "NOT clean");
  for (std::size_t i = 0; i < s.failures.size() && i < 10; ++i) std::printf("FAIL: %s\n", s.failures[i].c_str());
  if (s.failures.size() > 10) std::printf("FAIL: ... and %zu more\n", s.failures.size() - 10);
  std::printf("soak_tcp: %s\n", s.failures.empty() ? "PASS" : "FAIL");
  return s.failures.empty() ? 0 : 1;
}
