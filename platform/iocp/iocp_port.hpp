// The IOCP port: one I/O completion port per loop. Operations are overlapped calls (or, for
// nop, a posted packet) whose OVERLAPPED lives in the operation's port_data; poll() dequeues
// a batch with GetQueuedCompletionStatusEx and delivers each completion. Wake is a posted
// packet with a distinguished completion key. Sockets are associated with the port by
// attach() and use FILE_SKIP_COMPLETION_PORT_ON_SUCCESS where Winsock allows it: a call that
// finishes at once queues no packet, so the port keeps such operations on a ready list that
// the next poll() delivers. TCP: AcceptEx, ConnectEx, zero-byte WSARecv followed by a
// non-blocking WSARecv into the buffer acquire() gives, WSASend. UDP: a zero-byte peeking
// WSARecv, then a non-blocking WSARecvFrom; WSASendTo. Pipes and files (io_kind::stream):
// ReadFile / WriteFile. Named pipes for eddy::pipe: win32/local_pipe.hpp (see docs/windows.md).
#pragma once

// No OS header here: this file reaches the core's translation units through ports.hpp, and
// <windows.h> would bring its macros (near, far, small, interface, ...) with it. The OS
// types appear as their plain equivalents (HANDLE is void*, DWORD is std::uint32_t).
#include <atomic>
#include <cstdint>
#include <vector>

#include "platform/contract/port.hpp"

namespace eddy::platform::win32 {
struct local_pipe;  // platform/win32/local_pipe.hpp
}  // namespace eddy::platform::win32

namespace eddy::platform::iocp {

using win32::local_pipe;
struct accept_context;  // a socket listener's pending AcceptEx calls (port_state.hpp)

class port {
 public:
  static constexpr backend_kind kind = backend_kind::iocp;

  port() = default;
  port(const port&) = delete;
  port& operator=(const port&) = delete;
  ~port() { close(); }

  std::error_code init();
  // No file operations: the core runs them on the thread pool.
  bool supports(detail::op_kind k) const noexcept { return !detail::is_file_op(k); }
  void submit(detail::operation& op) noexcept;
  bool cancel(detail::operation& op) noexcept;
  detail::poll_result poll(std::int64_t timeout_ns);
  void wake() noexcept;
  void close() noexcept;
  std::error_code attach(detail::io_object& io);
  void detach(detail::io_object& io) noexcept;

