// The close-in-every-state driver (see chaos_test.cpp): makes handles of every kind and
// issues random operations on them, from the test (between loop iterations) and from inside
// their callbacks, with every check of chaos_world.hpp. Loop thread only; one driver per loop.
#pragma once

#include <csignal>
#include <thread>

#include "chaos_world.hpp"
#include "port_fixture.hpp"
#include "platform/contract/signal.hpp"

#if defined(__linux__)
#include <pty.h>
#include <unistd.h>
#endif

namespace chaos {

#if defined(_WIN32)
// The console-control hook cannot be triggered from a test: feed its entry point instead.
inline constexpr int signal_a = eddy::signals::sigbreak, signal_b = eddy::signals::sigint;
inline void send_signal(int signum) { eddy::contract::signal::dispatch(signum); }
#else
inline constexpr int signal_a = SIGUSR1, signal_b = SIGUSR2;
inline void send_signal(int signum) { ::raise(signum); }  // the handler has run when it returns
#endif

class driver {
 public:
  driver(eddy::loop& loop, std::uint64_t seed, std::string dir, std::string helper)
      : loop_(loop), rng_(seed), dir_(std::move(dir)), file_(dir_ + "/watched"), helper_(std::move(helper)) {
    (void)eddy::fs::write_file(file_, "0");
  }
  ~driver() {
#if defined(__linux__)
    for (int fd : pty_fds_) ::close(fd);
#endif
  }

  book b;
  int spawned = 0;

  // One random action from outside any callback.
  void step() { act(nullptr); }

  // Closes whatever is open (killing children that would wait forever), then runs the loop
  // until nothing is left.
  void finish() {
    finishing_ = true;  // from here on callbacks only check, they start nothing new
    for (auto& s : b.slots) {
      if (s->h && !s->close_called) close(*s);
    }
    for (auto& w : work_) w.cancel();
    loop_.run();
    b.verify_end();
  }

 private:
  eddy::loop& loop_;
  std::mt19937_64 rng_;
  std::string dir_, file_, helper_;
  int depth_ = 0;
  bool finishing_ = false;
  int next_name_ = 0;
  std::vector<eddy::work_request> work_;
  std::vector<eddy::fs::request> fs_reqs_;
  std::vector<eddy::immediate_id> immediates_;
#if defined(__linux__)
  std::vector<int> pty_fds_;
#endif

  int pick(int n) { return static_cast<int>(rng_() % static_cast<std::uint64_t>(n)); }
  bool coin(int percent) { return pick(100) < percent; }

  slot* random_slot() {
    std::vector<slot*> live;
    for (auto& s : b.slots) {
      if (s->h) live.push_back(s.get());
    }
    return live.empty() ? nullptr : live[static_cast<std::size_t>(pick(static_cast<int>(live.size())))];
  }
  slot* random_of(kind k) {
    std::vector<slot*> found;
    for (auto& s : b.slots) {
      if (s->k == k) found.push_back(s.get());
    }
    return found.empty() ? nullptr : found[static_cast<std::size_t>(pick(static_cast<int>(found.size())))];
  }
  int live_count() const {
    int n = 0;
    for (auto& s : b.slots) n += s->h && !s->close_called ? 1 : 0;
    return n;
  }
  int started_watches() const {
    int n = 0;
    for (auto& s : b.slots) n += s->k == kind::fs_event && s->h && !s->as<eddy::fs_event>()->path().empty() ? 1 : 0;
    return n;
  }

  // From inside a callback: maybe act (on this handle or anything), then read the running
  // callback's captures, which must still exist whatever the action did.
  void inside(slot* s, const capture& c) {
    if (depth_ < 2 && !finishing_) {
      ++depth_;
      if (coin(35)) act(s);
      if (coin(15)) act(nullptr);
      --depth_;
    }
    c.check();
  }

  void act(slot* ctx) {
    if (ctx != nullptr && ctx->h) return operate(*ctx);
    const int roll = pick(100);
    if (roll < 25 && live_count() < 28) return create(static_cast<kind>(pick(static_cast<int>(kind::count))));
    if (roll < 35) return world_op();
    if (slot* s = random_slot()) operate(*s);
  }

  // ---------------------------------------------------------------- callbacks

