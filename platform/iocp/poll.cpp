// Readiness on the completion port (op_kind::poll): what wepoll and libuv's fast poll do.
// Windows has no overlapped "tell me when this socket is readable", but its socket driver
// (AFD) has one ioctl that is: IOCTL_AFD_POLL names sockets and the events wanted, and
// completes like any overlapped call, through the port of the handle it was issued on. The
// port issues it on a helper socket of its own, associated with the port once, so the
// watched socket (c-ares' own, made without WSA_FLAG_OVERLAPPED) needs nothing from us.
// Measured under Wine 8 as on Windows (docs/windows.md): an event that holds already
// completes at once and still queues its packet; a pending poll completes when the event
// happens; CancelIoEx ends it with STATUS_CANCELLED.
#include "platform/iocp/iocp_port.hpp"
#include "platform/iocp/port_state.hpp"

#include <winternl.h>

#include <cstdint>
#include <new>

namespace eddy::platform::iocp {

namespace {

constexpr ULONG ioctl_afd_poll = 0x00012024;
// AFD_POLL_* events (the driver's bits; ws2_32's select and WSAPoll use the same).
constexpr std::uint32_t afd_receive = 0x0001;
constexpr std::uint32_t afd_send = 0x0004;
constexpr std::uint32_t afd_disconnect = 0x0008;
constexpr std::uint32_t afd_abort = 0x0010;
constexpr std::uint32_t afd_local_close = 0x0020;
constexpr std::uint32_t afd_accept = 0x0080;
constexpr std::uint32_t afd_connect_fail = 0x0100;
// An error or hang-up ends a poll on either side: the owner's own call then finds out which.
constexpr std::uint32_t afd_always = afd_disconnect | afd_abort | afd_local_close | afd_connect_fail;

constexpr DWORD sio_base_handle = 0x48000022;  // SIO_BASE_HANDLE (mswsock.h)

using device_io_control_file = LONG(NTAPI*)(HANDLE, HANDLE, PVOID, PVOID, PVOID, ULONG, PVOID, ULONG, PVOID, ULONG);

device_io_control_file nt_device_io_control_file() noexcept {
  static const auto fn = reinterpret_cast<device_io_control_file>(
      reinterpret_cast<void*>(::GetProcAddress(::GetModuleHandleW(L"ntdll.dll"), "NtDeviceIoControlFile")));
  return fn;
}

// The handle of the base service provider under a socket (layered providers wrap it; AFD
// knows only the base one). The socket itself when the question fails.
SOCKET base_socket(SOCKET s) noexcept {
  SOCKET base = INVALID_SOCKET;
  DWORD bytes = 0;
  if (::WSAIoctl(s, sio_base_handle, nullptr, 0, &base, sizeof base, &bytes, nullptr, nullptr) != 0 ||
      base == INVALID_SOCKET) {
    return s;
  }
  return base;
}

}  // namespace

std::error_code port::open_poll_helper() noexcept {
  if (poll_device_ != nullptr) return {};
  if (nt_device_io_control_file() == nullptr) return make_error_code(errc::not_supported);
  const SOCKET s = ::WSASocketW(AF_INET, SOCK_DGRAM, IPPROTO_UDP, nullptr, 0, WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  if (s == INVALID_SOCKET) return last_wsa_error();
  const HANDLE device = handle_of(base_socket(s));
  // Every poll's packet comes with the operation's OVERLAPPED (the IO_STATUS_BLOCK it was
  // issued with), so the ordinary operation key serves. No skip-on-success: a poll that
  // completes at once still queues its packet, and is delivered from there.
  if (::CreateIoCompletionPort(device, iocp_, op_key, 0) == nullptr) {
    const DWORD err = ::GetLastError();
    ::closesocket(s);
    return from_win32(err);
  }
  poll_helper_ = static_cast<std::uintptr_t>(s);
  poll_device_ = device;
  return {};
}

void port::close_poll_helper() noexcept {
  if (poll_device_ == nullptr) return;
  ::closesocket(static_cast<SOCKET>(poll_helper_));
  poll_helper_ = ~std::uintptr_t{0};
  poll_device_ = nullptr;
}

void port::start_poll(detail::operation& op) noexcept {
  auto& st = detail::port_state<op_state>(op);
  const auto fail = [&](std::error_code ec) {
    st.handle = nullptr;
    op.error = ec;
    push_ready(op);
  };
  if (op.io->kind != detail::io_kind::socket || is_local_marker(op.io->native)) {
    return fail(make_error_code(errc::not_supported));  // AFD watches sockets only
  }
  if (auto ec = open_poll_helper()) return fail(ec);
  auto* req = new (std::nothrow) afd_poll{};
  if (req == nullptr) return fail(make_error_code(errc::no_memory));
  req->timeout = INT64_MAX;
  req->handle_count = 1;
  req->exclusive = 0;
  req->socket = handle_of(base_socket(socket_of(*op.io)));
  req->events = ((op.flags & detail::poll_readable) != 0 ? afd_receive | afd_accept : afd_send) | afd_always;
  st.poll = req;
  st.handle = poll_device_;  // what cancel() passes to CancelIoEx
  st.ov = OVERLAPPED{};
  // The OVERLAPPED doubles as the IO_STATUS_BLOCK (Internal: the status, InternalHigh: the
  // bytes, as for every overlapped call) and is the packet's context.
  const LONG status = nt_device_io_control_file()(poll_device_, nullptr, nullptr, &st.ov, &st.ov, ioctl_afd_poll, req,
                                                  sizeof *req, req, sizeof *req);
  if (status == 0 /* STATUS_SUCCESS */ || status == static_cast<LONG>(STATUS_PENDING)) return;  // a packet will come
  // Refused before it started (a bad handle, no memory): no packet.
  delete req;
  st.poll = nullptr;
  const std::error_code ec = from_ntstatus(status);
  fail(ec == errc::unknown ? make_error_code(errc::invalid_argument) : ec);
}

void port::finish_poll(detail::operation& op, std::error_code& ec, std::uint32_t& bytes) noexcept {
  auto& st = detail::port_state<op_state>(op);
  bytes = 0;
  if (afd_poll* req = st.poll) {
    // Which side is ready: the events the driver reported (an error or hang-up counts for
    // the side asked, as poll(2)'s POLLERR/POLLHUP do).
    if (!ec) bytes = req->handle_count == 1 && req->events != 0 ? op.flags : 0;
    delete req;
    st.poll = nullptr;
  }
  if (!ec && st.cancel_requested && bytes == 0) ec = make_error_code(errc::operation_canceled);
}

}  // namespace eddy::platform::iocp
