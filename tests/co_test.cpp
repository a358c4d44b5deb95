// Coroutines on every port (iocp under Wine): eddy::task, spawn, the co:: awaitables in both
// forms (time, pool, TCP, pipes, UDP, DNS, files, processes, signals), destroying suspended
// tasks and reusing their cells, when_all, when_any, timeout and cancellation (of tasks and
// of plain awaitables).
#include <chrono>
#include <csignal>
#include <stdexcept>
#include <string>
#include <vector>

#include "dns_server.hpp"
#include "eddy/co.hpp"
#include "helper_path.hpp"
#include "platform/contract/signal.hpp"
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

  // Connects client to conn (a fresh tcp each) through a listener that is closed again.
  void connect_pair(eddy::tcp& client, eddy::tcp& conn) {
    co::acceptor server(loop());
    ASSERT_FALSE(server.listen(eddy::socket_address::loopback_v4(0)));
    auto accept = [&]() -> task<> {
      co_await server.accept(conn);
      server.socket().close();
    };
    auto connect = [&]() -> task<> { co_await co::connect(client, server.socket().local_address()); };
    run(co::when_all(accept(), connect()));
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

// ---- UDP

TEST_P(CoTest, UdpSendAndReceiveInBothForms) {
  eddy::udp a(loop()), b(loop());
  ASSERT_FALSE(a.bind(eddy::socket_address::loopback_v4(0)));
  ASSERT_FALSE(b.bind(eddy::socket_address::loopback_v4(0)));
  const auto a_addr = a.local_address();
  const auto b_addr = b.local_address();
  std::vector<std::string> got;
  auto receiver = [&]() -> task<> {
    char buf[64];
    auto d = co_await co::receive(b, std::as_writable_bytes(std::span(buf)));
    EXPECT_EQ(d.from, a_addr);
    EXPECT_FALSE(d.truncated);
    got.emplace_back(buf, d.size);
    // Two buffers make one datagram.
    d = co_await co::receive(b, std::as_writable_bytes(std::span(buf)));
    got.emplace_back(buf, d.size);
    // Too long for the buffer: cut short and flagged.
    auto r = co_await co::receive(b, std::as_writable_bytes(std::span(buf, 4)), co::nothrow);
    EXPECT_FALSE(r.error) << r.error.message();
    EXPECT_TRUE(r.value.truncated);
    got.emplace_back(buf, r.value.size);
  };
  auto sender = [&]() -> task<> {
    co_await co::send(a, eddy::buffer("one"), b_addr);
    const eddy::const_buffer two[] = {eddy::buffer("tw"), eddy::buffer("o")};
    co_await co::send(a, two, b_addr);
    auto r = co_await co::send(a, eddy::buffer("three and more"), b_addr, co::nothrow);
    EXPECT_FALSE(r.error) << r.error.message();
  };
  run(co::when_all(receiver(), sender()));
  EXPECT_EQ(got, (std::vector<std::string>{"one", "two", "thre"}));

  // A closing socket refuses both, in both forms.
  a.close();
  auto closed = [&]() -> task<std::error_code> {
    char buf[8];
    auto r = co_await co::receive(a, std::as_writable_bytes(std::span(buf)), co::nothrow);
    EXPECT_EQ(r.error, errc::closed);
    auto s = co_await co::send(a, eddy::buffer("x"), b_addr, co::nothrow);
    EXPECT_EQ(s.error, errc::closed);
    co_await co::send(a, eddy::buffer("x"), b_addr);
    co_return std::error_code{};
  };
  EXPECT_EQ(run_error(closed()), errc::closed);
  auto recv_throws = [&]() -> task<> {
    char buf[8];
    co_await co::receive(a, std::as_writable_bytes(std::span(buf)));
  };
  EXPECT_EQ(run_error(recv_throws()), errc::closed);
  b.close();
}

// ---- pipes

TEST_P(CoTest, PipeEchoWithAcceptConnectReadWriteShutdown) {
  const std::string name = eddy_test::unique_pipe_name("co");
  const std::string msg = "over a local pipe, in pieces";
  co::pipe_acceptor server(loop());
  ASSERT_FALSE(server.listen(name));
  auto serve = [&]() -> task<std::string> {
    eddy::pipe conn(loop());
    co_await server.accept(conn);
    server.socket().close();
    std::string got;
    char buf[5];
    while (got.size() < msg.size()) {
      auto n = co_await co::read(conn, std::as_writable_bytes(std::span(buf)));
      if (n == 0) break;
      got.append(buf, n);
      co_await co::write(conn, eddy::buffer(std::string_view(buf, n)));
    }
    // Named pipes have no half-close: Windows says not_supported (docs/windows.md).
    auto r = co_await co::shutdown(conn, co::nothrow);
    EXPECT_TRUE(!r.error || r.error == errc::not_supported) << r.error.message();
    conn.close();
    co_return got;
  };
  auto client = [&]() -> task<std::string> {
    eddy::pipe c(loop());
    co_await co::connect(c, name);
    co_await co::write(c, eddy::buffer(msg));
    std::string echoed;
    char buf[3];
    while (auto n = co_await co::read(c, std::as_writable_bytes(std::span(buf)))) echoed.append(buf, n);
    c.close();
    co_return echoed;
  };
  auto [served, echoed] = run(co::when_all(serve(), client()));
  EXPECT_EQ(served, msg);
  EXPECT_EQ(echoed, msg);

  auto nobody = [&]() -> task<std::error_code> {
    eddy::pipe c(loop());
    auto r = co_await co::connect(c, eddy_test::unique_pipe_name("co-nobody"), co::nothrow);
    c.close();
    co_return r.error;
  };
  const auto ec = run(nobody());
  EXPECT_TRUE(ec == errc::no_such_file || ec == errc::connection_refused) << ec.message();
}

// ---- DNS

TEST_P(CoTest, NumericReverseLookup) {
  auto t = [&]() -> task<co::host_service> {
    co_return co_await co::reverse_lookup(loop(), eddy::socket_address::loopback_v4(443), true);
  };
  auto hs = run(t());
  EXPECT_EQ(hs.host, "127.0.0.1");
  EXPECT_EQ(hs.service, "443");
  auto nothrow = [&]() -> task<eddy::result<co::host_service>> {
    co_return co_await co::reverse_lookup(loop(), eddy::socket_address::loopback_v4(80), true, co::nothrow);
  };
  auto r = run(nothrow());
  EXPECT_FALSE(r.error) << r.error.message();
  EXPECT_EQ(r.value.service, "80");
}

// Errors that need no server, on every port: c-ares refuses a malformed name inside the
// call (the one-shot form, on the system's servers: no query leaves the process); without
// c-ares (the Windows build) both forms report not_supported.
TEST_P(CoTest, ResolveErrorsWithoutAServer) {
  using eddy::dns::record_type;
  const std::error_code expected = eddy_test::have_cares ? errc::invalid_argument : errc::not_supported;
  auto one_shot = [&]() -> task<std::error_code> {
    auto r = co_await co::resolve(loop(), std::string(70, 'a') + ".test", record_type::a, co::nothrow);
    co_return r.error;
  };
  EXPECT_EQ(run(one_shot()), expected);
  eddy::dns::resolver r(loop());
  auto with_resolver = [&]() -> task<> { co_await co::resolve(r, std::string(70, 'a') + ".test", record_type::mx); };
  EXPECT_EQ(run_error(with_resolver()), expected);
  r.close();
}

// co::resolve against dnsmasq (dns_server.hpp), as the resolver's own tests; skipped where
// they skip (no c-ares: the Windows build).
class CoResolveTest : public eddy_test::with_dns_server<CoTest> {};
EDDY_INSTANTIATE_PORTS(CoResolveTest);

TEST_P(CoResolveTest, EveryRecordTypeAndTheErrors) {
  using eddy::dns::record_type;
  eddy::dns::resolver r(loop(), {2000ms, 2});
  ASSERT_FALSE(r.set_servers(server_->address()));
  auto t = [&]() -> task<> {
    auto a = co_await co::resolve(r, "a.test", record_type::a);
    EXPECT_EQ(a.type, record_type::a);
    EXPECT_TRUE(a.addresses.size() == 1 && a.addresses[0].address == *eddy::socket_address::parse("10.0.0.1", 0));
    auto aaaa = co_await co::resolve(r, "a.test", record_type::aaaa);
    EXPECT_TRUE(aaaa.addresses.size() == 1 && aaaa.addresses[0].address == *eddy::socket_address::parse("fd00::1", 0));
    auto cname = co_await co::resolve(r, "alias.test", record_type::cname);
    EXPECT_EQ(cname.names, std::vector<std::string>{"a.test"});
    auto mx = co_await co::resolve(r, "mx.test", record_type::mx);
    EXPECT_TRUE(mx.mx.size() == 1 && mx.mx[0].exchange == "mail.test" && mx.mx[0].priority == 10);
    auto ns = co_await co::resolve(r, "test", record_type::ns);
    EXPECT_EQ(ns.names, std::vector<std::string>{"ns.test"});
    auto txt = co_await co::resolve(r, "txt.test", record_type::txt);
    EXPECT_TRUE(txt.txt.size() == 1 && txt.txt[0].chunks == (std::vector<std::string>{"hello", "world"}));
    auto srv = co_await co::resolve(r, "_http._tcp.srv.test", record_type::srv);
    EXPECT_TRUE(srv.srv.size() == 1 && srv.srv[0].name == "web.test" && srv.srv[0].port == 8080);
    auto ptr = co_await co::resolve(r, "1.0.0.10.in-addr.arpa", record_type::ptr);
    EXPECT_EQ(ptr.names, std::vector<std::string>{"a.test"});
    auto soa = co_await co::resolve(r, "test", record_type::soa);
    EXPECT_TRUE(soa.soa && soa.soa->hostmaster == "hostmaster.test");
    auto missing = co_await co::resolve(r, "missing.test", record_type::a, co::nothrow);
    EXPECT_EQ(missing.error, errc::host_not_found) << missing.error.message();
    co_await co::resolve(r, "a.test", record_type::txt);  // throws no_data
  };
  const auto ec = run_error(t());
  EXPECT_EQ(ec, errc::no_data) << ec.message();
  r.close();
}

// ---- files

TEST_P(CoTest, FileRoundTripDirectoriesAndErrors) {
  using eddy::fs::open_flags;
  auto t = [&]() -> task<> {
    const std::string dir = co_await co::mkdtemp(loop(), "eddy_co_fs_XXXXXX");
    const std::string path = dir + "/data.txt";
    auto f = co_await co::open(loop(), path, open_flags::write | open_flags::create | open_flags::truncate, 0644);
    EXPECT_EQ(co_await co::write(loop(), f, eddy::buffer("hello, "), -1), 7u);
    const eddy::const_buffer more[] = {eddy::buffer("file"), eddy::buffer("s")};
    EXPECT_EQ(co_await co::write(loop(), f, more, -1), 5u);
    co_await co::fsync(loop(), f);
    EXPECT_EQ((co_await co::fstat(loop(), f)).size, 12u);
    co_await co::ftruncate(loop(), f, 11);
    co_await co::close(loop(), f);

    f = co_await co::open(loop(), path, open_flags::read, 0);
    char buf[32] = {};
    auto n = co_await co::read(loop(), f, std::as_writable_bytes(std::span(buf)), 0);
    EXPECT_EQ(std::string(buf, n), "hello, file");
    auto at_end = co_await co::read(loop(), f, std::as_writable_bytes(std::span(buf)), 11, co::nothrow);
    EXPECT_TRUE(at_end && at_end.value == 0u);
    co_await co::close(loop(), f);

    co_await co::mkdir(loop(), dir + "/sub", 0755);
    co_await co::copyfile(loop(), path, dir + "/sub/copy.txt", eddy::fs::copy_flags::none);
    co_await co::rename(loop(), dir + "/sub/copy.txt", dir + "/sub/moved.txt");
    co_await co::access(loop(), dir + "/sub/moved.txt", eddy::fs::access_mode::read);
    EXPECT_EQ(co_await co::read_file(loop(), dir + "/sub/moved.txt"), "hello, file");
    auto entries = co_await co::scandir(loop(), dir + "/sub");
    EXPECT_TRUE(entries.size() == 1 && entries[0].name == "moved.txt" &&
                entries[0].type == eddy::fs::file_type::regular);
    EXPECT_EQ((co_await co::lstat(loop(), dir + "/sub")).type, eddy::fs::file_type::directory);
    auto not_empty = co_await co::rmdir(loop(), dir + "/sub", co::nothrow);
    EXPECT_TRUE(not_empty.error == errc::directory_not_empty || not_empty.error == errc::file_exists)
        << not_empty.error.message();
    co_await co::unlink(loop(), dir + "/sub/moved.txt");
    co_await co::rmdir(loop(), dir + "/sub");
    auto gone = co_await co::scandir(loop(), dir + "/sub", co::nothrow);
    EXPECT_EQ(gone.error, errc::no_such_file);
    co_await co::unlink(loop(), path);
    co_await co::rmdir(loop(), dir);
    // The thrown error names the call and the path.
    co_await co::open(loop(), dir + "/missing", open_flags::read, 0);
  };
  try {
    run(t());
    ADD_FAILURE() << "no exception";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), errc::no_such_file);
    const std::string what = e.what();
    EXPECT_NE(what.find("open"), std::string::npos) << what;
    EXPECT_NE(what.find("eddy_co_fs_"), std::string::npos) << what;
    EXPECT_NE(what.find("/missing"), std::string::npos) << what;
  }
}

