// Local IPC streams on every port: Unix domain sockets on Linux, named pipes on Windows.
#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "port_fixture.hpp"

#if defined(_WIN32)
#include "platform/win32/win32.hpp"  // winsock2, ws2tcpip and windows, lean
#include "wine.hpp"
#else
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace {

using eddy_test::PortTest;

using eddy_test::unique_pipe_name;

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
      c.read_start([&c](std::error_code rec, std::span<std::byte> d) {
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

// More clients at once than a Windows listener keeps instances pending (4): the others
// find the pipe busy and retry until the server has accepted some.
TEST_P(PipeTest, ManyClientsAtOnce) {
  const auto name = unique_pipe_name();
  start_echo(name);
  constexpr int n = 10;
  std::vector<std::string> msgs;
  std::vector<std::string> got(n);
  std::vector<std::unique_ptr<eddy::pipe>> clients;
  int done = 0;
  for (int i = 0; i < n; ++i) msgs.push_back("client number " + std::to_string(i));
  for (int i = 0; i < n; ++i) {
    auto& c = *clients.emplace_back(std::make_unique<eddy::pipe>(loop()));
    ASSERT_FALSE(c.connect(name, [&, i](std::error_code ec) {
      EXPECT_FALSE(ec) << ec.message();
      const auto finish = [&] {
        c.close();
        if (++done == n) server_->close();
      };
      if (ec) return finish();
      c.read_start([&, i, finish](std::error_code rec, std::span<std::byte> d) {
        if (!rec) got[i] += text(d);
        if (rec || got[i].size() >= msgs[i].size()) finish();
      });
      c.write(eddy::buffer(msgs[i]), [](std::error_code) {});
    }));
  }
  loop().run();
  for (int i = 0; i < n; ++i) EXPECT_EQ(got[i], msgs[i]);
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

TEST_P(PipeTest, AConnectedClientKnowsThePeerName) {
  const auto name = unique_pipe_name();
  start_echo(name);
  eddy::pipe client(loop());
  std::string peer;
  std::error_code peer_error = eddy::make_error_code(eddy::errc::unknown);
  ASSERT_FALSE(client.connect(name, [&](std::error_code ec) {
    ASSERT_FALSE(ec) << ec.message();
    peer = client.peer_name(peer_error);
    client.close();
    server_->close();
  }));
  loop().run();
  EXPECT_FALSE(peer_error) << peer_error.message();
  EXPECT_EQ(peer, name);
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
#if defined(_WIN32)
  // Wine (checked with 8.0) ignores FILE_FLAG_FIRST_PIPE_INSTANCE: a second CreateNamedPipeW
  // with it succeeds, so a second listener can claim a name in use. Windows refuses it.
  if (running_under_wine()) GTEST_SKIP() << "Wine ignores FILE_FLAG_FIRST_PIPE_INSTANCE";
#endif
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

#if defined(_WIN32)
// pipe::open takes any overlapped HANDLE as a stream: a file is read and written at a
// position the port keeps (an overlapped file handle has none of its own).
TEST_P(PipeTest, AnOverlappedFileIsAStream) {
  wchar_t dir[MAX_PATH + 1];
  ASSERT_NE(::GetTempPathW(MAX_PATH, dir), 0u);
  const std::wstring path = std::wstring(dir) + L"eddy-stream-" + std::to_wstring(eddy::os::pid()) + L".bin";
  std::string data(200000, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('a' + i % 26);

  HANDLE w = ::CreateFileW(path.c_str(), GENERIC_WRITE, FILE_SHARE_READ, nullptr, CREATE_ALWAYS,
                           FILE_FLAG_OVERLAPPED, nullptr);
  ASSERT_NE(w, INVALID_HANDLE_VALUE);
  eddy::pipe writer(loop());
  ASSERT_FALSE(writer.open(reinterpret_cast<std::intptr_t>(w)));
  std::error_code write_error = eddy::make_error_code(eddy::errc::unknown);
  const std::string head = data.substr(0, 1000);  // two writes: the second goes at the offset the first left
  const std::string rest = data.substr(1000);
  ASSERT_FALSE(writer.write(eddy::buffer(head), [](std::error_code) {}));
  ASSERT_FALSE(writer.write(eddy::buffer(rest), [&](std::error_code ec) {
    write_error = ec;
    writer.close();
  }));
  loop().run();
  EXPECT_FALSE(write_error) << write_error.message();

  HANDLE r = ::CreateFileW(path.c_str(), GENERIC_READ, FILE_SHARE_READ, nullptr, OPEN_EXISTING, FILE_FLAG_OVERLAPPED,
                           nullptr);
  ASSERT_NE(r, INVALID_HANDLE_VALUE);
  eddy::pipe reader(loop());
  ASSERT_FALSE(reader.open(reinterpret_cast<std::intptr_t>(r)));
  std::string got;
  std::error_code end;
  ASSERT_FALSE(reader.read_start([&](std::error_code ec, std::span<std::byte> d) {
    if (!ec) {
      got += text(d);
      return;
    }
    end = ec;
    reader.close();
  }));
  loop().run();
  ::DeleteFileW(path.c_str());
  EXPECT_EQ(end, eddy::errc::eof);
  EXPECT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data);
}

// A handle opened for synchronous I/O (CreatePipe) would block the loop in ReadFile.
TEST_P(PipeTest, ASynchronousHandleIsRefused) {
  HANDLE r = nullptr;
  HANDLE w = nullptr;
  ASSERT_TRUE(::CreatePipe(&r, &w, nullptr, 0));
  eddy::pipe p(loop());
  EXPECT_EQ(p.open(reinterpret_cast<std::intptr_t>(r)), eddy::errc::not_supported);
  ::CloseHandle(r);
  ::CloseHandle(w);
  p.close();
  loop().run();
}
#endif

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
