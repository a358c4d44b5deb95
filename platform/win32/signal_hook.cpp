// Windows has no POSIX signals for console programs; console control events stand in:
// CTRL_C → SIGINT, CTRL_BREAK → SIGBREAK, CTRL_CLOSE → SIGHUP. The handler runs on a thread
// the system creates, which is where contract::signal::dispatch() is called from.
#include "platform/win32/win32.hpp"
#include <windows.h>

#include <atomic>

#include "eddy/error.hpp"
#include "eddy/signal.hpp"
#include "platform/contract/signal.hpp"

namespace eddy::contract::signal {
namespace {

std::atomic<std::uint32_t> g_hooked{0};  // bit per signal number in use
std::atomic<bool> g_installed{false};

int signal_for(DWORD ctrl) noexcept {
  switch (ctrl) {
    case CTRL_C_EVENT: return signals::sigint;
    case CTRL_BREAK_EVENT: return signals::sigbreak;
    case CTRL_CLOSE_EVENT: return signals::sighup;
    default: return 0;
  }
}

BOOL WINAPI on_console_event(DWORD ctrl) {
  const int signum = signal_for(ctrl);
  if (signum == 0 || (g_hooked.load() & (1u << signum)) == 0) return FALSE;  // default action
  dispatch(signum);  // which calls after_dispatch()
  return TRUE;
}

}  // namespace

std::error_code hook(int signum) noexcept {
  if (signum != signals::sigint && signum != signals::sigbreak && signum != signals::sighup) {
    return make_error_code(errc::not_supported);
  }
  if (!g_installed.exchange(true)) {
    if (!::SetConsoleCtrlHandler(&on_console_event, TRUE)) {
      g_installed = false;
      return from_win32(::GetLastError());
    }
  }
  g_hooked.fetch_or(1u << signum);
  return {};
}

void restore(int signum) noexcept { g_hooked.fetch_and(~(1u << signum)); }

void after_dispatch(int signum) noexcept {
  // After CTRL_CLOSE the system ends the process as soon as this handler returns (or after
  // about 5 s). Give the loop a moment to run the SIGHUP handlers first.
  if (signum == signals::sighup) ::Sleep(2000);
}

bool hangup_means_exit() noexcept { return true; }

}  // namespace eddy::contract::signal
