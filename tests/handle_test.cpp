// Handle lifetimes: close from any callback, destruction inside callbacks, ref counting,
// and exceptions escaping user callbacks.
#include <stdexcept>
#include <string>
#include <vector>

#include "port_fixture.hpp"

namespace {

using namespace std::chrono_literals;
using eddy_test::PortTest;

class HandleTest : public PortTest {};
EDDY_INSTANTIATE_PORTS(HandleTest);

TEST_P(HandleTest, CloseInsideItsOwnCallback) {
  eddy::timer t(loop());
  int fired = 0;
  bool closed = false;
  t.start(1ms, 1ms, [&] {
    ++fired;
    t.close([&] {
      EXPECT_TRUE(t.is_closing());
      closed = true;
    });
    EXPECT_TRUE(t.is_closing());
    EXPECT_FALSE(t.is_active());
  });
  loop().run();
  EXPECT_EQ(fired, 1);
  EXPECT_TRUE(closed);
}

TEST_P(HandleTest, DestroyInsideItsOwnCallback) {
  auto* t = new eddy::timer(loop());
  bool fired = false;
  t->start(0ms, 1ms, [&] {
    fired = true;
    delete t;  // closes it; the runtime keeps what it needs until the close phase
  });
  loop().run();
  EXPECT_TRUE(fired);
  EXPECT_EQ(loop().handle_count(), 0u);
}

TEST_P(HandleTest, CloseAnotherHandleFromACallbackMeansItsCallbackNeverRuns) {
  eddy::timer a(loop()), b(loop());
  bool b_fired = false;
  a.start(1ms, [&] { b.close(); });
  b.start(1ms, [&] { b_fired = true; });  // same deadline, after a
  loop().run();
  EXPECT_FALSE(b_fired);
  a.close();
}

TEST_P(HandleTest, CloseIsIdempotentAndTheCallbackRunsOnce) {
  eddy::idle i(loop());
  int closes = 0;
  i.close([&] { ++closes; });
  i.close([&] { closes += 100; });
  loop().run();
  EXPECT_EQ(closes, 1);
  EXPECT_TRUE(i.is_closing());
  i.start([] {});  // a closed handle ignores calls
  EXPECT_FALSE(i.is_active());
}

TEST_P(HandleTest, CloseCallbacksRunInTheClosePhaseAfterCheck) {
  std::vector<std::string> log;
  eddy::check c(loop());
  eddy::idle i(loop());
  i.start([&] {
    i.close([&] { log.push_back("close"); });
  });
  c.start([&] {
    log.push_back("check");
    c.close();
  });
  loop().run();
  EXPECT_EQ(log, (std::vector<std::string>{"check", "close"}));
}

TEST_P(HandleTest, ClosingInsideACloseCallbackWaitsForTheNextClosePhase) {
  eddy::timer a(loop()), b(loop());
  std::vector<std::string> log;
  a.close([&] {
    log.push_back("a");
    b.close([&] { log.push_back("b"); });
  });
  loop().run();
  EXPECT_EQ(log, (std::vector<std::string>{"a", "b"}));
}

TEST_P(HandleTest, RefAndUnrefAreIdempotent) {
  eddy::idle i(loop());
  i.start([&] { i.stop(); });
  i.unref();
  i.unref();
  EXPECT_FALSE(loop().alive());
  i.ref();
  i.ref();
  EXPECT_TRUE(loop().alive());
  loop().run();
  EXPECT_FALSE(loop().alive());
  i.close();
}

TEST_P(HandleTest, AnExceptionFromACallbackReachesTheHandler) {
  std::vector<std::string> caught;
  loop().set_uncaught_exception_handler([&](std::exception_ptr e) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      caught.push_back(ex.what());
    }
  });
  eddy::timer t1(loop()), t2(loop());
  bool t2_ran = false;
  // Zero timeouts: due at the first timers phase, which comes before the check phase.
  t1.start(0ms, [] { throw std::runtime_error("from a timer"); });
  t2.start(0ms, [&] { t2_ran = true; });
  loop().next_tick([] { throw std::logic_error("from a tick"); });
  loop().set_immediate([] { throw std::runtime_error("from an immediate"); });
  loop().run();
  EXPECT_TRUE(t2_ran);  // the loop carried on
  EXPECT_EQ(caught, (std::vector<std::string>{"from a tick", "from a timer", "from an immediate"}));
}

TEST(HandleDeathTest, AnExceptionWithoutAHandlerTerminatesWithItsMessage) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        eddy::loop l;
        eddy::timer t(l);
        t.start(0ms, [] { throw std::runtime_error("boom from a callback"); });
        l.run();
      },
      "boom from a callback");
}

}  // namespace
