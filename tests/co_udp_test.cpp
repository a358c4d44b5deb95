// eddy::co UDP (eddy/co/udp.hpp) on every port: send and receive in both forms, and a
// receive ended by closing the socket.
#include <string>
#include <vector>

#include "co_fixture.hpp"

namespace {

using namespace std::chrono_literals;
using eddy::errc;
using eddy::task;
using eddy_test::CoTest;
namespace co = eddy::co;

class CoUdpTest : public CoTest {};
EDDY_INSTANTIATE_PORTS(CoUdpTest);

TEST_P(CoUdpTest, UdpSendAndReceiveInBothForms) {
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

TEST_P(CoUdpTest, ClosingAUdpSocketResumesATaskWaitingToReceive) {
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

}  // namespace
