// Streams on every port, through TCP: write queue backpressure and drain, read_stop and
// read_start again, read_some (once into the given buffer, its end with the stream or with
// read_stop), and stopping and restarting in every read callback.
#include <algorithm>
#include <cstring>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "tcp_fixture.hpp"

namespace {

using namespace std::chrono_literals;
using eddy::socket_address;
using eddy_test::as_string;
using eddy_test::echo_client;
using eddy_test::pattern;
using eddy_test::TcpTest;

class StreamTest : public TcpTest {};
EDDY_INSTANTIATE_PORTS(StreamTest);

TEST_P(StreamTest, WriteQueueBackpressureAndDrain) {
  server_ = std::make_unique<eddy::tcp>(loop());
  ASSERT_FALSE(server_->bind(socket_address::loopback_v4(0)));
  eddy::tcp* accepted = nullptr;
  std::size_t server_received = 0;
  ASSERT_FALSE(server_->listen(16, [&](std::error_code) {
    accepted = server_conns_.emplace_back(std::make_unique<eddy::tcp>(loop())).get();
    ASSERT_FALSE(server_->accept(*accepted));  // but do not read yet
  }));
  constexpr std::size_t chunk = 128 * 1024, chunks = 256;  // 32 MiB: more than any socket buffer
  auto data = pattern(chunk);
  eddy::tcp client(loop());
  int completed = 0, drains = 0;
  std::size_t queue_at_first_completion = 0;
  ASSERT_FALSE(client.connect(server_->local_address(), [&](std::error_code ec) {
    ASSERT_FALSE(ec);
    client.on_drain([&] {
      ++drains;
      client.close();
    });
    for (std::size_t i = 0; i < chunks; ++i) {
      client.write(eddy::const_buffer(data), [&](std::error_code wec) {
        EXPECT_FALSE(wec);
        if (++completed == 1) {
          queue_at_first_completion = client.write_queue_size();
          ASSERT_NE(accepted, nullptr);
          // Now let the reader go: the queue must drain completely.
          accepted->read_start([&](std::error_code rec, std::span<std::byte> d) {
            if (rec) {
              accepted->close();
              server_->close();
              return;
            }
            server_received += d.size();
          });
        }
      });
    }
    EXPECT_EQ(client.write_queue_size(), chunk * chunks);
  }));
  loop().run();
  EXPECT_EQ(completed, static_cast<int>(chunks));
  EXPECT_EQ(drains, 1);
  EXPECT_GT(queue_at_first_completion, chunk * chunks / 2);  // the kernel took only a little
  EXPECT_EQ(server_received, chunk * chunks);
}

TEST_P(StreamTest, ReadStopAndStartAgain) {
  server_ = std::make_unique<eddy::tcp>(loop());
  ASSERT_FALSE(server_->bind(socket_address::loopback_v4(0)));
  eddy::tcp* conn = nullptr;
  ASSERT_FALSE(server_->listen(16, [&](std::error_code) {
    conn = server_conns_.emplace_back(std::make_unique<eddy::tcp>(loop())).get();
    ASSERT_FALSE(server_->accept(*conn));
    conn->write(eddy::buffer("first"), [&](std::error_code) {});
  }));
  eddy::tcp client(loop());
  std::string got;
  int stops = 0;
  eddy::timer t(loop());
  std::function<void(std::error_code, std::span<std::byte>)> on_read = [&](std::error_code ec, std::span<std::byte> d) {
    if (ec) {
      EXPECT_EQ(ec, eddy::errc::eof);
      client.close();
      server_->close();
      return;
    }
    got += as_string(d);
    if (got == "first" && stops == 0) {
      ++stops;
      client.read_stop();
      EXPECT_FALSE(client.is_reading());
      // While stopped, the server sends more; nothing is delivered until read_start.
      conn->write(eddy::buffer("second"), [&](std::error_code) {
        t.start(5ms, [&] {
          EXPECT_EQ(got, "first");
          EXPECT_FALSE(client.read_start(on_read));
          conn->shutdown([&](std::error_code) { conn->close(); });
        });
      });
    }
  };
  ASSERT_FALSE(client.connect(server_->local_address(), [&](std::error_code ec) {
    ASSERT_FALSE(ec);
    EXPECT_FALSE(client.read_start(on_read));
    EXPECT_EQ(client.read_start(on_read), eddy::errc::already_started);
  }));
  loop().run();
  t.close();
  EXPECT_EQ(got, "firstsecond");
}

TEST_P(StreamTest, ReadSomeReadsOnceIntoTheGivenBuffer) {
  server_ = std::make_unique<eddy::tcp>(loop());
  ASSERT_FALSE(server_->bind(socket_address::loopback_v4(0)));
  ASSERT_FALSE(server_->listen(16, [&](std::error_code) {
    auto& conn = *server_conns_.emplace_back(std::make_unique<eddy::tcp>(loop()));
    ASSERT_FALSE(server_->accept(conn));
    conn.write(eddy::buffer("hello"), [&conn](std::error_code) { conn.shutdown([&conn](std::error_code) { conn.close(); }); });
  }));
  eddy::tcp client(loop());
  std::byte small[3];
  EXPECT_EQ(client.read_some(small, [](std::error_code, std::span<std::byte>) {}), eddy::errc::not_connected);
  std::vector<std::string> got;
  std::function<void(std::error_code, std::span<std::byte>)> on_read = [&](std::error_code ec, std::span<std::byte> d) {
    EXPECT_FALSE(client.is_reading()) << "a read_some ends with its one delivery";
    if (ec) {
      got.push_back(ec.message());
      EXPECT_EQ(ec, eddy::errc::eof);
      client.close();
      server_->close();
      return;
    }
    EXPECT_EQ(d.data(), small) << "the bytes are in the caller's buffer";
    got.push_back(as_string(d));
    EXPECT_FALSE(client.read_some(small, on_read));
  };
  ASSERT_FALSE(client.connect(server_->local_address(), [&](std::error_code ec) {
    ASSERT_FALSE(ec);
    EXPECT_EQ(client.read_some({}, on_read), eddy::errc::invalid_argument);
    EXPECT_FALSE(client.read_some(small, on_read));
    EXPECT_TRUE(client.is_reading());
    EXPECT_EQ(client.read_some(small, on_read), eddy::errc::already_started);
    EXPECT_EQ(client.read_start(on_read), eddy::errc::already_started);
  }));
  loop().run();
  // "hello" may come in one piece or several; three bytes at a time either way.
  ASSERT_GE(got.size(), 3u);
  EXPECT_EQ(got.front(), "hel");
  std::string all;
  for (std::size_t i = 0; i + 1 < got.size(); ++i) all += got[i];
  EXPECT_EQ(all, "hello");
  EXPECT_EQ(got.back(), make_error_code(eddy::errc::eof).message());
}

TEST_P(StreamTest, ReadSomeEndsWithTheStreamOrSilentlyWithReadStop) {
  server_ = std::make_unique<eddy::tcp>(loop());
  ASSERT_FALSE(server_->bind(socket_address::loopback_v4(0)));
  int ready = 0;  // two connects and two accepts
  std::function<void()> all_ready;
  ASSERT_FALSE(server_->listen(16, [&](std::error_code) {
    auto& conn = *server_conns_.emplace_back(std::make_unique<eddy::tcp>(loop()));
    ASSERT_FALSE(server_->accept(conn));
    if (++ready == 4) all_ready();
  }));
  eddy::tcp client(loop());
  auto doomed = std::make_unique<eddy::tcp>(loop());
  std::byte buf[16];
  std::vector<std::string> events;
  all_ready = [&] {
    // Nothing was sent: each read_some waits. The first is stopped (no callback, ever),
    // then started again and served; the second's handle is destroyed (no callback).
    EXPECT_FALSE(client.read_some(buf, [&](std::error_code, std::span<std::byte>) { events.push_back("stopped read ran"); }));
    client.read_stop();
    EXPECT_FALSE(client.is_reading());
    EXPECT_FALSE(doomed->read_some(buf, [&](std::error_code, std::span<std::byte>) { events.push_back("destroyed read ran"); }));
    doomed.reset();
    EXPECT_FALSE(client.read_some(buf, [&](std::error_code ec, std::span<std::byte> d) {
      EXPECT_FALSE(ec);
      events.push_back("read " + as_string(d));
      // Closing with a read_some waiting: its callback says so, before the close callback.
      EXPECT_FALSE(client.read_some(buf, [&](std::error_code rec, std::span<std::byte>) {
        events.push_back("read " + rec.message());
      }));
      client.close([&] { events.push_back("closed"); });
      client.read_stop();  // after close(): changes nothing, the close ends the read_some
      server_->close();
      for (auto& c : server_conns_) c->close();
    }));
    for (auto& c : server_conns_) c->write(eddy::buffer("x"), [](std::error_code) {});
  };
  for (eddy::tcp* c : {&client, doomed.get()}) {
    ASSERT_FALSE(c->connect(server_->local_address(), [&](std::error_code ec) {
      ASSERT_FALSE(ec);
      if (++ready == 4) all_ready();
    }));
  }
  loop().run();
  EXPECT_EQ(events, (std::vector<std::string>{"read x", "read " + make_error_code(eddy::errc::operation_canceled).message(),
                                              "closed"}));
}

TEST_P(StreamTest, StoppingAndRestartingInEveryReadCallbackLosesNothing) {
  // read_stop() cancels the read in flight; read_start() right after must carry on, and
  // data that won the race against the cancellation must come first, not vanish.
  server_ = std::make_unique<eddy::tcp>(loop());
  ASSERT_FALSE(server_->bind(socket_address::loopback_v4(0)));
  auto data = pattern(2 << 20);
  ASSERT_FALSE(server_->listen(16, [&](std::error_code) {
    auto& c = *server_conns_.emplace_back(std::make_unique<eddy::tcp>(loop()));
    ASSERT_FALSE(server_->accept(c));
    for (std::size_t off = 0; off < data.size(); off += 64 * 1024) {
      c.write(eddy::const_buffer(data.data() + off, 64 * 1024), [](std::error_code) {});
    }
    c.shutdown([&c](std::error_code) { c.close(); });
  }));
  eddy::tcp client(loop());
  std::vector<std::byte> got;
  std::error_code end;
  eddy::read_callback on_read = [&](std::error_code ec, std::span<std::byte> d) {
    if (ec) {
      end = ec;
      client.close();
      server_->close();
      return;
    }
    got.insert(got.end(), d.begin(), d.end());
    client.read_stop();
    EXPECT_FALSE(client.read_start(on_read));
  };
  ASSERT_FALSE(client.connect(server_->local_address(), [&](std::error_code ec) {
    ASSERT_FALSE(ec);
    client.read_start(on_read);
  }));
  loop().run();
  EXPECT_EQ(end, eddy::errc::eof);
  EXPECT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data);
}

}  // namespace