 private:
  // Issues op's overlapped call (for recv: the zero-byte read). A call that finished at once
  // without queueing a packet goes on the ready list with its outcome in op.error/op.result.
  void start_io(detail::operation& op) noexcept;
  // op's overlapped call has finished with ec / bytes: does the follow-up work (the real
  // read after a zero-byte read, the accept or connect context) and delivers op, or issues
  // the next step (another zero-byte read, another AcceptEx) and leaves it in flight.
  void finish_io(detail::operation& op, std::error_code ec, std::uint32_t bytes, detail::poll_result& out);
  void push_ready(detail::operation& op) noexcept;
  // start_io and finish_io by I/O kind. The start_* functions issue op's first call (or put
  // op on the ready list with the error that stopped it); the finish_* functions return
  // false when op goes on (its next call is issued), else leave in ec / bytes how it ended.
  void start_accept(detail::operation& op) noexcept;     // sockets.cpp: socket listeners
  void start_socket_io(detail::operation& op) noexcept;  // sockets.cpp: connect, recv(from), send(to)
  void start_pipe(detail::operation& op) noexcept;       // pipes.cpp: a named pipe's marker
  void start_handle_io(detail::operation& op) noexcept;  // pipes.cpp: read, write on a HANDLE
  void start_poll(detail::operation& op) noexcept;       // poll.cpp: readiness (IOCTL_AFD_POLL)
  void finish_poll(detail::operation& op, std::error_code& ec, std::uint32_t& bytes) noexcept;
  std::error_code open_poll_helper() noexcept;
  void close_poll_helper() noexcept;
  bool finish_recv(detail::operation& op, std::error_code& ec, std::uint32_t& bytes) noexcept;
  bool finish_recvfrom(detail::operation& op, std::error_code& ec, std::uint32_t& bytes) noexcept;
  void finish_connect(detail::operation& op, std::error_code& ec) noexcept;
  bool finish_handle_io(detail::operation& op, std::error_code& ec, std::uint32_t& bytes) noexcept;
  // detach by kind: a socket (its accept context and emulation), a named pipe listener.
  void detach_socket(detail::io_object& io) noexcept;
  void detach_pipe(detail::io_object& io) noexcept;
  // A pipe connect's retry timer fired (its packet's overlapped: the operation's).
  void on_retry_packet(void* overlapped, detail::poll_result& out);
  // ipc pipes (ipc_channel.hpp): issues op's next ReadFile / WriteFile of a frame (the
  // header, the protocol info or the payload).
  void start_ipc(detail::operation& op) noexcept;
  // One of those calls finished with ec / bytes: false if the frame goes on (the next call
  // is issued); true if op is done, with ec and bytes set to what it reports.
  bool finish_ipc(detail::operation& op, std::error_code& ec, std::uint32_t& bytes) noexcept;
  // Socket listeners (see accept_context): posts AcceptEx calls until the listener's slots
  // are all pending or holding a connection; hands a kept connection (or error) to the
  // waiting accept through the ready list, then posts again.
  void arm_accepts(accept_context& ctx) noexcept;
  void serve_accept(accept_context& ctx) noexcept;
  // A listener's AcceptEx packet (overlapped: its slot's OVERLAPPED).
  void on_accept_packet(void* overlapped) noexcept;
  // Pipes and files (io_kind::stream): associates the HANDLE with the port.
  std::error_code attach_handle(detail::io_object& io);
  void forget_preassociated(void* handle) noexcept;
  // Named pipe listeners: issues ConnectNamedPipe on every idle instance (creating instances
  // where some are missing), then hands a connected one to the waiting accept, if any.
  void arm_instances(local_pipe& p) noexcept;
  void complete_pipe_accept(local_pipe& p) noexcept;
  // A pipe instance's ConnectNamedPipe packet (overlapped: its OVERLAPPED).
  void on_instance_packet(void* overlapped) noexcept;
  // The connect operation on a named pipe: CreateFileW, then the marker becomes the HANDLE.
  void connect_pipe(detail::operation& op) noexcept;
  // Dequeues and delivers one batch, waiting at most timeout_ms. Returns the number of
  // entries dequeued (operations and wakes), 0 on timeout, -1 if the port failed.
  // reached_new: a packet posted during this poll (epoch) was seen.
  long dequeue(std::uint32_t timeout_ms, std::uint32_t epoch, bool& reached_new, detail::poll_result& out);

  void* iocp_ = nullptr;  // HANDLE
  // poll operations (poll.cpp): a socket of the port's own, associated with iocp_, on which
  // every IOCTL_AFD_POLL is issued (the watched socket is named in the request, so it need
  // not be associated with any port). Made by the first poll; INVALID_SOCKET until then.
  std::uintptr_t poll_helper_ = ~std::uintptr_t{0};
  void* poll_device_ = nullptr;  // HANDLE: the helper's base provider handle
  bool timer_period_set_ = false;
  // Counts poll() calls, so a nop submitted by a callback during a poll is held for the next.
  std::uint32_t poll_epoch_ = 0;
  // Operations that finished without a completion packet (an overlapped call that completed
  // or failed at once, a nop whose packet could not be posted), delivered by the next poll.
  detail::operation* ready_head_ = nullptr;
  detail::operation* ready_tail_ = nullptr;
  // True while a wake packet is queued and not yet dequeued: wakes coalesce into one packet.
  std::atomic<bool> wake_pending_{false};
  // Pipe instances connected by this port's ConnectNamedPipe and handed out by an accept:
  // associated with the port already, so attach must not associate them again.
  std::vector<void*> preassociated_;
  // Contexts of detached listeners whose cancelled AcceptEx calls have not all come back:
  // freed by the last packet, or by close() once it has drained them.
  accept_context* orphaned_accepts_ = nullptr;
};

}  // namespace eddy::platform::iocp
