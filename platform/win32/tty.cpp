// Windows consoles and descriptor kinds (platform/contract/tty.hpp). Reading and writing a console
// is the port's business (platform/iocp/iocp_console.cpp); this file opens the handle, sets
// its mode and answers questions about it.
#include "platform/win32/win32.hpp"
#include <winsock2.h>
#include <windows.h>
#include <io.h>
#include <stdlib.h>

#include <atomic>
#include <mutex>

#include "platform/contract/compiler.hpp"  // EDDY_CRT_MSVC
#include "platform/contract/tty.hpp"

#ifndef ENABLE_VIRTUAL_TERMINAL_PROCESSING
#define ENABLE_VIRTUAL_TERMINAL_PROCESSING 0x0004
#endif

namespace eddy::contract::tty {
namespace {

// The input mode before the first set_mode(), for reset_mode(), kept with a handle of its
// own (the tty may be closed by then). reset_mode() may run in a console control handler
// or at exit, so the state is guarded by an atomic flag, not a mutex (as on POSIX).
HANDLE g_original_handle = nullptr;
DWORD g_original_mode = 0;
std::atomic<bool> g_busy{false};

bool lock() noexcept { return !g_busy.exchange(true, std::memory_order_acquire); }
void unlock() noexcept { g_busy.store(false, std::memory_order_release); }

#if EDDY_CRT_MSVC
// The UCRT's _get_osfhandle reports a bad descriptor through the invalid-parameter handler,
// which by default ends the process; this thread's handler is silenced around the call.
void CDECL ignore_invalid_parameter(const wchar_t*, const wchar_t*, const wchar_t*, unsigned int, uintptr_t) {}
#endif

HANDLE os_handle(int fd) noexcept {
  if (fd < 0) return INVALID_HANDLE_VALUE;
#if EDDY_CRT_MSVC
  _invalid_parameter_handler old = _set_thread_local_invalid_parameter_handler(&ignore_invalid_parameter);
  const intptr_t h = ::_get_osfhandle(fd);
  _set_thread_local_invalid_parameter_handler(old);
#else
  const intptr_t h = ::_get_osfhandle(fd);
#endif
  // -2: the descriptor has no stream (stdin of a program without a console).
  if (h == -1 || h == -2) return INVALID_HANDLE_VALUE;
  return reinterpret_cast<HANDLE>(h);
}

bool winsock_ready() noexcept {
  static std::once_flag once;
  static bool ok = false;
  std::call_once(once, [] {
    WSADATA data;
    ok = ::WSAStartup(MAKEWORD(2, 2), &data) == 0;
  });
  return ok;
}

bool is_console_input(HANDLE h) noexcept {
  DWORD events = 0;
  return ::GetNumberOfConsoleInputEvents(h, &events) != FALSE;
}

}  // namespace

handle_kind guess(int fd) noexcept {
  HANDLE h = os_handle(fd);
  if (h == INVALID_HANDLE_VALUE) return handle_kind::unknown;
  ::SetLastError(NO_ERROR);
  switch (::GetFileType(h)) {
    case FILE_TYPE_CHAR: {
      DWORD mode = 0;
      // A console; other character devices (NUL, a serial port) read like files.
      return ::GetConsoleMode(h, &mode) ? handle_kind::tty : handle_kind::file;
    }
    case FILE_TYPE_DISK:
      return handle_kind::file;
    case FILE_TYPE_PIPE: {
      // A socket is a "pipe" to GetFileType; SO_TYPE tells it apart.
      if (winsock_ready()) {
        int type = 0;
        int len = sizeof type;
        if (::getsockopt(reinterpret_cast<SOCKET>(h), SOL_SOCKET, SO_TYPE, reinterpret_cast<char*>(&type), &len) == 0) {
          if (type == SOCK_STREAM) return handle_kind::tcp;
          if (type == SOCK_DGRAM) return handle_kind::udp;
          return handle_kind::unknown;
        }
      }
      return handle_kind::pipe;
    }
    default:
      return handle_kind::unknown;
  }
}

std::error_code open(int fd, std::intptr_t& out, io_kind& kind) noexcept {
  HANDLE h = os_handle(fd);
  if (h == INVALID_HANDLE_VALUE) return make_error_code(errc::bad_descriptor);
  DWORD mode = 0;
  if (!::GetConsoleMode(h, &mode)) return make_error_code(errc::invalid_argument);
  // A handle of the tty's own: closing it leaves the descriptor (stdin, stdout) open.
  HANDLE dup = nullptr;
  if (!::DuplicateHandle(::GetCurrentProcess(), h, ::GetCurrentProcess(), &dup, 0, FALSE, DUPLICATE_SAME_ACCESS)) {
    return from_win32(::GetLastError());
  }
  if (!is_console_input(dup) && ::GetConsoleMode(dup, &mode)) {
    // Output understands VT sequences where the console can (Windows 10 1511+); an older
    // console refuses and prints them as they are.
    (void)::SetConsoleMode(dup, mode | ENABLE_VIRTUAL_TERMINAL_PROCESSING);
  }
  out = reinterpret_cast<std::intptr_t>(dup);
  // Both directions are io_kind::console: input is waited for on the wait thread, output
  // is written synchronously with WriteConsoleW (a console handle takes no overlapped I/O
  // and cannot be associated with a completion port).
  kind = io_kind::console;
  return {};
}

std::error_code set_mode(std::intptr_t native, tty_mode mode) noexcept {
  HANDLE h = reinterpret_cast<HANDLE>(native);
  // The modes are the input's; an output handle has none of these (libuv: EINVAL too).
  if (!is_console_input(h)) return make_error_code(errc::invalid_argument);
  DWORD current = 0;
  if (!::GetConsoleMode(h, &current)) return from_win32(::GetLastError());
  while (!lock()) {
  }
  if (g_original_handle == nullptr) {
    HANDLE keep = nullptr;
    if (::DuplicateHandle(::GetCurrentProcess(), h, ::GetCurrentProcess(), &keep, 0, FALSE, DUPLICATE_SAME_ACCESS)) {
      g_original_mode = current;
      g_original_handle = keep;
    }
  }
  const DWORD base = g_original_handle != nullptr ? g_original_mode : current;
  unlock();
  DWORD next = base;
  switch (mode) {
    case tty_mode::normal:
      break;
    case tty_mode::raw:
    case tty_mode::io:  // Windows has no further distinction
      next &= ~static_cast<DWORD>(ENABLE_LINE_INPUT | ENABLE_ECHO_INPUT | ENABLE_PROCESSED_INPUT);
      next |= ENABLE_WINDOW_INPUT;
      break;
  }
  if (!::SetConsoleMode(h, next)) return from_win32(::GetLastError());
  return {};
}

std::error_code winsize(std::intptr_t native, int& width, int& height) noexcept {
  CONSOLE_SCREEN_BUFFER_INFO info{};
  HANDLE h = reinterpret_cast<HANDLE>(native);
  BOOL ok = ::GetConsoleScreenBufferInfo(h, &info);
  if (!ok) {
    // An input handle: ask the console's active screen buffer.
    HANDLE out = ::CreateFileW(L"CONOUT$", GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr,
                               OPEN_EXISTING, 0, nullptr);
    if (out == INVALID_HANDLE_VALUE) return from_win32(::GetLastError());
    ok = ::GetConsoleScreenBufferInfo(out, &info);
    const DWORD err = ::GetLastError();
    ::CloseHandle(out);
    if (!ok) return from_win32(err);
  }
  width = info.srWindow.Right - info.srWindow.Left + 1;
  height = info.srWindow.Bottom - info.srWindow.Top + 1;
  return {};
}

std::error_code reset_mode() noexcept {
  const DWORD saved = ::GetLastError();
  if (!lock()) return make_error_code(errc::busy);  // set_mode() is running right now
  std::error_code ec;
  if (g_original_handle != nullptr && !::SetConsoleMode(g_original_handle, g_original_mode)) {
    ec = from_win32(::GetLastError());
  }
  unlock();
  ::SetLastError(saved);
  return ec;
}

void close(std::intptr_t native) noexcept {
  if (native != -1 && native != 0) ::CloseHandle(reinterpret_cast<HANDLE>(native));
}

}  // namespace eddy::contract::tty
