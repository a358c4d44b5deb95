// How signals reach the loops: the one OS-specific piece of eddy::signal.
// platform/posix/signal_hook.cpp (sigaction) and platform/win32/signal_hook.cpp
// (SetConsoleCtrlHandler) implement it.
#pragma once

#include <system_error>

namespace eddy::contract::signal {

// Called by the OS hook, in a signal handler (POSIX) or on a console-control thread
// (Windows), with a signal number. Must be async-signal-safe. Defined by the core.
void dispatch(int signum) noexcept;

// Routes signum to dispatch(). Not reference counted: the core calls it once per signal
// when the first handle starts, and restore() when the last stops. Normal context only.
std::error_code hook(int signum) noexcept;
void restore(int signum) noexcept;

// Called after dispatch() has returned for a Windows CTRL_CLOSE: gives SIGHUP handlers a
// moment to run before the OS ends the process. No-op on POSIX.
void after_dispatch(int signum) noexcept;

// What a hang-up (signals::sighup) means here: false on POSIX (the terminal went away, or,
// by convention for daemons, "reload your configuration"), true on Windows (CTRL_CLOSE:
// the console is closing and the OS ends the process in a few seconds, so shut down).
bool hangup_means_exit() noexcept;

}  // namespace eddy::contract::signal
