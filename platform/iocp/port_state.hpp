// What the IOCP port keeps in the core's records, and the helpers its files share. Private
// to platform/iocp/ (it includes <windows.h>): never include it from iocp_port.hpp or
// anything src/ sees.
//
// The port is one class (iocp_port.hpp) in several files, split by I/O kind:
// - iocp_port.cpp: the port core: init, attach/detach, submit (dispatch by kind), cancel,
//   poll (dequeue a batch, finish each packet), wake, close
// - sockets.cpp: sockets and accept: AcceptEx listeners, ConnectEx, the zero-byte reads,
//   WSASend/WSASendTo
// - pipes.cpp: named pipes (ConnectNamedPipe instances, CreateFileW clients) and every
//   HANDLE read and written with ReadFile/WriteFile (pipes, files, directories)
// - ipc.cpp: the framed reads and writes of ipc pipes (ipc_channel.hpp does the framing)
// - iocp_console.cpp: console input and output
// Loop thread only, except where a comment names the wait thread.
#pragma once

#include "platform/win32/win32.hpp"
// winsock2.h must come before windows.h (which would otherwise pull in the old winsock.h).
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>  // AcceptEx, ConnectEx, SO_UPDATE_*_CONTEXT
#include <windows.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "platform/contract/port.hpp"
#include "platform/iocp/iocp_port.hpp"
#include "platform/iocp/ipc_channel.hpp"
#include "platform/win32/local_pipe.hpp"

namespace eddy::platform::iocp {

// The named pipe records the services create (platform/win32/local_pipe.hpp).
using win32::free_pipe_instance;
using win32::create_pipe_instance;
using win32::is_local_marker;
using win32::local_of;
using win32::pipe_instance;

// A socket listener's AcceptEx calls. The port keeps several pending per listener, so
// connections are accepted while the core is busy elsewhere (libuv keeps 32; 8 is plenty
// for a loop that hands each one to a callback), but one only on a listener that may be
// shared with other processes (adopted already listening, see attach): a connection
// accepted here is one another process cannot serve. The core still has one accept
// operation in flight at a time: connections accepted while it is not waiting are kept in
// the stash and handed to the next accept operation (through the ready list); a slot is
// posted again once the connection it accepted has been handed out, so pending + stashed
// never exceeds the listener's capacity, and further connections wait in the kernel backlog.
//
// Each slot is a pending AcceptEx: its OVERLAPPED, the socket created beforehand that the
// call connects, and the address buffer AcceptEx writes (the local and remote addresses,
// each with 16 bytes of overhead), all of which must stay put until the call completes.
// The context is allocated on a listener's first accept; detach cancels the pending calls
// and orphans it, and the last of their packets (or close()) frees it.
struct accept_context;
struct accept_slot {
  static constexpr DWORD address_len = sizeof(sockaddr_in6) + 16;
  OVERLAPPED ov;
  // Always &accept_packet_tag, at the offset of op_state::owner: how a listener's AcceptEx
  // packet is told from an operation's and from a pipe instance's (nullptr there).
  detail::operation* tag;
  accept_context* ctx;
  // The socket the pending AcceptEx connects; INVALID_SOCKET while the slot is idle.
  SOCKET socket;
  alignas(8) char addresses[2 * address_len];
};

struct emulation;

struct accept_context {
  static constexpr std::uint32_t max_slots = 8;
  SOCKET listener = INVALID_SOCKET;
  emulation* emulated = nullptr;  // the listener's, if its completions are emulated (one slot then)
  int family = 0;
  bool skip_on_success = false;  // the listener's: an AcceptEx that succeeds at once queues no packet
  bool orphaned = false;         // detach ran: packets only count down pending
  std::uint32_t capacity = max_slots;  // slots in use: max_slots, or 1 for a shared listener
  std::uint32_t pending = 0;           // AcceptEx calls whose completion has not been seen
  detail::operation* waiting = nullptr;  // the core's accept operation, while it waits
  // Accepted sockets nobody has taken yet, oldest first (a ring of capacity entries).
  SOCKET stash[max_slots] = {};
  std::uint32_t stash_head = 0;
  std::uint32_t stash_count = 0;
  // An error that came while nobody waited (or with nothing to hand out): the next accept
  // operation reports it, after the stashed connections.
  std::error_code stashed_error;
  accept_context* next_orphan = nullptr;  // port::orphaned_accepts_
  accept_slot slots[max_slots] = {};
};

// Completion keys. Operations are found from their OVERLAPPED; the key only tells a wake
// packet (which has no OVERLAPPED) from an operation.
constexpr ULONG_PTR op_key = 0;
constexpr ULONG_PTR wake_key = 1;
constexpr ULONG_PTR retry_key = 2;  // a pipe connect's retry timer fired (OVERLAPPED: the op's)

// Emulated completions, for a socket that cannot join this port: a socket passed from
// another process over an ipc pipe (WSASocketW from WSADuplicateSocketW's protocol info)
// shares the sender's kernel object, and that is associated with the sender's port already
// (CreateIoCompletionPort fails with ERROR_INVALID_PARAMETER, on Windows as under Wine).
// Each overlapped call on it then names an event in OVERLAPPED::hEvent with the low bit
// set, which tells the kernel not to queue a packet to the associated port (the sender's),
// and a wait registered on that event (RegisterWaitForSingleObject, run in the wait thread)
// posts the packet to this port instead; from there the operation completes as usual.
// One event per kind of operation (the core has at most one read, one write, one accept
// and one connect in flight per socket; such a listener keeps one AcceptEx pending), each
// with a persistent wait on an auto-reset event. libuv calls this UV_HANDLE_EMULATE_IOCP.
struct emulation {
  enum slot_id : std::uint8_t { reads, writes, accepts, connects, slot_count };
  struct slot {
    HANDLE event = nullptr;
    HANDLE wait = nullptr;
    HANDLE iocp = nullptr;
    // The OVERLAPPED of the call in flight: set before the call, read by the wait callback
    // after the call signalled the event.
    std::atomic<OVERLAPPED*> current{nullptr};
  };
  slot slots[slot_count];

