// ipc pipes on every port: sockets passed along with bytes between two loops, each on its
// own thread (SCM_RIGHTS on Linux; WSADuplicateSocketW framing on Windows, where a passed
// socket cannot join the receiving loop's port and its completions are emulated — a loop
// that wrongly kept the sender's association would see the receiver's completions).
// Between processes: the last tests, with eddy_test_helper's `ipc-serve` as the other side.
#include <atomic>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "helper_path.hpp"
#include "port_fixture.hpp"

namespace {

using eddy_test::PortTest;

std::string unique_ipc_name() { return eddy_test::unique_pipe_name("ipc"); }

std::string text(std::span<const std::byte> d) { return {reinterpret_cast<const char*>(d.data()), d.size()}; }

// The receiving side: its own loop on its own thread, an ipc pipe listener on `name`. For
// the first client it runs `serve(channel)`; the loop runs until every handle is closed.
class receiver {
 public:
  receiver(eddy::backend_kind kind, std::string name,
           std::function<void(eddy::loop&, eddy::pipe& channel)> serve)
      : name_(std::move(name)), serve_(std::move(serve)) {
    std::promise<std::error_code> listening;
    auto ready = listening.get_future();
    thread_ = std::thread([this, kind, &listening] { run(kind, listening); });
    listen_error_ = ready.get();
  }
  ~receiver() {
    if (thread_.joinable()) thread_.join();
  }
  [[nodiscard]] std::error_code listen_error() const { return listen_error_; }
  // Joins the thread; the receiver's own verdict (empty if all went as it expected).
  std::string finish() {
    if (thread_.joinable()) thread_.join();
    return verdict_;
  }

 private:
  void run(eddy::backend_kind kind, std::promise<std::error_code>& listening) {
    std::error_code ec;
    auto loop = eddy::loop::create(eddy::loop_options{kind}, ec);
    if (!loop) {
      listening.set_value(ec);
      return;
    }
    eddy::pipe server(*loop, true);
    eddy::pipe channel(*loop, true);
    ec = server.bind(name_);
    if (!ec) {
      ec = server.listen(4, [&](std::error_code aec) {
        if (aec || server.accept(channel)) {
          verdict_ = "accept failed";
        } else {
          serve_(*loop, channel);
        }
        server.close();
      });
    }
    listening.set_value(ec);
    if (ec) {
      server.close();
      channel.close();
      loop->run();
      return;
    }
    loop->run();
    if (loop->handle_count() != 0) verdict_ += "handles left open: " + loop->dump_handles();
  }

 public:
  std::string verdict_;

