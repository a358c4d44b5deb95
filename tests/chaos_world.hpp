// The bookkeeping of the close-in-every-state test (chaos_test.cpp): one `slot` per handle
// the test made, one `request` per operation that must complete, and the checks every
// callback runs on entry. Slots and requests live until the test ends (never freed early), so
// callbacks may refer to them whatever happened to the handle; buffers given to the loop
// (write data, read_some buffers) live in them too.
//
// The rules checked (the API's promises, see handle.hpp, stream.hpp, udp.hpp, work.hpp):
// - no callback of a handle runs after its close() (request callbacks excepted: they complete
//   with operation_canceled), nor after its object was destroyed, nor after its close callback;
// - a close callback runs at most once, and only after every request of its handle completed;
// - each request completes at most once; requests of handles that were not destroyed, and
//   pool, file and DNS requests, exactly once by the end.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <cstdlib>
#include <cstdint>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "eddy/eddy.hpp"

namespace chaos {

enum class kind { timer, idle, prepare, check, async, signal, tcp_server, tcp, udp, pipe_server, pipe, tty, fs_event, fs_poll, process, count };

inline const char* name(kind k) {
  static constexpr const char* names[] = {"timer",       "idle", "prepare", "check", "async",    "signal",  "tcp_server", "tcp",
                                          "udp",         "pipe_server", "pipe", "tty", "fs_event", "fs_poll", "process"};
  return names[static_cast<int>(k)];
}

struct request;

struct slot {
  int id = 0;
  kind k = kind::timer;
  std::unique_ptr<eddy::handle> h;  // null once destroyed
  bool destroyed = false;           // the object went away
  bool destroyed_open = false;      // ... before close(): then no close callback may run
  bool close_called = false;        // close() (or destruction) happened
  bool closed = false;              // the close callback ran
  int open_requests = 0;            // write, shutdown, connect, read_some, recv_once, send
  request* pending_once = nullptr;  // the read_some / recv_once in flight
  bool once_armed = false;          // a one-shot timer or signal: at most one call per start
  bool repeating = false;           // timer: started with a repeat
  bool sleeper = false;             // process: a child that waits to be killed
  bool exited = false;              // process: on_exit ran
  std::array<std::byte, 512> buf{}; // read_some / recv_once / alloc buffer
  eddy::socket_address addr;        // tcp_server, udp: where to reach it
  std::string name_;                // pipe_server: its name
  std::string label() const { return std::string(name(k)) + "#" + std::to_string(id); }

  template <class T>
  T* as() const noexcept {
    return static_cast<T*>(h.get());
  }
  eddy::stream* stream() const noexcept { return static_cast<eddy::stream*>(h.get()); }
  bool is_stream() const noexcept {
    return k == kind::tcp_server || k == kind::tcp || k == kind::pipe_server || k == kind::pipe || k == kind::tty;
  }
};

struct request {
  slot* owner = nullptr;  // null for pool, file and DNS requests
  std::string what;
  std::string data;       // bytes a write or send borrows until its callback
  bool done = false;
};

// Captured by value in every callback: large enough that std::function keeps it on the heap,
// so a callback destroyed while it runs (a start() with a new callback from inside) is a
// heap-use-after-free that ASan reports when check() reads it afterwards.
struct capture {
  slot* s = nullptr;
  std::uint64_t magic = 0x0c4a05c4a05ULL;
  std::array<std::uint64_t, 6> pad{};
  void check() const {
    volatile std::uint64_t m = magic;  // a real read of the callback's own storage
    EXPECT_EQ(m, 0x0c4a05c4a05ULL) << "a callback's captures changed under it";
  }
};

class book {
 public:
  std::deque<std::unique_ptr<slot>> slots;
  std::deque<std::unique_ptr<request>> requests;
  std::uint64_t callbacks = 0;

