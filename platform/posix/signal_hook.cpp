#include <signal.h>

#include <cerrno>

#include "eddy/error.hpp"
#include "platform/contract/signal.hpp"

namespace eddy::contract::signal {
namespace {

void on_signal(int signum) {
  const int saved = errno;  // the handler must not disturb the interrupted code's errno
  dispatch(signum);
  errno = saved;
}

}  // namespace

std::error_code hook(int signum) noexcept {
  if (signum == SIGKILL || signum == SIGSTOP) return make_error_code(errc::not_supported);
  struct sigaction sa {};
  sa.sa_handler = &on_signal;
  sigfillset(&sa.sa_mask);  // no nesting: the handler runs with other signals blocked
  sa.sa_flags = SA_RESTART;
  if (::sigaction(signum, &sa, nullptr) != 0) return from_errno(errno);
  return {};
}

void restore(int signum) noexcept {
  struct sigaction sa {};
  sa.sa_handler = SIG_DFL;
  sigemptyset(&sa.sa_mask);
  ::sigaction(signum, &sa, nullptr);
}

void after_dispatch(int) noexcept {}

bool hangup_means_exit() noexcept { return false; }

}  // namespace eddy::contract::signal
