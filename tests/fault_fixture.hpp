// The fixture of the Fault tests (fault_test.cpp, fault_process_test.cpp): a port fixture
// that disarms the fault hook (platform/contract/fault.hpp) around every test, runs the loop
// until a condition holds (a guard timer fails the test instead of hanging), and closes
// everything at the end, requiring run() to return. Only built with EDDY_FAULT_INJECTION=ON.
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "platform/contract/fault.hpp"
#include "port_fixture.hpp"

namespace eddy_test {

namespace fault = eddy::contract::fault;

inline std::string text(std::span<const std::byte> d) { return {reinterpret_cast<const char*>(d.data()), d.size()}; }

// The error reached its callback as the expected portable code, with a readable message.
#define EDDY_EXPECT_FAULT(ec, want)                       \
  do {                                                    \
    const std::error_code fault_ec_ = (ec);               \
    EXPECT_EQ(fault_ec_, want) << fault_ec_.message();    \
    EXPECT_FALSE(fault_ec_.message().empty());            \
  } while (0)

class FaultTest : public PortTest {
 protected:
  void SetUp() override {
    fault::disarm_all();
    PortTest::SetUp();
    if (IsSkipped()) return;
    guard_ = std::make_unique<eddy::timer>(loop());
  }

  void TearDown() override {
    fault::disarm_all();
    if (guard_) {
      guard_->close();
      for (int i = 0; i < 4 && loop_->handle_count() != 0; ++i) loop_->run(eddy::run_mode::nowait);
      guard_.reset();
    }
    PortTest::TearDown();
  }

  // Runs the loop, one poll at a time, until done() holds; false (and a failure) after limit.
  bool run_until(const std::function<bool()>& done, std::chrono::seconds limit = std::chrono::seconds(20)) {
    bool expired = false;
    guard_->start(limit, [&] { expired = true; });
    while (!done() && !expired) loop().run(eddy::run_mode::once);
    guard_->stop();
    EXPECT_FALSE(expired) << "the awaited event never came\n" << loop().dump_handles();
    return !expired;
  }

  // Closes every handle still open and runs the loop: run() must return (no callback or
  // request left hanging), within a guard that fails the test instead.
  void close_all_and_exit() {
    eddy::timer* guard = guard_.get();
    loop().walk([guard](eddy::handle& h) {
      if (&h != guard && !h.is_closing()) h.close();
    });
    bool expired = false;
    guard_->start(std::chrono::seconds(20), [&] {
      expired = true;
      loop().stop();
    });
    guard_->unref();
    loop().run();
    guard_->stop();
    guard_->ref();
    EXPECT_FALSE(expired) << "run() did not return once everything was closed\n" << loop().dump_handles();
  }

  std::unique_ptr<eddy::timer> guard_;
};

// A TCP echo server: echoes what each connection sends; records every error its callbacks get.
struct echo_server {
  explicit echo_server(eddy::loop& l) : loop(l), listener(l) {}

  std::error_code start() {
    if (auto ec = listener.bind(eddy::socket_address::loopback_v4(0))) return ec;
    if (auto ec = listener.listen(64, [this](std::error_code e) { on_connection(e); })) return ec;
    addr = listener.local_address();
    return {};
  }

  void on_connection(std::error_code ec) {
    if (ec) {
      accept_errors.push_back(ec);
      return;
    }
    auto c = std::make_unique<eddy::tcp>(loop);
    if (auto aec = listener.accept(*c)) {
      accept_errors.push_back(aec);
      c->close();
      conns.push_back(std::move(c));
      return;
    }
    eddy::tcp* raw = c.get();
    conns.push_back(std::move(c));
    start_echo(*raw);
  }

  void start_echo(eddy::tcp& c) {
    auto ec = c.read_start([this, &c](std::error_code rec, std::span<std::byte> data) {
      if (rec) {
        if (rec != eddy::errc::eof) read_errors.push_back(rec);
        if (!c.is_closing()) c.close();
        return;
      }
      auto m = std::make_shared<std::string>(text(data));
      auto wec = c.write(eddy::buffer(*m), [this, &c, m](std::error_code e) {
        if (!e || e == eddy::errc::operation_canceled) return;
        write_errors.push_back(e);
        if (!c.is_closing()) c.close();
      });
      if (wec) {
        write_errors.push_back(wec);
        if (!c.is_closing()) c.close();
      }
    });
    if (ec) read_errors.push_back(ec);
  }

  [[nodiscard]] std::size_t open_conns() const {
    std::size_t n = 0;
    for (const auto& c : conns) n += c->is_closing() ? 0 : 1;
    return n;
  }

  eddy::loop& loop;
  eddy::tcp listener;
  eddy::socket_address addr;
  std::vector<std::unique_ptr<eddy::tcp>> conns;
  std::vector<std::error_code> accept_errors, read_errors, write_errors;
};

// A client of the echo server. It reads with read_some into its own buffer (so its reads never
// pass the memory point: only the server's do).
struct fault_echo_client {
  explicit fault_echo_client(eddy::loop& l) : sock(l) {}

  void connect(const eddy::socket_address& addr) {
    auto ec = sock.connect(addr, [this](std::error_code e) {
      connect_calls++;
      if (e) {
        connect_error = e;
        return;
      }
      connected = true;
      read_next();
    });
    if (ec) connect_error = ec;
  }

  void read_next() {
    auto ec = sock.read_some(eddy::mutable_buffer(buf.data(), buf.size()), [this](std::error_code e, std::span<std::byte> d) {
      if (e) {
        read_error = e;
        ended = true;
        return;
      }
      received += text(d);
      read_next();
    });
    if (ec) {
      read_error = ec;
      ended = true;
    }
  }

  std::error_code send(std::string msg) {
    auto m = std::make_shared<std::string>(std::move(msg));
    return sock.write(eddy::buffer(*m), [this, m](std::error_code e) {
      write_calls++;
      if (e && !write_error) write_error = e;
    });
  }

  eddy::tcp sock;
  bool connected = false;
  bool ended = false;
  int connect_calls = 0;
  int write_calls = 0;
  std::error_code connect_error, read_error, write_error;
  std::string received;
  std::array<std::byte, 4096> buf{};
};

}  // namespace eddy_test
