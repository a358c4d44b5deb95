// eddy::co streams (eddy/co/stream.hpp) on every port: TCP and pipe echo through the acceptor,
// connect, read, write and shutdown in both forms; a read under timeout or closed under a
// waiting task.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "co_fixture.hpp"
#include "helper_path.hpp"

namespace {

using namespace std::chrono_literals;
using eddy::errc;
using eddy::task;
using eddy_test::CoTest;
namespace co = eddy::co;

class CoStreamTest : public CoTest {};
EDDY_INSTANTIATE_PORTS(CoStreamTest);

TEST_P(CoStreamTest, TcpEchoWithAcceptConnectReadWriteShutdown) {
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

// co::read(stream) lends the loop's read buffer: the bytes are valid until the task's next
// co_await, and a task waiting to read holds no buffer.
TEST_P(CoStreamTest, ALentReadHoldsNoBufferWhileTheTaskWaits) {
  co::acceptor server(loop());
  ASSERT_FALSE(server.listen(eddy::socket_address::loopback_v4(0)));
  const auto port = server.socket().local_address().port();
  std::uint64_t lent_in_serve = 0;
  auto serve = [&]() -> task<std::string> {
    eddy::tcp conn(loop());
    co_await server.accept(conn);
    server.socket().close();
    std::string got;
    for (;;) {
      const std::span<const std::byte> d = co_await co::read(conn);
      if (d.empty()) break;
      lent_in_serve = std::max(lent_in_serve, loop().metrics().read_buffers_in_use);
      const std::string piece(reinterpret_cast<const char*>(d.data()), d.size());  // d ends at the next co_await
      got += piece;
      co_await co::write(conn, eddy::buffer(piece));
    }
    auto r = co_await co::read(conn, co::nothrow);  // after the end: the end again
    EXPECT_FALSE(r.error);
    EXPECT_TRUE(r.value.empty());
    conn.close();
    co_return got;
  };
  std::vector<std::uint64_t> lent_while_serve_waits;
  auto client = [&]() -> task<std::string> {
    eddy::tcp c(loop());
    co_await co::connect(c, eddy::socket_address::loopback_v4(port));
    std::string echoed;
    for (const std::string_view word : {"one", "two", "three"}) {
      co_await co::write(c, eddy::buffer(word));
      char buf[16];
      const auto n = co_await co::read(c, std::as_writable_bytes(std::span(buf)));  // the caller's buffer
      echoed.append(buf, n);
      // The server wrote the echo and waits in co::read again: nothing is lent.
      lent_while_serve_waits.push_back(loop().metrics().read_buffers_in_use);
    }
    co_await co::shutdown(c);
    c.close();
    co_return echoed;
  };
  auto [served, echoed] = run(co::when_all(serve(), client()));
  EXPECT_EQ(served, "onetwothree");
  EXPECT_EQ(echoed, served);
  EXPECT_GE(lent_in_serve, 1u);
  EXPECT_EQ(lent_while_serve_waits, (std::vector<std::uint64_t>{0, 0, 0}));
  EXPECT_EQ(loop().metrics().read_buffers_in_use, 0u);
}

TEST_P(CoStreamTest, ConnectRefusedInBothForms) {
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

TEST_P(CoStreamTest, PipeEchoWithAcceptConnectReadWriteShutdown) {
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

TEST_P(CoStreamTest, TimeoutAroundAReadCancelsItAndTheStreamStaysUsable) {
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

TEST_P(CoStreamTest, ClosingAStreamResumesATaskWaitingToReadIt) {
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

}  // namespace
