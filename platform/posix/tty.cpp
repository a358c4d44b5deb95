#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>

#include "platform/contract/tty.hpp"

namespace eddy::contract::tty {
namespace {

// The mode before the first set_mode(), for reset_mode(). reset_mode() may run in a signal
// handler, so the state is guarded by an atomic flag, not a mutex (libuv does the same).
termios g_original{};
int g_original_fd = -1;
std::atomic<bool> g_busy{false};

bool lock() noexcept { return !g_busy.exchange(true, std::memory_order_acquire); }
void unlock() noexcept { g_busy.store(false, std::memory_order_release); }

}  // namespace

handle_kind guess(int fd) noexcept {
  if (fd < 0) return handle_kind::unknown;
  struct stat st {};
  if (::fstat(fd, &st) != 0) return handle_kind::unknown;
  if (::isatty(fd) != 0) return handle_kind::tty;
  if (S_ISREG(st.st_mode) || S_ISCHR(st.st_mode)) return handle_kind::file;  // /dev/null is a file here
  if (S_ISFIFO(st.st_mode)) return handle_kind::pipe;
  if (S_ISSOCK(st.st_mode)) {
    int type = 0;
    socklen_t len = sizeof type;
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) return handle_kind::unknown;
    sockaddr_storage ss{};
    socklen_t sl = sizeof ss;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &sl) != 0) return handle_kind::unknown;
    if (ss.ss_family == AF_UNIX) return handle_kind::pipe;
    if (type == SOCK_STREAM) return handle_kind::tcp;
    if (type == SOCK_DGRAM) return handle_kind::udp;
  }
  return handle_kind::unknown;
}

std::error_code open(int fd, std::intptr_t& out, io_kind& kind) noexcept {
  if (::isatty(fd) == 0) return make_error_code(errc::invalid_argument);
  // Reopen the terminal's device: O_NONBLOCK on the shared descriptor would also change it
  // for the shell and any other process using the same terminal.
  int copy = -1;
  char path[256];
  if (::ttyname_r(fd, path, sizeof path) == 0) {
    int flags = (::fcntl(fd, F_GETFL) & O_ACCMODE);
    copy = ::open(path, flags | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
  }
  if (copy < 0) {
    copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (copy < 0) return from_errno(errno);
    int flags = ::fcntl(copy, F_GETFL);
    ::fcntl(copy, F_SETFL, flags | O_NONBLOCK);
  }
  out = copy;
  kind = io_kind::stream;
  return {};
}

std::error_code set_mode(std::intptr_t native, tty_mode mode) noexcept {
  const int fd = static_cast<int>(native);
  termios t{};
  if (::tcgetattr(fd, &t) != 0) return from_errno(errno);
  while (!lock()) {
  }
  if (g_original_fd < 0) {
    g_original = t;
    g_original_fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  }
  termios base = g_original;
  unlock();
  switch (mode) {
    case tty_mode::normal:
      t = base;
      break;
    case tty_mode::raw:
      t.c_iflag &= ~static_cast<tcflag_t>(BRKINT | ICRNL | INPCK | ISTRIP | IXON);
      t.c_oflag |= ONLCR;
      t.c_cflag |= CS8;
      t.c_lflag &= ~static_cast<tcflag_t>(ECHO | ICANON | IEXTEN | ISIG);
      t.c_cc[VMIN] = 1;
      t.c_cc[VTIME] = 0;
      break;
    case tty_mode::io:
      ::cfmakeraw(&t);
      break;
  }
  if (::tcsetattr(fd, TCSADRAIN, &t) != 0) return from_errno(errno);
  return {};
}

std::error_code winsize(std::intptr_t native, int& width, int& height) noexcept {
  struct winsize ws {};
  if (::ioctl(static_cast<int>(native), TIOCGWINSZ, &ws) != 0) return from_errno(errno);
  width = ws.ws_col;
  height = ws.ws_row;
  return {};
}

std::error_code reset_mode() noexcept {
  const int saved = errno;
  if (!lock()) return make_error_code(errc::busy);  // set_mode() is running right now
  std::error_code ec;
  if (g_original_fd >= 0 && ::tcsetattr(g_original_fd, TCSANOW, &g_original) != 0) ec = from_errno(errno);
  unlock();
  errno = saved;
  return ec;
}

void close(std::intptr_t native) noexcept {
  if (native >= 0) ::close(static_cast<int>(native));
}

}  // namespace eddy::contract::tty
