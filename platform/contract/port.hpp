// The one contract between eddy's portable core (src/) and its ports (platform/*).
//
// The core owns every operation record (embedded in the handle or request that issues it,
// so nothing is allocated per operation). A port is given an operation by submit(), does the
// work with its OS mechanism, and later — from inside poll(), on the loop thread — fills in
// the result and calls complete(op). The core never sees an OS type.
//
// Threads: everything here runs on the loop thread except port::wake(), which any thread
// may call.
#pragma once

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <system_error>
#include <type_traits>

#include "eddy/error.hpp"
#include "eddy/loop.hpp"

namespace eddy::detail {

class loop_impl;

// What an operation asks for. Ports add kinds here as the runtime grows (stream reads,
// accepts, ...); every port must handle every kind (or complete it with not_supported).
enum class op_kind : std::uint8_t {
  nop,      // completes in a later poll with result 0 (used for deferred completions and tests)
  accept,   // io: a listening socket. result: 0, accepted: the new socket (nonblocking)
  connect,  // io: an unconnected socket; addr/addrlen: the native address. result: 0
  recv,     // io: a connected socket; buffer from acquire(). result: bytes (0 = end of stream)
  send,     // io: a connected socket; bufs/nbufs: a gather list. result: bytes written (may be
            // fewer than asked; the core submits the rest)
  recvfrom,  // io: a datagram socket; buffer from acquire(), kept in buf. result: bytes; the
             // sender's native address in from/fromlen; flags: datagram_truncated if cut
  sendto,    // io: a datagram socket; bufs/nbufs: one datagram; addr/addrlen: the destination
             // (addr == nullptr: the connected peer). result: bytes sent
  read,      // io: a descriptor that is not a socket (pipe fd, tty, console); as recv
  write,     // io: a descriptor that is not a socket; as send
  poll,      // io: any descriptor; flags: poll_readable or poll_writable (one of them). Completes
             // (result >= 0) once the descriptor is ready that way, or has an error or hang-up,
             // without reading or writing anything: for libraries that do their own I/O on
             // their own sockets (c-ares). io_uring: IORING_OP_POLL_ADD; epoll: the fd's
             // read or write queue; iocp: IOCTL_AFD_POLL through a helper socket (sockets
             // only: not_supported on other handles). result: the side that is ready
             // (poll_readable or poll_writable; 0 with a cancel that won the race) on iocp,
             // the poll(2) revents on the POSIX ports.
  // File operations: io is nullptr, the file is operation::file. Only the io_uring port runs
  // them, and only for the opcodes its kernel has: the core asks the port's supports(kind)
  // first and uses the thread pool when it says no. Submitted anyway, they complete with
  // not_supported.
  file_open,   // addr: a NUL-terminated path; flags: fs::open_flags bits; mode. result: the new file
  file_close,  // file. result: 0
  file_read,   // file; bufs/nbufs: a scatter list; offset (-1: the file's position). result: bytes, 0 at the end
  file_write,  // file; bufs/nbufs: a gather list; offset as file_read. result: bytes
  file_stat,   // addr: a NUL-terminated path, or nullptr for the open file; flags: stat_no_follow;
               // out: the fs::stat_info to fill; buf: at least 256 bytes of 8-aligned scratch. result: 0
  file_sync,   // file; flags: sync_data_only (fdatasync). result: 0
};

inline constexpr bool is_file_op(op_kind k) noexcept { return k >= op_kind::file_open; }

// operation::flags bits of file_stat and file_sync.
inline constexpr std::uint32_t stat_no_follow = 1;
inline constexpr std::uint32_t sync_data_only = 1;

// What an io object is, which decides how the ports read and write it.
enum class io_kind : std::uint8_t {
  socket,  // recv/send (and accept, connect, recvfrom, sendto)
  stream,   // a pipe fd, tty or character device (POSIX), or a pipe/file HANDLE (Windows): read/write
  console,  // a Windows console input/output handle: read waits on the wait thread, then
            // ReadConsoleInputW on the loop thread (iocp only)
  directory,  // a directory HANDLE opened for change notification (iocp only; the POSIX fs
              // watches are inotify fds, plain streams): read is ReadDirectoryChangesW into the
              // acquired buffer (DWORD-aligned). result: bytes of FILE_NOTIFY_INFORMATION
              // records; 0 when more changed than the system kept (the list was lost)
};

// operation::flags bits reported by recvfrom.
inline constexpr std::uint32_t datagram_truncated = 1;
// operation::flags of a poll operation: the readiness it waits for.
inline constexpr std::uint32_t poll_readable = 1;
inline constexpr std::uint32_t poll_writable = 2;

// A kernel object operations act on (a socket today). Embedded in its handle; registered
// with the port by attach() before the first operation and removed by detach() after the
// last one has completed and before the handle closes it.
struct io_object {
  // fd on POSIX; SOCKET or HANDLE on Windows. The iocp port may replace native and kind
  // while a connect operation runs: a named pipe is a marker until its connect opens the
  // pipe HANDLE (io_kind::stream then; platform/win32/local_pipe.hpp). The core reads both
  // afresh for every operation and closes whatever native holds.
  std::intptr_t native = -1;
  int family = 0;             // the native address family (AF_INET / AF_INET6), 0 if none
  io_kind kind = io_kind::socket;
  // An ipc pipe: recv also picks up a passed handle (into operation::accepted) and send
  // passes operation::send_handle along with the bytes (SCM_RIGHTS on POSIX).
  bool ipc = false;
  // Port-private state (readiness and operation queues on epoll).
  alignas(8) std::array<std::byte, 64> port_data{};
};

// One element of a gather list; the posix ports use it as a struct iovec.
struct io_vec {
  void* base;
  std::size_t len;
};

struct operation {
  // The issuer's completion function, called (through complete()) on the loop thread.
  void (*complete)(operation* op) = nullptr;
  // The loop the operation was submitted to (set by the core's submit).
  loop_impl* loop = nullptr;
  // The issuer's object, for its completion function (ports do not touch it).
  void* owner = nullptr;
  // Result: a byte count or value (>= 0) when error is empty.
  std::int64_t result = 0;
  std::error_code error;
  op_kind kind = op_kind::nop;
  bool in_flight = false;  // between submit() and complete(); maintained by the core
  // Intrusive link for the core's queues (pending phase); ports do not touch it.
  operation* next = nullptr;