  std::function<void()> timer_cb(slot& s) {
    return [this, c = capture{&s}] {
      if (!b.enter(*c.s, "timer callback")) return;
      if (!c.s->repeating) {
        EXPECT_TRUE(c.s->once_armed) << c.s->label() << ": a one-shot timer fired twice";
        c.s->once_armed = false;
      }
      inside(c.s, c);
    };
  }
  std::function<void()> plain_cb(slot& s, const char* what) {
    return [this, what, c = capture{&s}] {
      if (b.enter(*c.s, what)) inside(c.s, c);
    };
  }
  std::function<void(int)> signal_cb(slot& s) {
    return [this, c = capture{&s}](int) {
      if (!b.enter(*c.s, "signal callback")) return;
      if (!c.s->repeating) {
        EXPECT_TRUE(c.s->once_armed) << c.s->label() << ": a one-shot signal fired twice";
        c.s->once_armed = false;
      }
      if (!finishing_ && coin(30)) start_signal(*c.s);  // replaces the callback that is running
      inside(c.s, c);
    };
  }
  eddy::completion_callback connection_cb(slot& s) {
    return [this, c = capture{&s}](std::error_code ec) {
      if (!b.enter(*c.s, "connection callback")) return;
      if (finishing_) return;
      if (!ec && coin(70)) accept(*c.s);
      if (coin(20)) {  // listen again from inside: the running callback must survive it
        const auto again = c.s->k == kind::tcp_server ? c.s->as<eddy::tcp>()->listen(8, connection_cb(*c.s))
                                                      : c.s->as<eddy::pipe>()->listen(8, connection_cb(*c.s));
        EXPECT_TRUE(again) << c.s->label() << ": listen() twice succeeded";
      }
      inside(c.s, c);
    };
  }
  eddy::completion_callback request_cb(request& r) {
    return [this, &r, c = capture{r.owner}](std::error_code) {
      b.complete(r);
      inside(nullptr, c);
    };
  }
  eddy::read_callback read_cb(slot& s) {
    return [this, c = capture{&s}](std::error_code, std::span<std::byte>) {
      if (b.enter(*c.s, "read callback")) inside(c.s, c);
    };
  }
  eddy::fs_event_callback fs_event_cb(slot& s) {
    return [this, c = capture{&s}](std::error_code, std::string_view, unsigned) {
      if (!b.enter(*c.s, "fs_event callback")) return;
      if (!finishing_ && coin(30)) {  // restart with a new callback from inside (the running one is replaced)
        c.s->as<eddy::fs_event>()->stop();
        (void)c.s->as<eddy::fs_event>()->start(dir_, fs_event_cb(*c.s));
      }
      inside(c.s, c);
    };
  }
  eddy::fs_poll::callback fs_poll_cb(slot& s) {
    return [this, c = capture{&s}](const eddy::fs::error&, const eddy::fs::stat_info&, const eddy::fs::stat_info&) {
      if (!b.enter(*c.s, "fs_poll callback")) return;
      if (!finishing_ && coin(30)) (void)c.s->as<eddy::fs_poll>()->start(file_, std::chrono::milliseconds(1), fs_poll_cb(*c.s));
      inside(c.s, c);
    };
  }

  // ---------------------------------------------------------------- making handles

  template <class T, class... Args>
  slot& make(kind k, Args&&... args) {
    return b.add(k, std::make_unique<T>(loop_, std::forward<Args>(args)...));
  }

  void start_timer(slot& s) {
    s.repeating = coin(30);
    s.once_armed = !s.repeating;
    s.as<eddy::timer>()->start(std::chrono::microseconds(pick(3) * 500), std::chrono::milliseconds(s.repeating ? 1 : 0),
                               timer_cb(s));
  }
  void start_signal(slot& s) {
    s.repeating = coin(60);
    s.once_armed = !s.repeating;
    auto* h = s.as<eddy::signal>();
    const int num = coin(50) ? signal_a : signal_b;
    auto ec = s.repeating ? h->start(num, signal_cb(s)) : h->start_oneshot(num, signal_cb(s));
    if (ec) s.once_armed = false;
  }
  void start_reading(slot& s) {
    auto* st = s.stream();
    if (coin(50)) {
      (void)st->read_start(read_cb(s));
      return;
    }
    (void)st->read_start(
        [this, c = capture{&s}](std::size_t) {
          if (b.enter(*c.s, "alloc callback")) c.check();
          return eddy::mutable_buffer(c.s->buf);
        },
        read_cb(s));
  }