namespace {

// A stream read without an allocator borrows one of the loop's read buffers only while a read
// is being delivered: connections waiting for input hold none, on every port (epoll gives it
// back when a read finds nothing, IOCP reads sockets after a zero-byte read, io_uring copies
// out of its provided buffers at delivery).
TEST_P(StreamTest, WaitingConnectionsHoldNoReadBuffer) {
  constexpr int kConns = 32;
  const std::string hello = "hello";
  server_ = std::make_unique<eddy::tcp>(loop());
  ASSERT_FALSE(server_->bind(socket_address::loopback_v4(0)));
  std::size_t received = 0;
  std::uint64_t while_delivering = 0;
  std::uint64_t once_all_arrived = 99;
  std::vector<std::unique_ptr<eddy::tcp>> clients;
  ASSERT_FALSE(server_->listen(64, [&](std::error_code ec) {
    ASSERT_FALSE(ec);
    eddy::tcp* c = server_conns_.emplace_back(std::make_unique<eddy::tcp>(loop())).get();
    ASSERT_FALSE(server_->accept(*c));
    ASSERT_FALSE(c->read_start([&, c](std::error_code rec, std::span<std::byte> d) {
      if (rec) {
        c->close();
        return;
      }
      while_delivering = std::max(while_delivering, loop().metrics().read_buffers_in_use);
      received += d.size();
      if (received < kConns * hello.size()) return;
      // Every connection has had its bytes and waits for more: once this delivery returns,
      // no buffer is lent.
      loop().set_immediate([&] {
        once_all_arrived = loop().metrics().read_buffers_in_use;
        for (auto& cl : clients) cl->close();
        server_->close();
      });
    }));
  }));
  for (int i = 0; i < kConns; ++i) {
    eddy::tcp* cl = clients.emplace_back(std::make_unique<eddy::tcp>(loop())).get();
    ASSERT_FALSE(cl->connect(server_->local_address(), [&, cl](std::error_code ec) {
      ASSERT_FALSE(ec);
      cl->write(eddy::buffer(hello), [](std::error_code wec) { EXPECT_FALSE(wec); });
    }));
  }
  loop().run();
  EXPECT_EQ(received, kConns * hello.size());
  EXPECT_GE(while_delivering, 1u);  // the delivery's own
  EXPECT_EQ(once_all_arrived, 0u);
  EXPECT_EQ(loop().metrics().read_buffers_in_use, 0u);
}

}  // namespace