  // Parameters, by kind (see op_kind).
  io_object* io = nullptr;
  // recv: returns the buffer to fill, called on the loop thread when the port is about to
  // receive (epoll: on readiness; io_uring: at submit; iocp: after the zero-byte read).
  // An empty buffer fails the operation with errc::no_memory.
  io_vec (*acquire)(operation* op) = nullptr;
  // recv, read: the port gives back a buffer it acquired but will not fill now (the attempt
  // found nothing and the operation waits for readiness again); it calls acquire() again
  // when it next receives. Optional (nullptr: the core keeps the buffer for the next attempt).
  void (*release)(operation* op) noexcept = nullptr;
  const io_vec* bufs = nullptr;  // send, sendto
  std::uint32_t nbufs = 0;       // send, sendto
  std::uint32_t addrlen = 0;     // connect, sendto
  const void* addr = nullptr;    // connect, sendto
  std::intptr_t accepted = -1;   // accept: the new socket; recv on an ipc pipe: a received handle or -1
  std::intptr_t send_handle = -1;  // send on an ipc pipe: a handle to pass with the bytes, or -1
  io_vec buf{nullptr, 0};        // recvfrom: the buffer acquired (ports may point an iovec here)
  void* from = nullptr;          // recvfrom: where the sender's address goes (128 bytes)
  std::uint32_t fromlen = 0;     // recvfrom: its length, set by the port
  std::uint32_t flags = 0;       // recvfrom: datagram_truncated; poll: poll_readable or poll_writable;
                                 // file_open, file_stat, file_sync
  std::intptr_t file = -1;       // file_*: the file (a descriptor)
  std::int64_t offset = -1;      // file_read, file_write
  std::uint32_t mode = 0;        // file_open: the permission bits of a new file
  void* out = nullptr;           // file_stat: the fs::stat_info to fill
  // Port-private storage: the iocp port keeps its OVERLAPPED here, io_uring a msghdr with
  // its control buffer, epoll its queue link.
  alignas(8) std::array<std::byte, 96> port_data{};
};

// Ports call this on the loop thread, from inside poll(), once per finished operation,
// after setting op.result and op.error. It does the core's bookkeeping and calls
// op.complete. Defined by the core (src/loop/loop.cpp).
void complete(operation& op) noexcept;

// A port's view of op.port_data as its own record type T.
template <class T>
T& port_state(operation& op) noexcept {
  static_assert(sizeof(T) <= sizeof(operation::port_data), "port state does not fit in operation::port_data");
  static_assert(alignof(T) <= alignof(operation), "port state is over-aligned");
  static_assert(std::is_trivially_destructible_v<T>, "port state must be trivially destructible");
  return *reinterpret_cast<T*>(op.port_data.data());
}

// What one poll() call found.
struct poll_result {
  std::uint32_t completions = 0;  // operations delivered
  bool woken = false;             // wake() was called since the previous poll reported a wake
};

// The contract, checked at compile time for every port (see ports.hpp).
// - kind: which backend_kind the port implements.
// - init(): acquire the OS objects; an error (e.g. io_uring_setup refused) leaves the port
//   closed and the loop falls back or reports backend_unavailable.
// - submit(op): start op. Never blocks, never calls complete() directly (completions are
//   only delivered from poll(), so a callback never re-enters its caller).
// - cancel(op): ask for op to stop early. It still completes exactly once, from poll(),
//   with errc::operation_canceled if the cancellation won. Returns false if op is unknown.
// - poll(timeout_ns): wait at most timeout_ns (-1: no limit, 0: do not block) for
//   completions or a wake, deliver the completions that are ready, and return.
// - wake(): make a blocked or future poll() return; thread-safe, coalescing is allowed.
// - close(): release the OS objects. Idempotent.
// - supports(kind): whether submit() performs kind itself (the file_* kinds may be missing;
//   the core then runs the blocking call on the thread pool).
// - attach(io): register a socket with the port (epoll_ctl ADD, CreateIoCompletionPort).
// - detach(io): forget it; every operation on it has completed. The core closes it after.
//   One exception: a poll operation may still be on its way back with its cancellation
//   (c-ares closes its sockets itself, right after saying so; src/resolver.cpp detaches
//   them then). Ports keep nothing of such an operation in the io object.
template <class P>
concept backend_port = requires(P& p, operation& op, io_object& io, std::int64_t timeout_ns, op_kind kind) {
  { p.supports(kind) } noexcept -> std::same_as<bool>;
  { p.attach(io) } -> std::same_as<std::error_code>;
  { p.detach(io) } noexcept -> std::same_as<void>;
  { P::kind } -> std::convertible_to<backend_kind>;
  { p.init() } -> std::same_as<std::error_code>;
  { p.submit(op) } noexcept -> std::same_as<void>;
  { p.cancel(op) } noexcept -> std::same_as<bool>;
  { p.poll(timeout_ns) } -> std::same_as<poll_result>;
  { p.wake() } noexcept -> std::same_as<void>;
  { p.close() } noexcept -> std::same_as<void>;
};

}  // namespace eddy::detail