  void create(kind k) {
    switch (k) {
      case kind::timer: return start_timer(make<eddy::timer>(k));
      case kind::idle: {
        slot& s = make<eddy::idle>(k);
        return s.as<eddy::idle>()->start(plain_cb(s, "idle callback"));
      }
      case kind::prepare: {
        slot& s = make<eddy::prepare>(k);
        return s.as<eddy::prepare>()->start(plain_cb(s, "prepare callback"));
      }
      case kind::check: {
        slot& s = make<eddy::check>(k);
        return s.as<eddy::check>()->start(plain_cb(s, "check callback"));
      }
      case kind::async: {
        slot& s = b.add(k, nullptr);
        s.h = std::make_unique<eddy::async>(loop_, plain_cb(s, "async callback"));
        if (coin(50)) s.as<eddy::async>()->send();
        return;
      }
      case kind::signal: return start_signal(make<eddy::signal>(k));
      case kind::tcp_server: {
        slot& s = make<eddy::tcp>(k);
        auto* t = s.as<eddy::tcp>();
        ASSERT_FALSE(t->bind(eddy::socket_address::loopback_v4(0)));
        s.addr = t->local_address();
        ASSERT_FALSE(t->listen(pick(4) + 1, connection_cb(s)));
        return;
      }
      case kind::tcp: {
        slot& s = make<eddy::tcp>(k);
        slot* server = random_of(kind::tcp_server);
        const auto to = server ? server->addr : eddy::socket_address::loopback_v4(1);
        request& r = b.open(&s, "connect");
        if (s.as<eddy::tcp>()->connect(to, request_cb(r))) b.refuse(r);
        return;
      }
      case kind::udp: {
        slot& s = make<eddy::udp>(k);
        auto* u = s.as<eddy::udp>();
        ASSERT_FALSE(u->bind(eddy::socket_address::loopback_v4(0)));
        s.addr = u->local_address();
        return udp_op(s, 0);
      }
      case kind::pipe_server: {
        slot& s = make<eddy::pipe>(k);
        s.name_ = eddy_test::unique_pipe_name("chaos");
        auto* p = s.as<eddy::pipe>();
        ASSERT_FALSE(p->bind(s.name_));
        ASSERT_FALSE(p->listen(pick(4) + 1, connection_cb(s)));
        return;
      }
      case kind::pipe: {
        slot& s = make<eddy::pipe>(k);
        slot* server = random_of(kind::pipe_server);
        const std::string to = server ? server->name_ : eddy_test::unique_pipe_name("chaos-nobody");
        request& r = b.open(&s, "connect");
        if (s.as<eddy::pipe>()->connect(to, request_cb(r))) b.refuse(r);
        return;
      }
      case kind::tty: return make_tty();
      case kind::fs_event: {
        if (started_watches() >= 4) return;  // inotify instances are a per-user limit
        slot& s = make<eddy::fs_event>(k);
        ASSERT_FALSE(s.as<eddy::fs_event>()->start(dir_, fs_event_cb(s)));
        return;
      }
      case kind::fs_poll: {
        slot& s = make<eddy::fs_poll>(k);
        ASSERT_FALSE(s.as<eddy::fs_poll>()->start(file_, std::chrono::milliseconds(1), fs_poll_cb(s)));
        return;
      }
      case kind::process: return spawn();
      case kind::count: return;
    }
  }

  void make_tty() {
#if defined(__linux__)
    if (pty_fds_.size() >= 4) return;
    int master = -1, slave = -1;
    ASSERT_EQ(::openpty(&master, &slave, nullptr, nullptr, nullptr), 0);
    pty_fds_.push_back(master);
    pty_fds_.push_back(slave);
    slot& s = make<eddy::tty>(kind::tty);
    ASSERT_FALSE(s.as<eddy::tty>()->open(slave));
    // The master end, read and written as a stream like any other.
    slot& m = make<eddy::pipe>(kind::pipe);
    ASSERT_FALSE(m.as<eddy::pipe>()->open(::dup(master)));
#endif
    // Windows: a console exists under Wine only inside a terminal (tty_windows_test.cpp).
  }

  void spawn() {
    if (spawned >= 6) return;
    ++spawned;
    slot& s = make<eddy::process>(kind::process);
    s.sleeper = coin(50);
    eddy::process_options o;
    o.file = helper_;
    o.args = s.sleeper ? std::vector<std::string>{helper_, "sleep-forever"} : std::vector<std::string>{helper_, "exit", "3"};
    const auto ec = s.as<eddy::process>()->spawn(o, [this, c = capture{&s}](std::int64_t, int) {
      if (!b.enter(*c.s, "exit callback")) return;
      EXPECT_FALSE(c.s->exited) << c.s->label() << ": on_exit twice";
      c.s->exited = true;
      inside(c.s, c);
    });
    ASSERT_FALSE(ec) << ec.message();
  }

