// The IOCP port's core (see port_state.hpp for how the port is split across files): the
// completion port itself (init, close), attach/detach, submit and the dispatch of each
// operation to the file for its I/O kind, cancel, and poll (dequeue a batch, finish each
// packet, then the ready list). Loop thread only, except wake().
#include "platform/iocp/port_state.hpp"
#include "platform/contract/fault.hpp"

#include <mmsystem.h>  // timeBeginPeriod / timeEndPeriod (winmm)

#include <algorithm>
#include <chrono>
#include <mutex>
#include <new>

#include "platform/iocp/iocp_console.hpp"
#include "platform/iocp/ipc_channel.hpp"

namespace eddy::platform::iocp {
namespace {

// Whether FILE_SKIP_COMPLETION_PORT_ON_SUCCESS is safe on s: only for sockets whose provider
// hands out real kernel handles (XP1_IFS_HANDLES). A layered service provider that is not
// IFS may still queue a packet for a call that succeeded at once, and the operation would
// then complete twice (libuv makes the same check).
bool is_ifs_socket(SOCKET s) noexcept {
  WSAPROTOCOL_INFOW info{};
  int len = sizeof info;
  if (::getsockopt(s, SOL_SOCKET, SO_PROTOCOL_INFOW, reinterpret_cast<char*>(&info), &len) != 0) return false;
  return (info.dwServiceFlags1 & XP1_IFS_HANDLES) != 0;
}

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

// The error a socket operation's packet carries. NTSTATUS codes the error table does not
// know are translated by Winsock itself (WSAGetOverlappedResult gives a WSA code); the
// socket is still open, since the core closes it only after its operations completed.
std::error_code packet_error(HANDLE handle, OVERLAPPED& ov, std::int32_t status, bool is_socket) noexcept {
  if (status == 0) return {};
  std::error_code ec = from_ntstatus(status);
  if (ec != errc::unknown) return ec;
  DWORD bytes = 0;
  DWORD flags = 0;
  if (!is_socket) {
    // A pipe or file: GetOverlappedResult translates the status into a Win32 code.
    if (!::GetOverlappedResult(handle, &ov, &bytes, FALSE)) return from_win32(::GetLastError());
    return ec;
  }
  if (!::WSAGetOverlappedResult(reinterpret_cast<SOCKET>(handle), &ov, &bytes, FALSE, &flags)) {
    return last_wsa_error();
  }
  return ec;
}

std::error_code port::init() {
  if (auto ec = winsock_startup()) return ec;
  (void)winsock_extensions();  // load them now, not inside the first accept or connect
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

std::error_code port::attach(detail::io_object& io) {
  if (io.kind == detail::io_kind::console) return console::attach(io);  // iocp_console.cpp
  io_state& ios = io_state_of(io);
  ios = io_state{};
  // A named pipe that is neither bound nor connected yet has no handle (local_pipe.hpp):
  // its instances are associated when the port first uses them, a client's handle when
  // its connect succeeds.
  if (is_local_marker(io.native)) return {};
  if (io.kind == detail::io_kind::stream || io.kind == detail::io_kind::directory) return attach_handle(io);
  const SOCKET s = socket_of(io);
  // Completion key op_key: packets are told apart by their OVERLAPPED, not their key.
  if (::CreateIoCompletionPort(handle_of(s), iocp_, op_key, 0) == nullptr) {
    const DWORD err = ::GetLastError();
    // Associated with another port already: a socket passed from another process (or
    // from another loop of this one). Its completions are emulated (see emulation); the
    // completion modes belong to the shared kernel object, so they are left alone.
    if (err != ERROR_INVALID_PARAMETER) return from_win32(err);
    ios.emulated = new (std::nothrow) emulation(iocp_);
    if (ios.emulated == nullptr) return make_error_code(errc::no_memory);
  } else {
    // FILE_SKIP_SET_EVENT_ON_HANDLE: nobody waits on the socket handle itself, so the
    // kernel need not signal it on every completion.
    ios.skip_on_success = is_ifs_socket(s) && ::SetFileCompletionNotificationModes(
                                                  handle_of(s), FILE_SKIP_COMPLETION_PORT_ON_SUCCESS |
                                                                    FILE_SKIP_SET_EVENT_ON_HANDLE) != FALSE;
  }
  // eddy attaches the sockets it creates before they listen; one listening already was
  // adopted, and may be shared with other processes (see accept_context).
  BOOL listening = FALSE;
  int listening_len = sizeof listening;
  ios.shared_listener = ::getsockopt(s, SOL_SOCKET, SO_ACCEPTCONN, reinterpret_cast<char*>(&listening),
                                     &listening_len) == 0 &&
                        listening != FALSE;
  return {};
}

void port::detach(detail::io_object& io) noexcept {
  if (io.kind == detail::io_kind::console) return console::detach(io);
  // Every operation on io has completed. The association with the port ends when the core
  // closes the socket; what remains is the listener's accept context.
  if (is_local_marker(io.native)) return detach_pipe(io);  // pipes.cpp
  if (io.kind == detail::io_kind::stream || io.kind == detail::io_kind::directory) {
    io_state& ios = io_state_of(io);
    forget_preassociated(native_handle_of(io));
    delete ios.ipc;  // closes a received socket nobody took
    ios = io_state{};
    return;
  }
  detach_socket(io);  // sockets.cpp
}

std::error_code port::attach_handle(detail::io_object& io) {
  io_state& ios = io_state_of(io);
  const HANDLE h = native_handle_of(io);
  if (::CreateIoCompletionPort(h, iocp_, op_key, 0) == nullptr) {
    // A pipe instance this port accepted is associated already (its ConnectNamedPipe
    // completed here), and a handle cannot be associated twice.
    const DWORD err = ::GetLastError();
    auto it = std::find(preassociated_.begin(), preassociated_.end(), static_cast<void*>(h));
    if (it == preassociated_.end()) return from_win32(err);
    preassociated_.erase(it);
  } else {
    forget_preassociated(h);  // a stale entry: that instance was closed without being adopted
  }
  ios.is_file = io.kind == detail::io_kind::stream && ::GetFileType(h) == FILE_TYPE_DISK;
  // No FILE_SKIP_COMPLETION_PORT_ON_SUCCESS on pipes and files: a ReadFile or WriteFile
  // that finishes at once still queues its packet (the simpler path; Wine never finishes
  // overlapped file I/O at once anyway).
  ios.skip_on_success = false;
  return {};
}

void port::forget_preassociated(void* handle) noexcept {
  auto it = std::find(preassociated_.begin(), preassociated_.end(), handle);
  if (it != preassociated_.end()) preassociated_.erase(it);
}

void port::push_ready(detail::operation& op) noexcept {
  detail::port_state<op_state>(op).next_ready = nullptr;
  if (ready_tail_ != nullptr) {
    detail::port_state<op_state>(*ready_tail_).next_ready = &op;
  } else {
    ready_head_ = &op;
  }
  ready_tail_ = &op;
}

void port::submit(detail::operation& op) noexcept {
  if (op.io != nullptr && op.io->kind == detail::io_kind::console) return console::submit(iocp_, op);
  auto& st = detail::port_state<op_state>(op);
  st = op_state{};
  st.owner = &op;
  st.epoch = poll_epoch_;
  if (int e = EDDY_FAULT(submit)) {  // fault injection: as the overlapped call failing at once
    op.result = 0;
    op.error = from_errno(e);
    push_ready(op);
    return;
  }
  if (detail::is_file_op(op.kind)) {  // the core runs these on the thread pool (supports())
    op.result = 0;
    op.error = make_error_code(errc::not_supported);
    push_ready(op);
    return;
  }
  if (op.kind == detail::op_kind::nop) {
    // A posted packet: it completes in a later poll, through the port like real I/O.
    st.ov.Internal = 0;  // STATUS_SUCCESS; posting does not touch the OVERLAPPED
    if (!::PostQueuedCompletionStatus(iocp_, 0, op_key, &st.ov)) {
      // Only under memory exhaustion. The operation still has to complete, from poll:
      // keep it on the list poll() delivers without blocking.
      op.error = from_win32(::GetLastError());
      push_ready(op);
    }
    return;
  }
  start_io(op);
}

void port::start_io(detail::operation& op) noexcept {
  auto& st = detail::port_state<op_state>(op);
  detail::io_object& io = *op.io;
  const SOCKET s = socket_of(io);
  st.ov = OVERLAPPED{};
  st.handle = handle_of(s);
  st.accept_waiting = false;
  st.bound_by_port = false;
  st.local = false;
  st.pipe = nullptr;
  op.result = 0;
  op.error = {};

  const auto fail = [&](std::error_code ec) {
    op.error = ec;
    push_ready(op);
  };
  if (op.kind == detail::op_kind::send || op.kind == detail::op_kind::write || op.kind == detail::op_kind::sendto) {
    if (int e = EDDY_FAULT(send)) return fail(from_errno(e));  // fault injection: the call fails, nothing sent
  }
  if (op.kind == detail::op_kind::poll) return start_poll(op);  // poll.cpp: not on the socket itself
  if (is_local_marker(io.native)) return start_pipe(op);  // pipes.cpp
  if (emulation* emu = io_state_of(io).emulated; emu != nullptr && op.kind != detail::op_kind::accept) {
    if (auto ec = emu->arm(emulation::slot_for(op.kind), st.ov)) return fail(ec);
  }
  switch (op.kind) {
    case detail::op_kind::nop:
    case detail::op_kind::file_open:
    case detail::op_kind::file_close:
    case detail::op_kind::file_read:
    case detail::op_kind::file_write:
    case detail::op_kind::file_stat:
    case detail::op_kind::file_sync:
      return;  // handled by submit
    case detail::op_kind::poll:
      return;  // started above
    case detail::op_kind::accept:
      return start_accept(op);  // sockets.cpp
    case detail::op_kind::connect:
    case detail::op_kind::recv:
    case detail::op_kind::send:
    case detail::op_kind::recvfrom:
    case detail::op_kind::sendto:
      return start_socket_io(op);  // sockets.cpp
    case detail::op_kind::read:
    case detail::op_kind::write:
      return start_handle_io(op);  // pipes.cpp (ipc pipes: ipc.cpp)
  }
}

void port::finish_io(detail::operation& op, std::error_code ec, std::uint32_t bytes, detail::poll_result& out) {
  auto& st = detail::port_state<op_state>(op);
  // The finish_* functions return false when the operation goes on (they issued its next
  // call, and it stays in flight); otherwise ec and bytes say how it ended.
  switch (op.kind) {
    case detail::op_kind::poll:
      finish_poll(op, ec, bytes);  // poll.cpp
      break;
    case detail::op_kind::nop:
    case detail::op_kind::file_open:  // file kinds never reach the port (see submit)
    case detail::op_kind::file_close:
    case detail::op_kind::file_read:
    case detail::op_kind::file_write:
    case detail::op_kind::file_stat:
    case detail::op_kind::file_sync:
      break;
    case detail::op_kind::recv:
      if (!finish_recv(op, ec, bytes)) return;  // sockets.cpp
      break;
    case detail::op_kind::send:
    case detail::op_kind::sendto:
      break;
    case detail::op_kind::recvfrom:
      if (!finish_recvfrom(op, ec, bytes)) return;  // sockets.cpp
      break;
    case detail::op_kind::read:
    case detail::op_kind::write:
      if (!finish_handle_io(op, ec, bytes)) return;  // pipes.cpp
      break;
    case detail::op_kind::connect:
      finish_connect(op, ec);  // sockets.cpp
      bytes = 0;
      break;
    case detail::op_kind::accept:
      // Always from the ready list, with op.accepted or op.error set when the connection
      // (or the error) was handed over: by serve_accept for a socket, complete_pipe_accept
      // for a named pipe.
      bytes = 0;
      break;
  }
  op.error = ec;
  op.result = ec ? 0 : static_cast<std::int64_t>(bytes);
  st.owner = nullptr;  // no longer in flight in this port
  ++out.completions;
  detail::complete(op);
}

bool port::cancel(detail::operation& op) noexcept {
  if (op.io != nullptr && op.io->kind == detail::io_kind::console) return console::cancel(op);
  auto& st = detail::port_state<op_state>(op);
  if (st.owner != &op) return false;
  st.cancel_requested = true;
  if (st.retry_timer != nullptr) {
    // A pipe connect waiting to retry. Deleting the timer waits for a running callback; if
    // it had fired, its packet is queued and completes the operation as cancelled.
    ::DeleteTimerQueueTimer(nullptr, st.retry_timer, INVALID_HANDLE_VALUE);
    st.retry_timer = nullptr;
    if (::InterlockedCompareExchange(&st.retry_fired, 0, 0) == 0) {
      op.error = make_error_code(errc::operation_canceled);
      push_ready(op);
    }
    return true;
  }
  if (st.accept_waiting) {
    // A socket accept waiting for a connection: the listener's AcceptEx calls stay pending
    // (what they accept is kept for the next accept), the operation completes from poll.
    io_state_of(*op.io).accept->waiting = nullptr;
    st.accept_waiting = false;
    op.error = make_error_code(errc::operation_canceled);
    push_ready(op);
    return true;
  }
  if (st.pipe != nullptr && st.pipe->waiting_accept == &op) {
    // A pipe accept waiting for a client: no call to cancel, it completes from poll.
    st.pipe->waiting_accept = nullptr;
    st.pipe = nullptr;
    op.error = make_error_code(errc::operation_canceled);
    push_ready(op);
    return true;
  }
  if (st.handle != nullptr) {
    // A real overlapped call: the kernel completes it with STATUS_CANCELLED (under Wine,
    // closing the handle instead gives STATUS_HANDLES_CLOSED; both map to
    // operation_canceled). ERROR_NOT_FOUND: it already finished, and its packet is queued
    // or it is on the ready list; it completes from there (see cancel_requested).
    ::CancelIoEx(st.handle, &st.ov);
  }
  // A posted packet cannot be withdrawn from the port: it is marked, and poll() reports it
  // as cancelled when it comes out (exactly once, like every completion).
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
    if (e.lpCompletionKey == console::completion_key && e.lpOverlapped != nullptr) {
      console::on_packet(e.lpOverlapped, out);  // console input ready, or a console write/nop done
      continue;
    }
    if (e.lpOverlapped == nullptr) continue;  // not ours
    if (e.lpCompletionKey == retry_key) {
      on_retry_packet(e.lpOverlapped, out);  // a pipe connect's retry timer fired (pipes.cpp)
      continue;
    }
    const detail::operation* owner = packet_owner(e.lpOverlapped);
    if (owner == &accept_packet_tag) {
      on_accept_packet(e.lpOverlapped);  // a listener's AcceptEx
      continue;
    }
    if (owner == nullptr) {
      on_instance_packet(e.lpOverlapped);  // a pipe instance's ConnectNamedPipe
      continue;
    }
    op_state& st = state_of(e.lpOverlapped);
    detail::operation& op = *st.owner;
    if (st.handle != nullptr) {
      // Socket I/O. The status is the NTSTATUS the call ended with.
      const auto status = static_cast<std::int32_t>(static_cast<std::uint32_t>(e.lpOverlapped->Internal));
      std::error_code ec = packet_error(st, status, op.io->kind == detail::io_kind::socket);
      if (!ec && (op.kind == detail::op_kind::recv || op.kind == detail::op_kind::read || op.kind == detail::op_kind::recvfrom)) {
        if (int f = EDDY_FAULT(recv)) ec = from_errno(f);  // fault injection: a failed completion status
      }
      finish_io(op, ec, e.dwNumberOfBytesTransferred, out);
      continue;
    }
    if (st.epoch == epoch) {
      // A nop a callback submitted during this poll: IOCP queues are FIFO, so everything
      // queued before this poll began has been dequeued. Hold it for the next poll.
      reached_new = true;
      if (::PostQueuedCompletionStatus(iocp_, 0, op_key, &st.ov)) continue;
      op.error = from_win32(::GetLastError());
    } else {
      const auto status = static_cast<std::int32_t>(static_cast<std::uint32_t>(e.lpOverlapped->Internal));
      op.result = static_cast<std::int64_t>(e.dwNumberOfBytesTransferred);
      if (st.cancel_requested) {
        op.error = make_error_code(errc::operation_canceled);
      } else {
        op.error = from_ntstatus(status);
      }
    }
    if (op.error) op.result = 0;
    st.owner = nullptr;  // no longer in flight in this port
    ++out.completions;
    detail::complete(op);
  }
  return static_cast<long>(n);
}

detail::poll_result port::poll(std::int64_t timeout_ns) {
  detail::poll_result out;
  const std::uint32_t epoch = ++poll_epoch_;
  if (ready_head_ != nullptr) timeout_ns = 0;

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

  // Operations that finished without a packet (see push_ready). Detach the list first:
  // what callbacks submit now that finishes at once waits for the next poll, so a stream
  // of immediate completions cannot keep this poll from returning.
  detail::operation* op = ready_head_;
  ready_head_ = ready_tail_ = nullptr;
  while (op != nullptr) {
    auto& st = detail::port_state<op_state>(*op);
    detail::operation* next = st.next_ready;
    if (op->kind == detail::op_kind::nop || detail::is_file_op(op->kind)) {
      // A nop whose packet could not be posted, or a file operation this port does not
      // run (see submit); op->error says why.
      st.owner = nullptr;
      op->result = 0;
      ++out.completions;
      detail::complete(*op);
    } else {
      finish_io(*op, op->error, static_cast<std::uint32_t>(op->result), out);
    }
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
  // Detached listeners whose cancelled AcceptEx calls have not come back yet: their packets
  // are queued (or about to be: the listener sockets are closed) and point into the
  // contexts. Take them out of the port before it goes, and only then free the contexts.
  // Nothing else is delivered here; a context whose calls never come back is leaked rather
  // than freed under the kernel.
  for (int round = 0; iocp_ != nullptr && orphaned_accepts_ != nullptr && round < 100; ++round) {
    OVERLAPPED_ENTRY entries[batch_size];
    ULONG n = 0;
    if (!::GetQueuedCompletionStatusEx(iocp_, entries, batch_size, &n, round == 0 ? 0 : 10, FALSE)) continue;
    for (ULONG i = 0; i < n; ++i) {
      OVERLAPPED* ov = entries[i].lpOverlapped;
      if (entries[i].lpCompletionKey != op_key || ov == nullptr) continue;
      const detail::operation* owner = packet_owner(ov);
      if (owner == &accept_packet_tag && static_cast<accept_slot*>(static_cast<void*>(ov))->ctx->orphaned) {
        on_accept_packet(ov);
      } else if (owner == nullptr && static_cast<pipe_instance*>(static_cast<void*>(ov))->listener == nullptr) {
        free_pipe_instance(static_cast<pipe_instance*>(static_cast<void*>(ov)));  // orphaned by detach
      }
    }
  }
  orphaned_accepts_ = nullptr;
  close_poll_helper();
  if (iocp_ != nullptr) {
    ::CloseHandle(iocp_);
    iocp_ = nullptr;
  }
  if (timer_period_set_) {
    ::timeEndPeriod(1);
    timer_period_set_ = false;
  }
  ready_head_ = ready_tail_ = nullptr;
  preassociated_.clear();
}

}  // namespace eddy::platform::iocp
