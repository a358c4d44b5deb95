// The IOCP port: one I/O completion port per loop. Operations are overlapped calls (or, for
// nop, a posted packet) whose OVERLAPPED lives in the operation's port_data; poll() dequeues
// a batch with GetQueuedCompletionStatusEx and delivers each completion. Wake is a posted
// packet with a distinguished completion key.
#pragma once

// No OS header here: this file reaches the core's translation units through ports.hpp, and
// <windows.h> would bring its macros (near, far, small, interface, ...) with it. The OS
// types appear as their plain equivalents (HANDLE is void*, DWORD is std::uint32_t).
#include <atomic>
#include <cstdint>

#include "platform/backend.hpp"

namespace eddy::platform::iocp {

class port {
 public:
  static constexpr backend_kind kind = backend_kind::iocp;

  port() = default;
  port(const port&) = delete;
  port& operator=(const port&) = delete;
  ~port() { close(); }

  std::error_code init();
  void submit(detail::operation& op) noexcept;
  bool cancel(detail::operation& op) noexcept;
  detail::poll_result poll(std::int64_t timeout_ns);
  void wake() noexcept;
  void close() noexcept;

 private:
  // Dequeues and delivers one batch, waiting at most timeout_ms. Returns the number of
  // entries dequeued (operations and wakes), 0 on timeout, -1 if the port failed.
  // reached_new: a packet posted during this poll (epoch) was seen.
  long dequeue(std::uint32_t timeout_ms, std::uint32_t epoch, bool& reached_new, detail::poll_result& out);

  void* iocp_ = nullptr;  // HANDLE
  bool timer_period_set_ = false;
  // Counts poll() calls, so a nop submitted by a callback during a poll is held for the next.
  std::uint32_t poll_epoch_ = 0;
  // Operations whose completion packet could not be posted, delivered by the next poll.
  detail::operation* failed_head_ = nullptr;
  detail::operation* failed_tail_ = nullptr;
  // True while a wake packet is queued and not yet dequeued: wakes coalesce into one packet.
  std::atomic<bool> wake_pending_{false};
};

}  // namespace eddy::platform::iocp
