// Coroutines on every port (iocp under Wine): eddy::task, spawn, the co:: awaitables in both
// forms, destroying suspended tasks, when_all, when_any, timeout and cancellation.
#include <chrono>
#include <csignal>
#include <stdexcept>
#include <string>
#include <vector>

#include "eddy/co.hpp"
#include "helper_path.hpp"
#include "platform/signal.hpp"
#include "port_fixture.hpp"

namespace {

using namespace std::chrono_literals;
using eddy::errc;
using eddy::task;
using eddy_test::PortTest;
namespace co = eddy::co;

#if defined(_WIN32)
constexpr int test_signal = eddy::signals::sigbreak;
void send_signal(int signum) { eddy::detail::sig::dispatch(signum); }
#else
constexpr int test_signal = SIGUSR1;
void send_signal(int signum) { ::raise(signum); }
#endif

class CoTest : public PortTest {
 protected:
  // Spawns t and runs the loop until it is done; returns t's value, rethrows its exception.
  template <class T>
  T run(task<T> t) {
    std::exception_ptr error;
    std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> value;
    bool finished = false;
    if constexpr (std::is_void_v<T>) {
      eddy::spawn(loop(), std::move(t), [&](std::exception_ptr e) {
        finished = true;
        error = e;
      });
    } else {
      eddy::spawn(loop(), std::move(t), [&](std::exception_ptr e, std::optional<T> v) {
        finished = true;
        error = e;
        value = std::move(v);
      });
    }
    // A guard, as in the process tests: a test that would hang fails instead.
    eddy::timer guard(loop());
    bool expired = false;
    guard.start(30s, [&] {
      expired = true;
      loop().walk([](eddy::handle& h) { h.close(); });
    });
    guard.unref();
    loop().run();
    EXPECT_FALSE(expired) << "the loop did not finish in time";
    EXPECT_TRUE(finished);
    if (error) std::rethrow_exception(error);
    if constexpr (!std::is_void_v<T>) return std::move(*value);
  }

  // The code of the std::system_error that running t throws (empty if none).
  template <class T>
  std::error_code run_error(task<T> t) {
    try {
      run(std::move(t));
    } catch (const std::system_error& e) {
      return e.code();
    }
    return {};
  }
};
EDDY_INSTANTIATE_PORTS(CoTest);

task<int> answer() { co_return 42; }
task<int> add_one(task<int> t) { co_return co_await t + 1; }
task<int> thrower() {
  throw std::runtime_error("boom");
  co_return 0;
}

TEST_P(CoTest, TasksAreLazyAndAwaitTasks) {
  bool started = false;
  // (Coroutine lambdas are named: their captures live in the lambda object.)
  auto body = [&]() -> task<int> {
    started = true;
    co_return co_await add_one(answer());
  };
  auto t = body();
  EXPECT_FALSE(started);
  EXPECT_EQ(run(std::move(t)), 43);
  EXPECT_TRUE(started);
}

TEST_P(CoTest, ExceptionsPropagateToTheAwaiterAndToSpawnsCallback) {
  auto catches = []() -> task<std::string> {
    try {
      co_await thrower();
    } catch (const std::runtime_error& e) {
      co_return e.what();
    }
    co_return "no exception";
  };
  EXPECT_EQ(run(catches()), "boom");
  EXPECT_THROW(run(add_one(thrower())), std::runtime_error);
}

TEST_P(CoTest, AnUnhandledExceptionWithoutCallbackGoesToTheLoopHandler) {
  std::string seen;
  loop().set_uncaught_exception_handler([&](std::exception_ptr e) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      seen = ex.what();
    }
  });
  auto body = [&]() -> task<> {
    co_await co::yield(loop());
    throw std::runtime_error("lost");
  };
  eddy::spawn(loop(), body());
  loop().run();
  EXPECT_EQ(seen, "lost");
}

TEST_P(CoTest, SleepWaitsAtLeastItsDuration) {
  auto t = [&]() -> task<std::uint64_t> {
    const auto start = loop().now();
    co_await co::sleep(loop(), 20ms);
    auto r = co_await co::sleep(loop(), 1ms, co::nothrow);
    EXPECT_TRUE(r);
    co_return loop().now() - start;
  };
  EXPECT_GE(run(t()), 21u);
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
    auto r = co_await co::queue_work(loop(), [] { return 1; }, co::nothrow);
    EXPECT_TRUE(r);
    co_await co::queue_work(loop(), [] {});
    co_return v + r.value;
  };
  EXPECT_EQ(run(t()), 43);
  auto fails = [&]() -> task<int> { co_return co_await co::queue_work(loop(), []() -> int { throw std::logic_error("pool"); }); };
  EXPECT_THROW(run(fails()), std::logic_error);
}

