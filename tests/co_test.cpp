// Coroutines on every port (iocp under Wine): the co:: awaitables of time, the pool,
// processes and signals in both forms (eddy/co/timer.hpp, work.hpp, process.hpp, signal.hpp),
// destroying suspended tasks and reusing their cells, when_all, when_any, timeout and
// cancellation (eddy/co/combinators.hpp). Tasks themselves: task_test.cpp; streams, UDP,
// files and DNS: co_stream_test.cpp, co_udp_test.cpp, co_fs_test.cpp, co_dns_test.cpp.
#include <chrono>
#include <csignal>
#include <stdexcept>
#include <string>
#include <vector>

#include "co_fixture.hpp"
#include "helper_path.hpp"
#include "platform/contract/signal.hpp"

namespace {

using namespace std::chrono_literals;
using eddy::errc;
using eddy::task;
using eddy_test::CoTest;
namespace co = eddy::co;
using eddy_test::answer;
using eddy_test::thrower;

#if defined(_WIN32)
constexpr int test_signal = eddy::signals::sigbreak;
void send_signal(int signum) { eddy::contract::signal::dispatch(signum); }
#else
constexpr int test_signal = SIGUSR1;
void send_signal(int signum) { ::raise(signum); }
#endif

EDDY_INSTANTIATE_PORTS(CoTest);

TEST_P(CoTest, SleepWaitsAtLeastItsDuration) {
  auto t = [&]() -> task<std::uint64_t> {
    const auto start = loop().now();
    co_await co::sleep(loop(), 20ms);
    auto r = co_await co::sleep(loop(), 1ms, co::nothrow);
    EXPECT_TRUE(r);
    eddy::timer kept(loop());  // sleeps on a timer of the caller's
    co_await co::sleep(kept, 2ms);
    co_await co::sleep(kept, 2ms, co::nothrow);
    kept.close();
    co_return loop().now() - start;
  };
  EXPECT_GE(run(t()), 25u);
}

TEST_P(CoTest, YieldLetsOtherTasksRun) {
  std::vector<int> order;
  auto worker = [&](int id) -> task<> {
    for (int i = 0; i < 3; ++i) {
      order.push_back(id * 10 + i);
      co_await co::yield(loop());
    }
  };
  run(co::when_all(worker(1), worker(2)));
  EXPECT_EQ(order, (std::vector<int>{10, 20, 11, 21, 12, 22}));
}

TEST_P(CoTest, QueueWorkResumesWithTheResultOrTheException) {
  auto t = [&]() -> task<int> {
    int v = co_await co::queue_work(loop(), [] { return 6 * 7; });
    auto r = co_await co::queue_work(
        loop(), [] { return 1; }, co::nothrow);
    EXPECT_TRUE(r);
    co_await co::queue_work(loop(), [] {});
    co_return v + r.value;
  };
  EXPECT_EQ(run(t()), 43);
  auto fails = [&]() -> task<int> {
    co_return co_await co::queue_work(loop(), []() -> int { throw std::logic_error("pool"); });
  };
  EXPECT_THROW(run(fails()), std::logic_error);
}

TEST_P(CoTest, RunProcessWaitsForTheExit) {
  eddy::process_options o;
  o.file = eddy_test::helper_path();
  o.args = {o.file, "exit", "7"};
  auto t = [&]() -> task<std::int64_t> {
    eddy::process p(loop());
    auto st = co_await co::run_process(p, o);
    p.close();
    co_return st.exit_status;
  };
  EXPECT_EQ(run(t()), 7);
  o.file = "no-such-program-eddy-co";
  o.args.clear();
  auto missing = [&]() -> task<std::error_code> {
    eddy::process p(loop());
    auto r = co_await co::run_process(p, o, co::nothrow);
    p.close();
    co_return r.error;
  };
  EXPECT_EQ(run(missing()), errc::no_such_file);
}

TEST_P(CoTest, WaitForASignal) {
  auto t = [&]() -> task<int> {
    auto bad = co_await co::signal(loop(), 0, co::nothrow);
    EXPECT_EQ(bad.error, errc::invalid_argument);
    co_return co_await co::signal(loop(), test_signal);
  };
  auto waiter = t();
  auto sender = [&]() -> task<> {
    co_await co::yield(loop());
    send_signal(test_signal);
  };
  auto [sig, none] = run(co::when_all(std::move(waiter), sender()));
  EXPECT_EQ(sig, test_signal);
}

// Destroying a task suspended in an operation cancels it: the loop ends at once, nothing
// runs later, ASan sees no use of the freed frame.
TEST_P(CoTest, DestroyingASuspendedTaskCancelsItsOperation) {
  co::acceptor server(loop());
  ASSERT_FALSE(server.listen(eddy::socket_address::loopback_v4(0)));
  eddy::tcp client(loop()), conn(loop());
  bool connected = false;
  ASSERT_FALSE(client.connect(server.socket().local_address(), [&](std::error_code ec) { connected = !ec; }));
  eddy::udp u(loop());
  ASSERT_FALSE(u.bind(eddy::socket_address::loopback_v4(0)));
  eddy::timer kept(loop());
  static char read_buf[16];
  bool resumed = false;
  auto blocked = [&](int which) -> task<> {
    switch (which) {
      case 0:
        co_await co::sleep(loop(), 1h);
        break;
      case 1:
        co_await co::read(conn, std::as_writable_bytes(std::span(read_buf)));
        break;
      case 2:
        co_await co::queue_work(loop(), [] {});
        break;
      case 3:
        co_await co::yield(loop());
        break;
      case 4:
        co_await co::signal(loop(), test_signal);
        break;
      case 5:
        co_await server.accept(conn);
        break;
      case 6:
        co_await co::read_file(loop(), "eddy_co_test_missing");
        break;
      case 7:
        co_await co::receive(u, std::as_writable_bytes(std::span(read_buf)));
        break;
      case 8:
        co_await co::sleep(kept, 1h);
        break;
      case 9:
        co_await co::timeout(loop(), 1h, co::read(conn, std::as_writable_bytes(std::span(read_buf))));
        break;
    }
    resumed = true;
  };
  auto accept_one = [&]() -> task<> { co_await server.accept(conn); };
  auto first = accept_one();
  first.handle().resume();
  while (!connected || !first.done()) loop().run(eddy::run_mode::once);
  first.reset();

  for (int which = 0; which < 10; ++which) {
    auto t = blocked(which);
    t.handle().resume();  // started: now suspended in the operation
    EXPECT_FALSE(t.done());
    t.reset();
  }
  EXPECT_FALSE(conn.is_reading());
  EXPECT_FALSE(u.is_receiving());
  EXPECT_FALSE(kept.is_active());
  u.close();
  kept.close();
  client.close();
  conn.close();
  server.socket().close();
  const auto start = loop().now();
  loop().run();
  EXPECT_LT(loop().now() - start, 10000u);
  EXPECT_FALSE(resumed);
}

TEST_P(CoTest, WhenAllGivesResultsInArgumentOrder) {
  std::vector<int> finished;
  auto after = [&](std::chrono::milliseconds d, int v) -> task<int> {
    co_await co::sleep(loop(), d);
    finished.push_back(v);
    co_return v;
  };
  auto none = [&]() -> task<> { co_await co::sleep(loop(), 5ms); };
  auto [a, b, c, d] = run(co::when_all(after(30ms, 1), after(10ms, 2), after(20ms, 3), none()));
  EXPECT_EQ(a, 1);
  EXPECT_EQ(b, 2);
  EXPECT_EQ(c, 3);
  EXPECT_EQ(finished, (std::vector<int>{2, 3, 1}));
  EXPECT_THROW(run(co::when_all(after(1ms, 1), thrower())), std::runtime_error);
}

TEST_P(CoTest, WhenAnyTakesTheFirstAndCancelsTheOthers) {
  int losers_resumed = 0;
  auto after = [&](std::chrono::milliseconds d, int v) -> task<int> {
    co_await co::sleep(loop(), d);
    if (v != 2) ++losers_resumed;
    co_return v;
  };
  std::vector<task<int>> tasks;
  tasks.push_back(after(1h, 1));
  tasks.push_back(after(5ms, 2));
  tasks.push_back(after(2h, 3));
  const auto start = loop().now();
  auto r = run(co::when_any(std::move(tasks)));
  EXPECT_EQ(r.index, 1u);
  EXPECT_EQ(r.value, 2);
  EXPECT_LT(loop().now() - start, 10000u);  // the losers' timers are gone
  EXPECT_EQ(losers_resumed, 0);

  // A task that finishes at once wins; the ones after it never start.
  bool later_started = false;
  std::vector<task<int>> instant;
  instant.push_back(answer());
  auto later = [&]() -> task<int> {
    later_started = true;
    co_return 0;
  };
  instant.push_back(later());
  EXPECT_EQ(run(co::when_any(std::move(instant))).index, 0u);
  EXPECT_FALSE(later_started);
  EXPECT_EQ(run_error(co::when_any(std::vector<task<>>{})), errc::invalid_argument);
}

TEST_P(CoTest, TimeoutCancelsASlowOperation) {
  auto slow = [&]() -> task<int> {
    co_await co::sleep(loop(), 1h);
    co_return 1;
  };
  const auto start = loop().now();
  EXPECT_EQ(run_error(co::timeout(loop(), 10ms, slow())), errc::timed_out);
  EXPECT_LT(loop().now() - start, 10000u);
  EXPECT_EQ(run(co::timeout(loop(), 1h, answer())), 42);
}

TEST_P(CoTest, CancellationResumesWithOperationCanceled) {
  co::cancellation_source source;
  auto slow = [&]() -> task<> { co_await co::sleep(loop(), 1h); };
  auto canceller = [&]() -> task<> {
    co_await co::sleep(loop(), 5ms);
    source.cancel();
  };
  auto guarded = co::with_cancellation(source.token(), slow());
  auto outcome = [&]() -> task<std::error_code> {
    try {
      co_await guarded;
    } catch (const std::system_error& e) {
      co_return e.code();
    }
    co_return std::error_code{};
  };
  auto [ec, none] = run(co::when_all(outcome(), canceller()));
  EXPECT_EQ(ec, errc::operation_canceled);
  EXPECT_TRUE(source.token().cancelled());
  // A default token never cancels; an already cancelled one cancels at once.
  EXPECT_EQ(run(co::with_cancellation(co::cancellation_token{}, answer())), 42);
  EXPECT_EQ(run_error(co::with_cancellation(source.token(), slow())), errc::operation_canceled);
}

TEST_P(CoTest, WithCancellationAroundASleep) {
  co::cancellation_source source;
  auto canceller = [&]() -> task<> {
    co_await co::sleep(loop(), 5ms);
    source.cancel();
  };
  auto sleeper = [&]() -> task<std::error_code> {
    try {
      co_await co::with_cancellation(source.token(), co::sleep(loop(), 1h));
    } catch (const std::system_error& e) {
      co_return e.code();
    }
    co_return std::error_code{};
  };
  const auto start = loop().now();
  auto [ec, none] = run(co::when_all(sleeper(), canceller()));
  EXPECT_EQ(ec, errc::operation_canceled);
  EXPECT_LT(loop().now() - start, 10000u);
  // Not cancelled: the awaitable's own result, in its nothrow form too.
  co::cancellation_source idle;
  auto r = run(co::with_cancellation(idle.token(), co::sleep(loop(), 1ms, co::nothrow)));
  EXPECT_FALSE(r.error);
}

// A cell whose task died while its write was in flight goes back to the pool when the
// write's callback has run, and then serves a new task (ASan checks the old one is gone).
TEST_P(CoTest, ACellReusedAfterItsTaskDied) {
  eddy::tcp client(loop()), conn(loop());
  connect_pair(client, conn);
  auto& pool = co::detail::cell_pool<void>::local();
  const std::size_t free_before = pool.free_count();
  ASSERT_GE(free_before, 1u);  // the connect's
  auto writer = [&](std::string_view what) -> task<> { co_await co::write(client, eddy::buffer(what)); };
  auto first = writer("first ");
  first.handle().resume();
  ASSERT_FALSE(first.done());
  EXPECT_EQ(pool.free_count(), free_before - 1);
  first.reset();  // the write's callback still holds the cell
  EXPECT_EQ(pool.free_count(), free_before - 1);
  while (pool.free_count() != free_before) loop().run(eddy::run_mode::once);
  auto second = [&]() -> task<std::string> {
    co_await writer("second");
    co_await co::shutdown(client);
    std::string got;
    char buf[8];
    while (auto n = co_await co::read(conn, std::as_writable_bytes(std::span(buf)))) got.append(buf, n);
    co_return got;
  };
  EXPECT_EQ(run(second()), "first second");
  EXPECT_EQ(pool.free_count(), free_before);  // the same cell served both writes and the shutdown
  client.close();
  conn.close();
}

}  // namespace
