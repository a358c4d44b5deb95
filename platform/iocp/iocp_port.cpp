#include "platform/iocp/iocp_port.hpp"

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
// winsock2.h must come before windows.h (which would otherwise pull in the old winsock.h).
#include <winsock2.h>
#include <windows.h>
#include <mmsystem.h>  // timeBeginPeriod / timeEndPeriod (winmm)

#include <chrono>
#include <cstdint>
#include <mutex>
#include <type_traits>

namespace eddy::platform::iocp {
namespace {

// What the port keeps in operation::port_data. The OVERLAPPED comes first, so the pointer
// a completion packet carries converts back to the whole record (and the record names
// its operation).
struct op_state {
  OVERLAPPED ov;
  detail::operation* owner;
  // The handle the overlapped call was issued on, for CancelIoEx; nullptr for posted
  // packets (nop), which the port cancels by marking them.
  HANDLE handle;
  // Link of the port's failed list (see submit).
  detail::operation* next_failed;
  // poll_epoch_ when submitted: a nop submitted during a poll is delivered by the next one.
  std::uint32_t epoch;
  bool cancel_requested;
};
static_assert(sizeof(op_state) <= sizeof(detail::operation::port_data));
static_assert(sizeof(DWORD) == sizeof(std::uint32_t));
static_assert(sizeof(HANDLE) == sizeof(void*));
static_assert(std::is_standard_layout_v<op_state>, "the OVERLAPPED must be at offset 0");

// Completion keys. Operations are found from their OVERLAPPED; the key only tells a wake
// packet (which has no OVERLAPPED) from an operation.
constexpr ULONG_PTR op_key = 0;
constexpr ULONG_PTR wake_key = 1;

// The batch of completion entries lives on the stack (no allocation in poll).
constexpr ULONG batch_size = 128;

// Longest finite wait GetQueuedCompletionStatusEx takes (INFINITE is 0xFFFFFFFF).
constexpr std::int64_t max_wait_ms = 0xFFFFFFFE;

std::int64_t now_ns() noexcept {
  // The core's clock (monotonic_ns in src/loop.cpp), so "not early" means early by its measure.
  using namespace std::chrono;
  return duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count();
}

// Rounds up: a wait is never shorter than asked for (a timer must not fire early).
DWORD to_wait_ms(std::int64_t timeout_ns) noexcept {
  if (timeout_ns < 0) return INFINITE;
  std::int64_t ms = timeout_ns / 1'000'000 + (timeout_ns % 1'000'000 != 0 ? 1 : 0);
  return static_cast<DWORD>(ms > max_wait_ms ? max_wait_ms : ms);
}

op_state& state_of(OVERLAPPED* ov) noexcept { return *reinterpret_cast<op_state*>(ov); }

std::error_code winsock_startup() noexcept {
  // Once per process, for the socket operations; never cleaned up (WSACleanup at exit is
  // unnecessary and would race with other loops).
  static std::once_flag once;
  static int result = 0;
  std::call_once(once, [] {
    WSADATA data;
    result = ::WSAStartup(MAKEWORD(2, 2), &data);
  });
  return from_win32(static_cast<std::uint32_t>(result));
}

}  // namespace

std::error_code port::init() {
  if (auto ec = winsock_startup()) return ec;
  iocp_ = ::CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 1);
  if (iocp_ == nullptr) return from_win32(::GetLastError());
  // Timer resolution. Windows' default clock tick is ~15.6 ms, and a wait in
  // GetQueuedCompletionStatusEx ends on a tick: a 1 ms timer would fire ~15 ms late.
  // timeBeginPeriod(1) raises the system timer to 1 ms for as long as this loop is open
  // (each loop holds one reference, released in close()), so waits end within ~1 ms of the
  // deadline. It costs some power; since Windows 10 2004 it affects only this process.
  // The alternative is a CREATE_WAITABLE_TIMER_HIGH_RESOLUTION waitable timer (Windows 10
  // 1803+), which needs no global setting but cannot be waited on by the port directly: it
  // would need a wait thread or NtAssociateWaitCompletionPacket to turn its signal into a
  // completion packet. Waits are also rounded up to whole milliseconds (to_wait_ms) and
  // restarted when they end early (poll), so a timer never fires before its deadline.
  timer_period_set_ = ::timeBeginPeriod(1) == TIMERR_NOERROR;
  wake_pending_.store(false);
  return {};
}

void port::submit(detail::operation& op) noexcept {
  auto& st = detail::port_state<op_state>(op);
  st = op_state{};
  st.owner = &op;
  st.epoch = poll_epoch_;
  switch (op.kind) {
    case detail::op_kind::nop:
      // A posted packet: it completes in a later poll, through the port like real I/O.
      st.ov.Internal = 0;  // STATUS_SUCCESS; posting does not touch the OVERLAPPED
      if (!::PostQueuedCompletionStatus(iocp_, 0, op_key, &st.ov)) {
        // Only under memory exhaustion. The operation still has to complete, from poll:
        // keep it on a list poll() delivers without blocking.
        op.error = from_win32(::GetLastError());
        if (failed_tail_ != nullptr) {
          detail::port_state<op_state>(*failed_tail_).next_failed = &op;
        } else {
          failed_head_ = &op;
        }
        failed_tail_ = &op;
      }
      return;
  }
}

