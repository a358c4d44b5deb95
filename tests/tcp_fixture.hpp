// The fixture of the TCP and stream tests (tcp_test.cpp, stream_test.cpp): a port's loop
// (PortTest) with an echo server on loopback, an echo client, and a byte pattern. The echo
// server's sockets belong to the fixture and are closed with the loop's handles at TearDown.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "port_fixture.hpp"

namespace eddy_test {

using eddy::socket_address;

inline std::vector<std::byte> pattern(std::size_t n, unsigned seed = 1) {
  std::vector<std::byte> v(n);
  std::uint32_t x = seed * 2654435761u;
  for (auto& b : v) {
    x = x * 1664525u + 1013904223u;
    b = static_cast<std::byte>(x >> 24);
  }
  return v;
}

inline std::string as_string(std::span<const std::byte> d) { return {reinterpret_cast<const char*>(d.data()), d.size()}; }

class TcpTest : public PortTest {
 protected:
  // An echo server on loopback: every byte read is written back; EOF half-closes back.
  socket_address start_echo_server(socket_address bind_to = socket_address::loopback_v4(0)) {
    server_ = std::make_unique<eddy::tcp>(loop());
    EXPECT_FALSE(server_->bind(bind_to));
    EXPECT_FALSE(server_->listen(1024, [this](std::error_code ec) {
      ASSERT_FALSE(ec) << ec.message();
      auto& c = *server_conns_.emplace_back(std::make_unique<eddy::tcp>(loop()));
      ASSERT_FALSE(server_->accept(c));
      c.read_start([this, &c](std::error_code rec, std::span<std::byte> data) {
        if (rec == eddy::errc::eof) {
          c.shutdown([&c](std::error_code) { c.close(); });
          return;
        }
        if (rec) {
          c.close();
          return;
        }
        auto copy = std::make_shared<std::vector<std::byte>>(data.begin(), data.end());
        c.write(eddy::const_buffer(*copy), [copy](std::error_code) {});
        ++echo_reads_;
      });
    }));
    return server_->local_address();
  }

  void close_server() {
    if (server_) server_->close();
  }

  std::unique_ptr<eddy::tcp> server_;
  std::vector<std::unique_ptr<eddy::tcp>> server_conns_;
  int echo_reads_ = 0;
};

// A client that sends `data`, reads until EOF, and records what came back.
struct echo_client {
  echo_client(eddy::loop& l, socket_address to, std::vector<std::byte> payload, std::function<void()> done)
      : sock(l), data(std::move(payload)), on_done(std::move(done)) {
    EXPECT_FALSE(sock.connect(to, [this](std::error_code ec) {
      ASSERT_FALSE(ec) << ec.message();
      connected = true;
      EXPECT_FALSE(sock.read_start([this](std::error_code rec, std::span<std::byte> d) {
        if (rec) {
          final_error = rec;
          sock.close();
          if (on_done) on_done();
          return;
        }
        received.insert(received.end(), d.begin(), d.end());
      }));
      EXPECT_FALSE(sock.write(eddy::const_buffer(data), [this](std::error_code wec) {
        write_error = wec;
        ++writes_done;
        EXPECT_FALSE(sock.shutdown([this](std::error_code sec) { shutdown_error = sec; }));
      }));
    }));
  }
  eddy::tcp sock;
  std::vector<std::byte> data;
  std::vector<std::byte> received;
  std::function<void()> on_done;
  bool connected = false;
  int writes_done = 0;
  std::error_code write_error, shutdown_error, final_error;
};

}  // namespace eddy_test