  explicit emulation(HANDLE iocp) noexcept {
    for (slot& s : slots) s.iocp = iocp;
  }
  emulation(const emulation&) = delete;
  emulation& operator=(const emulation&) = delete;
  ~emulation() {
    stop_waits();
    for (slot& s : slots) {
      if (s.event != nullptr) ::CloseHandle(s.event);
    }
  }

  static slot_id slot_for(detail::op_kind kind) noexcept {
    switch (kind) {
      case detail::op_kind::send:
      case detail::op_kind::sendto:
      case detail::op_kind::write:
        return writes;
      case detail::op_kind::accept:
        return accepts;
      case detail::op_kind::connect:
        return connects;
      default:
        return reads;
    }
  }

  static VOID CALLBACK on_signal(PVOID param, BOOLEAN) {
    auto& s = *static_cast<slot*>(param);
    OVERLAPPED* ov = s.current.load(std::memory_order_acquire);
    // Only if memory runs out can the post fail; the operation would then never complete.
    if (ov != nullptr) ::PostQueuedCompletionStatus(s.iocp, static_cast<DWORD>(ov->InternalHigh), op_key, ov);
  }

  // Prepares ov (zeroed by the caller) for an overlapped call of slot id.
  std::error_code arm(slot_id id, OVERLAPPED& ov) noexcept {
    slot& s = slots[id];
    if (s.event == nullptr) {
      s.event = ::CreateEventW(nullptr, FALSE, FALSE, nullptr);
      if (s.event == nullptr) return from_win32(::GetLastError());
      if (!::RegisterWaitForSingleObject(&s.wait, s.event, &on_signal, &s, INFINITE, WT_EXECUTEINWAITTHREAD)) {
        const DWORD err = ::GetLastError();
        ::CloseHandle(s.event);
        s.event = nullptr;
        s.wait = nullptr;
        return from_win32(err);
      }
    }
    s.current.store(&ov, std::memory_order_release);
    ov.hEvent = reinterpret_cast<HANDLE>(reinterpret_cast<ULONG_PTR>(s.event) | 1);
    return {};
  }

