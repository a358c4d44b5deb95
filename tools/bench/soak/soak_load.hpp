// soak_load.hpp: the load side of soak_tcp (soak_tcp.cpp says what the soak does): a raw
// epoll client, single-threaded, that keeps N loopback connections of four kinds open against
// the server, checks every byte it gets back and records what happened. It shares no code with
// the runtime under test. Included by soak_tcp.cpp only.
#pragma once

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdarg>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <queue>
#include <string>
#include <tuple>
#include <vector>

namespace soak_tcp {

using clock_type = std::chrono::steady_clock;

inline double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

inline std::uint64_t splitmix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Byte i of the stream a connection with this seed sends (and must get back).
inline void fill_pattern(std::uint64_t seed, std::size_t offset, unsigned char* out, std::size_t n) {
  std::size_t i = 0;
  while (i < n) {
    std::size_t pos = offset + i;
    std::uint64_t word = splitmix(seed ^ (pos / 8) * 0x2545f4914f6cdd1dULL);
    for (std::size_t b = pos % 8; b < 8 && i < n; ++b, ++i) out[i] = static_cast<unsigned char>(word >> (8 * b));
  }
}

struct rng {
  std::uint64_t s;
  std::uint64_t next() { return s = splitmix(s); }
  std::size_t in(std::size_t lo, std::size_t hi) { return lo + static_cast<std::size_t>(next() % (hi - lo + 1)); }
};

enum class kind { normal, half, reset, slow };
inline const char* const kind_names[] = {"normal", "half-close", "reset", "slow"};
constexpr std::size_t max_chunk = 4096;        // a ping-pong chunk: 1..4 KiB
constexpr std::size_t slow_read_bytes = 4096;  // what a slow reader takes per tick

// The mix: slot i has kind kind_of(i) for the whole run (out of 20: 8 normal, 6 half, 5 reset,
// 1 slow).
inline kind kind_of(std::size_t slot) {
  std::size_t r = slot % 20;
  if (r < 8) return kind::normal;
  if (r < 14) return kind::half;
  if (r < 19) return kind::reset;
  return kind::slow;
}

struct conn {
  int fd = -1;
  kind k = kind::normal;
  bool connected = false;
  bool confirmed = false;  // a byte came back, so the server has accepted it
  bool wr_shut = false;
  std::uint64_t id = 0;
  std::uint64_t seed = 0;
  std::size_t total = 0;        // bytes this connection sends
  std::size_t send_target = 0;  // sent up to here so far (the current chunk's end)
  std::size_t sent = 0;
  std::size_t recvd = 0;
  std::size_t reset_at = 0;  // reset once this many bytes came back (kind::reset)
  clock_type::time_point opened;
};

struct options {
  std::string server;
  std::string backend;
  double seconds = 60;
  std::size_t connections = 10000;
  double warmup = -1;
  std::size_t slow_bytes = 256 * 1024;
  std::uint64_t seed = 1;
  bool quick = false;
  std::size_t think_ms = 0;      // the pause between a chunk's echo and the next chunk, at most
  std::size_t slow_tick_ms = 0;  // a slow reader takes 4 KiB per tick
};

// A field of /proc/PID/status in KiB: "VmRSS:" (resident) or "VmData:" (heap and other
// private address space: when it stays flat while VmRSS grows, memory already allocated is
// being touched, not leaked).
inline long status_kib(pid_t pid, const char* field) {
  std::string path = "/proc/" + std::to_string(pid) + "/status";
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return -1;
  char line[256];
  long kib = -1;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    const std::size_t n = std::strlen(field);
    if (std::strncmp(line, field, n) == 0) kib = std::strtol(line + n, nullptr, 10);
  }
  std::fclose(f);
  return kib;
}
inline long rss_kib(pid_t pid) { return status_kib(pid, "VmRSS:"); }

inline long fd_count(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/fd";
  DIR* d = opendir(path.c_str());
  if (d == nullptr) return -1;
  long n = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(d);
  return n;
}

class soak {
 public:
  soak(const options& o, int port)
      : o_(o), port_(port), rng_{o.seed}, slots_(o.connections), opened_(o.connections), cycled_(o.connections) {
    scratch_.resize(256 * 1024);
    expect_.resize(256 * 1024);
  }

