// eddy::signal: calls back on the loop thread when the process receives a signal
// (libuv's uv_signal_t; Node's process.on('SIGINT')).
//
// POSIX: one process-wide sigaction handler records the signal in every interested loop
// (lock-free) and wakes it through its port; the callback runs in the loop's poll phase.
// Windows: console control events map to signals: CTRL_C → SIGINT, CTRL_BREAK → SIGBREAK,
// CTRL_CLOSE → SIGHUP.
// Several handles for one signal all fire; several loops each receive it. Signals that
// arrive faster than the loop runs are coalesced (as the OS does). A signal with no started
// handle keeps its default disposition; stopping the last handle restores it.
// Threads: loop thread only.
#pragma once

#include <functional>
#include <system_error>

#include "eddy/handle.hpp"

namespace eddy {

// Portable signal numbers (the values of <csignal> on Linux and Windows).
namespace signals {
inline constexpr int sighup = 1;
inline constexpr int sigint = 2;
inline constexpr int sigquit = 3;
inline constexpr int sigkill = 9;  // cannot be watched; process::kill and eddy::kill send it
inline constexpr int sigterm = 15;
inline constexpr int sigbreak = 21;  // Windows only: CTRL_BREAK
}  // namespace signals

class EDDY_API signal final : public handle {
 public:
  explicit signal(eddy::loop& owner);

  // Starts watching signum (1..63); restarting with another signal switches. on_signal gets
  // the signal number. errc::invalid_argument for a bad number, not_supported for a signal
  // the platform cannot deliver (e.g. SIGKILL, or SIGUSR1 on Windows).
  std::error_code start(int signum, std::function<void(int)> on_signal);
  // Like start(), but the handle stops itself before the first callback.
  std::error_code start_oneshot(int signum, std::function<void(int)> on_signal);
  void stop() noexcept;
  // The signal watched, or 0.
  [[nodiscard]] int signum() const noexcept;
};

}  // namespace eddy
