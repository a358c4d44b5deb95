// The IOCP port's sockets (see port_state.hpp for how the port is split): socket listeners
// (AcceptEx slots), ConnectEx, the zero-byte reads of recv and recvfrom and the reads that
// follow them, WSASend and WSASendTo. Loop thread only.
#include "platform/iocp/port_state.hpp"
#include "platform/contract/fault.hpp"

#include <mutex>
#include <new>

#include "platform/contract/net.hpp"

namespace eddy::platform::iocp {
namespace {

template <class F>
void load_extension(SOCKET s, GUID guid, F& out) noexcept {
  DWORD bytes = 0;
  F fn = nullptr;
  if (::WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &guid, sizeof guid, &fn, sizeof fn, &bytes, nullptr, nullptr) ==
      0) {
    out = fn;
  }
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
  return contract::net::from_native(&local, static_cast<std::size_t>(local_len)) ==
         contract::net::from_native(&peer, static_cast<std::size_t>(peer_len));
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

// The issue_* functions start op's overlapped call on the socket s with st.ov: they set ok
// when the call finished at once (and bytes to what it moved), or return the error that
// stopped it before any call was made.

std::error_code issue_connect(detail::operation& op, op_state& st, const detail::io_object& io, BOOL& ok) noexcept {
  const SOCKET s = socket_of(io);
  const auto connect_ex = winsock_extensions().connect_ex;
  if (connect_ex == nullptr) return make_error_code(errc::not_supported);
  // ConnectEx wants a bound socket (connect() binds implicitly, ConnectEx does not);
  // getsockname fails with WSAEINVAL while it is unbound.
  SOCKADDR_STORAGE local{};
  int local_len = sizeof local;
  if (::getsockname(s, reinterpret_cast<sockaddr*>(&local), &local_len) != 0) {
    if (::WSAGetLastError() != WSAEINVAL) return last_wsa_error();
    contract::net::native_address any;
    contract::net::to_native(io.family == AF_INET6 ? socket_address::any_v6(0) : socket_address::any_v4(0), any);
    if (::bind(s, reinterpret_cast<const sockaddr*>(any.data.data()), static_cast<int>(any.len)) != 0) {
      return last_wsa_error();
    }
    st.bound_by_port = true;
  }
  ok = connect_ex(s, static_cast<const sockaddr*>(op.addr), static_cast<int>(op.addrlen), nullptr, 0, nullptr, &st.ov);
  return {};
}

// recv: a zero-byte read. It completes when data (or the end of the stream, or an error)
// is there, without a buffer pinned while the connection is idle. finish_recv then
// acquires the buffer and reads what is there without waiting.
BOOL issue_zero_byte_read(op_state& st, SOCKET s) noexcept {
  static char zero_byte_target = 0;
  WSABUF buf{0, &zero_byte_target};
  DWORD bytes = 0;
  DWORD flags = 0;
  return ::WSARecv(s, &buf, 1, &bytes, &flags, &st.ov, nullptr) == 0;
}

// recvfrom: as recv, a zero-byte read first, but one that peeks (a plain zero-byte read
// would consume the datagram); finish_recvfrom then receives it without waiting into the
// buffer acquire() gives. A datagram waiting makes the peek fail with WSAEMSGSIZE (it does
// not fit in zero bytes): that also means "ready". libuv receives the same way.
BOOL issue_peek(op_state& st, SOCKET s) noexcept {
  static char peek_target = 0;
  WSABUF buf{0, &peek_target};
  DWORD bytes = 0;
  DWORD flags = MSG_PEEK;
  return ::WSARecv(s, &buf, 1, &bytes, &flags, &st.ov, nullptr) == 0;
}

BOOL issue_send(detail::operation& op, op_state& st, SOCKET s, DWORD& bytes) noexcept {
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
  return ::WSASend(s, bufs, n, &bytes, 0, &st.ov, nullptr) == 0;
}

std::error_code issue_sendto(detail::operation& op, op_state& st, SOCKET s, BOOL& ok, DWORD& bytes) noexcept {
  constexpr std::uint32_t max_bufs = 64;
  WSABUF bufs[max_bufs];
  DWORD n = 0;
  for (std::uint32_t i = 0; i < op.nbufs && n < max_bufs; ++i) {
    if (op.bufs[i].len > 0xFFFFFFFFu) return make_error_code(errc::message_too_long);
    bufs[n].len = static_cast<ULONG>(op.bufs[i].len);
    bufs[n].buf = static_cast<CHAR*>(op.bufs[i].base);
    ++n;
  }
  // addr == nullptr: the connected peer.
  ok = ::WSASendTo(s, bufs, n, &bytes, 0, static_cast<const sockaddr*>(op.addr),
                   op.addr != nullptr ? static_cast<int>(op.addrlen) : 0, &st.ov, nullptr) == 0;
  return {};
}

}  // namespace

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

void port::start_accept(detail::operation& op) noexcept {
  auto& st = detail::port_state<op_state>(op);
  detail::io_object& io = *op.io;
  const auto fail = [&](std::error_code ec) {
    op.error = ec;
    push_ready(op);
  };
  if (winsock_extensions().accept_ex == nullptr) return fail(make_error_code(errc::not_supported));
  io_state& ios = io_state_of(io);
  if (ios.accept == nullptr) {
    auto* ctx = new (std::nothrow) accept_context{};
    if (ctx == nullptr) return fail(make_error_code(errc::no_memory));
    ctx->listener = socket_of(io);
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
}

void port::start_socket_io(detail::operation& op) noexcept {
  auto& st = detail::port_state<op_state>(op);
  detail::io_object& io = *op.io;
  const SOCKET s = socket_of(io);
  const auto fail = [&](std::error_code ec) {
    op.error = ec;
    push_ready(op);
  };
  BOOL ok = FALSE;
  DWORD bytes = 0;
  std::error_code ec;
  switch (op.kind) {
    case detail::op_kind::connect:
      ec = issue_connect(op, st, io, ok);
      break;
    case detail::op_kind::recv:
      ok = issue_zero_byte_read(st, s);
      break;
    case detail::op_kind::send:
      ok = issue_send(op, st, s, bytes);
      break;
    case detail::op_kind::recvfrom:
      ok = issue_peek(st, s);
      break;
    case detail::op_kind::sendto:
      ec = issue_sendto(op, st, s, ok, bytes);
      break;
    default:
      return;  // not a socket call (start_io dispatches only these here)
  }
  if (ec) return fail(ec);
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
    // The peek found a datagram (too big for zero bytes), or an old ICMP error:
    // finish_recvfrom receives (and skips the error).
    push_ready(op);
    return;
  }
  // Failed at once: no packet is queued.
  fail(from_win32(static_cast<std::uint32_t>(err)));
}

bool port::finish_recv(detail::operation& op, std::error_code& ec, std::uint32_t& bytes) noexcept {
  auto& st = detail::port_state<op_state>(op);
  const SOCKET s = socket_of(*op.io);
  // The zero-byte read finished: data, the end of the stream or an error is waiting.
  if (!ec && st.cancel_requested) ec = make_error_code(errc::operation_canceled);
  if (ec) return true;
  const detail::io_vec buf = op.acquire(&op);
  if (st.cancel_requested) {  // the allocation callback stopped reading
    ec = make_error_code(errc::operation_canceled);
    return true;
  }
  if (buf.len == 0) {
    ec = make_error_code(errc::no_memory);
    return true;
  }
  WSABUF b{wsabuf_len(buf.len), static_cast<CHAR*>(buf.base)};
  DWORD n = 0;
  DWORD flags = 0;
  // Not overlapped: on the non-blocking socket this takes what is there, 0 at the end
  // of the stream, or fails with WSAEWOULDBLOCK.
  if (::WSARecv(s, &b, 1, &n, &flags, nullptr, nullptr) == 0) {
    bytes = n;
    return true;
  }
  const int err = ::WSAGetLastError();
  if (err == WSAEWOULDBLOCK) {
    // Nothing after all (another reader took it, or the zero-byte read was woken
    // spuriously): the buffer goes back while the zero-byte read waits again.
    if (op.release != nullptr) op.release(&op);
    start_io(op);
    return false;
  }
  ec = from_win32(static_cast<std::uint32_t>(err));
  return true;
}

bool port::finish_recvfrom(detail::operation& op, std::error_code& ec, std::uint32_t& bytes) noexcept {
  auto& st = detail::port_state<op_state>(op);
  const SOCKET s = socket_of(*op.io);
  // The peek finished: a datagram (WSAEMSGSIZE: it did not fit in zero bytes), or an
  // ICMP error of an earlier send (ignored, as with SIO_UDP_CONNRESET off), is waiting.
  if (ec == errc::message_too_long || ec == errc::connection_reset) ec.clear();
  if (!ec && st.cancel_requested) ec = make_error_code(errc::operation_canceled);
  if (ec) return true;
  const detail::io_vec buf = op.acquire(&op);
  if (st.cancel_requested) {
    ec = make_error_code(errc::operation_canceled);
    return true;
  }
  if (buf.len == 0) {
    ec = make_error_code(errc::no_memory);
    return true;
  }
  op.buf = buf;
  WSABUF b{wsabuf_len(buf.len), static_cast<CHAR*>(buf.base)};
  DWORD n = 0;
  DWORD flags = 0;
  INT fromlen = static_cast<INT>(sizeof(contract::net::native_address::data));
  op.flags = 0;
  if (::WSARecvFrom(s, &b, 1, &n, &flags, static_cast<sockaddr*>(op.from), &fromlen, nullptr, nullptr) == 0) {
    bytes = n;
    op.fromlen = static_cast<std::uint32_t>(fromlen);
    return true;
  }
  const int err = ::WSAGetLastError();
  if (err == WSAEMSGSIZE) {
    // Longer than the buffer: the buffer holds its start, the rest is gone.
    bytes = b.len;
    op.fromlen = static_cast<std::uint32_t>(fromlen);
    op.flags = detail::datagram_truncated;
    return true;
  }
  if (err == WSAEWOULDBLOCK || err == WSAECONNRESET || err == WSAENETRESET) {
    start_io(op);  // nothing after all, or an ICMP error: peek again (the buffer stays)
    return false;
  }
  ec = from_win32(static_cast<std::uint32_t>(err));
  return true;
}

void port::finish_connect(detail::operation& op, std::error_code& ec) noexcept {
  auto& st = detail::port_state<op_state>(op);
  const SOCKET s = socket_of(*op.io);
  if (st.local) return;  // a named pipe: connect_pipe did it all
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
}

void port::detach_socket(detail::io_object& io) noexcept {
  io_state& ios = io_state_of(io);
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

// ---------------------------------------------------------------- socket listeners (accept_context)

void port::arm_accepts(accept_context& ctx) noexcept {
  const auto accept_ex = winsock_extensions().accept_ex;
  while (!ctx.orphaned && ctx.pending + ctx.stash_count < ctx.capacity) {
    // pending < capacity, so an idle slot exists.
    accept_slot* slot = ctx.slots;
    while (slot->socket != INVALID_SOCKET) ++slot;
    // The socket AcceptEx connects is created up front, of the listener's family, with the
    // same flags as every eddy socket (overlapped, not inheritable, non-blocking).
    contract::net::native_socket accepted = contract::net::invalid_socket;
    if (auto ec = contract::net::open_tcp(ctx.family == AF_INET6 ? address_family::ipv6 : address_family::ipv4,
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

}  // namespace eddy::platform::iocp