  slot& add(kind k, std::unique_ptr<eddy::handle> h) {
    auto s = std::make_unique<slot>();
    s->id = static_cast<int>(slots.size());
    s->k = k;
    s->h = std::move(h);
    slots.push_back(std::move(s));
    return *slots.back();
  }

  request& open(slot* owner, std::string what, std::string data = {}) {
    auto r = std::make_unique<request>();
    r->owner = owner;
    r->what = std::move(what);
    r->data = std::move(data);
    if (owner != nullptr) ++owner->open_requests;
    requests.push_back(std::move(r));
    return *requests.back();
  }

  // A handle's own callback (timer, read, connection, signal, ...) is about to run.
  bool enter(slot& s, const char* what) {
    ++callbacks;
    EXPECT_FALSE(s.destroyed) << what << " of " << s.label() << " after its object was destroyed";
    EXPECT_FALSE(s.close_called) << what << " of " << s.label() << " after close()";
    EXPECT_FALSE(s.closed) << what << " of " << s.label() << " after its close callback";
    return !s.closed && !s.destroyed;
  }

  // The call that would have started r failed: its callback must never run.
  void refuse(request& r) {
    r.done = true;
    if (r.owner != nullptr) --r.owner->open_requests;
  }

  // read_stop() / recv_stop() end a read_some / recv_once without its callback, unless the
  // handle is already closing: then the close ends it (operation_canceled, before the close
  // callback) and a later read_stop() changes nothing. (This model once refused the request
  // there too, and the close's callback then looked like a second completion.)
  void stopped_reading(slot& s) {
    if (s.close_called) return;
    if (s.pending_once != nullptr && !s.pending_once->done) refuse(*s.pending_once);
    s.pending_once = nullptr;
  }

  // A request's callback runs.
  void complete(request& r) {
    ++callbacks;
    EXPECT_FALSE(r.done) << r.what << " completed twice";
    if (r.owner != nullptr) {
      EXPECT_FALSE(r.owner->closed) << r.what << " of " << r.owner->label() << " completed after the close callback";
      if (!r.done) --r.owner->open_requests;
    }
    r.done = true;
  }

  void closed(slot& s) {
    ++callbacks;
    EXPECT_FALSE(s.closed) << "close callback of " << s.label() << " twice";
    EXPECT_FALSE(s.destroyed_open) << "close callback of " << s.label() << ", destroyed while open";
    // (A read_some or recv_once of a destroyed handle does not complete: see stream.hpp.)
    if (!s.destroyed) {
      EXPECT_EQ(s.open_requests, 0) << s.label() << " closed with requests still pending";
    }
    s.closed = true;
  }

  // After the loop has run out: every request that had to complete did.
  void verify_end() const {
    for (const auto& r : requests) {
      if (r->done || (r->owner != nullptr && r->owner->destroyed)) continue;
      ADD_FAILURE() << r->what << (r->owner ? " of " + r->owner->label() : std::string()) << " never completed";
    }
    for (const auto& s : slots) {
      if (!s->destroyed_open) {
        EXPECT_TRUE(s->closed) << s->label() << " closed without its close callback";
      }
    }
  }
};

// The seeds a run uses: EDDY_CHAOS_SEED=S replays one; EDDY_CHAOS_RUNS=N runs N seeds from
// the fixed first one (or from S). Without either, a fixed pair, so CI is deterministic.
inline std::vector<std::uint64_t> seeds() {
  std::uint64_t first = 20261203;
  std::size_t runs = 2;
  if (const char* s = std::getenv("EDDY_CHAOS_SEED")) {
    first = std::strtoull(s, nullptr, 0);
    runs = 1;
  }
  if (const char* n = std::getenv("EDDY_CHAOS_RUNS")) runs = std::strtoull(n, nullptr, 0);
  std::vector<std::uint64_t> out;
  for (std::size_t i = 0; i < runs; ++i) out.push_back(first + i);
  return out;
}

}  // namespace chaos