TEST_P(CoTest, TcpEchoWithAcceptConnectReadWriteShutdown) {
  co::acceptor server(loop());
  ASSERT_FALSE(server.listen(eddy::socket_address::loopback_v4(0)));
  const auto port = server.socket().local_address().port();

  auto serve = [&]() -> task<std::string> {
    eddy::tcp conn(loop());
    co_await server.accept(conn);
    server.socket().close();
    std::string got;
    char buf[16];
    for (;;) {
      auto n = co_await co::read(conn, std::as_writable_bytes(std::span(buf)));
      if (n == 0) break;
      got.append(buf, n);
      co_await co::write(conn, eddy::buffer(std::string_view(buf, n)));
    }
    co_await co::shutdown(conn);
    conn.close();
    co_return got;
  };
  auto client = [&]() -> task<std::string> {
    eddy::tcp c(loop());
    co_await co::connect(c, eddy::socket_address::loopback_v4(port));
    const std::string msg = "hello, coroutines: more than sixteen bytes";
    co_await co::write(c, eddy::buffer(msg));
    co_await co::shutdown(c);
    std::string echoed;
    char buf[7];
    for (;;) {
      auto r = co_await co::read(c, std::as_writable_bytes(std::span(buf)), co::nothrow);
      EXPECT_FALSE(r.error) << r.error.message();
      if (r.error || r.value == 0) break;
      echoed.append(buf, r.value);
    }
    c.close();
    co_return echoed;
  };
  auto [served, echoed] = run(co::when_all(serve(), client()));
  EXPECT_EQ(served, "hello, coroutines: more than sixteen bytes");
  EXPECT_EQ(echoed, served);
}

TEST_P(CoTest, ConnectRefusedInBothForms) {
  std::uint16_t port = 0;
  {
    eddy::tcp t(loop());
    ASSERT_FALSE(t.bind(eddy::socket_address::loopback_v4(0)));
    port = t.local_address().port();
    t.close();
    loop().run();
  }
  auto nothrow = [&]() -> task<std::error_code> {
    eddy::tcp c(loop());
    auto r = co_await co::connect(c, eddy::socket_address::loopback_v4(port), co::nothrow);
    c.close();
    co_return r.error;
  };
  EXPECT_EQ(run(nothrow()), errc::connection_refused);
  auto throws = [&]() -> task<> {
    eddy::tcp c(loop());
    co_await co::connect(c, eddy::socket_address::loopback_v4(port));
  };
  EXPECT_EQ(run_error(throws()), errc::connection_refused);
}

TEST_P(CoTest, FileOperationsAndTheirErrors) {
  const std::string path = "eddy_co_test_" + std::string(eddy::to_string(GetParam())) + ".txt";
  auto t = [&]() -> task<std::string> {
    co_await co::write_file(loop(), path, "some content");
    auto st = co_await co::stat(loop(), path);
    EXPECT_EQ(st.size, 12u);
    std::string data = co_await co::read_file(loop(), path);
    co_await co::unlink(loop(), path);
    auto gone = co_await co::read_file(loop(), path, co::nothrow);
    EXPECT_EQ(gone.error, errc::no_such_file);
    co_return data;
  };
  EXPECT_EQ(run(t()), "some content");
  auto missing = [&]() -> task<std::string> { co_return co_await co::read_file(loop(), "no/such/dir/file"); };
  try {
    run(missing());
    ADD_FAILURE() << "no exception";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), errc::no_such_file);
    EXPECT_NE(std::string(e.what()).find("no/such/dir/file"), std::string::npos) << e.what();
  }
}

TEST_P(CoTest, LookupGivesAddressesOrAnError) {
  auto t = [&]() -> task<std::vector<eddy::socket_address>> {
    co_return co_await co::lookup(loop(), "127.0.0.1", "80", eddy::dns::lookup_hints{.numeric_host = true});
  };
  auto addrs = run(t());
  ASSERT_EQ(addrs.size(), 1u);
  EXPECT_EQ(addrs[0].port(), 80);
  auto bad = [&]() -> task<std::error_code> {
    auto r = co_await co::lookup(loop(), "not an address", "80", co::nothrow, {.numeric_host = true});
    co_return r.error;
  };
  EXPECT_TRUE(run(bad()));
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
  static char read_buf[16];
  bool resumed = false;
  auto blocked = [&](int which) -> task<> {
    switch (which) {
      case 0: co_await co::sleep(loop(), 1h); break;
      case 1: co_await co::read(conn, std::as_writable_bytes(std::span(read_buf))); break;
      case 2: co_await co::queue_work(loop(), [] {}); break;
      case 3: co_await co::yield(loop()); break;
      case 4: co_await co::signal(loop(), test_signal); break;
      case 5: co_await server.accept(conn); break;
      case 6: co_await co::read_file(loop(), "eddy_co_test_missing"); break;
    }
    resumed = true;
  };
  auto accept_one = [&]() -> task<> { co_await server.accept(conn); };
  auto first = accept_one();
  first.handle().resume();
  while (!connected || !first.done()) loop().run(eddy::run_mode::once);
  first.reset();

  for (int which = 0; which < 7; ++which) {
    auto t = blocked(which);
    t.handle().resume();  // started: now suspended in the operation
    EXPECT_FALSE(t.done());
    t.reset();
  }
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

}  // namespace