 private:
  std::string name_;
  std::function<void(eddy::loop&, eddy::pipe&)> serve_;
  std::error_code listen_error_;
  std::thread thread_;
};

class IpcLoopsTest : public PortTest {};
EDDY_INSTANTIATE_PORTS(IpcLoopsTest);

// A connection accepted by this loop is passed to the receiver, which echoes on it: the
// client sees its bytes come back from the other loop, and the end of the stream.
TEST_P(IpcLoopsTest, AConnectionPassedToAnotherLoopIsServedThere) {
  const std::string name = unique_ipc_name();
  std::unique_ptr<eddy::tcp> echo;  // the receiver's copy; used on its thread only
  receiver rx(GetParam(), name, [&](eddy::loop& l, eddy::pipe& channel) {
    echo = std::make_unique<eddy::tcp>(l);
    channel.read_start([&, &channel = channel](std::error_code ec, std::span<std::byte> d) {
      if (ec) {
        channel.close();
        return;
      }
      if (text(d) != "C" || channel.pending_count() != 1) {
        channel.close();
        echo->close();
        return;
      }
      if (channel.accept_pending(*echo)) {
        echo->close();
        channel.close();
        return;
      }
      channel.close();
      auto chunks = std::make_shared<std::vector<std::string>>();
      echo->read_start([&, chunks](std::error_code rec, std::span<std::byte> data) {
        if (rec) {
          echo->shutdown([&](std::error_code) { echo->close(); });
          return;
        }
        chunks->push_back(text(data));
        echo->write(eddy::buffer(chunks->back()), [](std::error_code) {});
      });
    });
  });
  ASSERT_FALSE(rx.listen_error()) << rx.listen_error().message();

  eddy::tcp listener(loop());
  eddy::tcp accepted(loop());
  eddy::tcp client(loop());
  eddy::pipe channel(loop(), true);
  ASSERT_FALSE(listener.bind(eddy::socket_address::loopback_v4(0)));
  std::error_code sent;
  bool sent_called = false;
  ASSERT_FALSE(listener.listen(8, [&](std::error_code ec) {
    ASSERT_FALSE(ec) << ec.message();
    ASSERT_FALSE(listener.accept(accepted));
    listener.close();
    ASSERT_FALSE(channel.connect(name, [&](std::error_code cec) {
      ASSERT_FALSE(cec) << cec.message();
      auto one = eddy::buffer("C");
      ASSERT_FALSE(channel.write2(std::span<const eddy::const_buffer>(&one, 1), accepted, [&](std::error_code wec) {
        sent_called = true;
        sent = wec;
        accepted.close();  // our copy; the receiver's stays open
        channel.close();
      }));
    }));
  }));
  std::error_code local_ec;
  const auto port = listener.local_address(local_ec).port();
  ASSERT_FALSE(local_ec);

  // 1 MiB through the passed connection, and back.
  std::string payload(1 << 20, '\0');
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + i % 23);
  std::string got;
  std::error_code end;
  ASSERT_FALSE(client.connect(eddy::socket_address::loopback_v4(port), [&](std::error_code ec) {
    ASSERT_FALSE(ec) << ec.message();
    client.write(eddy::buffer(payload), [&](std::error_code wec) {
      EXPECT_FALSE(wec) << wec.message();
      client.shutdown([](std::error_code) {});
    });
    client.read_start([&](std::error_code rec, std::span<std::byte> d) {
      if (rec) {
        end = rec;
        client.close();
        return;
      }
      got += text(d);
    });
  }));
  loop().run();
  EXPECT_TRUE(sent_called);
  EXPECT_FALSE(sent) << sent.message();
  EXPECT_EQ(end, eddy::errc::eof);
  EXPECT_EQ(got.size(), payload.size());
  EXPECT_TRUE(got == payload);
  EXPECT_EQ(rx.finish(), "");
  echo.reset();
}

// A listening socket passed to the receiver accepts there: a client connecting after the
// sender closed its copy is greeted by the other loop.
TEST_P(IpcLoopsTest, AListenerPassedToAnotherLoopAcceptsThere) {
  const std::string name = unique_ipc_name();
  std::unique_ptr<eddy::tcp> rlistener, rconn;
  receiver rx(GetParam(), name, [&](eddy::loop& l, eddy::pipe& channel) {
    rlistener = std::make_unique<eddy::tcp>(l);
    rconn = std::make_unique<eddy::tcp>(l);
    channel.read_start([&, &channel = channel](std::error_code ec, std::span<std::byte> d) {
      const bool ok = !ec && text(d) == "L" && channel.pending_count() == 1 && !channel.accept_pending(*rlistener);
      channel.close();
      if (!ok) {
        rlistener->close();
        rconn->close();
        return;
      }
      rlistener->listen(8, [&](std::error_code aec) {
        if (aec || rlistener->accept(*rconn)) {
          rlistener->close();
          rconn->close();
          return;
        }
        rlistener->close();
        rconn->write(eddy::buffer("hello from the other loop"), [&](std::error_code) { rconn->close(); });
      });
    });
  });
  ASSERT_FALSE(rx.listen_error()) << rx.listen_error().message();

  eddy::tcp listener(loop());
  eddy::pipe channel(loop(), true);
  ASSERT_FALSE(listener.bind(eddy::socket_address::loopback_v4(0)));
  // This loop's accepts are cancelled when it closes its copy, before any client comes.
  ASSERT_FALSE(listener.listen(8, [](std::error_code ec) {
    if (ec != eddy::errc::operation_canceled) ADD_FAILURE() << "the sender accepted: " << ec.message();
  }));
  std::error_code local_ec;
  const auto port = listener.local_address(local_ec).port();
  ASSERT_FALSE(local_ec);
  std::error_code sent;
  ASSERT_FALSE(channel.connect(name, [&](std::error_code cec) {
    ASSERT_FALSE(cec) << cec.message();
    auto one = eddy::buffer("L");
    ASSERT_FALSE(channel.write2(std::span<const eddy::const_buffer>(&one, 1), listener, [&](std::error_code wec) {
      sent = wec;
      listener.close();
      channel.close();
    }));
  }));
  loop().run();
  ASSERT_FALSE(sent) << sent.message();

  eddy::tcp client(loop());
  std::string got;
  ASSERT_FALSE(client.connect(eddy::socket_address::loopback_v4(port), [&](std::error_code ec) {
    ASSERT_FALSE(ec) << ec.message();
    client.read_start([&](std::error_code rec, std::span<std::byte> d) {
      if (rec) {
        client.close();
        return;
      }
      got += text(d);
    });
  }));
  loop().run();
  EXPECT_EQ(got, "hello from the other loop");
  EXPECT_EQ(rx.finish(), "");
  rlistener.reset();
  rconn.reset();
}

