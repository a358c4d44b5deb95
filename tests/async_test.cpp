// async: the one handle other threads may poke.
#include <atomic>
#include <thread>
#include <vector>

#include "port_fixture.hpp"

namespace {

using namespace std::chrono_literals;
using eddy_test::PortTest;

class AsyncTest : public PortTest {};
EDDY_INSTANTIATE_PORTS(AsyncTest);

TEST_P(AsyncTest, ASendFromAnotherThreadWakesABlockedLoop) {
  int calls = 0;
  eddy::async a(loop(), [&] {
    ++calls;
    a.close();
  });
  std::thread sender([&] { a.send(); });
  loop().run();  // blocks in poll until the send arrives
  sender.join();
  EXPECT_EQ(calls, 1);
}

TEST_P(AsyncTest, RepeatedSendsCoalesce) {
  int calls = 0;
  eddy::async a(loop(), [&] { ++calls; });
  for (int i = 0; i < 1000; ++i) a.send();
  loop().run(eddy::run_mode::nowait);
  EXPECT_EQ(calls, 1);
  a.send();
  a.send();
  loop().run(eddy::run_mode::nowait);
  EXPECT_EQ(calls, 2);
  a.close();
}

TEST_P(AsyncTest, FourThreadsTimesManySendsCoalesceAndTheLoopExitsOnClose) {
  constexpr int threads = 4;
  constexpr int sends_per_thread = 100000;
  std::atomic<int> sent{0};
  std::atomic<int> finished{0};
  std::vector<std::thread> senders;
  int callbacks = 0;
  eddy::async a(loop(), [&] {
    ++callbacks;
    if (finished.load() == threads) {
      for (auto& t : senders) t.join();  // every send() has returned
      a.close();
    }
  });
  for (int t = 0; t < threads; ++t) {
    senders.emplace_back([&] {
      for (int i = 0; i < sends_per_thread; ++i) {
        a.send();
        sent.fetch_add(1, std::memory_order_relaxed);
      }
      finished.fetch_add(1);
      a.send();  // the callback after this one sees finished == threads
    });
  }
  EXPECT_FALSE(loop().run());  // returns once the async handle is closed
  EXPECT_EQ(sent.load(), threads * sends_per_thread);
  EXPECT_GE(callbacks, 1);
  EXPECT_LT(callbacks, threads * sends_per_thread + threads);  // coalesced
}

TEST_P(AsyncTest, UnrefdAsyncDoesNotKeepTheLoopAlive) {
  eddy::async a(loop(), [] {});
  EXPECT_TRUE(a.is_active());
  EXPECT_TRUE(loop().alive());
  a.unref();
  EXPECT_FALSE(loop().run());
  a.close();
}

TEST_P(AsyncTest, TwoAsyncsOnlyTheSentOneRuns) {
  int a_calls = 0, b_calls = 0;
  eddy::async a(loop(), [&] { ++a_calls; });
  eddy::async b(loop(), [&] { ++b_calls; });
  b.send();
  loop().run(eddy::run_mode::nowait);
  EXPECT_EQ(a_calls, 0);
  EXPECT_EQ(b_calls, 1);
  a.close();
  b.close();
}

TEST_P(AsyncTest, WakesFromAnotherThreadWhileTimersArePending) {
  eddy::timer t(loop());
  t.start(1h, [] {});
  int calls = 0;
  eddy::async a(loop(), [&] {
    ++calls;
    a.close();
    t.close();
  });
  std::thread sender([&] { a.send(); });
  loop().run();
  sender.join();
  EXPECT_EQ(calls, 1);
}

}  // namespace
