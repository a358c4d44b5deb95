// Linux: handle passing over an ipc pipe between two processes (SCM_RIGHTS). The parent
// passes a listening socket to a forked child; the child serves a connection on it.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "port_fixture.hpp"

namespace {

using eddy_test::PortTest;

class IpcTest : public PortTest {};
EDDY_INSTANTIATE_PORTS(IpcTest);

// The child: receives a listener over the ipc pipe, accepts one connection, greets it.
[[noreturn]] void child(eddy::backend_kind kind, int fd) {
  std::error_code ec;
  auto loop = eddy::loop::create(eddy::loop_options{kind}, ec);
  if (!loop) _exit(10);
  eddy::pipe channel(*loop, true);
  eddy::tcp listener(*loop), conn(*loop);
  if (channel.open(fd)) _exit(11);
  int status = 12;
  channel.read_start([&](std::error_code rec, std::span<std::byte> d) {
    if (rec || channel.pending_count() != 1 || d.empty() || static_cast<char>(d[0]) != 'L') {
      status = 13;
      channel.close();
      return;
    }
    if (channel.accept_pending(listener)) {
      status = 14;
      channel.close();
      return;
    }
    channel.close();
    listener.listen(8, [&](std::error_code aec) {
      if (aec || listener.accept(conn)) {
        status = 15;
        listener.close();
        return;
      }
      listener.close();
      conn.write(eddy::buffer("hello from the child"), [&](std::error_code wec) {
        status = wec ? 16 : 0;
        conn.close();
      });
    });
  });
  loop->run();
  _exit(status);
}

TEST_P(IpcTest, AListenerPassedToAnotherProcessServesThere) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  // A listening socket made directly, so that this process does not accept on it.
  int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(lfd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ASSERT_EQ(::listen(lfd, 8), 0);
  socklen_t len = sizeof sa;
  ASSERT_EQ(::getsockname(lfd, reinterpret_cast<sockaddr*>(&sa), &len), 0);

  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(sv[0]);
    ::close(lfd);
    child(GetParam(), sv[1]);
  }
  ::close(sv[1]);

  eddy::pipe channel(loop(), true);
  ASSERT_FALSE(channel.open(sv[0]));
  eddy::tcp listener(loop());
  ASSERT_FALSE(listener.open(lfd));
  eddy::tcp not_a_socket_yet(loop());
  EXPECT_EQ(channel.write2(std::span<const eddy::const_buffer>(), listener, [](std::error_code) {}),
            eddy::errc::invalid_argument);
  auto one = eddy::buffer("L");
  EXPECT_EQ(channel.write2(std::span<const eddy::const_buffer>(&one, 1), not_a_socket_yet, [](std::error_code) {}),
            eddy::errc::bad_descriptor);
  std::error_code sent;
  ASSERT_FALSE(channel.write2(std::span<const eddy::const_buffer>(&one, 1), listener, [&](std::error_code ec) {
    sent = ec;
    listener.close();  // our copy; the child's stays open
    channel.close();
  }));
  not_a_socket_yet.close();
  loop().run();
  EXPECT_FALSE(sent) << sent.message();

  // Connect to the passed listener: the child answers.
  eddy::tcp client(loop());
  std::string got;
  ASSERT_FALSE(client.connect(eddy::socket_address::loopback_v4(ntohs(sa.sin_port)), [&](std::error_code ec) {
    ASSERT_FALSE(ec) << ec.message();
    client.read_start([&](std::error_code rec, std::span<std::byte> d) {
      if (rec) {
        client.close();
        return;
      }
      got.append(reinterpret_cast<const char*>(d.data()), d.size());
    });
  }));
  loop().run();
  EXPECT_EQ(got, "hello from the child");
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST_P(IpcTest, WriteTwoNeedsAnIpcPipe) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  eddy::pipe plain(loop());
  ASSERT_FALSE(plain.open(sv[0]));
  eddy::tcp t(loop());
  auto one = eddy::buffer("x");
  EXPECT_EQ(plain.write2(std::span<const eddy::const_buffer>(&one, 1), t, [](std::error_code) {}),
            eddy::errc::not_supported);
  EXPECT_EQ(plain.pending_count(), 0u);
  plain.close();
  t.close();
  ::close(sv[1]);
  loop().run();
}

}  // namespace
