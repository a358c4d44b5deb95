// Signals: delivery to every handle and every loop, oneshot, stop, and the default
// disposition coming back. POSIX raises real signals; on Windows the console-control hook
// cannot be triggered from inside a test, so the test feeds the same entry point the hook
// calls (eddy::contract::signal::dispatch) — the path from there to the callbacks is the same.
#include <csignal>
#include <thread>

#include "platform/contract/signal.hpp"
#include "port_fixture.hpp"

#if !defined(_WIN32)
#include <signal.h>
#endif

namespace {

using eddy_test::PortTest;

class SignalTest : public PortTest {};
EDDY_INSTANTIATE_PORTS(SignalTest);

#if defined(_WIN32)
constexpr int test_signal = eddy::signals::sigbreak;
constexpr int other_signal = eddy::signals::sigint;
void send_signal(int signum) { eddy::contract::signal::dispatch(signum); }
#else
constexpr int test_signal = SIGUSR1;
constexpr int other_signal = SIGUSR2;
// raise() directs the signal at the calling thread, so its handler has run when raise()
// returns. (A process-directed kill() may land on a thread blocked in a system call that
// ThreadSanitizer does not intercept, which defers the handler indefinitely.)
void send_signal(int signum) { ::raise(signum); }
#endif

TEST_P(SignalTest, EveryHandleForTheSignalFires) {
  eddy::signal a(loop()), b(loop()), other(loop());
  int a_calls = 0, b_calls = 0, other_calls = 0;
  ASSERT_FALSE(a.start(test_signal, [&](int s) {
    EXPECT_EQ(s, test_signal);
    ++a_calls;
    a.close();
  }));
  ASSERT_FALSE(b.start(test_signal, [&](int) {
    ++b_calls;
    b.close();
    other.close();
  }));
  ASSERT_FALSE(other.start(other_signal, [&](int) { ++other_calls; }));
  EXPECT_EQ(a.signum(), test_signal);
  send_signal(test_signal);
  loop().run();
  EXPECT_EQ(a_calls, 1);
  EXPECT_EQ(b_calls, 1);
  EXPECT_EQ(other_calls, 0);
}

TEST_P(SignalTest, OneshotStopsBeforeItsCallback) {
  eddy::signal s(loop());
  int calls = 0;
  ASSERT_FALSE(s.start_oneshot(test_signal, [&](int) {
    ++calls;
    EXPECT_FALSE(s.is_active());
  }));
  send_signal(test_signal);
  loop().run();  // returns: the stopped handle no longer keeps the loop alive
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(s.signum(), 0);
  s.close();
}

TEST_P(SignalTest, ASignalFromAnotherThreadWakesABlockedLoop) {
  eddy::signal s(loop());
  int calls = 0;
  ASSERT_FALSE(s.start(test_signal, [&](int) {
    ++calls;
    s.close();
  }));
  std::thread t([] { send_signal(test_signal); });
  loop().run();
  t.join();
  EXPECT_EQ(calls, 1);
}

TEST_P(SignalTest, TwoLoopsBothReceiveIt) {
  std::error_code ec;
  auto second = eddy::loop::create(eddy::loop_options{GetParam()}, ec);
  ASSERT_TRUE(second) << ec.message();
  int first_calls = 0, second_calls = 0;
  {
    eddy::signal s1(loop()), s2(*second);
    ASSERT_FALSE(s1.start(test_signal, [&](int) {
      ++first_calls;
      s1.close();
    }));
    ASSERT_FALSE(s2.start(test_signal, [&](int) {
      ++second_calls;
      s2.close();
    }));
    send_signal(test_signal);
    loop().run();
    second->run();
  }
  EXPECT_EQ(first_calls, 1);
  EXPECT_EQ(second_calls, 1);
  second->run();
  EXPECT_FALSE(second->close());
}

TEST_P(SignalTest, BadSignalNumbersAreRejected) {
  eddy::signal s(loop());
  EXPECT_EQ(s.start(0, [](int) {}), eddy::errc::invalid_argument);
  EXPECT_EQ(s.start(64, [](int) {}), eddy::errc::invalid_argument);
#if !defined(_WIN32)
  EXPECT_EQ(s.start(SIGKILL, [](int) {}), eddy::errc::not_supported);
#else
  EXPECT_EQ(s.start(22, [](int) {}), eddy::errc::not_supported);  // SIGABRT: no console event
#endif
  EXPECT_FALSE(s.is_active());
  s.close();
}

#if !defined(_WIN32)
TEST_P(SignalTest, StoppingTheLastHandleRestoresTheDefaultDisposition) {
  struct sigaction before {};
  ::sigaction(SIGUSR2, nullptr, &before);
  ASSERT_EQ(before.sa_handler, SIG_DFL);
  {
    eddy::signal s(loop());
    ASSERT_FALSE(s.start(SIGUSR2, [](int) {}));
    struct sigaction during {};
    ::sigaction(SIGUSR2, nullptr, &during);
    EXPECT_NE(during.sa_handler, SIG_DFL);
    s.stop();
    struct sigaction after {};
    ::sigaction(SIGUSR2, nullptr, &after);
    EXPECT_EQ(after.sa_handler, SIG_DFL);
    s.close();
  }
}

#endif

}  // namespace