namespace {

// handle.hpp's rule: a destroyed stream's own callbacks (read) never run, but requests made
// on it (writes) complete with operation_canceled so that their buffers can be released.
TEST_P(StreamTest, DestroyingAStreamCancelsItsWritesAndRunsNoReadCallback) {
  server_ = std::make_unique<eddy::tcp>(loop());
  ASSERT_FALSE(server_->bind(socket_address::loopback_v4(0)));
  ASSERT_FALSE(server_->listen(16, [&](std::error_code) {
    auto* c = server_conns_.emplace_back(std::make_unique<eddy::tcp>(loop())).get();
    ASSERT_FALSE(server_->accept(*c));  // never reads: the client's writes stay queued
  }));
  auto client = std::make_unique<eddy::tcp>(loop());
  const auto data = pattern(8 << 20);  // more than the socket buffers hold
  int reads = 0;
  std::vector<std::error_code> writes;
  ASSERT_FALSE(client->connect(server_->local_address(), [&](std::error_code ec) {
    ASSERT_FALSE(ec);
    ASSERT_FALSE(client->read_start([&](std::error_code, std::span<std::byte>) { ++reads; }));
    for (int i = 0; i < 4; ++i) {
      ASSERT_FALSE(client->write(eddy::const_buffer(data), [&](std::error_code wec) { writes.push_back(wec); }));
    }
    loop().set_immediate([&] {
      client.reset();  // destroyed with writes queued and a read pending
      for (auto& c : server_conns_) c->close();
      server_->close();
    });
  }));
  loop().run();
  EXPECT_EQ(reads, 0);
  ASSERT_EQ(writes.size(), 4u);
  EXPECT_EQ(writes.back(), eddy::errc::operation_canceled);
}

}  // namespace
