#include "platform/epoll/epoll_port.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "platform/posix/posix_util.hpp"

namespace eddy::platform::epoll {
namespace {

struct op_state {
  detail::operation* next_ready;
};

constexpr int max_events = 128;

}  // namespace

std::error_code port::init() {
  epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) return from_errno(errno);
  wakefd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wakefd_ < 0) {
    auto ec = from_errno(errno);
    close();
    return ec;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // nullptr marks the wake fd
  if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, wakefd_, &ev) < 0) {
    auto ec = from_errno(errno);
    close();
    return ec;
  }
  return {};
}

void port::submit(detail::operation& op) noexcept {
  switch (op.kind) {
    case detail::op_kind::nop:
      detail::port_state<op_state>(op).next_ready = nullptr;
      if (ready_tail_ != nullptr) {
        detail::port_state<op_state>(*ready_tail_).next_ready = &op;
      } else {
        ready_head_ = &op;
      }
      ready_tail_ = &op;
      op.result = 0;
      op.error = {};
      return;
  }
}

bool port::cancel(detail::operation& op) noexcept {
  for (auto* p = ready_head_; p != nullptr; p = detail::port_state<op_state>(*p).next_ready) {
    if (p == &op) {
      op.error = make_error_code(errc::operation_canceled);
      return true;
    }
  }
  return false;
}

detail::poll_result port::poll(std::int64_t timeout_ns) {
  detail::poll_result out;
  if (ready_head_ != nullptr) timeout_ns = 0;

  epoll_event events[max_events];
  int n;
  if (have_pwait2_) {
    timespec ts{};
    timespec* tsp = nullptr;
    if (timeout_ns >= 0) {
      ts.tv_sec = static_cast<time_t>(timeout_ns / 1'000'000'000);
      ts.tv_nsec = static_cast<long>(timeout_ns % 1'000'000'000);
      tsp = &ts;
    }
    n = ::epoll_pwait2(epfd_, events, max_events, tsp, nullptr);
    if (n < 0 && errno == ENOSYS) have_pwait2_ = false;  // kernels before 5.11
  }
  if (!have_pwait2_) {
    // Round up so a timer is never reported due early.
    int ms = timeout_ns < 0 ? -1 : static_cast<int>((timeout_ns + 999'999) / 1'000'000);
    n = ::epoll_pwait(epfd_, events, max_events, ms, nullptr);
  }
  if (n < 0) n = 0;  // EINTR: the loop simply goes round again

  for (int i = 0; i < n; ++i) {
    if (events[i].data.ptr == nullptr) {
      std::uint64_t value;
      while (::read(wakefd_, &value, sizeof value) > 0) {
      }
      out.woken = true;
    }
  }

  // Deliver the ready list as it stands now; operations submitted by these callbacks
  // go to the next poll.
  auto* op = ready_head_;
  ready_head_ = ready_tail_ = nullptr;
  while (op != nullptr) {
    auto* next = detail::port_state<op_state>(*op).next_ready;
    ++out.completions;
    detail::deliver(*op);
    op = next;
  }
  return out;
}

void port::wake() noexcept {
  std::uint64_t one = 1;
  // EAGAIN means the counter is already non-zero: the loop will wake anyway.
  [[maybe_unused]] auto r = ::write(wakefd_, &one, sizeof one);
}

void port::close() noexcept {
  posix::close_fd(wakefd_);
  posix::close_fd(epfd_);
  ready_head_ = ready_tail_ = nullptr;
}

}  // namespace eddy::platform::epoll
