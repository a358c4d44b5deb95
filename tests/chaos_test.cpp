// Close-in-every-state: a seeded random walk over handles of every kind (chaos_driver.hpp)
// that starts, stops, restarts, reads, writes, shuts down, accepts, closes and destroys them
// from the test and from inside their own and each other's callbacks, and requires that no
// callback comes late (after close or destruction), twice, or never (see chaos_world.hpp),
// that nothing crashes or leaks (ASan) and that the loop ends with zero handles.
//
// Replaying: the seed is in every failure message. EDDY_CHAOS_SEED=S runs seed S alone;
// EDDY_CHAOS_RUNS=N runs N seeds (from S, or from the fixed first seed). See docs/testing.md.
//
// The targeted tests below cover callbacks that replace themselves from inside (start or
// listen again with a new callback while the old one runs), each once, deterministically.
#include <cstdio>
#include <filesystem>
#include <random>

#include "chaos_driver.hpp"
#include "helper_path.hpp"
#include "port_fixture.hpp"

namespace {

using eddy_test::PortTest;

class ChaosTest : public PortTest {
 protected:
  void SetUp() override {
    PortTest::SetUp();
    if (IsSkipped()) return;
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() / ("eddy-chaos-" + std::to_string(eddy::os::pid()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    PortTest::TearDown();
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  std::string dir() const { return dir_.generic_string(); }
  std::filesystem::path dir_;
};
EDDY_INSTANTIATE_PORTS(ChaosTest);

constexpr int steps_per_seed = 4000;

TEST_P(ChaosTest, RandomOperationsInEveryState) {
#if defined(_WIN32)
  std::printf("tty is left out on Windows: a console exists under Wine only inside a terminal\n");
#endif
  const auto seeds = chaos::seeds();
  std::size_t ran = 0;
  for (const std::uint64_t seed : seeds) {
    const std::string trace = "EDDY_CHAOS_SEED=" + std::to_string(seed) + " on " + std::string(eddy::to_string(GetParam()));
    SCOPED_TRACE(trace);
    std::fprintf(stderr, "chaos: %s\n", trace.c_str());  // named even when a sanitizer aborts the run
    std::error_code ec;
    auto l = eddy::loop::create(eddy::loop_options{GetParam()}, ec);
    ASSERT_TRUE(l) << ec.message();
    {
      chaos::driver d(*l, seed, dir(), eddy_test::helper_path());
      // A guard against a hang (a bug): it fails the test instead of waiting for ctest's timeout.
      eddy::timer guard(*l);
      bool hung = false;
      guard.start(std::chrono::seconds(60), [&] {
        ADD_FAILURE() << "the loop did not end:\n" << l->dump_handles();
        hung = true;
        l->stop();
      });
      guard.unref();
      for (int i = 0; i < steps_per_seed && !HasFatalFailure(); ++i) {
        d.step();
        l->run(eddy::run_mode::nowait);
      }
      d.finish();
      guard.close();
      if (hung) break;  // the driver's handles go with it, then the loop
      l->run();
      EXPECT_GT(d.b.callbacks, 0u);
    }
    EXPECT_EQ(l->handle_count(), 0u) << l->dump_handles();
    EXPECT_FALSE(l->close());
    ++ran;
    if (HasFailure()) break;  // the seed above is the one to replay
  }
  std::printf("%s chaos seed(s) ran on %s\n", std::to_string(ran).c_str(), std::string(eddy::to_string(GetParam())).c_str());
}

// A callback big enough to live on the heap (std::function's small buffer holds less), so
// destroying it while it runs is a use after free that ASan reports.
struct heavy {
  std::array<std::uint64_t, 8> tag{};
  explicit heavy(std::uint64_t v) { tag.fill(v); }
  [[nodiscard]] std::uint64_t sum() const {
    std::uint64_t s = 0;
    for (auto t : tag) s += t;
    return s;
  }
};

TEST_P(ChaosTest, FsEventCallbackRestartsItselfWithANewCallback) {
  eddy::fs_event e(loop());
  const std::string file = dir() + "/f";
  int first = 0, second = 0;
  std::uint64_t seen = 0;
  std::function<void()> touch = [&] { ASSERT_FALSE(eddy::fs::write_file(file, "x")); };
  ASSERT_FALSE(e.start(dir(), [&, h = heavy(1)](std::error_code ec, std::string_view, unsigned) {
    ASSERT_FALSE(ec) << ec.message();
    if (first++ > 0) return;  // one write may give several events
    e.stop();
    ASSERT_FALSE(e.start(dir(), [&, h2 = heavy(2)](std::error_code, std::string_view, unsigned) {
      ++second;
      e.close();
      seen += h2.sum();
    }));
    seen = h.sum();  // the running callback's captures, after start() replaced it
    touch();
  }));
  touch();
  loop().run();
  EXPECT_EQ(first, 1);
  EXPECT_EQ(second, 1);
  EXPECT_EQ(seen, 8u + 16u);
}

TEST_P(ChaosTest, FsPollCallbackRestartsItselfWithANewCallback) {
  const std::string file = dir() + "/polled";
  eddy::fs_poll p(loop());
  int first = 0, second = 0;
  std::uint64_t seen = 0;
  // The file appears after start(): the first callback reports it, then restarts the poll.
  ASSERT_FALSE(p.start(file, std::chrono::milliseconds(1), [&, h = heavy(1)](const eddy::fs::error& err, const eddy::fs::stat_info&, const eddy::fs::stat_info&) {
    ++first;
    if (err) {  // the baseline: no such file yet
      ASSERT_FALSE(eddy::fs::write_file(file, "x"));
      return;
    }
    ASSERT_FALSE(p.start(file, std::chrono::milliseconds(1), [&, h2 = heavy(2)](const eddy::fs::error&, const eddy::fs::stat_info&, const eddy::fs::stat_info&) {
      ++second;
      p.close();
      seen += h2.sum();
    }));
    seen = h.sum();
    ASSERT_FALSE(eddy::fs::unlink(file));
  }));
  loop().run();
  EXPECT_EQ(first, 2);
  EXPECT_EQ(second, 1);
  EXPECT_EQ(seen, 8u + 16u);
}

TEST_P(ChaosTest, SignalCallbackRestartsItselfWithANewCallback) {
  eddy::signal s(loop());
  int first = 0, second = 0;
  std::uint64_t seen = 0;
  ASSERT_FALSE(s.start(chaos::signal_a, [&, h = heavy(1)](int) {
    ++first;
    ASSERT_FALSE(s.start(chaos::signal_a, [&, h2 = heavy(2)](int) {
      ++second;
      s.close();
      seen += h2.sum();
    }));
    seen = h.sum();
    chaos::send_signal(chaos::signal_a);
  }));
  chaos::send_signal(chaos::signal_a);
  loop().run();
  EXPECT_EQ(first, 1);
  EXPECT_EQ(second, 1);
  EXPECT_EQ(seen, 8u + 16u);
}

// listen() again from inside the connection callback fails (already listening) and leaves
// the running callback, and the listener, as they were.
TEST_P(ChaosTest, ListenCallbackListensAgain) {
  eddy::tcp server(loop()), a(loop()), b(loop()), in1(loop()), in2(loop());
  ASSERT_FALSE(server.bind(eddy::socket_address::loopback_v4(0)));
  int calls = 0;
  std::uint64_t seen = 0;
  ASSERT_FALSE(server.listen(8, [&, h = heavy(1)](std::error_code ec) {
    ASSERT_FALSE(ec) << ec.message();
    ++calls;
    EXPECT_EQ(server.listen(8, [](std::error_code) { ADD_FAILURE() << "the replacement callback ran"; }),
              eddy::errc::already_started);
    seen += h.sum();
    ASSERT_FALSE(server.accept(calls == 1 ? in1 : in2));
    if (calls == 2) {
      for (eddy::tcp* t : {&server, &a, &b, &in1, &in2}) t->close();
    }
  }));
  const auto to = server.local_address();
  ASSERT_FALSE(a.connect(to, [&](std::error_code ec) {
    ASSERT_FALSE(ec) << ec.message();
    ASSERT_FALSE(b.connect(to, [](std::error_code e) { EXPECT_TRUE(!e || e == eddy::errc::operation_canceled) << e.message(); }));
  }));
  loop().run();
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(seen, 16u);
}

// on_drain() from inside the drain callback replaces it; the running one must survive.
TEST_P(ChaosTest, DrainCallbackReplacesItself) {
  eddy::tcp server(loop()), client(loop()), in(loop());
  ASSERT_FALSE(server.bind(eddy::socket_address::loopback_v4(0)));
  ASSERT_FALSE(server.listen(1, [&](std::error_code ec) {
    ASSERT_FALSE(ec);
    ASSERT_FALSE(server.accept(in));
  }));
  int first = 0, second = 0;
  std::uint64_t seen = 0;
  ASSERT_FALSE(client.connect(server.local_address(), [&](std::error_code ec) {
    ASSERT_FALSE(ec) << ec.message();
    client.on_drain([&, h = heavy(1)] {
      ++first;
      client.on_drain([&, h2 = heavy(2)] {
        ++second;
        seen += h2.sum();
        for (eddy::tcp* t : {&server, &client, &in}) t->close();
      });
      seen = h.sum();
      ASSERT_FALSE(client.write(eddy::buffer("two"), [](std::error_code e) { EXPECT_FALSE(e) << e.message(); }));
    });
    ASSERT_FALSE(client.write(eddy::buffer("one"), [](std::error_code e) { EXPECT_FALSE(e) << e.message(); }));
  }));
  loop().run();
  EXPECT_EQ(first, 1);
  EXPECT_EQ(second, 1);
  EXPECT_EQ(seen, 8u + 16u);
}

// An async callback that closes the next async handle of the loop (both sent in the same
// iteration): the loop must not walk into the closed one's unlinked list node.
TEST_P(ChaosTest, AsyncCallbackClosesAnotherAsync) {
  int a_calls = 0, b_calls = 0;
  std::unique_ptr<eddy::async> b;
  eddy::async a(loop(), [&] {
    ++a_calls;
    b->close();
    a.close();
  });
  b = std::make_unique<eddy::async>(loop(), [&] { ++b_calls; });
  a.send();
  b->send();
  loop().run();
  EXPECT_EQ(a_calls, 1);
  EXPECT_EQ(b_calls, 0);
}

}  // namespace
