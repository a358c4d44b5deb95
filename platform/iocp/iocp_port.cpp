#include "platform/iocp/iocp_port.hpp"
#include "platform/contract/fault.hpp"

#include "platform/iocp/win32.hpp"
// winsock2.h must come before windows.h (which would otherwise pull in the old winsock.h).
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>  // AcceptEx, ConnectEx, SO_UPDATE_*_CONTEXT
#include <windows.h>
#include <mmsystem.h>  // timeBeginPeriod / timeEndPeriod (winmm)

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <mutex>
#include <new>
#include <type_traits>

#include "platform/iocp/iocp_console.hpp"
#include "platform/iocp/ipc_channel.hpp"
#include "platform/iocp/local_pipe.hpp"
#include "platform/net.hpp"

namespace eddy::platform::iocp {

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

namespace {

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
  HANDLE iocp;
};
static_assert(sizeof(op_state) <= sizeof(detail::operation::port_data));
static_assert(sizeof(DWORD) == sizeof(std::uint32_t));
static_assert(sizeof(HANDLE) == sizeof(void*));
static_assert(std::is_standard_layout_v<op_state>, "the OVERLAPPED must be at offset 0");

// Marks the packets of a listener's AcceptEx calls (accept_slot::tag); never used as an
// operation.
detail::operation accept_packet_tag;
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

io_state& io_state_of(detail::io_object& io) noexcept { return *reinterpret_cast<io_state*>(io.port_data.data()); }
SOCKET socket_of(const detail::io_object& io) noexcept { return static_cast<SOCKET>(io.native); }
HANDLE native_handle_of(const detail::io_object& io) noexcept { return reinterpret_cast<HANDLE>(io.native); }
HANDLE handle_of(SOCKET s) noexcept { return reinterpret_cast<HANDLE>(s); }

// The Winsock extension functions, loaded once per process. Microsoft documents them as
// per-provider; every TCP socket (IPv4 and IPv6) uses the same base provider, so one load
// through a throwaway TCP socket serves all. nullptr if loading failed: those operations
// then complete with not_supported.
struct extensions {
  LPFN_ACCEPTEX accept_ex = nullptr;
  LPFN_CONNECTEX connect_ex = nullptr;
};

template <class F>
void load_extension(SOCKET s, GUID guid, F& out) noexcept {
  DWORD bytes = 0;
  F fn = nullptr;
  if (::WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &guid, sizeof guid, &fn, sizeof fn, &bytes, nullptr, nullptr) ==
      0) {
    out = fn;
  }
}

const extensions& winsock_extensions() noexcept {
  static extensions ext;
  static std::once_flag once;
  std::call_once(once, [] {
    SOCKET s = ::WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, WSA_FLAG_OVERLAPPED);
    if (s == INVALID_SOCKET) return;
    load_extension(s, WSAID_ACCEPTEX, ext.accept_ex);
    load_extension(s, WSAID_CONNECTEX, ext.connect_ex);
    ::closesocket(s);
  });
  return ext;
}

std::error_code last_wsa_error() noexcept { return from_win32(static_cast<std::uint32_t>(::WSAGetLastError())); }

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

