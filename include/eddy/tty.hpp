// eddy::tty: a terminal as a stream (libuv's uv_tty_t), and guess_handle() to tell what a
// standard descriptor is.
//
// Linux: the terminal is reopened through its device (so non-blocking mode does not leak
// into the shell that shares the descriptor) and read and written through the port.
// Windows: console input is waited for on the wait thread (RegisterWaitForSingleObject),
// read with ReadConsoleInputW on the loop thread and translated into VT sequences; output
// understands VT sequences.
// Threads: loop thread only, except reset_mode(), which is safe from a signal handler or
// at exit.
#pragma once

#include <system_error>

#include "eddy/stream.hpp"

namespace eddy {

enum class tty_mode {
  normal,  // line editing and echo, as the terminal was
  raw,     // keys one by one, no echo, no signals from Ctrl-C (libuv's UV_TTY_MODE_RAW)
  io,      // binary-safe raw mode (POSIX; like cfmakeraw)
};

enum class handle_kind { tty, pipe, file, tcp, udp, unknown };

// What descriptor fd (0, 1, 2, ...) is, so a program can read stdin whether it is a
// terminal, a pipe or a file.
EDDY_API handle_kind guess_handle(int fd) noexcept;

class EDDY_API tty final : public stream {
 public:
  explicit tty(eddy::loop& owner);

  // Opens descriptor fd (0 = stdin, 1 = stdout, 2 = stderr). errc::invalid_argument if it
  // is not a terminal.
  std::error_code open(int fd);
  std::error_code set_mode(tty_mode mode);
  std::error_code get_winsize(int& width, int& height) const;
  // Restores the mode the terminal had before the first set_mode() in this process.
  static std::error_code reset_mode() noexcept;
};

}  // namespace eddy
