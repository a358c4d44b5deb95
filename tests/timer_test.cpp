#include <string>
#include <vector>

#include "port_fixture.hpp"

namespace {

using namespace std::chrono_literals;
using eddy_test::PortTest;

class TimerTest : public PortTest {};
EDDY_INSTANTIATE_PORTS(TimerTest);

TEST_P(TimerTest, NeverFiresBeforeItsDeadline) {
  std::vector<std::unique_ptr<eddy::timer>> timers;
  int fired = 0;
  for (int ms : {1, 2, 5, 10, 15}) {
    auto t = std::make_unique<eddy::timer>(loop());
    std::uint64_t due = loop().now_ns() + static_cast<std::uint64_t>(ms) * 1'000'000;
    t->start(std::chrono::milliseconds(ms), [&, due] {
      EXPECT_GE(eddy::loop::hrtime(), due);
      EXPECT_GE(loop().now_ns(), due);
      ++fired;
    });
    timers.push_back(std::move(t));
  }
  loop().run();
  EXPECT_EQ(fired, 5);
}

TEST_P(TimerTest, StopsItselfInsideItsCallback) {
  eddy::timer t(loop());
  int fired = 0;
  t.start(1ms, 1ms, [&] {
    ++fired;
    t.stop();
  });
  EXPECT_FALSE(loop().run());  // nothing left once it stopped
  EXPECT_EQ(fired, 1);
  EXPECT_FALSE(t.is_active());
}

TEST_P(TimerTest, RestartWithANewCallbackFromInsideTheOldOne) {
  eddy::timer t(loop());
  std::vector<std::string> log;
  std::string big(100, 'x');  // a capture that lives on the heap
  t.start(0ms, [&, big] {
    log.push_back("first " + std::to_string(big.size()));
    t.start(1ms, [&] { log.push_back("second"); });
  });
  loop().run();
  EXPECT_EQ(log, (std::vector<std::string>{"first 100", "second"}));
  EXPECT_FALSE(t.again());  // the second callback is kept; repeat is 0 so again() stops it
}

TEST_P(TimerTest, RepeatFiresUntilStopped) {
  eddy::timer t(loop());
  std::vector<std::uint64_t> at;
  t.start(1ms, 2ms, [&] {
    at.push_back(loop().now_ns());
    if (at.size() == 4) t.stop();
  });
  EXPECT_EQ(t.repeat(), 2ms);
  loop().run();
  ASSERT_EQ(at.size(), 4u);
  for (std::size_t i = 1; i < at.size(); ++i) EXPECT_GE(at[i] - at[i - 1], 2'000'000u);
}

TEST_P(TimerTest, AgainRestartsWithTheRepeatInterval) {
  eddy::timer t(loop());
  EXPECT_EQ(t.again(), eddy::errc::not_started);  // never started
  int fired = 0;
  t.start(1h, 3ms, [&] {
    ++fired;
    t.stop();
  });
  EXPECT_FALSE(t.again());  // now due in 3 ms, not an hour
  EXPECT_LE(t.due_in(), 3ms);
  EXPECT_GT(t.due_in(), 0ms);
  loop().run();
  EXPECT_EQ(fired, 1);
  t.set_repeat(0ms);
  EXPECT_FALSE(t.again());  // zero repeat: again() stops it
  EXPECT_FALSE(t.is_active());
}

TEST_P(TimerTest, SameDeadlineFiresInStartOrder) {
  std::vector<int> order;
  std::vector<std::unique_ptr<eddy::timer>> timers;
  for (int i = 0; i < 20; ++i) {
    timers.push_back(std::make_unique<eddy::timer>(loop()));
    // All started at the same cached loop time with the same timeout: same deadline.
    timers.back()->start(2ms, [&order, i] { order.push_back(i); });
  }
  // Restarting one moves it to the back of the line, as a new start.
  timers[3]->start(2ms, [&order] { order.push_back(3); });
  loop().run();
  std::vector<int> expected;
  for (int i = 0; i < 20; ++i) {
    if (i != 3) expected.push_back(i);
  }
  expected.push_back(3);
  EXPECT_EQ(order, expected);
}

TEST_P(TimerTest, ZeroTimeoutStartedInATimerWaitsForTheNextIteration) {
  eddy::timer a(loop()), b(loop());
  std::uint64_t a_iter = 0, b_iter = 0;
  a.start(0ms, [&] {
    a_iter = loop().metrics().iterations;
    b.start(0ms, [&] { b_iter = loop().metrics().iterations; });
  });
  loop().run();
  EXPECT_EQ(b_iter, a_iter + 1);
}

TEST_P(TimerTest, UnrefdTimerDoesNotKeepTheLoopAlive) {
  eddy::timer t(loop());
  bool fired = false;
  t.start(1h, [&] { fired = true; });
  t.unref();
  EXPECT_FALSE(t.has_ref());
  EXPECT_TRUE(t.is_active());
  EXPECT_FALSE(loop().alive());
  EXPECT_FALSE(loop().run());  // returns at once
  EXPECT_FALSE(fired);
  t.ref();
  EXPECT_TRUE(loop().alive());
  t.stop();
  EXPECT_FALSE(loop().alive());
}

TEST_P(TimerTest, UnrefdTimerStillFiresWhileSomethingElseKeepsTheLoop) {
  eddy::timer bg(loop()), fg(loop());
  int bg_fired = 0;
  bg.start(1ms, 1ms, [&] { ++bg_fired; });
  bg.unref();
  fg.start(20ms, [] {});
  loop().run();  // returns when fg is done, although bg repeats forever
  EXPECT_GE(bg_fired, 1);
  EXPECT_TRUE(bg.is_active());
}

TEST_P(TimerTest, DueInCountsDown) {
  eddy::timer t(loop());
  EXPECT_EQ(t.due_in(), 0ns);
  t.start(50ms, [] {});
  EXPECT_GT(t.due_in(), 49ms);
  EXPECT_LE(t.due_in(), 50ms);
  t.stop();
  EXPECT_EQ(t.due_in(), 0ns);
}

TEST_P(TimerTest, ManyTimersStartFireAndClose) {
  constexpr int n = 20000;
  std::vector<std::unique_ptr<eddy::timer>> timers;
  timers.reserve(n);
  int fired = 0;
  for (int i = 0; i < n; ++i) {
    timers.push_back(std::make_unique<eddy::timer>(loop()));
    timers.back()->start(std::chrono::microseconds(i % 500), [&] { ++fired; });
  }
  loop().run();
  EXPECT_EQ(fired, n);
  int closed = 0;
  for (auto& t : timers) t->close([&] { ++closed; });
  loop().run();
  EXPECT_EQ(closed, n);
}

TEST_P(TimerTest, PollNeverSleepsPastTheNextTimer) {
  // A long timer and a short one: the loop must wake for the short one and not oversleep.
  eddy::timer longer(loop()), shorter(loop());
  longer.start(1h, [] {});
  std::uint64_t start = loop().now_ns();  // the deadline counts from the loop's cached clock
  std::uint64_t fired_at = 0;
  shorter.start(5ms, [&] {
    fired_at = eddy::loop::hrtime();
    longer.stop();
  });
  loop().run();
  ASSERT_NE(fired_at, 0u);
  EXPECT_GE(fired_at - start, 5'000'000u);
}

}  // namespace