// Whether s is connected to its own address (a TCP self-connect).
bool is_self_connected(SOCKET s) noexcept {
  SOCKADDR_STORAGE local{};
  SOCKADDR_STORAGE peer{};
  int local_len = sizeof local;
  int peer_len = sizeof peer;
  if (::getsockname(s, reinterpret_cast<sockaddr*>(&local), &local_len) != 0 ||
      ::getpeername(s, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0) {
    return false;
  }
  return detail::net::from_native(&local, static_cast<std::size_t>(local_len)) ==
         detail::net::from_native(&peer, static_cast<std::size_t>(peer_len));
}

// A WSABUF length for an io_vec: longer buffers are used in part (a partial send or a
// shorter read, both allowed by the contract).
ULONG wsabuf_len(std::size_t len) noexcept { return static_cast<ULONG>(len > 0xFFFFFFFFu ? 0xFFFFFFFFu : len); }

// A client finding every instance of a pipe busy (ERROR_PIPE_BUSY) tries again this often,
// this many times (about 30 s, libuv's WaitNamedPipe timeout), then fails with timed_out.
constexpr DWORD pipe_retry_ms = 10;
constexpr std::uint16_t pipe_max_retries = 3000;

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

// A packet's OVERLAPPED is either an operation's (op_state) or a pipe instance's
// (pipe_instance, whose no_owner is nullptr at the same offset); an operation in flight
// always has its owner set.
static_assert(std::is_standard_layout_v<pipe_instance>, "the OVERLAPPED must be at offset 0");
static_assert(offsetof(pipe_instance, no_owner) == offsetof(op_state, owner));
detail::operation* packet_owner(OVERLAPPED* ov) noexcept {
  detail::operation* owner = nullptr;
  std::memcpy(&owner, reinterpret_cast<const unsigned char*>(ov) + offsetof(op_state, owner), sizeof owner);
  return owner;
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
std::error_code packet_error(op_state& st, std::int32_t status, bool is_socket) noexcept {
  return packet_error(st.handle, st.ov, status, is_socket);
}

void stash_push(accept_context& ctx, SOCKET s) noexcept {
  ctx.stash[(ctx.stash_head + ctx.stash_count) % ctx.capacity] = s;
  ++ctx.stash_count;
}
SOCKET stash_pop(accept_context& ctx) noexcept {
  const SOCKET s = ctx.stash[ctx.stash_head];
  ctx.stash_head = (ctx.stash_head + 1) % ctx.capacity;
  --ctx.stash_count;
  return s;
}

// slot's AcceptEx (on a listener not detached) finished with ec: its connection goes to the
// stash, and the slot is idle again.
void finish_accept_slot(accept_context& ctx, accept_slot& slot, std::error_code ec) noexcept {
  --ctx.pending;
  const SOCKET accepted = slot.socket;
  slot.socket = INVALID_SOCKET;
  // Gives the accepted socket the listener's properties and makes getsockname,
  // getpeername and shutdown work on it.
  if (!ec && ::setsockopt(accepted, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT,
                          reinterpret_cast<const char*>(&ctx.listener), sizeof ctx.listener) != 0) {
    ec = last_wsa_error();
  }
  if (!ec) {
    stash_push(ctx, accepted);
    return;
  }
  ::closesocket(accepted);
  // The client gave up before it was accepted (Windows reports it; Linux's accept skips
  // it): nothing to report, the slot is posted again for the next connection (as the epoll
  // port does on ECONNABORTED). A cancellation cannot come from the core (its cancel does
  // not touch the slots) and is not an error of the listener either.
  if (ec == errc::connection_reset || ec == errc::connection_aborted || ec == errc::operation_canceled) return;
  if (!ctx.stashed_error) ctx.stashed_error = ec;
}

}  // namespace

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
  io_state& ios = io_state_of(io);
  if (is_local_marker(io.native)) {
    // A pipe listener: instances whose ConnectNamedPipe is pending are closed now (which
    // cancels the call and frees the name at once) and handed to the port, which frees
    // their memory when the packet comes back; net::close frees the rest with the marker.
    for (auto*& inst : local_of(io.native)->instances) {
      if (inst == nullptr || inst->st != pipe_instance::state::pending) continue;
      inst->listener = nullptr;
      ::CancelIoEx(inst->handle, &inst->ov);
      ::CloseHandle(inst->handle);
      inst->handle = INVALID_HANDLE_VALUE;
      inst = nullptr;
    }
    ios = io_state{};
    return;
  }
  if (io.kind == detail::io_kind::stream || io.kind == detail::io_kind::directory) {
    forget_preassociated(native_handle_of(io));
    delete ios.ipc;  // closes a received socket nobody took
    ios = io_state{};
    return;
  }
  // No wait callback posts a packet for this socket after this (all its operations have
  // completed; a listener's AcceptEx is handled below).
  if (ios.emulated != nullptr) ios.emulated->stop_waits();
  if (ios.accept != nullptr) {
    // A listener: the connections accepted and not handed out are closed (their clients see
    // a reset), the pending AcceptEx calls cancelled and their sockets closed. Their packets
    // may still come, and point into the context: it is freed only after the last one.
    accept_context* ctx = ios.accept;
    ctx->waiting = nullptr;
    while (ctx->stash_count > 0) ::closesocket(stash_pop(*ctx));
    for (accept_slot& slot : ctx->slots) {
      if (slot.socket == INVALID_SOCKET) continue;
      const bool in_progress = slot.ov.Internal == static_cast<ULONG_PTR>(STATUS_PENDING);
      ::CancelIoEx(handle_of(ctx->listener), &slot.ov);
      if (ctx->emulated != nullptr) {
        // Its wait is gone: if the call's event was not consumed by the wait (it is still
        // pending, or finished just now), no packet will come for it. Take the event here.
        const HANDLE ev = ctx->emulated->slots[emulation::accepts].event;
        if (::WaitForSingleObject(ev, in_progress ? INFINITE : 0) == WAIT_OBJECT_0) --ctx->pending;
      }
      ::closesocket(slot.socket);
      slot.socket = INVALID_SOCKET;
    }
    ctx->emulated = nullptr;  // freed below
    if (ctx->pending == 0) {
      delete ctx;
    } else {
      ctx->orphaned = true;
      ctx->next_orphan = orphaned_accepts_;
      orphaned_accepts_ = ctx;
    }
  }
  delete ios.emulated;
  ios = io_state{};
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
  if (is_local_marker(io.native)) {
    // A named pipe that is a listener or not connected yet (local_pipe.hpp): no overlapped
    // call on the operation itself.
    st.handle = nullptr;
    st.local = true;
    if (op.kind == detail::op_kind::connect) return connect_pipe(op);
    if (op.kind != detail::op_kind::accept) return fail(make_error_code(errc::not_connected));
    local_pipe& p = *local_of(io.native);
    if (!p.listening) return fail(make_error_code(errc::invalid_argument));
    if (p.waiting_accept != nullptr) return fail(make_error_code(errc::already_started));
    p.waiting_accept = &op;
    st.pipe = &p;
    arm_instances(p);
    complete_pipe_accept(p);
    if (p.waiting_accept == &op &&
        std::all_of(std::begin(p.instances), std::end(p.instances), [](pipe_instance* i) { return i == nullptr; })) {
      // Not one instance could be created: nothing would ever connect.
      const DWORD err = ::GetLastError();
      p.waiting_accept = nullptr;
      st.pipe = nullptr;
      return fail(err != 0 ? from_win32(err) : make_error_code(errc::no_memory));
    }
    return;
  }
  BOOL ok = FALSE;
  DWORD bytes = 0;
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
      // Readiness has no overlapped form; nothing on Windows needs it yet (c-ares, which
      // would, is not built for Windows here): the contract's not_supported.
      return fail(make_error_code(errc::not_supported));
    case detail::op_kind::accept: {
      if (winsock_extensions().accept_ex == nullptr) return fail(make_error_code(errc::not_supported));
      io_state& ios = io_state_of(io);
      if (ios.accept == nullptr) {
        auto* ctx = new (std::nothrow) accept_context{};
        if (ctx == nullptr) return fail(make_error_code(errc::no_memory));
        ctx->listener = s;
        ctx->family = io.family;
        ctx->skip_on_success = ios.skip_on_success;
        ctx->emulated = ios.emulated;
        ctx->capacity = ios.shared_listener || ios.emulated != nullptr ? 1 : accept_context::max_slots;
        for (accept_slot& slot : ctx->slots) {
          slot.tag = &accept_packet_tag;
          slot.ctx = ctx;
          slot.socket = INVALID_SOCKET;
        }
        ios.accept = ctx;
      }
      accept_context& ctx = *ios.accept;
      if (ctx.waiting != nullptr) return fail(make_error_code(errc::already_started));
      // No overlapped call of its own: the listener's slots accept, and serve_accept hands
      // the operation a connection (or an error) through the ready list.
      st.handle = nullptr;
      st.accept_waiting = true;
      ctx.waiting = &op;
      serve_accept(ctx);
      return;
    }
    case detail::op_kind::connect: {
      const auto connect_ex = winsock_extensions().connect_ex;
      if (connect_ex == nullptr) return fail(make_error_code(errc::not_supported));
      // ConnectEx wants a bound socket (connect() binds implicitly, ConnectEx does not);
      // getsockname fails with WSAEINVAL while it is unbound.
      SOCKADDR_STORAGE local{};
      int local_len = sizeof local;
      if (::getsockname(s, reinterpret_cast<sockaddr*>(&local), &local_len) != 0) {
        if (::WSAGetLastError() != WSAEINVAL) return fail(last_wsa_error());
        detail::net::native_address any;
        detail::net::to_native(io.family == AF_INET6 ? socket_address::any_v6(0) : socket_address::any_v4(0), any);
        if (::bind(s, reinterpret_cast<const sockaddr*>(any.data.data()), static_cast<int>(any.len)) != 0) {
          return fail(last_wsa_error());
        }
        st.bound_by_port = true;
      }
      ok = connect_ex(s, static_cast<const sockaddr*>(op.addr), static_cast<int>(op.addrlen), nullptr, 0, nullptr,
                      &st.ov);
      bytes = 0;
      break;
    }
    case detail::op_kind::recv: {
      // A zero-byte read: it completes when data (or the end of the stream, or an error)
      // is there, without a buffer pinned while the connection is idle. finish_io then
      // acquires the buffer and reads what is there without waiting.
      static char zero_byte_target = 0;
      WSABUF buf{0, &zero_byte_target};
      DWORD flags = 0;
      ok = ::WSARecv(s, &buf, 1, &bytes, &flags, &st.ov, nullptr) == 0;
      bytes = 0;
      break;
    }
    case detail::op_kind::send: {
      // Winsock captures the WSABUF array during the call, so it may live on the stack.
      constexpr std::uint32_t max_bufs = 64;  // the core never passes more
      WSABUF bufs[max_bufs];
      DWORD n = 0;
      for (std::uint32_t i = 0; i < op.nbufs && n < max_bufs; ++i) {
        bufs[n].len = wsabuf_len(op.bufs[i].len);
        bufs[n].buf = static_cast<CHAR*>(op.bufs[i].base);
        ++n;
        if (bufs[n - 1].len != op.bufs[i].len) break;  // sent in part; the core sends the rest
      }
      ok = ::WSASend(s, bufs, n, &bytes, 0, &st.ov, nullptr) == 0;
      break;
    }
    case detail::op_kind::recvfrom: {
      // As recv, a zero-byte read first, but one that peeks (a plain zero-byte read would
      // consume the datagram); finish_io then receives it without waiting into the buffer
      // acquire() gives. A datagram waiting makes the peek fail with WSAEMSGSIZE (it does
      // not fit in zero bytes): that also means "ready". libuv receives the same way.
      static char peek_target = 0;
      WSABUF buf{0, &peek_target};
      DWORD flags = MSG_PEEK;
      ok = ::WSARecv(s, &buf, 1, &bytes, &flags, &st.ov, nullptr) == 0;
      bytes = 0;
      break;
    }
    case detail::op_kind::sendto: {
      constexpr std::uint32_t max_bufs = 64;
      WSABUF bufs[max_bufs];
      DWORD n = 0;
      for (std::uint32_t i = 0; i < op.nbufs && n < max_bufs; ++i) {
        if (op.bufs[i].len > 0xFFFFFFFFu) return fail(make_error_code(errc::message_too_long));
        bufs[n].len = static_cast<ULONG>(op.bufs[i].len);
        bufs[n].buf = static_cast<CHAR*>(op.bufs[i].base);
        ++n;
      }
      // addr == nullptr: the connected peer.
      ok = ::WSASendTo(s, bufs, n, &bytes, 0, static_cast<const sockaddr*>(op.addr),
                       op.addr != nullptr ? static_cast<int>(op.addrlen) : 0, &st.ov, nullptr) == 0;
      break;
    }
    case detail::op_kind::read:
    case detail::op_kind::write: {
      // A pipe or file HANDLE: one overlapped ReadFile into the buffer acquire() gives (a
      // pipe read completes as soon as some bytes are there), or one WriteFile of the first
      // buffer of the gather list (the core writes the rest: a partial result is allowed).
      if (io.ipc) return start_ipc(op);
      const HANDLE h = native_handle_of(io);
      io_state& ios = io_state_of(io);
      if (ios.is_file) {
        st.ov.Offset = static_cast<DWORD>(ios.offset & 0xFFFFFFFFu);
        st.ov.OffsetHigh = static_cast<DWORD>(ios.offset >> 32);
      }
      if (op.kind == detail::op_kind::read) {
        const detail::io_vec buf = op.acquire(&op);
        if (st.cancel_requested) return fail(make_error_code(errc::operation_canceled));
        if (buf.len == 0) return fail(make_error_code(errc::no_memory));
        if (io.kind == detail::io_kind::directory) {
          // The directory's change records since the previous call (the system keeps them
          // between calls once the first was made); the packet carries their size.
          constexpr DWORD what = FILE_NOTIFY_CHANGE_FILE_NAME | FILE_NOTIFY_CHANGE_DIR_NAME |
                                 FILE_NOTIFY_CHANGE_ATTRIBUTES | FILE_NOTIFY_CHANGE_SIZE |
                                 FILE_NOTIFY_CHANGE_LAST_WRITE | FILE_NOTIFY_CHANGE_CREATION |
                                 FILE_NOTIFY_CHANGE_SECURITY;
          ok = ::ReadDirectoryChangesW(h, buf.base, wsabuf_len(buf.len), FALSE, what, nullptr, &st.ov, nullptr);
        } else {
          ok = ::ReadFile(h, buf.base, wsabuf_len(buf.len), nullptr, &st.ov);
        }
      } else {
        std::uint32_t i = 0;
        while (i + 1 < op.nbufs && op.bufs[i].len == 0) ++i;
        const detail::io_vec* b = op.bufs + i;
        ok = ::WriteFile(h, b->base, wsabuf_len(b->len), nullptr, &st.ov);
      }
      if (ok) return;  // finished at once; no skip mode on handles, so its packet is queued
      const DWORD err = ::GetLastError();
      if (err == ERROR_IO_PENDING) return;
      if (op.kind == detail::op_kind::read && (err == ERROR_BROKEN_PIPE || err == ERROR_HANDLE_EOF)) {
        op.result = 0;  // the end of the stream
        push_ready(op);
        return;
      }
      return fail(from_win32(err));
    }
  }
  if (ok) {
    // Finished at once. Without FILE_SKIP_COMPLETION_PORT_ON_SUCCESS its packet is queued
    // as usual; with it there is none, so poll() delivers it from the ready list (never
    // from here: the contract forbids completing inside submit).
    if (!io_state_of(io).skip_on_success) return;
    op.result = static_cast<std::int64_t>(bytes);
    push_ready(op);
    return;
  }
  const int err = ::WSAGetLastError();
  if (err == WSA_IO_PENDING) return;  // a packet will come
  if (op.kind == detail::op_kind::recvfrom && (err == WSAEMSGSIZE || err == WSAECONNRESET || err == WSAENETRESET)) {
    // The peek found a datagram (too big for zero bytes), or an old ICMP error: finish_io
    // receives (and skips the error).
    push_ready(op);
    return;
  }
  // Failed at once: no packet is queued.
  fail(from_win32(static_cast<std::uint32_t>(err)));
}

