// The loop itself: creation and port selection, close, run modes, stop, walk, metrics.
#include <cstdlib>
#include <thread>

#include "port_fixture.hpp"

namespace {

using namespace std::chrono_literals;
using eddy_test::PortTest;

class LoopTest : public PortTest {};
EDDY_INSTANTIATE_PORTS(LoopTest);

TEST_P(LoopTest, EmptyLoopRunReturnsAtOnce) {
  EXPECT_FALSE(loop().alive());
  EXPECT_FALSE(loop().run());
  EXPECT_FALSE(loop().run(eddy::run_mode::once));
  EXPECT_FALSE(loop().run(eddy::run_mode::nowait));
}

// A loop made on one thread (with work queued: a timer, a listener, a connect) runs on
// another, as libuv allows. (The io_uring port binds its ring to the thread that first runs
// the loop, not to the one that made it.)
TEST_P(LoopTest, ALoopMadeOnOneThreadRunsOnAnother) {
  eddy::timer t(loop());
  bool fired = false;
  t.start(1ms, [&] {
    fired = true;
    t.close();
  });
  eddy::tcp server(loop()), client(loop()), conn(loop());
  ASSERT_FALSE(server.bind(eddy::socket_address::loopback_v4(0)));
  bool accepted = false, connected = false;
  ASSERT_FALSE(server.listen(4, [&](std::error_code ec) {
    ASSERT_FALSE(ec);
    ASSERT_FALSE(server.accept(conn));
    accepted = true;
    server.close();
    conn.close();
  }));
  ASSERT_FALSE(client.connect(server.local_address(), [&](std::error_code ec) {
    EXPECT_FALSE(ec);
    connected = true;
    client.close();
  }));
  // Every handle is closed on the runner: the fixture's TearDown has nothing to run here.
  std::thread runner([&] { loop().run(); });
  runner.join();
  EXPECT_EQ(loop().handle_count(), 0u);
  EXPECT_TRUE(fired);
  EXPECT_TRUE(accepted);
  EXPECT_TRUE(connected);
}

TEST_P(LoopTest, CloseWithOpenHandlesReportsBusy) {
  auto t = std::make_unique<eddy::timer>(loop());
  std::error_code ec = loop().close();
  EXPECT_EQ(ec, eddy::errc::busy);
  EXPECT_NE(ec.message().find("busy"), std::string::npos);
  bool closed = false;
  t->close([&] { closed = true; });
  EXPECT_EQ(loop().close(), eddy::errc::busy);  // still closing
  loop().run();
  EXPECT_TRUE(closed);
  // the fixture's TearDown checks that close() now succeeds
}

TEST_P(LoopTest, RunNowaitReturnsAliveWhileATimerIsPending) {
  eddy::timer t(loop());
  bool fired = false;
  t.start(1h, [&] { fired = true; });
  EXPECT_TRUE(loop().run(eddy::run_mode::nowait));
  EXPECT_FALSE(fired);
  t.close();
  EXPECT_FALSE(loop().run(eddy::run_mode::nowait));
}

TEST_P(LoopTest, RunOnceBlocksForTheNextTimerAndReportsWhatIsLeft) {
  eddy::timer a(loop()), b(loop());
  int fired = 0;
  a.start(1ms, [&] { ++fired; });
  b.start(1h, [&] { ++fired; });
  // Once: blocks until a is due, runs it, and says more is left (b).
  while (fired == 0) EXPECT_TRUE(loop().run(eddy::run_mode::once));
  EXPECT_EQ(fired, 1);
  b.stop();
  EXPECT_FALSE(loop().run(eddy::run_mode::once));
  a.close();
  b.close();
  loop().run();
}

TEST_P(LoopTest, RunOnceDoesNotWaitForTheNextTimerAfterOneFired) {
  eddy::timer a(loop()), b(loop());
  int fired_a = 0;
  int fired_b = 0;
  a.start(0ms, [&] { ++fired_a; });   // due at once: runs in the timers phase
  b.start(10s, [&] { ++fired_b; });  // would be what poll waits for
  EXPECT_TRUE(loop().run(eddy::run_mode::once));
  EXPECT_EQ(fired_a, 1);
  EXPECT_EQ(fired_b, 0) << "run(once) blocked in poll after a timer had already run";
  a.close();
  b.close();
  loop().run();
}

TEST_P(LoopTest, StopMidRunReturnsAndTheLoopCanRunAgain) {
  eddy::timer t(loop());
  int ticks = 0;
  t.start(0ms, 1ms, [&] {
    if (++ticks == 3) loop().stop();
  });
  EXPECT_TRUE(loop().run());
  EXPECT_EQ(ticks, 3);
  t.start(0ms, 1ms, [&] {
    if (++ticks == 5) t.close();
  });
  EXPECT_FALSE(loop().run());
  EXPECT_EQ(ticks, 5);
}

TEST_P(LoopTest, StopBeforeRunMakesRunReturnWithoutBlocking) {
  eddy::timer t(loop());
  bool fired = false;
  t.start(1h, [&] { fired = true; });
  loop().stop();
  EXPECT_TRUE(loop().run());
  EXPECT_FALSE(fired);
  t.close();
  loop().run();
}

TEST_P(LoopTest, WalkAndDumpListTheOpenHandles) {
  eddy::timer t(loop());
  eddy::idle i(loop());
  t.start(1h, [] {});
  int seen = 0;
  bool saw_timer = false;
  loop().walk([&](eddy::handle& h) {
    ++seen;
    saw_timer = saw_timer || (&h == &t && h.type() == eddy::handle_type::timer);
  });
  EXPECT_EQ(seen, 2);
  EXPECT_TRUE(saw_timer);
  EXPECT_EQ(loop().handle_count(), 2u);
  std::string all = loop().dump_handles();
  std::string active = loop().dump_handles(true);
  EXPECT_NE(all.find("timer"), std::string::npos);
  EXPECT_NE(all.find("idle"), std::string::npos);
  EXPECT_NE(active.find("[RA-] timer"), std::string::npos);
  EXPECT_EQ(active.find("idle"), std::string::npos);  // not started
  t.close();
  i.close();
}

TEST_P(LoopTest, MetricsCountIterationsEventsAndIdleTime) {
  eddy::timer t(loop());
  int n = 0;
  t.start(2ms, 2ms, [&] {
    if (++n == 3) t.close();
  });
  auto before = loop().metrics();
  loop().run();
  auto after = loop().metrics();
  EXPECT_GE(after.iterations - before.iterations, 3u);
  EXPECT_GT(after.idle_time.count(), before.idle_time.count());  // it waited for the timers
  eddy::async a(loop(), [&] { a.close(); });
  a.send();
  loop().run();
  EXPECT_GT(loop().metrics().events, after.events);
}

TEST_P(LoopTest, NowAndHrtimeAreMonotonic) {
  // The timer's deadline counts from the cached clock, so measure from it.
  std::uint64_t h1 = loop().now_ns();
  std::uint64_t n1 = loop().now();
  eddy::timer t(loop());
  t.start(3ms, [] {});
  loop().run();
  EXPECT_GE(loop().now(), n1 + 3);
  EXPECT_GE(eddy::loop::hrtime(), h1 + 3'000'000);
  EXPECT_EQ(loop().now(), loop().now_ns() / 1'000'000);
  t.close();
}

TEST(LoopSelectionTest, UnknownBackendNameIsAClearError) {
  EXPECT_EQ(eddy::parse_backend("kqueue"), std::nullopt);
  EXPECT_EQ(eddy::parse_backend("epoll"), eddy::backend_kind::epoll);
  EXPECT_EQ(eddy::parse_backend("io_uring"), eddy::backend_kind::io_uring);
  EXPECT_EQ(eddy::parse_backend("iocp"), eddy::backend_kind::iocp);
}

// Sets an environment variable for one scope.
class scoped_env {
 public:
  scoped_env(const char* name, const char* value) : name_(name) {
#if defined(_WIN32)
    _putenv_s(name, value);
#else
    setenv(name, value, 1);
#endif
  }
  ~scoped_env() {
#if defined(_WIN32)
    _putenv_s(name_, "");
#else
    unsetenv(name_);
#endif
  }

