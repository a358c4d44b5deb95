// Linux: terminals in a pseudo-terminal (openpty), descriptor kinds, and reading a pipe
// descriptor the way a program reads stdin when it is a pipe.
#include <fcntl.h>
#include <pty.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "port_fixture.hpp"

namespace {

using eddy_test::PortTest;

std::string text(std::span<const std::byte> d) { return {reinterpret_cast<const char*>(d.data()), d.size()}; }

class TtyTest : public PortTest {
 protected:
  void SetUp() override {
    PortTest::SetUp();
    if (IsSkipped()) return;
    ASSERT_EQ(::openpty(&master_, &slave_, nullptr, nullptr, nullptr), 0);
  }
  void TearDown() override {
    PortTest::TearDown();
    if (master_ >= 0) ::close(master_);
    if (slave_ >= 0) ::close(slave_);
  }
  int master_ = -1, slave_ = -1;
};
EDDY_INSTANTIATE_PORTS(TtyTest);

TEST_P(TtyTest, ReadsKeysInRawModeAndWritesBack) {
  eddy::tty t(loop());
  ASSERT_FALSE(t.open(slave_));
  ASSERT_FALSE(t.set_mode(eddy::tty_mode::raw));
  termios tio{};
  ASSERT_EQ(::tcgetattr(slave_, &tio), 0);
  EXPECT_EQ(tio.c_lflag & (ICANON | ECHO), 0u);  // raw: no line editing, no echo

  // The master side is read through eddy too: a pty master is a character device.
  eddy::pipe master(loop());
  ASSERT_FALSE(master.open(::fcntl(master_, F_DUPFD_CLOEXEC, 3)));
  std::string from_tty;
  ASSERT_FALSE(master.read_start([&](std::error_code ec, std::span<std::byte> d) {
    ASSERT_FALSE(ec) << ec.message();
    from_tty += text(d);
    if (from_tty.find("ok") != std::string::npos) {
      master.close();
      t.close();
    }
  }));
  std::string keys;
  ASSERT_FALSE(t.read_start([&](std::error_code ec, std::span<std::byte> d) {
    ASSERT_FALSE(ec) << ec.message();
    keys += text(d);
    if (keys == "ab") {  // raw mode: arrives without a newline
      t.write(eddy::buffer("ok"), [](std::error_code wec) { EXPECT_FALSE(wec); });
    }
  }));
  ASSERT_EQ(::write(master_, "ab", 2), 2);
  loop().run();
  EXPECT_EQ(keys, "ab");
  EXPECT_NE(from_tty.find("ok"), std::string::npos);
}

TEST(TtyResetTest, ResetModeRestoresTheFirstSavedMode) {
  // reset_mode() restores the terminal the process first changed (libuv's rule), so check it
  // in a child process of its own.
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int m = -1, s = -1;
    if (::openpty(&m, &s, nullptr, nullptr, nullptr) != 0) _exit(2);
    eddy::loop l;
    eddy::tty t(l);
    if (t.open(s) || t.set_mode(eddy::tty_mode::raw)) _exit(3);
    termios tio{};
    ::tcgetattr(s, &tio);
    if ((tio.c_lflag & ICANON) != 0) _exit(4);
    if (eddy::tty::reset_mode()) _exit(5);
    ::tcgetattr(s, &tio);
    _exit((tio.c_lflag & ICANON) != 0 ? 0 : 6);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST_P(TtyTest, WindowSize) {
  winsize ws{};
  ws.ws_col = 123;
  ws.ws_row = 45;
  ASSERT_EQ(::ioctl(master_, TIOCSWINSZ, &ws), 0);
  eddy::tty t(loop());
  ASSERT_FALSE(t.open(slave_));
  int w = 0, h = 0;
  ASSERT_FALSE(t.get_winsize(w, h));
  EXPECT_EQ(w, 123);
  EXPECT_EQ(h, 45);
  t.close();
  loop().run();
}

TEST_P(TtyTest, OpeningSomethingThatIsNotATerminalFails) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  eddy::tty t(loop());
  EXPECT_EQ(t.open(fds[0]), eddy::errc::invalid_argument);
  ::close(fds[0]);
  ::close(fds[1]);
  t.close();
  loop().run();
}

TEST_P(TtyTest, StdinAsAPipeIsReadToTheEnd) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ASSERT_EQ(::write(fds[1], "from a pipe", 11), 11);
  ::close(fds[1]);
  EXPECT_EQ(eddy::guess_handle(fds[0]), eddy::handle_kind::pipe);
  eddy::pipe in(loop());
  ASSERT_FALSE(in.open(fds[0]));
  std::string got;
  std::error_code end;
  ASSERT_FALSE(in.read_start([&](std::error_code ec, std::span<std::byte> d) {
    if (ec) {
      end = ec;
      in.close();
      return;
    }
    got += text(d);
  }));
  loop().run();
  EXPECT_EQ(got, "from a pipe");
  EXPECT_EQ(end, eddy::errc::eof);
}

TEST(GuessHandleTest, TellsTheKinds) {
  int master = -1, slave = -1;
  ASSERT_EQ(::openpty(&master, &slave, nullptr, nullptr, nullptr), 0);
  EXPECT_EQ(eddy::guess_handle(slave), eddy::handle_kind::tty);
  ::close(master);
  ::close(slave);

  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(eddy::guess_handle(::fileno(f)), eddy::handle_kind::file);
  std::fclose(f);

  int tcp = ::socket(AF_INET, SOCK_STREAM, 0), udp = ::socket(AF_INET, SOCK_DGRAM, 0);
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  EXPECT_EQ(eddy::guess_handle(tcp), eddy::handle_kind::tcp);
  EXPECT_EQ(eddy::guess_handle(udp), eddy::handle_kind::udp);
  EXPECT_EQ(eddy::guess_handle(pair[0]), eddy::handle_kind::pipe);
  for (int fd : {tcp, udp, pair[0], pair[1]}) ::close(fd);
  EXPECT_EQ(eddy::guess_handle(-1), eddy::handle_kind::unknown);
}

}  // namespace
