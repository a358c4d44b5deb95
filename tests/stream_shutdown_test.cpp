// A shutdown() waiting behind queued writes must complete when those writes fail (found by
// tools/bench/soak_tcp: an echo server half-closes after its peer's end of stream; when a
// queued echo failed, the shutdown never ran and the connection stayed open for good).
#include <chrono>
#include <memory>
#include <vector>

#include "port_fixture.hpp"

namespace {

using namespace std::chrono_literals;
using eddy::socket_address;
using eddy_test::PortTest;

class StreamShutdownTest : public PortTest {};

TEST_P(StreamShutdownTest, AShutdownBehindFailedWritesCompletes) {
  eddy::tcp server(loop()), accepted(loop()), client(loop());
  eddy::timer guard(loop());
  ASSERT_FALSE(server.bind(socket_address::loopback_v4(0)));
  constexpr int writes = 32;  // 32 MiB: more than the socket buffers take, so most stay queued
  std::vector<std::byte> data(1 << 20, std::byte{'x'});
  std::vector<std::byte> first(1);
  int write_errors = 0, shutdown_calls = 0, writes_failed_before_shutdown = 0;
  auto close_all = [&] {
    guard.close();
    client.close();
    accepted.close();
    server.close();
  };
  // The server takes one byte, so the client's writes and shutdown are queued by then, and
  // resets the connection: the queued writes fail, and the shutdown behind them must finish.
  ASSERT_FALSE(server.listen(16, [&](std::error_code ec) {
    ASSERT_FALSE(ec) << ec.message();
    ASSERT_FALSE(server.accept(accepted));
    ASSERT_FALSE(accepted.read_some(first, [&](std::error_code rec, std::span<std::byte>) {
      EXPECT_FALSE(rec) << rec.message();
      accepted.close_reset();
    }));
  }));
  ASSERT_FALSE(client.connect(server.local_address(), [&](std::error_code ec) {
    ASSERT_FALSE(ec) << ec.message();
    for (int i = 0; i < writes; ++i) {
      ASSERT_FALSE(client.write(eddy::const_buffer(data), [&](std::error_code wec) {
        if (wec) ++write_errors;
      }));
    }
    ASSERT_FALSE(client.shutdown([&](std::error_code) {  // shutdown(2)'s own result on a reset socket
      ++shutdown_calls;
      writes_failed_before_shutdown = write_errors;
      close_all();
    }));
  }));
  guard.start(20s, [&] {
    ADD_FAILURE() << "the shutdown callback did not run (" << write_errors << " writes failed)";
    close_all();
  });
  loop().run();
  EXPECT_EQ(shutdown_calls, 1);
  EXPECT_GT(writes_failed_before_shutdown, 0);             // it waited for the writes, which failed
  EXPECT_EQ(write_errors, writes_failed_before_shutdown);  // every failed write came first
}

EDDY_INSTANTIATE_PORTS(StreamShutdownTest);

}  // namespace