  std::vector<std::string> failures;
  std::size_t done[4] = {0, 0, 0, 0};
  std::size_t bytes_sent = 0, bytes_checked = 0, max_live = 0, slow_max_in_flight = 0;
  double live_sum = 0;
  std::size_t live_samples = 0;
  long rss_warm = -1, rss_peak = -1, fds_peak = -1, data_warm = -1;
  double ramp_seconds = -1;   // when every slot first had a connection (-1: never)
  double cycle_seconds = -1;  // when every slow slot's first connection had ended: warm-up starts

  // Runs the load until the deadline and the open connections have finished. False if the
  // epoll set could not be made or the server died.
  bool run(pid_t server) {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) return fail("epoll_create1: %s", std::strerror(errno));
    for (std::size_t i = 0; i < slots_.size(); ++i) to_open_.push_back(i);
    auto start = clock_type::now();
    auto next_tick = start, next_sample = start;
    bool stopping = false, warm = false, ramped = false;
    std::vector<epoll_event> evs(1024);
    while (true) {
      double t = seconds_since(start);
      if (!stopping && t >= o_.seconds) stopping = stopping_ = true;  // pending pauses end now
      // Unconfirmed connections may wait in the server's accept queue (the server listens with
      // a backlog of 1024): opening more would overflow it and cost 1 s SYN retransmits.
      while (!stopping && !to_open_.empty() && unconfirmed_ < 768) {
        std::size_t slot = to_open_.back();
        to_open_.pop_back();
        open(slot);
      }
      if (stopping && live_ == 0) break;
      if (stopping && t > o_.seconds + 30) return report_hang();
      int n = epoll_wait(ep_, evs.data(), static_cast<int>(evs.size()), 5);
      if (n < 0 && errno != EINTR) return fail("epoll_wait: %s", std::strerror(errno));
      for (int i = 0; i < n; ++i) on_event(evs[i].data.u64, evs[i].events);
      auto now = clock_type::now();
      while (!thinking_.empty() && (stopping || std::get<0>(thinking_.top()) <= now)) {
        auto [at, slot, id] = thinking_.top();
        thinking_.pop();
        conn& c = slots_[slot];
        if (c.fd < 0 || c.id != id) continue;  // that connection has ended
        c.send_target = std::min(c.total, c.sent + rng_.in(1, max_chunk));
        pump(slot);
      }
      if (now >= next_tick) {
        next_tick = now + std::chrono::milliseconds(o_.slow_tick_ms);
        for (std::size_t i = 19; i < slots_.size(); i += 20) {  // kind_of() == slow
          if (slots_[i].fd >= 0 && slots_[i].connected) slow_read(i);
        }
      }
      if (now >= next_sample) {
        next_sample = now + std::chrono::milliseconds(250);
        int status = 0;
        if (waitpid(server, &status, WNOHANG) == server) {
          server_gone_ = true;
          return fail("the server exited during the soak (status %d)", status);
        }
        rss_peak = std::max(rss_peak, rss_kib(server));
        fds_peak = std::max(fds_peak, fd_count(server));
        if (!stopping && warm) {
          live_sum += static_cast<double>(live_);
          ++live_samples;
        }
        if (!ramped && opened_slots_ == slots_.size()) {
          ramped = true;  // every slot has had a connection
          ramp_seconds = t;
        }
        // Warm-up: every slow slot has been through one whole connection (the slow readers'
        // queues have grown and drained once), then --warmup seconds more.
        if (cycle_seconds < 0 && slow_cycled_ == slots_.size() / 20) cycle_seconds = t;
        if (cycle_seconds >= 0 && !warm && t >= cycle_seconds + o_.warmup) {
          warm = true;
          rss_warm = std::max(rss_peak, rss_kib(server));  // the high-water mark so far
          data_warm = status_kib(server, "VmData:");
        }
      }
      max_live = std::max(max_live, live_);
    }
    close(ep_);
    return failures.empty();
  }

  bool server_gone() const { return server_gone_; }
  double slow_mean_seconds() const { return slow_ended_ != 0 ? slow_time_ / double(slow_ended_) : 0.0; }

  bool report_hang() {
    for (const conn& c : slots_) {
      if (c.fd < 0) continue;
      fail("hang: a %s connection is still open 30 s after the end (%s, %zu of %zu bytes sent, %zu back)",
           kind_names[int(c.k)], c.connected ? "connected" : "connecting", c.sent, c.total, c.recvd);
    }
    return false;
  }

  __attribute__((format(printf, 2, 3))) bool fail(const char* fmt, ...) {
    if (failures.size() < 1000) {
      char buf[512];
      va_list a;
      va_start(a, fmt);
      std::vsnprintf(buf, sizeof buf, fmt, a);
      va_end(a);
      failures.emplace_back(buf);
    }
    return false;
  }

 private:
  void open(std::size_t slot) {
    conn& c = slots_[slot];
    c = conn{};
    c.k = kind_of(slot);
    c.id = next_id_++;
    if (!opened_[slot]) {
      opened_[slot] = true;
      ++opened_slots_;
    }
    c.seed = splitmix(o_.seed * 0x100000001b3ULL + c.id);
    if (c.k == kind::slow) {
      c.total = o_.slow_bytes;
    } else {
      std::size_t chunks = rng_.in(1, 16);
      for (std::size_t i = 0; i < chunks; ++i) c.total += rng_.in(1, max_chunk);
    }
    // A quarter of the resets come right after the connection is made, before any byte.
    if (c.k == kind::reset) c.reset_at = rng_.in(0, 3) == 0 ? 0 : rng_.in(1, c.total);
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) {
      fail("socket: %s", std::strerror(errno));
      return;
    }
    if (c.k == kind::slow) {
      // A small receive buffer keeps the echo in the server's write queue rather than in ours;
      // a small segment size (as on a real network, not loopback's 64 KiB) lets the window
      // reopen as we read 4 KiB at a time instead of waiting for the persist timer.
      int small = 8192, mss = 1400;
      setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
      setsockopt(c.fd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof mss);
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = slot;
    if (epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev) != 0) {
      fail("epoll_ctl: %s", std::strerror(errno));
      ::close(c.fd);
      c.fd = -1;
      return;
    }
    ++live_;
    ++unconfirmed_;
    c.opened = clock_type::now();
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port_));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      on_connected(slot);
    } else if (errno != EINPROGRESS) {
      end(slot, "connect: %s", std::strerror(errno));
    }
  }

  void on_connected(std::size_t slot) {
    conn& c = slots_[slot];
    c.connected = true;
    if (c.k == kind::reset && c.reset_at == 0) return reset(slot);
    c.send_target = c.k == kind::slow ? c.total : std::min(c.total, rng_.in(1, max_chunk));
    pump(slot);
  }

  // Sends up to send_target; half-closes after the last byte for the half and slow kinds.
  void pump(std::size_t slot) {
    conn& c = slots_[slot];
    while (c.sent < c.send_target) {
      std::size_t n = std::min(c.send_target - c.sent, scratch_.size());
      fill_pattern(c.seed, c.sent, scratch_.data(), n);
      ssize_t w = send(c.fd, scratch_.data(), n, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;  // EPOLLOUT resumes
        return end(slot, "send (%s, %zu of %zu bytes sent): %s", kind_names[int(c.k)], c.sent, c.total,
                   std::strerror(errno));
      }
      c.sent += static_cast<std::size_t>(w);
      bytes_sent += static_cast<std::size_t>(w);
    }
    if (c.sent == c.total && !c.wr_shut && (c.k == kind::half || c.k == kind::slow)) {
      if (shutdown(c.fd, SHUT_WR) != 0) return end(slot, "shutdown: %s", std::strerror(errno));
      c.wr_shut = true;
    }
  }

  void on_event(std::size_t slot, std::uint32_t events) {
    conn& c = slots_[slot];
    if (c.fd < 0) return;  // ended earlier in this batch
    if (!c.connected) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) return end(slot, "connect: %s", std::strerror(err));
      if ((events & EPOLLOUT) == 0) return;
      on_connected(slot);
      if (c.fd < 0) return;
    }
    if ((events & EPOLLOUT) != 0 && c.sent < c.send_target) pump(slot);
    if (c.fd < 0 || c.k == kind::slow) return;  // slow connections read on the tick only
    if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) read_all(slot);
  }

  // Checks n received bytes at the connection's offset; false (and the connection ended) if
  // they are not what it sent.
  bool check(std::size_t slot, const unsigned char* data, std::size_t n) {
    conn& c = slots_[slot];
    if (c.recvd + n > c.sent) {
      end(slot, "%s: %zu bytes came back but only %zu were sent", kind_names[int(c.k)], c.recvd + n, c.sent);
      return false;
    }
    fill_pattern(c.seed, c.recvd, expect_.data(), n);
    if (std::memcmp(expect_.data(), data, n) != 0) {
      std::size_t at = 0;
      while (expect_[at] == data[at]) ++at;
      end(slot, "%s: wrong byte at offset %zu of the echo", kind_names[int(c.k)], c.recvd + at);
      return false;
    }
    c.recvd += n;
    bytes_checked += n;
    if (!c.confirmed) {
      c.confirmed = true;
      --unconfirmed_;
    }
    return true;
  }

  // 0 on EOF, >0 bytes, <0 on EAGAIN (connection still open) or when it has ended.
  ssize_t read_once(std::size_t slot, std::size_t max) {
    conn& c = slots_[slot];
    ssize_t r = recv(c.fd, scratch_.data(), std::min(max, scratch_.size()), 0);
    if (r < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        end(slot, "%s: recv after %zu of %zu bytes: %s", kind_names[int(c.k)], c.recvd, c.total, std::strerror(errno));
      }
      return -1;
    }
    if (r == 0) {
      if (c.wr_shut && c.recvd == c.total) {
        finish(slot);
      } else {
        end(slot, "%s: end of stream after %zu of %zu bytes", kind_names[int(c.k)], c.recvd, c.total);
      }
      return 0;
    }
    return check(slot, scratch_.data(), static_cast<std::size_t>(r)) ? r : -1;
  }

  void read_all(std::size_t slot) {
    conn& c = slots_[slot];
    while (read_once(slot, scratch_.size()) > 0) {
      if (c.k == kind::reset && c.recvd >= c.reset_at) return reset(slot);
      if (c.recvd == c.total && c.k == kind::normal) return finish(slot);
      if (c.recvd == c.sent && c.sent < c.total) {  // the chunk came back: the next one later
        auto at = clock_type::now() + std::chrono::milliseconds(stopping_ ? 0 : rng_.in(0, o_.think_ms));
        thinking_.emplace(at, slot, c.id);
      }
    }
  }

  void slow_read(std::size_t slot) {
    conn& c = slots_[slot];
    slow_max_in_flight = std::max(slow_max_in_flight, c.sent - c.recvd);
    read_once(slot, slow_read_bytes);
  }

  void reset(std::size_t slot) {
    linger l{1, 0};
    setsockopt(slots_[slot].fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    finish(slot);
  }

  void finish(std::size_t slot) {
    ++done[int(slots_[slot].k)];
    drop(slot);
  }

  template <class... A>
  void end(std::size_t slot, const char* fmt, A... a) {
    fail(fmt, a...);
    drop(slot);
  }

  void drop(std::size_t slot) {
    conn& c = slots_[slot];
    if (!c.confirmed) --unconfirmed_;
    if (c.k == kind::slow && !cycled_[slot]) {
      cycled_[slot] = true;
      ++slow_cycled_;
    }
    if (c.k == kind::slow) {
      slow_time_ += seconds_since(c.opened);
      ++slow_ended_;
    }
    ::close(c.fd);  // also leaves the epoll set
    c.fd = -1;
    --live_;
    to_open_.push_back(slot);
  }

  const options& o_;
  int port_;
  rng rng_;
  std::vector<conn> slots_;
  std::vector<std::size_t> to_open_;
  using wake = std::tuple<clock_type::time_point, std::size_t, std::uint64_t>;  // when, slot, id
  std::priority_queue<wake, std::vector<wake>, std::greater<wake>> thinking_;
  std::vector<unsigned char> scratch_, expect_;
  int ep_ = -1;
  std::size_t live_ = 0, unconfirmed_ = 0;
  std::uint64_t next_id_ = 0;
  bool server_gone_ = false;
  bool stopping_ = false;
  std::vector<bool> opened_, cycled_;  // per slot: had a connection; (slow) had one end
  std::size_t opened_slots_ = 0, slow_cycled_ = 0;
  double slow_time_ = 0;
  std::size_t slow_ended_ = 0;
};

}  // namespace soak_tcp