bool port::cancel(detail::operation& op) noexcept {
  auto& st = detail::port_state<op_state>(op);
  if (st.owner != &op) return false;
  if (st.handle != nullptr) {
    // A real overlapped call: the kernel completes it with STATUS_CANCELLED (under Wine,
    // closing the handle instead gives STATUS_HANDLES_CLOSED; both map to
    // operation_canceled). ERROR_NOT_FOUND: it already finished and its packet is queued.
    return ::CancelIoEx(st.handle, &st.ov) != FALSE;
  }
  // A posted packet cannot be withdrawn from the port: mark it, and poll() reports it as
  // cancelled when it comes out (exactly once, like every completion).
  st.cancel_requested = true;
  return true;
}

long port::dequeue(std::uint32_t timeout_ms, std::uint32_t epoch, bool& reached_new, detail::poll_result& out) {
  OVERLAPPED_ENTRY entries[batch_size];
  ULONG n = 0;
  if (!::GetQueuedCompletionStatusEx(iocp_, entries, batch_size, &n, timeout_ms, FALSE)) {
    // WAIT_TIMEOUT; anything else (the port is gone) must not be retried.
    return ::GetLastError() == WAIT_TIMEOUT ? 0 : -1;
  }
  for (ULONG i = 0; i < n; ++i) {
    const OVERLAPPED_ENTRY& e = entries[i];
    if (e.lpCompletionKey == wake_key && e.lpOverlapped == nullptr) {
      // Clear before the core looks at its async flags, so a send after this point posts
      // a new packet (and one before it is seen now).
      wake_pending_.store(false);
      out.woken = true;
      continue;
    }
    if (e.lpOverlapped == nullptr) continue;  // not ours
    op_state& st = state_of(e.lpOverlapped);
    detail::operation& op = *st.owner;
    if (st.epoch == epoch && st.handle == nullptr) {
      // A nop a callback submitted during this poll: IOCP queues are FIFO, so everything
      // queued before this poll began has been dequeued. Hold it for the next poll.
      reached_new = true;
      if (::PostQueuedCompletionStatus(iocp_, 0, op_key, &st.ov)) continue;
      op.error = from_win32(::GetLastError());
    } else {
      const auto status = static_cast<std::int32_t>(static_cast<std::uint32_t>(e.lpOverlapped->Internal));
      op.result = static_cast<std::int64_t>(e.dwNumberOfBytesTransferred);
      if (st.cancel_requested && st.handle == nullptr) {
        op.error = make_error_code(errc::operation_canceled);
      } else {
        op.error = from_ntstatus(status);
      }
    }
    if (op.error) op.result = 0;
    st.owner = nullptr;  // no longer in flight in this port
    ++out.completions;
    detail::deliver(op);
  }
  return static_cast<long>(n);
}

detail::poll_result port::poll(std::int64_t timeout_ns) {
  detail::poll_result out;
  const std::uint32_t epoch = ++poll_epoch_;
  if (failed_head_ != nullptr) timeout_ns = 0;

  // Saturating deadline: timeout_ns may be INT64_MAX.
  const std::int64_t start = timeout_ns > 0 ? now_ns() : 0;
  const std::int64_t deadline = timeout_ns > 0 && timeout_ns < INT64_MAX - start ? start + timeout_ns : INT64_MAX;
  DWORD wait_ms = to_wait_ms(timeout_ns);
  for (;;) {
    bool reached_new = false;
    const long n = dequeue(wait_ms, epoch, reached_new, out);
    if (n == static_cast<long>(batch_size) && !reached_new) {
      // A full batch: more may be queued. Take them too, without blocking.
      wait_ms = 0;
      continue;
    }
    if (n != 0 || wait_ms == 0) break;
    if (wait_ms == INFINITE) continue;  // nothing, though no limit: wait again
    // Timed out. The wait can end a little before the deadline (it ends on a clock tick);
    // wait out the rest so a timer is never reported due early.
    const std::int64_t now = now_ns();
    if (now >= deadline) break;
    wait_ms = to_wait_ms(deadline - now);
  }

  // Operations whose packet could not be posted (see submit).
  // Detach the list first: callbacks may submit (and fail) again, for the next poll.
  detail::operation* op = failed_head_;
  failed_head_ = failed_tail_ = nullptr;
  while (op != nullptr) {
    auto& st = detail::port_state<op_state>(*op);
    detail::operation* next = st.next_failed;
    st.owner = nullptr;
    op->result = 0;
    ++out.completions;
    detail::deliver(*op);
    op = next;
  }
  return out;
}

void port::wake() noexcept {
  if (iocp_ == nullptr) return;
  // Coalesce: one wake packet in the queue is enough.
  if (wake_pending_.exchange(true)) return;
  if (!::PostQueuedCompletionStatus(iocp_, 0, wake_key, nullptr)) wake_pending_.store(false);
}

void port::close() noexcept {
  if (iocp_ != nullptr) {
    ::CloseHandle(iocp_);
    iocp_ = nullptr;
  }
  if (timer_period_set_) {
    ::timeEndPeriod(1);
    timer_period_set_ = false;
  }
  failed_head_ = failed_tail_ = nullptr;
}

}  // namespace eddy::platform::iocp