// Plain bytes over an ipc pipe keep their order and boundaries do not matter: many writes
// of different sizes arrive as one byte stream (on Windows each write is a frame).
TEST_P(IpcLoopsTest, BytesAloneFlowLikeAnyPipe) {
  const std::string name = unique_ipc_name();
  std::string received;
  receiver rx(GetParam(), name, [&](eddy::loop&, eddy::pipe& channel) {
    channel.read_start([&, &channel = channel](std::error_code ec, std::span<std::byte> d) {
      if (ec) {
        if (ec != eddy::errc::eof) received += "<" + ec.message() + ">";
        channel.close();
        return;
      }
      received += text(d);
    });
  });
  ASSERT_FALSE(rx.listen_error()) << rx.listen_error().message();
  eddy::pipe channel(loop(), true);
  std::string expected;
  std::vector<std::string> pieces;
  for (int i = 0; i < 200; ++i) pieces.push_back(std::string(static_cast<std::size_t>(1 + (i * 7919) % 70000), static_cast<char>('A' + i % 26)));
  for (auto& p : pieces) expected += p;
  ASSERT_FALSE(channel.connect(name, [&](std::error_code cec) {
    ASSERT_FALSE(cec) << cec.message();
    for (auto& p : pieces) channel.write(eddy::buffer(p), [](std::error_code wec) { EXPECT_FALSE(wec); });
    channel.shutdown([&](std::error_code) { channel.close(); });
  }));
  loop().run();
  EXPECT_EQ(rx.finish(), "");
  EXPECT_EQ(received.size(), expected.size());
  EXPECT_TRUE(received == expected);
}

// Windows frames every write on an ipc pipe. A peer that writes something else (here a
// plain pipe client) makes the reader fail with protocol_error; nothing crashes, the loop
// carries on. On POSIX handles travel beside the bytes (SCM_RIGHTS): there is no framing.
TEST_P(IpcLoopsTest, AMalformedFrameIsAnErrorNotACrash) {
#if !defined(_WIN32)
  GTEST_SKIP() << "ipc pipes are not framed on POSIX (SCM_RIGHTS)";
#else
  for (const std::string& garbage : {std::string("GET / HTTP/1.1\r\n\r\n"), std::string("eddy")}) {
    const std::string name = unique_ipc_name();
    std::error_code seen;
    receiver rx(GetParam(), name, [&](eddy::loop&, eddy::pipe& channel) {
      channel.read_start([&, &channel = channel](std::error_code ec, std::span<std::byte>) {
        if (!ec) return;
        seen = ec;
        channel.close();
      });
    });
    ASSERT_FALSE(rx.listen_error()) << rx.listen_error().message();
    eddy::pipe plain(loop());  // not ipc: its bytes go unframed
    ASSERT_FALSE(plain.connect(name, [&](std::error_code cec) {
      ASSERT_FALSE(cec) << cec.message();
      plain.write(eddy::buffer(garbage), [&](std::error_code) { plain.close(); });
    }));
    loop().run();
    EXPECT_EQ(rx.finish(), "");
    // A header that does not check out, or one cut short by the end of the stream.
    EXPECT_EQ(seen, eddy::errc::protocol_error) << garbage << ": " << seen.message();
  }
#endif
}

