// TCP on every port: connect/accept/echo, backpressure, half-close, resets, refusals,
// cancellation on close, many clients, IPv6.
#include <cstring>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "tcp_fixture.hpp"

#if defined(_WIN32)
#include "platform/iocp/win32.hpp"  // winsock2, ws2tcpip and windows, lean
#else
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

namespace {

using namespace std::chrono_literals;
using eddy::socket_address;
using eddy_test::as_string;
using eddy_test::echo_client;
using eddy_test::pattern;
using eddy_test::TcpTest;

EDDY_INSTANTIATE_PORTS(TcpTest);

// As libuv: a listening (or reading) handle keeps the loop alive only while referenced;
// its accept waiting in the port does not count on its own.
TEST_P(TcpTest, AnUnreferencedListenerDoesNotKeepTheLoopAlive) {
  eddy::tcp listener(loop());
  ASSERT_FALSE(listener.bind(eddy::socket_address::loopback_v4(0)));
  ASSERT_FALSE(listener.listen(8, [](std::error_code) {}));
  EXPECT_TRUE(loop().alive());
  listener.unref();
  EXPECT_FALSE(loop().alive());
  EXPECT_FALSE(loop().run());  // returns at once
  listener.ref();
  EXPECT_TRUE(loop().alive());
  listener.close();
  loop().run();
}

TEST_P(TcpTest, EchoesEightMebibytesBothWays) {
  auto addr = start_echo_server();
  ASSERT_EQ(addr.family(), eddy::address_family::ipv4);
  ASSERT_NE(addr.port(), 0);
  echo_client client(loop(), addr, pattern(8 << 20), [this] { close_server(); });
  loop().run();
  EXPECT_TRUE(client.connected);
  EXPECT_EQ(client.writes_done, 1);
  EXPECT_FALSE(client.write_error);
  EXPECT_FALSE(client.shutdown_error);
  EXPECT_EQ(client.final_error, eddy::errc::eof);
  EXPECT_EQ(client.received.size(), client.data.size());
  EXPECT_TRUE(client.received == client.data);
  EXPECT_GT(echo_reads_, 1);  // it really streamed
}

TEST_P(TcpTest, AThousandConcurrentClients) {
  auto addr = start_echo_server();
  constexpr int n = 1000;
  int done = 0;
  std::vector<std::unique_ptr<echo_client>> clients;
  for (int i = 0; i < n; ++i) {
    clients.push_back(std::make_unique<echo_client>(loop(), addr, pattern(100, static_cast<unsigned>(i)), [&] {
      if (++done == n) close_server();
    }));
  }
  loop().run();
  EXPECT_EQ(done, n);
  for (auto& c : clients) {
    EXPECT_EQ(c->final_error, eddy::errc::eof);
    EXPECT_TRUE(c->received == c->data);
  }
}

TEST_P(TcpTest, EchoOverIpv6) {
  socket_address addr;
  {
    eddy::tcp probe(loop());
    if (probe.bind(socket_address::loopback_v6(0))) {
      probe.close();
      loop().run();
      GTEST_SKIP() << "no IPv6 loopback on this machine";
    }
    probe.close();
    loop().run();
  }
  addr = start_echo_server(socket_address::loopback_v6(0));
  EXPECT_EQ(addr.family(), eddy::address_family::ipv6);
  echo_client client(loop(), addr, pattern(100000), [this] { close_server(); });
  loop().run();
  EXPECT_TRUE(client.received == client.data);
  std::error_code ec;
  EXPECT_FALSE(client.sock.is_active());
}

TEST_P(TcpTest, ConnectRefused) {
  // A port that was just free: bind without listening, note the port, close.
  std::uint16_t port;
  {
    eddy::tcp t(loop());
    ASSERT_FALSE(t.bind(socket_address::loopback_v4(0)));
    port = t.local_address().port();
    t.close();
    loop().run();
  }
  eddy::tcp c(loop());
  std::error_code result;
  bool called = false;
  ASSERT_FALSE(c.connect(socket_address::loopback_v4(port), [&](std::error_code ec) {
    called = true;
    result = ec;
    c.close();
  }));
  loop().run();
  EXPECT_TRUE(called);
  EXPECT_EQ(result, eddy::errc::connection_refused) << result.message();
}

TEST_P(TcpTest, HalfCloseThePeerSeesEofAndCanStillWriteBack) {
  server_ = std::make_unique<eddy::tcp>(loop());
  ASSERT_FALSE(server_->bind(socket_address::loopback_v4(0)));
  std::string server_got;
  bool server_saw_eof = false;
  ASSERT_FALSE(server_->listen(16, [&](std::error_code) {
    auto& c = *server_conns_.emplace_back(std::make_unique<eddy::tcp>(loop()));
    ASSERT_FALSE(server_->accept(c));
    c.read_start([&](std::error_code ec, std::span<std::byte> d) {
      if (ec == eddy::errc::eof) {
        server_saw_eof = true;
        EXPECT_TRUE(c.is_writable());
        c.write(eddy::buffer("bye"), [&](std::error_code wec) {
          EXPECT_FALSE(wec);
          c.close();
          server_->close();
        });
        return;
      }
      server_got += as_string(d);
    });
  }));
  eddy::tcp client(loop());
  std::string client_got;
  std::error_code client_end, shut;
  ASSERT_FALSE(client.connect(server_->local_address(), [&](std::error_code ec) {
    ASSERT_FALSE(ec);
    client.read_start([&](std::error_code rec, std::span<std::byte> d) {
      if (rec) {
        client_end = rec;
        client.close();
        return;
      }
      client_got += as_string(d);
    });
    client.write(eddy::buffer("hello"), [](std::error_code) {});
    client.shutdown([&](std::error_code sec) { shut = sec; });
    EXPECT_FALSE(client.is_writable());
    EXPECT_EQ(client.write(eddy::buffer("late"), [](std::error_code) {}), eddy::errc::broken_pipe);
  }));
  loop().run();
  EXPECT_EQ(server_got, "hello");
  EXPECT_TRUE(server_saw_eof);
  EXPECT_FALSE(shut);
  EXPECT_EQ(client_got, "bye");
  EXPECT_EQ(client_end, eddy::errc::eof);
}

TEST_P(TcpTest, CloseResetMakesThePeerSeeConnectionReset) {
  server_ = std::make_unique<eddy::tcp>(loop());
  ASSERT_FALSE(server_->bind(socket_address::loopback_v4(0)));
  eddy::tcp client(loop());
  std::error_code client_end;
  ASSERT_FALSE(server_->listen(16, [&](std::error_code) {
    auto& c = *server_conns_.emplace_back(std::make_unique<eddy::tcp>(loop()));
    ASSERT_FALSE(server_->accept(c));
    // Wait until the client has something in flight, then reset.
    c.read_start([&](std::error_code, std::span<std::byte>) {
      c.close_reset();
      server_->close();
    });
  }));
  ASSERT_FALSE(client.connect(server_->local_address(), [&](std::error_code ec) {
    ASSERT_FALSE(ec);
    client.read_start([&](std::error_code rec, std::span<std::byte>) {
      if (rec) {
        client_end = rec;
        client.close();
      }
    });
    client.write(eddy::buffer("ping"), [](std::error_code) {});
  }));
  loop().run();
  EXPECT_EQ(client_end, eddy::errc::connection_reset) << client_end.message();
}

TEST_P(TcpTest, ClosingCancelsPendingWritesAndConnects) {
  server_ = std::make_unique<eddy::tcp>(loop());
  ASSERT_FALSE(server_->bind(socket_address::loopback_v4(0)));
  ASSERT_FALSE(server_->listen(16, [&](std::error_code) {
    auto& c = *server_conns_.emplace_back(std::make_unique<eddy::tcp>(loop()));
    ASSERT_FALSE(server_->accept(c));  // never reads
  }));
  auto data = pattern(1 << 20);
  std::vector<std::string> log;
  eddy::tcp client(loop());
  bool read_called = false;
  ASSERT_FALSE(client.connect(server_->local_address(), [&](std::error_code ec) {
    ASSERT_FALSE(ec);
    client.read_start([&](std::error_code, std::span<std::byte>) { read_called = true; });
    for (int i = 0; i < 64; ++i) {
      client.write(eddy::const_buffer(data), [&, i](std::error_code wec) {
        if (wec == eddy::errc::operation_canceled) log.push_back("write canceled");
        if (i == 0 && !wec) log.push_back("write 0 done");
      });
    }
    client.close([&] {
      log.push_back("closed");
      EXPECT_FALSE(read_called);
      for (auto& c : server_conns_) c->close();
      server_->close();
    });
  }));
  // A connect that is closed at once is cancelled too.
  eddy::tcp quick(loop());
  std::error_code quick_result;
  ASSERT_FALSE(quick.connect(server_->local_address(), [&](std::error_code ec) { quick_result = ec; }));
  quick.close();
  loop().run();
  EXPECT_EQ(quick_result, eddy::errc::operation_canceled);
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(log.back(), "closed");
  std::size_t canceled = std::count(log.begin(), log.end(), std::string("write canceled"));
  EXPECT_GE(canceled, 32u);  // 64 MiB cannot all fit in socket buffers
}

TEST_P(TcpTest, AddressesAndOptions) {
  auto addr = start_echo_server();
  eddy::tcp client(loop());
  ASSERT_FALSE(client.connect(addr, [&](std::error_code ec) {
    ASSERT_FALSE(ec);
    std::error_code e;
    EXPECT_EQ(client.peer_address(e), addr);
    EXPECT_FALSE(e);
    auto local = client.local_address(e);
    EXPECT_FALSE(e);
    EXPECT_TRUE(local.is_loopback());
    EXPECT_NE(local.port(), addr.port());
    EXPECT_FALSE(client.set_nodelay(true));
    EXPECT_FALSE(client.set_keepalive(true, 30s));
    client.close();
    close_server();
  }));
  loop().run();
}

TEST_P(TcpTest, BindingAnAddressInUseFails) {
  auto addr = start_echo_server();
  eddy::tcp second(loop());
  std::error_code ec = second.bind(addr);
  if (!ec) ec = second.listen(16, [](std::error_code) {});
  EXPECT_EQ(ec, eddy::errc::address_in_use) << ec.message();
  second.close();
  close_server();
  loop().run();
}

TEST_P(TcpTest, WritingToAPeerThatWentAwayIsAnErrorNotACrash) {
  // On POSIX this would raise SIGPIPE without MSG_NOSIGNAL; the process must survive and
  // the write must fail with an error.
  server_ = std::make_unique<eddy::tcp>(loop());
  ASSERT_FALSE(server_->bind(socket_address::loopback_v4(0)));
  ASSERT_FALSE(server_->listen(16, [&](std::error_code) {
    auto& c = *server_conns_.emplace_back(std::make_unique<eddy::tcp>(loop()));
    ASSERT_FALSE(server_->accept(c));
    c.close_reset();
    server_->close();
  }));
  eddy::tcp client(loop());
  auto data = pattern(64 * 1024);
  std::error_code failure;
  std::function<void()> write_more = [&] {
    client.write(eddy::const_buffer(data), [&](std::error_code ec) {
      if (ec) {
        if (!failure) failure = ec;
        client.close();
        return;
      }
      write_more();
    });
  };
  ASSERT_FALSE(client.connect(server_->local_address(), [&](std::error_code ec) {
    ASSERT_FALSE(ec);
    write_more();
  }));
  loop().run();
  EXPECT_TRUE(failure == eddy::errc::connection_reset || failure == eddy::errc::broken_pipe ||
              failure == eddy::errc::connection_aborted)
      << failure.message();
}

TEST_P(TcpTest, ConnectionsWaitUntilTheServerAccepts) {
  // The server takes no connection at first; the clients wait in the backlog (or in the
  // port, which may have accepted them already) and are served once it starts accepting.
  server_ = std::make_unique<eddy::tcp>(loop());
  ASSERT_FALSE(server_->bind(socket_address::loopback_v4(0)));
  int notified = 0, served = 0;
  bool accepting = false;
  std::function<void()> accept_all = [&] {
    for (;;) {
      auto c = std::make_unique<eddy::tcp>(loop());
      if (server_->accept(*c)) break;
      c->write(eddy::buffer("welcome"), [](std::error_code) {});
      server_conns_.push_back(std::move(c));
      ++served;
    }
  };
  ASSERT_FALSE(server_->listen(64, [&](std::error_code ec) {
    ASSERT_FALSE(ec);
    ++notified;
    if (accepting) accept_all();
  }));
  constexpr int n = 5;
  std::vector<std::unique_ptr<eddy::tcp>> clients;
  int welcomed = 0;
  for (int i = 0; i < n; ++i) {
    auto& c = *clients.emplace_back(std::make_unique<eddy::tcp>(loop()));
    ASSERT_FALSE(c.connect(server_->local_address(), [&](std::error_code ec) {
      ASSERT_FALSE(ec);
      c.read_start([&](std::error_code rec, std::span<std::byte>) {
        if (rec) return;
        c.close();
        if (++welcomed == n) {
          for (auto& sc : server_conns_) sc->close();
          server_->close();
        }
      });
    }));
  }
  eddy::timer later(loop());
  later.start(std::chrono::milliseconds(20), [&] {
    EXPECT_EQ(served, 0);
    accepting = true;
    accept_all();
    later.close();
  });
  loop().run();
  EXPECT_EQ(welcomed, n);
  EXPECT_EQ(served, n);
}

TEST_P(TcpTest, ClosingAListenerWithWaitingConnectionsLeaksNothing) {
  server_ = std::make_unique<eddy::tcp>(loop());
  ASSERT_FALSE(server_->bind(socket_address::loopback_v4(0)));
  ASSERT_FALSE(server_->listen(64, [&](std::error_code) {
    server_->close();  // never accepts: what the port holds must be closed with it
  }));
  std::vector<std::unique_ptr<eddy::tcp>> clients;
  int ended = 0;
  for (int i = 0; i < 8; ++i) {
    auto& c = *clients.emplace_back(std::make_unique<eddy::tcp>(loop()));
    ASSERT_FALSE(c.connect(server_->local_address(), [&](std::error_code ec) {
      if (ec) {  // refused: the listener was already gone
        ++ended;
        c.close();
        return;
      }
      c.read_start([&](std::error_code rec, std::span<std::byte>) {
        if (rec) {  // EOF or reset: the server side was closed
          ++ended;
          c.close();
        }
      });
    }));
  }
  loop().run();
  EXPECT_EQ(ended, 8);
}

TEST_P(TcpTest, AnAdoptedListeningSocketAcceptsEveryClient) {
  // A socket that is listening already when tcp::open adopts it (one that may be shared
  // with other processes: the iocp port then keeps a single AcceptEx pending on it).
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
#if defined(_WIN32)
  SOCKET s = ::WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, WSA_FLAG_OVERLAPPED);
  ASSERT_NE(s, INVALID_SOCKET);
#else
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(s, 0);
#endif
  ASSERT_EQ(::bind(s, reinterpret_cast<const sockaddr*>(&sin), sizeof sin), 0);
  ASSERT_EQ(::listen(s, 64), 0);
  server_ = std::make_unique<eddy::tcp>(loop());
  ASSERT_FALSE(server_->open(static_cast<std::intptr_t>(s)));
  constexpr int n = 20;
  int served = 0, welcomed = 0;
  ASSERT_FALSE(server_->listen(64, [&](std::error_code ec) {
    ASSERT_FALSE(ec);
    auto& c = *server_conns_.emplace_back(std::make_unique<eddy::tcp>(loop()));
    ASSERT_FALSE(server_->accept(c));
    c.write(eddy::buffer("hi"), [&c](std::error_code) { c.close(); });
    ++served;
  }));
  std::vector<std::unique_ptr<eddy::tcp>> clients;
  for (int i = 0; i < n; ++i) {
    auto& c = *clients.emplace_back(std::make_unique<eddy::tcp>(loop()));
    ASSERT_FALSE(c.connect(server_->local_address(), [&](std::error_code ec) {
      ASSERT_FALSE(ec);
      c.read_start([&](std::error_code rec, std::span<std::byte>) {
        if (rec) return;
        c.close();
        if (++welcomed == n) server_->close();
      });
    }));
  }
  loop().run();
  EXPECT_EQ(served, n);
  EXPECT_EQ(welcomed, n);
}

TEST_P(TcpTest, UnconnectedStreamsRefuseIo) {
  eddy::tcp t(loop());
  EXPECT_EQ(t.read_start([](std::error_code, std::span<std::byte>) {}), eddy::errc::not_connected);
  EXPECT_EQ(t.write(eddy::buffer("x"), [](std::error_code) {}), eddy::errc::not_connected);
  eddy::tcp other(loop());
  EXPECT_EQ(t.accept(other), eddy::errc::would_block);
  t.close();
  other.close();
  loop().run();
}

}  // namespace