 private:
  const char* name_;
};

TEST(LoopSelectionTest, EddyBackendEnvironmentVariableChoosesThePort) {
  for (auto k : eddy_test::compiled_backends()) {
    scoped_env env("EDDY_BACKEND", std::string(eddy::to_string(k)).c_str());
    std::error_code ec;
    auto l = eddy::loop::create({}, ec);
    if (!l) {
      EXPECT_EQ(ec, eddy::errc::backend_unavailable);  // compiled but refused by this machine
      continue;
    }
    EXPECT_EQ(l->backend(), k);
  }
}

TEST(LoopSelectionTest, UnknownEddyBackendIsAnError) {
  scoped_env env("EDDY_BACKEND", "kqueue");
  std::error_code ec;
  EXPECT_FALSE(eddy::loop::create({}, ec));
  EXPECT_EQ(ec, eddy::errc::invalid_argument);
  // An explicit option wins over the environment.
  auto l = eddy::loop::create(eddy::loop_options{eddy_test::compiled_backends().back()}, ec);
  EXPECT_TRUE(l) << ec.message();
}

TEST(LoopSelectionTest, AutomaticPicksTheFirstAvailablePort) {
  std::error_code ec;
  auto l = eddy::loop::create({}, ec);
  ASSERT_TRUE(l) << ec.message();
  EXPECT_NE(l->backend(), eddy::backend_kind::automatic);
  EXPECT_TRUE(eddy::backend_compiled(l->backend()));
}

TEST(LoopSelectionTest, PortNotBuiltHereIsUnavailable) {
  for (auto k : {eddy::backend_kind::io_uring, eddy::backend_kind::epoll, eddy::backend_kind::iocp}) {
    if (eddy::backend_compiled(k)) continue;
    std::error_code ec;
    auto l = eddy::loop::create(eddy::loop_options{k}, ec);
    EXPECT_FALSE(l);
    EXPECT_EQ(ec, eddy::errc::backend_unavailable);
    EXPECT_THROW(eddy::loop{eddy::loop_options{k}}, std::system_error);
  }
}

TEST(LoopSelectionTest, DestructorClosesWhatIsStillOpen) {
  bool closed = false;
  auto l = std::make_unique<eddy::loop>();
  auto* t = new eddy::timer(*l);
  t->start(1h, [] {});
  t->close([&] { closed = true; });
  auto i = std::make_unique<eddy::idle>(*l);
  i->start([] {});
  l.reset();  // closes the idle handle and runs the timer's close callback
  EXPECT_TRUE(closed);
  EXPECT_TRUE(i->is_closing());
  delete t;
}

}  // namespace