// A listening socket passed to another process (eddy_test_helper ipc-serve) serves there:
// SCM_RIGHTS on Linux, WSADuplicateSocketW for the child's pid on Windows.
TEST_P(IpcLoopsTest, AListenerPassedToAnotherProcessServesThere) {
  const std::string name = unique_ipc_name();
  eddy::pipe server(loop(), true), channel(loop(), true);
  ASSERT_FALSE(server.bind(name));
  eddy::tcp listener(loop());
  ASSERT_FALSE(listener.bind(eddy::socket_address::loopback_v4(0)));
  ASSERT_FALSE(listener.listen(8, [](std::error_code ec) {
    if (ec != eddy::errc::operation_canceled) ADD_FAILURE() << "the sender accepted: " << ec.message();
  }));
  std::error_code lec;
  const auto port = listener.local_address(lec).port();
  ASSERT_FALSE(lec);

  // Listening before the child starts: it connects at once.
  int child_pid = 0;
  std::error_code sent;
  ASSERT_FALSE(server.listen(1, [&](std::error_code ec) {
    ASSERT_FALSE(ec) << ec.message();
    ASSERT_FALSE(server.accept(channel));
    server.close();
    auto one = eddy::buffer("L");
    ASSERT_FALSE(channel.write2(std::span<const eddy::const_buffer>(&one, 1), listener, [&](std::error_code wec) {
      sent = wec;
      channel.close();
      // Our copy; the child's stays open. Once ours is closed (its accepts withdrawn), the
      // child alone listens: connect and hear it.
      listener.close([&] {
      auto client = std::make_shared<eddy::tcp>(loop());
      auto got = std::make_shared<std::string>();
      ASSERT_FALSE(client->connect(eddy::socket_address::loopback_v4(port), [&, client, got](std::error_code cec) {
        ASSERT_FALSE(cec) << cec.message();
        client->read_start([&, client, got](std::error_code rec, std::span<std::byte> d) {
          if (!rec) {
            *got += text(d);
            return;
          }
          EXPECT_EQ(*got, "hello from pid " + std::to_string(child_pid));
          client->close();
        });
      }));
      });
    }));
  }));
  eddy::process child(loop());
  eddy::process_options o;
  o.file = eddy_test::helper_path();
  o.args = {o.file, "ipc-serve", name};
  o.env_how = eddy::env_mode::add;
  o.env = {"EDDY_BACKEND=" + std::string(eddy::to_string(GetParam()))};
  o.stdio = {eddy::stdio_option::ignored(), eddy::stdio_option::inherited(), eddy::stdio_option::inherited()};
  std::int64_t exit_status = -1;
  int term_signal = -1;
  ASSERT_FALSE(child.spawn(o, [&](std::int64_t st, int sig) {
    exit_status = st;
    term_signal = sig;
    child.close();
  }));
  child_pid = child.pid();

  loop().run();
  EXPECT_FALSE(sent) << sent.message();
  EXPECT_EQ(exit_status, 0);
  EXPECT_EQ(term_signal, 0);
}

// write2 needs an ipc pipe and a handle with a socket, and a byte to carry it.
TEST_P(IpcLoopsTest, WriteTwoChecksItsArguments) {
  const std::string name = unique_ipc_name();
  eddy::pipe plain(loop());
  eddy::pipe ipc(loop(), true);
  eddy::tcp bound(loop()), empty(loop());
  ASSERT_FALSE(bound.bind(eddy::socket_address::loopback_v4(0)));
  auto one = eddy::buffer("x");
  const std::span<const eddy::const_buffer> bufs(&one, 1);
  EXPECT_EQ(plain.write2(bufs, bound, [](std::error_code) {}), eddy::errc::not_supported);
  EXPECT_EQ(ipc.write2(std::span<const eddy::const_buffer>(), bound, [](std::error_code) {}),
            eddy::errc::invalid_argument);
  EXPECT_EQ(ipc.write2(bufs, empty, [](std::error_code) {}), eddy::errc::bad_descriptor);
  EXPECT_EQ(plain.pending_count(), 0u);
  plain.close();
  ipc.close();
  bound.close();
  empty.close();
  loop().run();
}

}  // namespace