  void accept(slot& server) {
    const bool tcp = server.k == kind::tcp_server;
    slot& c = tcp ? make<eddy::tcp>(kind::tcp) : make<eddy::pipe>(kind::pipe);
    (void)(tcp ? server.as<eddy::tcp>()->accept(*c.as<eddy::tcp>()) : server.as<eddy::pipe>()->accept(*c.as<eddy::pipe>()));
  }

  // ---------------------------------------------------------------- operations

  void close(slot& s) {
    if (s.k == kind::process && s.sleeper && !s.exited) (void)s.as<eddy::process>()->kill(eddy::signals::sigkill);
    if (s.close_called) {
      s.h->close([] { ADD_FAILURE() << "the callback of a second close() ran"; });
      return;
    }
    s.close_called = true;
    auto cb = [this, c = capture{&s}] {
      b.closed(*c.s);
      inside(nullptr, c);
    };
    if (s.k == kind::tcp && coin(30)) return s.as<eddy::tcp>()->close_reset(cb);
    s.h->close(cb);
  }

  void destroy(slot& s) {
    if (s.k == kind::process && s.sleeper && !s.exited) (void)s.as<eddy::process>()->kill(eddy::signals::sigkill);
    s.destroyed_open = !s.close_called;
    s.destroyed = s.close_called = true;
    s.h.reset();
  }

  void operate(slot& s) {
    const int roll = pick(100);
    if (roll < 8) return close(s);
    if (roll < 11) return destroy(s);
    if (roll < 13) return coin(50) ? s.h->unref() : s.h->ref();
    switch (s.k) {
      case kind::timer: {
        auto* t = s.as<eddy::timer>();
        if (roll < 50) return start_timer(s);
        if (roll < 70) return t->stop();
        if (t->again()) return;
        return;
      }
      case kind::idle: return roll < 60 ? s.as<eddy::idle>()->start(plain_cb(s, "idle callback")) : s.as<eddy::idle>()->stop();
      case kind::prepare:
        return roll < 60 ? s.as<eddy::prepare>()->start(plain_cb(s, "prepare callback")) : s.as<eddy::prepare>()->stop();
      case kind::check:
        return roll < 60 ? s.as<eddy::check>()->start(plain_cb(s, "check callback")) : s.as<eddy::check>()->stop();
      case kind::async: {
        if (roll < 70) return s.as<eddy::async>()->send();
        if (s.close_called) return;  // a send that starts after close() is the caller's bug
        std::thread([a = s.as<eddy::async>()] { a->send(); }).join();
        return;
      }
      case kind::signal: {
        if (roll < 50) return start_signal(s);
        if (roll < 65) return s.as<eddy::signal>()->stop();
        return raise_watched();
      }
      case kind::udp: return udp_op(s, roll);
      case kind::fs_event: {
        auto* e = s.as<eddy::fs_event>();
        if (roll < 40) return e->stop();
        if (roll < 70 && started_watches() < 4) {
          (void)e->start(dir_, fs_event_cb(s));
          return;
        }
        return touch();
      }
      case kind::fs_poll: {
        if (roll < 40) return s.as<eddy::fs_poll>()->stop();
        if (roll < 70) {
          (void)s.as<eddy::fs_poll>()->start(file_, std::chrono::milliseconds(1), fs_poll_cb(s));
          return;
        }
        return touch();
      }
      case kind::process: {
        if (roll < 60) (void)s.as<eddy::process>()->kill(eddy::signals::sigterm);
        return;
      }
      case kind::tcp_server:
      case kind::pipe_server:
        if (roll < 60) return accept(s);
        [[fallthrough]];
      default: return stream_op(s, roll);
    }
  }

  void stream_op(slot& s, int roll) {
    auto* st = s.stream();
    if (roll < 30) return start_reading(s);
    if (roll < 40) {
      request& r = b.open(&s, "read_some");
      if (st->read_some(s.buf, request_cb_read(r))) {
        b.refuse(r);
      } else {
        s.pending_once = &r;
      }
      return;
    }
    if (roll < 50) {
      st->read_stop();
      return b.stopped_reading(s);
    }
    if (roll < 80) {
      // Mostly small writes; now and then one larger than the socket buffers (backpressure).
      const std::size_t n = coin(10) ? 256 * 1024 : 1 + static_cast<std::size_t>(pick(2000));
      request& r = b.open(&s, "write", std::string(n, 'w'));
      if (st->write(eddy::buffer(r.data), request_cb(r))) b.refuse(r);
      return;
    }
    if (roll < 88) {
      std::error_code ec;
      const eddy::const_buffer one = eddy::buffer("try");
      (void)st->try_write(std::span<const eddy::const_buffer>(&one, 1), ec);
      return;
    }
    request& r = b.open(&s, "shutdown");
    if (st->shutdown(request_cb(r))) b.refuse(r);
  }
  eddy::read_callback request_cb_read(request& r) {
    return [this, &r, c = capture{r.owner}](std::error_code, std::span<std::byte>) {
      b.complete(r);
      inside(nullptr, c);
    };
  }

