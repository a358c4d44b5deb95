// UDP on every port: echo, connected sockets, truncation, queues, multicast, cancellation.
#include <functional>
#include <string>
#include <vector>

#include "port_fixture.hpp"

namespace {

using eddy::socket_address;
using eddy_test::PortTest;

std::string text(std::span<const std::byte> d) { return {reinterpret_cast<const char*>(d.data()), d.size()}; }

class UdpTest : public PortTest {};
EDDY_INSTANTIATE_PORTS(UdpTest);

TEST_P(UdpTest, EchoBetweenTwoSockets) {
  eddy::udp server(loop()), client(loop());
  ASSERT_FALSE(server.bind(socket_address::loopback_v4(0)));
  auto server_addr = server.local_address();
  ASSERT_NE(server_addr.port(), 0);
  ASSERT_FALSE(server.recv_start([&](std::error_code ec, std::span<std::byte> d, const socket_address& from, bool) {
    ASSERT_FALSE(ec) << ec.message();
    auto copy = std::make_shared<std::string>(text(d));
    server.send(eddy::buffer(*copy), from, [copy](std::error_code sec) { EXPECT_FALSE(sec); });
  }));
  ASSERT_FALSE(client.bind(socket_address::loopback_v4(0)));
  std::vector<std::string> got;
  ASSERT_FALSE(client.recv_start([&](std::error_code ec, std::span<std::byte> d, const socket_address& from, bool trunc) {
    ASSERT_FALSE(ec);
    EXPECT_FALSE(trunc);
    EXPECT_EQ(from, server_addr);
    got.push_back(text(d));
    if (got.size() == 3) {
      client.close();
      server.close();
    }
  }));
  int sent = 0;
  for (const char* m : {"one", "two", "three"}) {
    ASSERT_FALSE(client.send(eddy::buffer(m), server_addr, [&](std::error_code ec) {
      EXPECT_FALSE(ec);
      ++sent;
    }));
  }
  EXPECT_EQ(client.send_queue_count(), 3u);
  EXPECT_EQ(client.send_queue_size(), 11u);
  loop().run();
  EXPECT_EQ(sent, 3);
  EXPECT_EQ(got, (std::vector<std::string>{"one", "two", "three"}));  // loopback keeps the order
}

TEST_P(UdpTest, RecvOnceTakesOneDatagramAndCloseEndsAWaitingOne) {
  eddy::udp server(loop()), client(loop());
  ASSERT_FALSE(server.bind(socket_address::loopback_v4(0)));
  ASSERT_FALSE(client.bind(socket_address::loopback_v4(0)));
  std::byte buf[32];
  std::vector<std::string> events;
  EXPECT_EQ(server.recv_once({}, [](std::error_code, std::span<std::byte>, const socket_address&, bool) {}),
            eddy::errc::invalid_argument);
  // A stopped recv_once never calls back; the next one gets the datagrams one at a time.
  ASSERT_FALSE(server.recv_once(buf, [&](std::error_code, std::span<std::byte>, const socket_address&, bool) {
    events.push_back("stopped receive ran");
  }));
  server.recv_stop();
  std::function<void(std::error_code, std::span<std::byte>, const socket_address&, bool)> on_recv =
      [&](std::error_code ec, std::span<std::byte> d, const socket_address& from, bool) {
        EXPECT_FALSE(server.is_receiving()) << "a recv_once ends with its datagram";
        if (ec) {
          events.push_back("receive " + ec.message());
          return;
        }
        EXPECT_EQ(d.data(), buf);
        EXPECT_EQ(from, client.local_address());
        events.push_back(text(d));
        EXPECT_FALSE(server.recv_once(buf, on_recv));
        // After the second, the third receive waits until the socket closes.
        if (events.size() == 2) {
          server.close([&] { events.push_back("closed"); });
          server.recv_stop();  // after close(): changes nothing, the close ends the recv_once
          client.close();
        }
      };
  ASSERT_FALSE(server.recv_once(buf, on_recv));
  EXPECT_EQ(server.recv_once(buf, on_recv), eddy::errc::already_started);
  for (const char* m : {"one", "two"}) ASSERT_FALSE(client.send(eddy::buffer(m), server.local_address(), [](std::error_code) {}));
  loop().run();
  EXPECT_EQ(events, (std::vector<std::string>{"one", "two", "receive " + make_error_code(eddy::errc::operation_canceled).message(),
                                              "closed"}));
}

TEST_P(UdpTest, ConnectedSocketSendsWithoutAnAddress) {
  eddy::udp server(loop()), client(loop());
  ASSERT_FALSE(server.bind(socket_address::loopback_v4(0)));
  std::string got;
  socket_address sender;
  ASSERT_FALSE(server.recv_start([&](std::error_code ec, std::span<std::byte> d, const socket_address& from, bool) {
    ASSERT_FALSE(ec);
    got = text(d);
    sender = from;
    server.close();
    client.close();
  }));
  EXPECT_EQ(client.send(eddy::buffer("x"), socket_address{}, [](std::error_code) {}), eddy::errc::not_connected);
  ASSERT_FALSE(client.connect(server.local_address()));
  std::error_code ec;
  EXPECT_EQ(client.peer_address(ec), server.local_address());
  ASSERT_FALSE(client.send(eddy::buffer("hello"), socket_address{}, [](std::error_code e) { EXPECT_FALSE(e); }));
  const auto client_port = client.local_address().port();
  loop().run();
  EXPECT_EQ(got, "hello");
  EXPECT_EQ(sender.port(), client_port);
}

TEST_P(UdpTest, ADatagramLargerThanTheBufferIsTruncated) {
  eddy::udp server(loop()), client(loop());
  ASSERT_FALSE(server.bind(socket_address::loopback_v4(0)));
  std::array<std::byte, 8> small{};
  bool truncated = false;
  std::string got;
  ASSERT_FALSE(server.recv_start([&](std::size_t) { return eddy::mutable_buffer(small); },
                                 [&](std::error_code ec, std::span<std::byte> d, const socket_address&, bool t) {
                                   ASSERT_FALSE(ec);
                                   truncated = t;
                                   got = text(d);
                                   server.close();
                                   client.close();
                                 }));
  ASSERT_FALSE(client.send(eddy::buffer("0123456789abcdef"), server.local_address(), [](std::error_code) {}));
  loop().run();
  EXPECT_TRUE(truncated);
  EXPECT_EQ(got, "01234567");
}

TEST_P(UdpTest, TrySendAndRecvStop) {
  eddy::udp server(loop()), client(loop());
  ASSERT_FALSE(server.bind(socket_address::loopback_v4(0)));
  int received = 0;
  ASSERT_FALSE(server.recv_start([&](std::error_code ec, std::span<std::byte>, const socket_address&, bool) {
    ASSERT_FALSE(ec);
    ++received;
    server.recv_stop();
    EXPECT_FALSE(server.is_receiving());
    EXPECT_FALSE(server.is_active());
  }));
  std::error_code ec;
  auto buf = eddy::buffer("now");
  EXPECT_EQ(client.try_send(std::span<const eddy::const_buffer>(&buf, 1), server.local_address(), ec), 3u);
  EXPECT_FALSE(ec);
  loop().run();  // returns once the server stopped receiving
  EXPECT_EQ(received, 1);
  server.close();
  client.close();
}

TEST_P(UdpTest, ClosingCancelsQueuedSends) {
  eddy::udp client(loop());
  std::vector<std::error_code> results;
  auto to = socket_address::loopback_v4(9);  // discard port; nobody needs to listen
  for (int i = 0; i < 10; ++i) {
    ASSERT_FALSE(client.send(eddy::buffer("bye"), to, [&](std::error_code ec) { results.push_back(ec); }));
  }
  bool closed = false;
  client.close([&] {
    closed = true;
    EXPECT_EQ(results.size(), 10u);  // every send callback ran before the close callback
  });
  loop().run();
  EXPECT_TRUE(closed);
  ASSERT_EQ(results.size(), 10u);
  EXPECT_EQ(results.back(), eddy::errc::operation_canceled);
}

TEST_P(UdpTest, EchoOverIpv6) {
  eddy::udp server(loop()), client(loop());
  if (server.bind(socket_address::loopback_v6(0))) {
    server.close();
    client.close();
    loop().run();
    GTEST_SKIP() << "no IPv6 loopback on this machine";
  }
  std::string got;
  ASSERT_FALSE(server.recv_start([&](std::error_code ec, std::span<std::byte> d, const socket_address& from, bool) {
    ASSERT_FALSE(ec);
    EXPECT_EQ(from.family(), eddy::address_family::ipv6);
    got = text(d);
    server.close();
    client.close();
  }));
  ASSERT_FALSE(client.send(eddy::buffer("six"), server.local_address(), [](std::error_code) {}));
  loop().run();
  EXPECT_EQ(got, "six");
}

TEST_P(UdpTest, MulticastOnLoopback) {
  eddy::udp receiver(loop()), sender(loop());
  auto group = *socket_address::parse("239.255.77.77", 0);
  auto lo = socket_address::loopback_v4(0);
  ASSERT_FALSE(receiver.bind(socket_address::any_v4(0), {.reuse_address = true}));
  if (auto ec = receiver.join_multicast(group, lo)) {
    receiver.close();
    sender.close();
    loop().run();
    GTEST_SKIP() << "multicast on loopback not allowed here: " << ec.message();
  }
  auto dest = group;
  dest.set_port(receiver.local_address().port());
  ASSERT_FALSE(sender.bind(lo));
  EXPECT_FALSE(sender.set_multicast_interface(lo));
  EXPECT_FALSE(sender.set_multicast_loop(true));
  EXPECT_FALSE(sender.set_multicast_ttl(1));
  EXPECT_FALSE(sender.set_broadcast(true));
  EXPECT_FALSE(sender.set_ttl(64));
  EXPECT_EQ(sender.set_ttl(0), eddy::errc::invalid_argument);
  std::string got;
  ASSERT_FALSE(receiver.recv_start([&](std::error_code ec, std::span<std::byte> d, const socket_address&, bool) {
    ASSERT_FALSE(ec);
    got = text(d);
    EXPECT_FALSE(receiver.leave_multicast(group, lo));
    receiver.close();
    sender.close();
  }));
  std::error_code send_error;
  ASSERT_FALSE(sender.send(eddy::buffer("to the group"), dest, [&](std::error_code ec) { send_error = ec; }));
  loop().run();
  if (send_error) GTEST_SKIP() << "multicast send refused here: " << send_error.message();
  EXPECT_EQ(got, "to the group");
}

TEST_P(UdpTest, ABurstArrivesWholeAndInOrderAcrossStopAndRestart) {
  // Many datagrams at once: the epoll port reads them several per recvmmsg and hands them
  // out one per callback; stopping in the middle keeps the rest for the restart.
  eddy::udp server(loop()), client(loop());
  ASSERT_FALSE(server.bind(socket_address::loopback_v4(0)));
  // Few and small enough to fit the default socket receive buffer: loopback UDP drops what
  // does not fit, and this test is about order and handing out, not about loss.
  constexpr int n = 60;
  std::vector<std::string> sent;
  for (int i = 0; i < n; ++i) sent.push_back(std::to_string(i) + ":" + std::string(static_cast<std::size_t>(i * 7 % 300), 'd'));
  std::vector<std::string> got;
  eddy::timer resume(loop());
  eddy::udp_recv_callback on_recv = [&](std::error_code ec, std::span<std::byte> d, const socket_address&, bool t) {
    ASSERT_FALSE(ec);
    EXPECT_FALSE(t);
    got.push_back(text(d));
    if (got.size() == 20) {
      server.recv_stop();
      resume.start(std::chrono::milliseconds(2), [&] { EXPECT_FALSE(server.recv_start(on_recv)); });
    }
    if (got.size() == static_cast<std::size_t>(n)) {
      server.close();
      client.close();
      resume.close();
    }
  };
  ASSERT_FALSE(server.recv_start(on_recv));
  for (const auto& m : sent) ASSERT_FALSE(client.send(eddy::buffer(m), server.local_address(), [](std::error_code) {}));
  loop().run();
  EXPECT_EQ(got, sent);
}

TEST_P(UdpTest, OptionsNeedASocket) {
  eddy::udp u(loop());
  EXPECT_EQ(u.set_broadcast(true), eddy::errc::bad_descriptor);
  EXPECT_EQ(u.disconnect(), eddy::errc::not_connected);
  u.close();
  loop().run();
}

}  // namespace