void port::finish_io(detail::operation& op, std::error_code ec, std::uint32_t bytes, detail::poll_result& out) {
  auto& st = detail::port_state<op_state>(op);
  detail::io_object& io = *op.io;
  const SOCKET s = socket_of(io);
  switch (op.kind) {
    case detail::op_kind::nop:
    case detail::op_kind::poll:  // fails in start_io, never reaches here
    case detail::op_kind::file_open:  // file kinds never reach the port (see submit)
    case detail::op_kind::file_close:
    case detail::op_kind::file_read:
    case detail::op_kind::file_write:
    case detail::op_kind::file_stat:
    case detail::op_kind::file_sync:
      break;
    case detail::op_kind::recv: {
      // The zero-byte read finished: data, the end of the stream or an error is waiting.
      if (!ec && st.cancel_requested) ec = make_error_code(errc::operation_canceled);
      if (ec) break;
      const detail::io_vec buf = op.acquire(&op);
      if (st.cancel_requested) {  // the allocation callback stopped reading
        ec = make_error_code(errc::operation_canceled);
        break;
      }
      if (buf.len == 0) {
        ec = make_error_code(errc::no_memory);
        break;
      }
      WSABUF b{wsabuf_len(buf.len), static_cast<CHAR*>(buf.base)};
      DWORD n = 0;
      DWORD flags = 0;
      // Not overlapped: on the non-blocking socket this takes what is there, 0 at the end
      // of the stream, or fails with WSAEWOULDBLOCK.
      if (::WSARecv(s, &b, 1, &n, &flags, nullptr, nullptr) == 0) {
        bytes = n;
        break;
      }
      const int err = ::WSAGetLastError();
      if (err == WSAEWOULDBLOCK) {
        // Nothing after all (another reader took it, or the zero-byte read was woken
        // spuriously): wait again, the buffer stays with the core (acquire returns it again).
        start_io(op);
        return;
      }
      ec = from_win32(static_cast<std::uint32_t>(err));
      break;
    }
    case detail::op_kind::send:
    case detail::op_kind::sendto:
      break;
    case detail::op_kind::recvfrom: {
      // The peek finished: a datagram (WSAEMSGSIZE: it did not fit in zero bytes), or an
      // ICMP error of an earlier send (ignored, as with SIO_UDP_CONNRESET off), is waiting.
      if (ec == errc::message_too_long || ec == errc::connection_reset) ec.clear();
      if (!ec && st.cancel_requested) ec = make_error_code(errc::operation_canceled);
      if (ec) break;
      const detail::io_vec buf = op.acquire(&op);
      if (st.cancel_requested) {
        ec = make_error_code(errc::operation_canceled);
        break;
      }
      if (buf.len == 0) {
        ec = make_error_code(errc::no_memory);
        break;
      }
      op.buf = buf;
      WSABUF b{wsabuf_len(buf.len), static_cast<CHAR*>(buf.base)};
      DWORD n = 0;
      DWORD flags = 0;
      INT fromlen = static_cast<INT>(sizeof(detail::net::native_address::data));
      op.flags = 0;
      if (::WSARecvFrom(s, &b, 1, &n, &flags, static_cast<sockaddr*>(op.from), &fromlen, nullptr, nullptr) == 0) {
        bytes = n;
        op.fromlen = static_cast<std::uint32_t>(fromlen);
        break;
      }
      const int err = ::WSAGetLastError();
      if (err == WSAEMSGSIZE) {
        // Longer than the buffer: the buffer holds its start, the rest is gone.
        bytes = b.len;
        op.fromlen = static_cast<std::uint32_t>(fromlen);
        op.flags = detail::datagram_truncated;
        break;
      }
      if (err == WSAEWOULDBLOCK || err == WSAECONNRESET || err == WSAENETRESET) {
        start_io(op);  // nothing after all, or an ICMP error: peek again (the buffer stays)
        return;
      }
      ec = from_win32(static_cast<std::uint32_t>(err));
      break;
    }
    case detail::op_kind::read:
    case detail::op_kind::write: {
      if (io.ipc) {
        if (!finish_ipc(op, ec, bytes)) return;  // the frame goes on: the next call is issued
        break;
      }
      if (op.kind == detail::op_kind::read && (ec == errc::broken_pipe || ec == errc::eof)) {
        ec.clear();  // the writer closed its end, or the end of a file: end of stream
        bytes = 0;
      }
      io_state& ios = io_state_of(io);
      if (!ec && ios.is_file) ios.offset += bytes;
      break;
    }
    case detail::op_kind::connect:
      if (st.local) {  // a named pipe: connect_pipe did it all
        bytes = 0;
        break;
      }
      // Makes getsockname, getpeername and shutdown work on the socket.
      if (!ec && ::setsockopt(s, SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT, nullptr, 0) != 0) ec = last_wsa_error();
      if (!ec && st.bound_by_port && is_self_connected(s)) {
        // The wildcard bind above picked the very port being connected to, and TCP's
        // simultaneous open connected the socket to itself. That port had no listener (it
        // was free to bind), so the honest result is a refusal; a connect() that picks its
        // own port would not do this. Seen under Wine, whose bind(port 0) is Linux's: it
        // readily hands out a port that was just freed (Go's net package checks for the
        // same thing on Linux).
        ec = make_error_code(errc::connection_refused);
      }
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

// ---------------------------------------------------------------- ipc pipes (ipc_channel)

void port::start_ipc(detail::operation& op) noexcept {
  auto& st = detail::port_state<op_state>(op);
  io_state& ios = io_state_of(*op.io);
  const HANDLE h = native_handle_of(*op.io);
  st.ov = OVERLAPPED{};
  st.handle = h;
  const auto fail = [&](std::error_code ec) {
    op.error = ec;
    push_ready(op);
  };
  if (ios.ipc == nullptr) {
    ios.ipc = new (std::nothrow) ipc_channel;
    if (ios.ipc == nullptr) return fail(make_error_code(errc::no_memory));
  }
  ipc_channel& ch = *ios.ipc;
  BOOL ok = FALSE;
  if (op.kind == detail::op_kind::write) {
    if (!st.ipc_frame) {
      if (auto ec = ch.begin_write(h, op.bufs, op.nbufs, op.send_handle)) return fail(ec);
      st.ipc_frame = true;
    }
    const detail::io_vec next = ch.next_write();
    ok = ::WriteFile(h, next.base, static_cast<DWORD>(next.len), nullptr, &st.ov);
  } else if (!ch.in_payload()) {
    const detail::io_vec space = ch.header_space();
    ok = ::ReadFile(h, space.base, static_cast<DWORD>(space.len), nullptr, &st.ov);
  } else {
    const detail::io_vec buf = op.acquire(&op);
    if (st.cancel_requested) return fail(make_error_code(errc::operation_canceled));
    if (buf.len == 0) return fail(make_error_code(errc::no_memory));
    ok = ::ReadFile(h, buf.base, std::min(wsabuf_len(buf.len), static_cast<ULONG>(ch.payload_left())), nullptr,
                    &st.ov);
  }
  if (ok) return;  // finished at once; its packet is queued (no skip mode on handles)
  const DWORD err = ::GetLastError();
  if (err == ERROR_IO_PENDING) return;
  fail(from_win32(err));  // finish_ipc tells the end of the stream from other errors
}

bool port::finish_ipc(detail::operation& op, std::error_code& ec, std::uint32_t& bytes) noexcept {
  auto& st = detail::port_state<op_state>(op);
  ipc_channel* ch = io_state_of(*op.io).ipc;
  if (ch == nullptr) return true;  // failed before the channel existed; ec says why
  if (op.kind == detail::op_kind::write) {
    if (ec) return true;
    ch->wrote(bytes);
    if (ch->next_write().len != 0) {
      if (st.cancel_requested) {
        ec = make_error_code(errc::operation_canceled);
        return true;
      }
      start_ipc(op);
      return false;
    }
    bytes = ch->payload_size();
    return true;
  }
  const bool header = !ch->in_payload();
  if (ec == errc::broken_pipe || ec == errc::eof || (!ec && bytes == 0)) {
    // The writer closed its end: the end of the stream, unless it left a frame unfinished.
    ec = ch->between_frames() ? std::error_code() : make_error_code(errc::protocol_error);
    bytes = 0;
    return true;
  }
  if (ec) return true;
  if (header) {
    ec = ch->header_read(bytes);
    bytes = 0;
    if (ec) return true;
    if (st.cancel_requested) {
      ec = make_error_code(errc::operation_canceled);  // what came is kept in the channel
      return true;
    }
    start_ipc(op);
    return false;
  }
  op.accepted = ch->payload_read(bytes);
  return true;
}

// ---------------------------------------------------------------- socket listeners (accept_context)

void port::arm_accepts(accept_context& ctx) noexcept {
  const auto accept_ex = winsock_extensions().accept_ex;
  while (!ctx.orphaned && ctx.pending + ctx.stash_count < ctx.capacity) {
    // pending < capacity, so an idle slot exists.
    accept_slot* slot = ctx.slots;
    while (slot->socket != INVALID_SOCKET) ++slot;
    // The socket AcceptEx connects is created up front, of the listener's family, with the
    // same flags as every eddy socket (overlapped, not inheritable, non-blocking).
    detail::net::native_socket accepted = detail::net::invalid_socket;
    if (auto ec = detail::net::open_tcp(ctx.family == AF_INET6 ? address_family::ipv6 : address_family::ipv4,
                                        accepted)) {
      if (!ctx.stashed_error) ctx.stashed_error = ec;
      return;
    }
    slot->socket = static_cast<SOCKET>(accepted);
    slot->ov = OVERLAPPED{};
    if (ctx.emulated != nullptr) {
      if (auto ec = ctx.emulated->arm(emulation::accepts, slot->ov)) {
        ::closesocket(slot->socket);
        slot->socket = INVALID_SOCKET;
        if (!ctx.stashed_error) ctx.stashed_error = ec;
        return;
      }
    }
    ++ctx.pending;
    DWORD bytes = 0;
    if (accept_ex(ctx.listener, slot->socket, slot->addresses, 0, accept_slot::address_len, accept_slot::address_len,
                  &bytes, &slot->ov)) {
      // Finished at once: without FILE_SKIP_COMPLETION_PORT_ON_SUCCESS its packet is queued
      // as usual; with it there is none, so the connection is taken now.
      if (ctx.skip_on_success) finish_accept_slot(ctx, *slot, {});
      continue;
    }
    const int err = ::WSAGetLastError();
    if (err == WSA_IO_PENDING) continue;  // a packet will come
    // Failed at once: no packet is queued. A client that left is skipped (and the slot
    // posted again); any other error is kept for the accept operation, and not retried here.
    const std::error_code ec = from_win32(static_cast<std::uint32_t>(err));
    finish_accept_slot(ctx, *slot, ec);
    if (ec != errc::connection_reset && ec != errc::connection_aborted) return;
  }
}

void port::serve_accept(accept_context& ctx) noexcept {
  arm_accepts(ctx);
  detail::operation* op = ctx.waiting;
  if (op == nullptr) return;
  if (ctx.stash_count > 0) {
    op->accepted = static_cast<std::intptr_t>(stash_pop(ctx));
    op->error = {};
  } else if (ctx.stashed_error) {
    op->error = ctx.stashed_error;
    ctx.stashed_error.clear();
  } else {
    return;  // AcceptEx calls are pending: the operation waits for one
  }
  ctx.waiting = nullptr;
  detail::port_state<op_state>(*op).accept_waiting = false;
  push_ready(*op);
  arm_accepts(ctx);  // the slot of the connection handed out is posted again
}

void port::on_accept_packet(void* overlapped) noexcept {
  auto& slot = *static_cast<accept_slot*>(overlapped);
  accept_context& ctx = *slot.ctx;
  if (ctx.orphaned) {
    // Cancelled by detach (or finished just before it; detach closed the socket already).
    if (--ctx.pending != 0) return;
    for (accept_context** p = &orphaned_accepts_; *p != nullptr; p = &(*p)->next_orphan) {
      if (*p == &ctx) {
        *p = ctx.next_orphan;
        break;
      }
    }
    delete &ctx;
    return;
  }
  const auto status = static_cast<std::int32_t>(static_cast<std::uint32_t>(slot.ov.Internal));
  std::error_code ec = packet_error(handle_of(ctx.listener), slot.ov, status, true);
  if (!ec) {
    if (int f = EDDY_FAULT(accept)) ec = from_errno(f);  // fault injection: a failed AcceptEx status
  }
  finish_accept_slot(ctx, slot, ec);
  serve_accept(ctx);
}

// ---------------------------------------------------------------- named pipes (local_pipe.hpp)

void port::arm_instances(local_pipe& p) noexcept {
  for (auto*& inst : p.instances) {
    // Two tries per slot: an instance whose client came and went before ConnectNamedPipe
    // (ERROR_NO_DATA) is replaced by a fresh one at once.
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (inst == nullptr) {
        const HANDLE h = create_pipe_instance(p, false);
        if (h == INVALID_HANDLE_VALUE) break;
        inst = new (std::nothrow) pipe_instance{};
        if (inst == nullptr) {
          ::CloseHandle(h);
          break;
        }
        inst->handle = h;
        inst->listener = &p;
      }
      if (inst->st != pipe_instance::state::idle) break;
      if (!inst->associated) {
        if (::CreateIoCompletionPort(inst->handle, iocp_, op_key, 0) == nullptr) {
          free_pipe_instance(inst);
          inst = nullptr;
          break;
        }
        inst->associated = true;
      }
      inst->ov = OVERLAPPED{};
      if (::ConnectNamedPipe(inst->handle, &inst->ov)) {
        inst->st = pipe_instance::state::pending;  // finished at once; its packet is queued
        break;
      }
      const DWORD err = ::GetLastError();
      if (err == ERROR_IO_PENDING) {
        inst->st = pipe_instance::state::pending;
        break;
      }
      if (err == ERROR_PIPE_CONNECTED) {  // a client connected before the call: no packet
        inst->st = pipe_instance::state::connected;
        break;
      }
      free_pipe_instance(inst);
      inst = nullptr;
    }
  }
}

void port::complete_pipe_accept(local_pipe& p) noexcept {
  detail::operation* op = p.waiting_accept;
  if (op == nullptr) return;
  for (auto*& inst : p.instances) {
    if (inst == nullptr || inst->st != pipe_instance::state::connected) continue;
    try {
      preassociated_.push_back(inst->handle);  // attach must not associate it again
    } catch (...) {
      return;  // out of memory: the accept keeps waiting
    }
    op->accepted = reinterpret_cast<std::intptr_t>(inst->handle);
    delete inst;  // the handle now belongs to the accept
    inst = nullptr;
    p.waiting_accept = nullptr;
    detail::port_state<op_state>(*op).pipe = nullptr;
    op->error = {};
    push_ready(*op);
    arm_instances(p);  // a fresh instance takes its place
    return;
  }
}

void port::on_instance_packet(void* overlapped) noexcept {
  auto* inst = static_cast<pipe_instance*>(overlapped);
  local_pipe* p = inst->listener;
  if (p == nullptr) {  // orphaned by detach: its listener is gone
    free_pipe_instance(inst);
    return;
  }
  if (inst->ov.Internal == 0) {
    inst->st = pipe_instance::state::connected;
  } else {
    // The client left before it was accepted (or the call failed): drop the instance.
    for (auto*& slot : p->instances) {
      if (slot == inst) slot = nullptr;
    }
    free_pipe_instance(inst);
    arm_instances(*p);
  }
  complete_pipe_accept(*p);
}

namespace {
// Runs on a timer-queue thread: hands the retry to the loop thread through the port.
VOID CALLBACK pipe_retry_fired(PVOID param, BOOLEAN) {
  auto& st = *static_cast<op_state*>(param);
  ::InterlockedExchange(&st.retry_fired, 1);
  ::PostQueuedCompletionStatus(st.iocp, 0, retry_key, &st.ov);
}
}  // namespace

void port::connect_pipe(detail::operation& op) noexcept {
  // Opens the pipe now (CreateFileW does not block on a pipe); the outcome is delivered by
  // the next poll, like every immediate completion.
  detail::io_object& io = *op.io;
  local_pipe* p = local_of(io.native);
  const auto fail = [&](std::error_code ec) {
    op.error = ec;
    push_ready(op);
  };
  if (!p->name.empty()) return fail(make_error_code(errc::invalid_argument));  // a bound pipe is a server
  // op.addr holds the UTF-8 name (net::local_target), at most 128 bytes.
  wchar_t wide[130];
  const int n = ::MultiByteToWideChar(CP_UTF8, 0, static_cast<const char*>(op.addr), static_cast<int>(op.addrlen),
                                      wide, 129);
  if (n <= 0) return fail(make_error_code(errc::invalid_argument));
  wide[n] = L'\0';
  // SECURITY_IDENTIFICATION: the server may learn who the client is, not act as it.
  const HANDLE h = ::CreateFileW(wide, GENERIC_READ | GENERIC_WRITE, 0, nullptr, OPEN_EXISTING,
                                 FILE_FLAG_OVERLAPPED | SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION, nullptr);
  if (h == INVALID_HANDLE_VALUE) {
    const DWORD err = ::GetLastError();
    if (err == ERROR_PIPE_BUSY) {
      // Every instance is taken (more clients at once than the listener keeps instances
      // pending). WaitNamedPipeW would block the loop: try again from a timer instead.
      auto& st = detail::port_state<op_state>(op);
      if (st.retries >= pipe_max_retries) return fail(make_error_code(errc::timed_out));
      ++st.retries;
      st.iocp = iocp_;
      st.retry_fired = 0;
      if (::CreateTimerQueueTimer(&st.retry_timer, nullptr, &pipe_retry_fired, &st, pipe_retry_ms, 0,
                                  WT_EXECUTEONLYONCE)) {
        return;
      }
      st.retry_timer = nullptr;
      return fail(from_win32(::GetLastError()));
    }
    return fail(from_win32(err));
  }
  if (::CreateIoCompletionPort(h, iocp_, op_key, 0) == nullptr) {
    const DWORD err = ::GetLastError();
    ::CloseHandle(h);
    return fail(from_win32(err));
  }
  // The marker becomes the pipe: from now on the io object is a HANDLE read and written
  // with ReadFile / WriteFile.
  delete p;
  io.native = reinterpret_cast<std::intptr_t>(h);
  io.kind = detail::io_kind::stream;
  io_state& ios = io_state_of(io);
  ios = io_state{};
  op.error = {};
  push_ready(op);
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
      // A pipe connect's retry timer fired.
      op_state& rst = state_of(e.lpOverlapped);
      detail::operation& rop = *rst.owner;
      if (rst.retry_timer != nullptr) ::DeleteTimerQueueTimer(nullptr, rst.retry_timer, nullptr);
      rst.retry_timer = nullptr;
      if (rst.cancel_requested) {
        finish_io(rop, make_error_code(errc::operation_canceled), 0, out);
      } else {
        connect_pipe(rop);  // connects (delivered from the ready list) or waits again
      }
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
