// Terminals and descriptor kinds: platform/posix/tty.cpp (termios) and
// platform/win32/tty.cpp (console API) implement this.
#pragma once

#include <cstdint>
#include <system_error>

#include "eddy/tty.hpp"
#include "platform/contract/port.hpp"

namespace eddy::contract::tty {

using detail::io_kind;  // the port contract's kinds (platform/contract/port.hpp)

handle_kind guess(int fd) noexcept;
// Opens terminal fd for the loop: out is what the port watches (POSIX: the reopened device,
// non-blocking), kind how it is read.
std::error_code open(int fd, std::intptr_t& out, io_kind& kind) noexcept;
std::error_code set_mode(std::intptr_t native, tty_mode mode) noexcept;
std::error_code winsize(std::intptr_t native, int& width, int& height) noexcept;
std::error_code reset_mode() noexcept;
// Releases what open() returned (the reopened descriptor).
void close(std::intptr_t native) noexcept;

}  // namespace eddy::contract::tty
