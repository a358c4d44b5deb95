// The order of the loop's phases and Node's queue rules (next ticks, microtasks, immediates).
#include <string>
#include <vector>

#include "port_fixture.hpp"

namespace {

using namespace std::chrono_literals;
using eddy_test::PortTest;

class PhaseTest : public PortTest {
 protected:
  std::vector<std::string> log_;
  void note(std::string s) { log_.push_back(std::move(s)); }
};
EDDY_INSTANTIATE_PORTS(PhaseTest);

TEST_P(PhaseTest, OneIterationRunsThePhasesInLibuvOrder) {
  eddy::timer t(loop());
  eddy::idle i(loop());
  eddy::prepare p(loop());
  eddy::check c(loop());
  eddy::async a(loop(), [&] { note("poll"); });
  eddy::timer closing(loop());
  t.start(0ms, [&] { note("timers"); });
  i.start([&] {
    note("idle");
    i.stop();
  });
  p.start([&] {
    note("prepare");
    p.stop();
  });
  c.start([&] {
    note("check");
    c.stop();
  });
  closing.close([&] { note("close"); });
  a.send();
  loop().run(eddy::run_mode::once);
  EXPECT_EQ(log_, (std::vector<std::string>{"timers", "idle", "prepare", "poll", "check", "close"}));
  t.close();
  i.close();
  p.close();
  c.close();
  a.close();
}

TEST_P(PhaseTest, InsideAnIoCallbackAnImmediateRunsBeforeAZeroTimer) {
  eddy::timer t(loop());
  eddy::async a(loop(), [&] {
    t.start(0ms, [&] { note("timeout"); });
    loop().set_immediate([&] { note("immediate"); });
    a.close();
  });
  a.send();
  loop().run();
  EXPECT_EQ(log_, (std::vector<std::string>{"immediate", "timeout"}));
}

TEST_P(PhaseTest, NextTicksRunBeforeMicrotasks) {
  eddy::timer t(loop());
  t.start(0ms, [&] {
    loop().queue_microtask([&] { note("microtask 1"); });
    loop().next_tick([&] { note("tick 1"); });
    loop().queue_microtask([&] { note("microtask 2"); });
    loop().next_tick([&] { note("tick 2"); });
    note("timer");
  });
  loop().run();
  EXPECT_EQ(log_, (std::vector<std::string>{"timer", "tick 1", "tick 2", "microtask 1", "microtask 2"}));
}

TEST_P(PhaseTest, MicrotasksQueuedByMicrotasksDrainBeforeTheNextTimer) {
  eddy::timer t1(loop()), t2(loop());
  t1.start(1ms, [&] {
    note("timer 1");
    loop().queue_microtask([&] {
      note("microtask 1");
      loop().queue_microtask([&] {
        note("microtask 2");
        loop().queue_microtask([&] { note("microtask 3"); });
      });
    });
  });
  t2.start(1ms, [&] { note("timer 2"); });  // same deadline, started later
  loop().run();
  EXPECT_EQ(log_, (std::vector<std::string>{"timer 1", "microtask 1", "microtask 2", "microtask 3", "timer 2"}));
}

TEST_P(PhaseTest, AMicrotaskQueuedFromATimerRunsBeforeTheNextTimer) {
  eddy::timer t1(loop()), t2(loop());
  t1.start(0ms, [&] {
    note("timer 1");
    loop().queue_microtask([&] { note("microtask"); });
    loop().next_tick([&] { note("tick"); });
  });
  t2.start(0ms, [&] { note("timer 2"); });
  loop().run();
  EXPECT_EQ(log_, (std::vector<std::string>{"timer 1", "tick", "microtask", "timer 2"}));
}

TEST_P(PhaseTest, TicksQueuedByMicrotasksRunAfterTheMicrotaskQueueDrains) {
  // Node: setTimeout(() => { queueMicrotask(m1 → nextTick(t2), queueMicrotask(m2)); nextTick(t1) })
  // prints t1 m1 m2 t2.
  eddy::timer t(loop());
  t.start(0ms, [&] {
    loop().queue_microtask([&] {
      note("m1");
      loop().next_tick([&] { note("t2"); });
      loop().queue_microtask([&] { note("m2"); });
    });
    loop().next_tick([&] { note("t1"); });
  });
  loop().run();
  EXPECT_EQ(log_, (std::vector<std::string>{"t1", "m1", "m2", "t2"}));
}

TEST_P(PhaseTest, TicksQueuedBeforeRunGoFirst) {
  eddy::timer t(loop());
  t.start(0ms, [&] { note("timer"); });
  loop().set_immediate([&] { note("immediate"); });
  loop().queue_microtask([&] { note("microtask"); });
  loop().next_tick([&] { note("tick"); });
  loop().run();
  ASSERT_EQ(log_.size(), 4u);
  EXPECT_EQ(log_[0], "tick");
  EXPECT_EQ(log_[1], "microtask");
}

TEST_P(PhaseTest, ImmediatesQueuedByImmediatesWaitForTheNextIteration) {
  std::uint64_t first_iter = 0, second_iter = 0;
  loop().set_immediate([&] {
    first_iter = loop().metrics().iterations;
    note("a");
    loop().set_immediate([&] {
      second_iter = loop().metrics().iterations;
      note("c");
    });
  });
  loop().set_immediate([&] { note("b"); });
  loop().run();
  EXPECT_EQ(log_, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(second_iter, first_iter + 1);
}

TEST_P(PhaseTest, ClearImmediateCancelsOnlyThatOne) {
  loop().set_immediate([&] { note("a"); });
  auto id = loop().set_immediate([&] { note("b"); });
  loop().set_immediate([&] { note("c"); });
  EXPECT_TRUE(loop().alive());
  loop().clear_immediate(id);
  loop().clear_immediate(id);  // twice is harmless
  loop().clear_immediate(eddy::immediate_id{12345});
  loop().run();
  EXPECT_EQ(log_, (std::vector<std::string>{"a", "c"}));
  EXPECT_FALSE(loop().alive());
  auto only = loop().set_immediate([&] { note("d"); });
  loop().clear_immediate(only);
  EXPECT_FALSE(loop().alive());  // a cleared immediate does not keep the loop
}

TEST_P(PhaseTest, PendingImmediatesMakePollReturnAtOnce) {
  eddy::timer t(loop());
  t.start(1h, [] {});
  bool ran = false;
  loop().set_immediate([&] {
    ran = true;
    t.close();
  });
  std::uint64_t start = eddy::loop::hrtime();
  loop().run();
  EXPECT_TRUE(ran);
  EXPECT_LT(eddy::loop::hrtime() - start, 3'600'000'000'000u);  // it did not wait for the hour
}

TEST_P(PhaseTest, IdleHandlesRunEveryIterationAndKeepPollFromBlocking) {
  eddy::idle i(loop());
  eddy::timer t(loop());
  int idles = 0;
  t.start(1h, [] {});
  i.start([&] {
    if (++idles == 100) {
      i.stop();
      t.close();
    }
  });
  loop().run();
  EXPECT_EQ(idles, 100);
}

TEST_P(PhaseTest, PrepareAndCheckRunEveryIterationAroundPoll) {
  eddy::prepare p(loop());
  eddy::check c(loop());
  eddy::timer t(loop());
  int n = 0;
  p.start([&] { note("prepare"); });
  c.start([&] { note("check"); });
  t.start(1ms, 1ms, [&] {
    note("timer");
    if (++n == 2) {
      p.close();
      c.close();
      t.close();
    }
  });
  loop().run();
  // Every iteration is prepare → (poll) → check; the two timer runs sit between checks and prepares.
  ASSERT_GE(log_.size(), 4u);
  for (std::size_t i = 0; i + 1 < log_.size(); ++i) {
    if (log_[i] == "prepare") {
      EXPECT_EQ(log_[i + 1], "check");
    }
  }
  EXPECT_EQ(log_.back(), "timer");
}

}  // namespace