  // Unregisters the waits, waiting for a callback that is running: no packet is posted
  // after this returns.
  void stop_waits() noexcept {
    for (slot& s : slots) {
      if (s.wait != nullptr) ::UnregisterWaitEx(s.wait, INVALID_HANDLE_VALUE);
      s.wait = nullptr;
    }
  }
};

// The in and out buffer of one IOCTL_AFD_POLL (the layout ntdll's AFD driver reads: one
// socket). Allocated per poll operation in flight, since it does not fit in port_data.
struct afd_poll {
  std::int64_t timeout;         // LARGE_INTEGER; INT64_MAX: never
  std::uint32_t handle_count;   // 1
  std::uint32_t exclusive;      // 0
  HANDLE socket;                // the watched socket (its base provider's handle)
  std::uint32_t events;         // in: AFD_POLL_* wanted; out: those that happened
  std::int32_t status;          // out: per-socket NTSTATUS
};
static_assert(sizeof(afd_poll) == 32);

// What the port keeps in operation::port_data. The OVERLAPPED comes first, so the pointer
// a completion packet carries converts back to the whole record (and the record names
// its operation).
struct op_state {
  OVERLAPPED ov;
  detail::operation* owner;
  // The handle the overlapped call was issued on (the socket), for CancelIoEx; nullptr for
  // posted packets (nop), which the port cancels by marking them.
  HANDLE handle;
  // Link of the port's ready list (see push_ready).
  detail::operation* next_ready;
  // poll_epoch_ when submitted: a nop submitted during a poll is delivered by the next one.
  std::uint32_t epoch;
  // connect on a named pipe: the retry timer fired; retries so far (see retry_timer).
  LONG retry_fired;
  std::uint16_t retries;
  // cancel() was called. A nop then completes as cancelled; so does a recv whose zero-byte
  // read finished (no data has been taken from the socket yet) and an accept that would
  // otherwise be retried. Other operations that finished anyway report what happened.
  bool cancel_requested;
  // accept on a socket listener: the operation is its accept_context's waiting one.
  bool accept_waiting;
  // read or write on an ipc pipe: the frame this operation reads or writes has begun.
  bool ipc_frame;
  // connect: the port bound the socket (to the wildcard address) for ConnectEx.
  bool bound_by_port;
  // accept / connect on a named pipe (the io object is a local_pipe marker).
  bool local;
  // accept on a named pipe: the listener whose waiting_accept this operation is.
  local_pipe* pipe;
  // connect on a named pipe whose instances are all busy: the timer-queue timer that posts
  // a retry packet (retry_key) to iocp (retry_fired and retries are with epoch above).
  HANDLE retry_timer;
  union {
    HANDLE iocp;        // pipe connect retries and consoles: the port to post to
    afd_poll* poll;     // poll: the IOCTL_AFD_POLL buffer in flight (poll.cpp)
  };
};
static_assert(sizeof(op_state) <= sizeof(detail::operation::port_data));
static_assert(sizeof(DWORD) == sizeof(std::uint32_t));
static_assert(sizeof(HANDLE) == sizeof(void*));
static_assert(std::is_standard_layout_v<op_state>, "the OVERLAPPED must be at offset 0");

// Marks the packets of a listener's AcceptEx calls (accept_slot::tag); never used as an
// operation.
inline detail::operation accept_packet_tag;
static_assert(std::is_standard_layout_v<accept_slot>, "the OVERLAPPED must be at offset 0");
static_assert(offsetof(accept_slot, tag) == offsetof(op_state, owner));

// What the port keeps in io_object::port_data.
struct io_state {
  accept_context* accept;  // a socket listener's, from its first accept
  emulation* emulated;     // a socket that cannot join the port (see emulation), or nullptr
  ipc_channel* ipc;        // an ipc pipe's framing, from its first read or write
  // io_kind::stream on a disk file: overlapped reads and writes go at this offset (a file
  // opened for overlapped I/O has no file pointer of its own).
  std::uint64_t offset;
  bool is_file;
  // FILE_SKIP_COMPLETION_PORT_ON_SUCCESS is in effect: an overlapped call that succeeds at
  // once queues no packet, and the port delivers it from its ready list instead.
  bool skip_on_success;
  // The socket was listening already when attached: adopted (tcp::open, or a handle passed
  // over an ipc pipe), so other processes may accept on it too. eddy's own listeners are
  // attached before they listen. One AcceptEx pending on it instead of max_slots.
  bool shared_listener;
};
static_assert(sizeof(io_state) <= sizeof(detail::io_object::port_data));
static_assert(std::is_trivially_destructible_v<io_state>);

inline io_state& io_state_of(detail::io_object& io) noexcept { return *reinterpret_cast<io_state*>(io.port_data.data()); }
inline SOCKET socket_of(const detail::io_object& io) noexcept { return static_cast<SOCKET>(io.native); }
inline HANDLE native_handle_of(const detail::io_object& io) noexcept { return reinterpret_cast<HANDLE>(io.native); }
inline HANDLE handle_of(SOCKET s) noexcept { return reinterpret_cast<HANDLE>(s); }

// The Winsock extension functions, loaded once per process. Microsoft documents them as
// per-provider; every TCP socket (IPv4 and IPv6) uses the same base provider, so one load
// through a throwaway TCP socket serves all. nullptr if loading failed: those operations
// then complete with not_supported.
struct extensions {
  LPFN_ACCEPTEX accept_ex = nullptr;
  LPFN_CONNECTEX connect_ex = nullptr;
};
const extensions& winsock_extensions() noexcept;  // sockets.cpp

inline std::error_code last_wsa_error() noexcept { return from_win32(static_cast<std::uint32_t>(::WSAGetLastError())); }

// A WSABUF length for an io_vec: longer buffers are used in part (a partial send or a
// shorter read, both allowed by the contract).
inline ULONG wsabuf_len(std::size_t len) noexcept { return static_cast<ULONG>(len > 0xFFFFFFFFu ? 0xFFFFFFFFu : len); }

// A client finding every instance of a pipe busy (ERROR_PIPE_BUSY) tries again this often,
// this many times (about 30 s, libuv's WaitNamedPipe timeout), then fails with timed_out.
constexpr DWORD pipe_retry_ms = 10;
constexpr std::uint16_t pipe_max_retries = 3000;

inline op_state& state_of(OVERLAPPED* ov) noexcept { return *reinterpret_cast<op_state*>(ov); }

// A packet's OVERLAPPED is either an operation's (op_state) or a pipe instance's
// (pipe_instance, whose no_owner is nullptr at the same offset); an operation in flight
// always has its owner set.
static_assert(std::is_standard_layout_v<pipe_instance>, "the OVERLAPPED must be at offset 0");
static_assert(offsetof(pipe_instance, no_owner) == offsetof(op_state, owner));
inline detail::operation* packet_owner(OVERLAPPED* ov) noexcept {
  detail::operation* owner = nullptr;
  std::memcpy(&owner, reinterpret_cast<const unsigned char*>(ov) + offsetof(op_state, owner), sizeof owner);
  return owner;
}

// The error a socket operation's packet carries. NTSTATUS codes the error table does not
// know are translated by Winsock itself (WSAGetOverlappedResult gives a WSA code); the
// socket is still open, since the core closes it only after its operations completed.
std::error_code packet_error(HANDLE handle, OVERLAPPED& ov, std::int32_t status, bool is_socket) noexcept;
inline std::error_code packet_error(op_state& st, std::int32_t status, bool is_socket) noexcept {
  return packet_error(st.handle, st.ov, status, is_socket);
}

// A listener's stash of accepted sockets (a ring of ctx.capacity entries).
inline void stash_push(accept_context& ctx, SOCKET s) noexcept {
  ctx.stash[(ctx.stash_head + ctx.stash_count) % ctx.capacity] = s;
  ++ctx.stash_count;
}
inline SOCKET stash_pop(accept_context& ctx) noexcept {
  const SOCKET s = ctx.stash[ctx.stash_head];
  ctx.stash_head = (ctx.stash_head + 1) % ctx.capacity;
  --ctx.stash_count;
  return s;
}

}  // namespace eddy::platform::iocp