// ---- timeout and cancellation of plain awaitables

TEST_P(CoTest, TimeoutAroundAReadCancelsItAndTheStreamStaysUsable) {
  eddy::tcp client(loop()), conn(loop());
  connect_pair(client, conn);
  char buf[16];  // outlives both reads: the first stays borrowed until it is cancelled
  const auto start = loop().now();
  auto first = co::timeout(loop(), 20ms, co::read(conn, std::as_writable_bytes(std::span(buf))));
  EXPECT_EQ(run_error(std::move(first)), errc::timed_out);
  EXPECT_GE(loop().now() - start, 20u);
  EXPECT_FALSE(conn.is_reading());
  auto again = [&]() -> task<std::string> {
    co_await co::write(client, eddy::buffer("later"));
    auto n = co_await co::timeout(loop(), 1h, co::read(conn, std::as_writable_bytes(std::span(buf))));
    co_return std::string(buf, n);
  };
  EXPECT_EQ(run(again()), "later");
  client.close();
  conn.close();
}

TEST_P(CoTest, ClosingAStreamResumesATaskWaitingToReadIt) {
  eddy::tcp client(loop()), conn(loop());
  connect_pair(client, conn);
  char buf[16];
  bool closed = false;
  auto reader = [&]() -> task<std::error_code> {
    auto r = co_await co::read(conn, std::as_writable_bytes(std::span(buf)), co::nothrow);
    EXPECT_FALSE(closed) << "the read ends before the close callback";
    co_return r.error;
  };
  auto closer = [&]() -> task<> {
    co_await co::yield(loop());  // the reader waits by now
    conn.close([&] { closed = true; });
  };
  auto [ec, none] = run(co::when_all(reader(), closer()));
  EXPECT_EQ(ec, errc::operation_canceled);
  EXPECT_TRUE(closed);
  client.close();
}

TEST_P(CoTest, ClosingAUdpSocketResumesATaskWaitingToReceive) {
  eddy::udp u(loop());
  ASSERT_FALSE(u.bind(eddy::socket_address::loopback_v4(0)));
  char buf[16];
  auto receiver = [&]() -> task<std::error_code> {
    co_return (co_await co::receive(u, std::as_writable_bytes(std::span(buf)), co::nothrow)).error;
  };
  auto closer = [&]() -> task<> {
    co_await co::yield(loop());
    u.close();
  };
  auto [ec, none] = run(co::when_all(receiver(), closer()));
  EXPECT_EQ(ec, errc::operation_canceled);
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
