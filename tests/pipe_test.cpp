// Local IPC streams on every port: Unix domain sockets on Linux, named pipes on Windows.
#include <atomic>
#include <cstdio>
#include <string>

#include "port_fixture.hpp"

#if defined(_WIN32)
#include <process.h>
#define EDDY_TEST_GETPID _getpid
#else
#include <sys/stat.h>
#include <unistd.h>
#define EDDY_TEST_GETPID getpid
#endif

namespace {

using eddy_test::PortTest;

// A name nobody else uses: per process and per call.
std::string unique_pipe_name() {
  static std::atomic<int> n{0};
  std::string base = "eddy-test-" + std::to_string(EDDY_TEST_GETPID()) + "-" + std::to_string(n++);
#if defined(_WIN32)
  return "\\\\.\\pipe\\" + base;
#else
  return "/tmp/" + base + ".sock";
#endif
}

std::string text(std::span<const std::byte> d) { return {reinterpret_cast<const char*>(d.data()), d.size()}; }

class PipeTest : public PortTest {
 protected:
  // Echo server on `name`; returns when it is listening.
  void start_echo(const std::string& name) {
    server_ = std::make_unique<eddy::pipe>(loop());
    ASSERT_FALSE(server_->bind(name));
    ASSERT_FALSE(server_->listen(16, [this](std::error_code ec) {
      ASSERT_FALSE(ec);
      auto& c = *conns_.emplace_back(std::make_unique<eddy::pipe>(loop()));
      ASSERT_FALSE(server_->accept(c));
      c.read_start([this, &c](std::error_code rec, std::span<std::byte> d) {
        if (rec) {
          c.close();
          return;
        }
        auto copy = std::make_shared<std::string>(text(d));
        c.write(eddy::buffer(*copy), [copy](std::error_code) {});
      });
    }));
  }

  // Connects to name, sends msg, returns what comes back once `expect` bytes arrived.
  std::string round_trip(const std::string& name, const std::string& msg) {
    eddy::pipe client(loop());
    std::string got;
    std::error_code connect_error;
    EXPECT_FALSE(client.connect(name, [&](std::error_code ec) {
      connect_error = ec;
      if (ec) {
        client.close();
        server_->close();
        return;
      }
      client.read_start([&](std::error_code rec, std::span<std::byte> d) {
        if (!rec) got += text(d);
        if (rec || got.size() >= msg.size()) {
          client.close();
          server_->close();
        }
      });
      client.write(eddy::buffer(msg), [](std::error_code) {});
    }));
    loop().run();
    EXPECT_FALSE(connect_error) << connect_error.message();
    return got;
  }

  std::unique_ptr<eddy::pipe> server_;
  std::vector<std::unique_ptr<eddy::pipe>> conns_;
};
EDDY_INSTANTIATE_PORTS(PipeTest);

TEST_P(PipeTest, EchoOverANamedPipe) {
  const auto name = unique_pipe_name();
  start_echo(name);
  std::string big(300000, 'p');
  EXPECT_EQ(round_trip(name, big), big);
}

TEST_P(PipeTest, NamesAreReported) {
  const auto name = unique_pipe_name();
  start_echo(name);
  std::error_code ec;
  EXPECT_EQ(server_->local_name(ec), name);
  EXPECT_FALSE(ec);
  server_->close();
  loop().run();
}

TEST_P(PipeTest, ConnectingToNothingFails) {
  eddy::pipe client(loop());
  std::error_code result;
  bool called = false;
  ASSERT_FALSE(client.connect(unique_pipe_name(), [&](std::error_code ec) {
    called = true;
    result = ec;
    client.close();
  }));
  loop().run();
  EXPECT_TRUE(called);
  EXPECT_TRUE(result == eddy::errc::no_such_file || result == eddy::errc::connection_refused) << result.message();
}

TEST_P(PipeTest, BindingANameInUseFails) {
  const auto name = unique_pipe_name();
  start_echo(name);
  eddy::pipe second(loop());
  std::error_code ec = second.bind(name);
  if (!ec) ec = second.listen(4, [](std::error_code) {});
  EXPECT_EQ(ec, eddy::errc::address_in_use) << ec.message();
  second.close();
  server_->close();
  loop().run();
}

#if !defined(_WIN32)
TEST_P(PipeTest, AbstractNamesWork) {
  std::string name(1, '\0');
  name += "eddy-abstract-" + std::to_string(getpid());
  start_echo(name);
  EXPECT_EQ(round_trip(name, "abstract"), "abstract");
}

TEST_P(PipeTest, ChmodAndTheFileGoesAwayOnClose) {
  const auto name = unique_pipe_name();
  start_echo(name);
  ASSERT_FALSE(server_->chmod(eddy::pipe_access::read_write));
  struct stat st {};
  ASSERT_EQ(::stat(name.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0666u);
  ASSERT_FALSE(server_->chmod(eddy::pipe_access::readable));
  ASSERT_EQ(::stat(name.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0444u);
  server_->close();
  loop().run();
  EXPECT_NE(::stat(name.c_str(), &st), 0);  // removed with the listener
}

TEST_P(PipeTest, TooLongANameIsRejected) {
  eddy::pipe p(loop());
  EXPECT_EQ(p.bind("/tmp/" + std::string(200, 'x')), eddy::errc::invalid_argument);
  p.close();
  loop().run();
}
#endif

}  // namespace