  void udp_op(slot& s, int roll) {
    auto* u = s.as<eddy::udp>();
    auto recv = [this, c = capture{&s}](std::error_code, std::span<std::byte>, const eddy::socket_address&, bool) {
      if (b.enter(*c.s, "recv callback")) inside(c.s, c);
    };
    if (roll < 30) {
      (void)u->recv_start(recv);
      return;
    }
    if (roll < 40) {
      request& r = b.open(&s, "recv_once");
      auto cb = [this, &r, c = capture{&s}](std::error_code, std::span<std::byte>, const eddy::socket_address&, bool) {
        b.complete(r);
        inside(nullptr, c);
      };
      if (u->recv_once(s.buf, cb)) {
        b.refuse(r);
      } else {
        s.pending_once = &r;
      }
      return;
    }
    if (roll < 50) {
      u->recv_stop();
      return b.stopped_reading(s);
    }
    slot* to = random_of(kind::udp);
    request& r = b.open(&s, "send", std::string(1 + static_cast<std::size_t>(pick(1200)), 'u'));
    if (u->send(eddy::buffer(r.data), to->addr, request_cb(r))) b.refuse(r);
  }

  // Raises a signal some started handle watches (an unwatched one has its default action).
  void raise_watched() {
    for (int num : {signal_a, signal_b}) {
      for (auto& s : b.slots) {
        if (s->k == kind::signal && s->h && s->as<eddy::signal>()->signum() == num) {
          send_signal(num);
          return;
        }
      }
    }
  }

  void touch() { (void)eddy::fs::write_file(file_, std::to_string(next_name_++)); }

  // Requests that belong to no handle: pool work, files, DNS, immediates.
  void world_op() {
    const int roll = pick(100);
    if (roll < 25) {
      request& r = b.open(nullptr, "queue_work");
      work_.push_back(eddy::queue_work(loop_, [] {}, request_cb(r)));
      return;
    }
    if (roll < 35) {
      if (!work_.empty()) work_[static_cast<std::size_t>(pick(static_cast<int>(work_.size())))].cancel();
      if (!fs_reqs_.empty()) fs_reqs_[static_cast<std::size_t>(pick(static_cast<int>(fs_reqs_.size())))].cancel();
      return;
    }
    if (roll < 50) {
      request& r = b.open(nullptr, "fs::stat");
      fs_reqs_.push_back(eddy::fs::stat(loop_, file_, [this, &r, c = capture{}](const eddy::fs::error&, const eddy::fs::stat_info&) {
        b.complete(r);
        inside(nullptr, c);
      }));
      return;
    }
    if (roll < 62) {
      request& r = b.open(nullptr, "fs::open");
      fs_reqs_.push_back(eddy::fs::open(loop_, file_, eddy::fs::open_flags::read, 0, [this, &r](const eddy::fs::error& err, eddy::fs::file f) {
        b.complete(r);
        if (err) return;
        request& r2 = b.open(nullptr, "fs::close");
        eddy::fs::close(loop_, f, [this, &r2](const eddy::fs::error& e) {
          EXPECT_FALSE(e) << e.message();
          b.complete(r2);
        });
      }));
      return;
    }
    if (roll < 72) {
      request& r = b.open(nullptr, "dns::lookup");
      eddy::dns::lookup_hints hints;
      hints.numeric_host = true;
      work_.push_back(eddy::dns::lookup(loop_, "127.0.0.1", "80", hints,
                                        [this, &r](std::error_code, std::vector<eddy::socket_address>) { b.complete(r); }));
      return;
    }
    if (roll < 82) {
      request& r = b.open(nullptr, "immediate");
      immediates_.push_back(loop_.set_immediate([this, &r, c = capture{}] {
        b.complete(r);
        inside(nullptr, c);
      }));
      if (coin(30)) {
        loop_.clear_immediate(immediates_.back());
        b.refuse(r);
      }
      return;
    }
    if (roll < 90) return touch();
    loop_.next_tick([this, c = capture{}] { inside(nullptr, c); });
  }
};

}  // namespace chaos
