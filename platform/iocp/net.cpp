// platform/net.hpp with Winsock: the Windows twin of platform/posix/net.cpp.
//
// Sockets are created overlapped (the IOCP port issues AcceptEx / ConnectEx / WSARecv /
// WSASend on them), not inheritable, and non-blocking (FIONBIO), so the synchronous calls
// here (try_send, and the port's follow-up read after a zero-byte read) never block.
// Overlapped calls are not affected by FIONBIO: they still pend and complete through the port.
// Winsock is started by the IOCP port when a loop opens (port::init).
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
// winsock2.h must come before windows.h (which would otherwise pull in the old winsock.h).
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mstcpip.h>  // SIO_KEEPALIVE_VALS, struct tcp_keepalive
#include <windows.h>

#include <cstring>

#include "platform/net.hpp"

namespace eddy::detail::net {
namespace {

std::error_code last_error() noexcept { return from_win32(static_cast<std::uint32_t>(::WSAGetLastError())); }

SOCKET sock_of(native_socket s) noexcept { return static_cast<SOCKET>(s); }

std::error_code set_int_option(native_socket s, int level, int name, int value) noexcept {
  // Winsock's boolean and integer options take a DWORD-sized int.
  if (::setsockopt(sock_of(s), level, name, reinterpret_cast<const char*>(&value), sizeof value) != 0) {
    return last_error();
  }
  return {};
}

std::error_code set_nonblocking(native_socket s) noexcept {
  u_long one = 1;
  if (::ioctlsocket(sock_of(s), FIONBIO, &one) != 0) return last_error();
  return {};
}

// The socket's address family, also when it is not bound yet (getsockname then fails with
// WSAEINVAL): from its protocol info.
std::error_code family_of(native_socket s, int& family) noexcept {
  WSAPROTOCOL_INFOW info{};
  int len = sizeof info;
  if (::getsockopt(sock_of(s), SOL_SOCKET, SO_PROTOCOL_INFOW, reinterpret_cast<char*>(&info), &len) != 0) {
    return last_error();
  }
  family = info.iAddressFamily;
  return {};
}

}  // namespace

static_assert(sizeof(SOCKET) == sizeof(native_socket), "a SOCKET must fit in native_socket");
static_assert(static_cast<native_socket>(INVALID_SOCKET) == invalid_socket, "INVALID_SOCKET is -1 as intptr_t");
static_assert(sizeof(SOCKADDR_STORAGE) <= sizeof(native_address::data), "native_address is too small");

int native_family(address_family family) noexcept { return family == address_family::ipv6 ? AF_INET6 : AF_INET; }

void to_native(const socket_address& addr, native_address& out) noexcept {
  out.data.fill(std::byte{0});
  if (addr.family() == address_family::ipv6) {
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = ::htons(addr.port());
    std::memcpy(&sa.sin6_addr, addr.bytes(), 16);
    sa.sin6_scope_id = addr.scope_id();
    std::memcpy(out.data.data(), &sa, sizeof sa);
    out.len = sizeof sa;
  } else {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = ::htons(addr.port());
    std::memcpy(&sa.sin_addr, addr.bytes(), 4);
    std::memcpy(out.data.data(), &sa, sizeof sa);
    out.len = sizeof sa;
  }
}

socket_address from_native(const void* p, std::size_t len) noexcept {
  SOCKADDR_STORAGE ss{};
  std::memcpy(&ss, p, len < sizeof ss ? len : sizeof ss);
  if (ss.ss_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
    sockaddr_in6 sa{};
    std::memcpy(&sa, &ss, sizeof sa);
    std::array<std::uint8_t, 16> b{};
    std::memcpy(b.data(), &sa.sin6_addr, 16);
    return socket_address::ipv6(b, ::ntohs(sa.sin6_port), sa.sin6_scope_id);
  }
  if (ss.ss_family == AF_INET && len >= sizeof(sockaddr_in)) {
    sockaddr_in sa{};
    std::memcpy(&sa, &ss, sizeof sa);
    std::array<std::uint8_t, 4> b{};
    std::memcpy(b.data(), &sa.sin_addr, 4);
    return socket_address::ipv4(b, ::ntohs(sa.sin_port));
  }
  return {};
}

std::error_code open_tcp(address_family family, native_socket& out) noexcept {
  const int af = native_family(family);
  // WSA_FLAG_NO_HANDLE_INHERIT is Windows' close-on-exec: a child process must not keep a
  // listener or connection alive. Windows 7 before SP1 rejects the flag (WSAEINVAL); clear
  // the inherit flag by hand there.
  SOCKET s = ::WSASocketW(af, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  if (s == INVALID_SOCKET && ::WSAGetLastError() == WSAEINVAL) {
    s = ::WSASocketW(af, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, WSA_FLAG_OVERLAPPED);
    if (s != INVALID_SOCKET) ::SetHandleInformation(reinterpret_cast<HANDLE>(s), HANDLE_FLAG_INHERIT, 0);
  }
  if (s == INVALID_SOCKET) return last_error();
  if (auto ec = set_nonblocking(static_cast<native_socket>(s))) {
    ::closesocket(s);
    return ec;
  }
  out = static_cast<native_socket>(s);
  return {};
}

std::error_code adopt(native_socket s, int& family) noexcept {
  if (auto ec = set_nonblocking(s)) return ec;
  SOCKADDR_STORAGE ss{};
  int len = sizeof ss;
  if (::getsockname(sock_of(s), reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
    family = ss.ss_family;
    return {};
  }
  // Not bound (a fresh socket handed to tcp::open): the protocol info still knows.
  return family_of(s, family);
}

std::error_code bind(native_socket s, const socket_address& addr, bool reuse_port, bool ipv6_only) noexcept {
  // Windows has no SO_REUSEPORT (several listeners sharing a port and balancing between
  // them); libuv also refuses it here.
  if (reuse_port) return make_error_code(errc::not_supported);
  // Not SO_REUSEADDR: on Windows it does not mean "bind despite TIME_WAIT" (Windows already
  // allows that for a listener), it lets *another* socket bind the same address and port
  // while this one is using it, even an active listener — another process could steal or
  // shadow the port. SO_EXCLUSIVEADDRUSE is the opposite guarantee: nobody else can bind
  // this address while the socket is open. Its cost: after a listener with it is closed,
  // the port can only be bound again once the connections it accepted are gone.
  if (auto ec = set_int_option(s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, 1)) return ec;
  if (addr.family() == address_family::ipv6) {
    if (auto ec = set_int_option(s, IPPROTO_IPV6, IPV6_V6ONLY, ipv6_only ? 1 : 0)) return ec;
  }
  native_address na;
  to_native(addr, na);
  if (::bind(sock_of(s), reinterpret_cast<const sockaddr*>(na.data.data()), static_cast<int>(na.len)) != 0) {
    return last_error();
  }
  return {};
}

std::error_code listen(native_socket s, int backlog) noexcept {
  if (::listen(sock_of(s), backlog) == 0) return {};
  if (::WSAGetLastError() != WSAEINVAL) return last_error();
  // Winsock refuses to listen on an unbound socket (WSAEINVAL) where Linux binds it to the
  // wildcard address and a free port: do that, for the same behaviour.
  int family = AF_INET;
  if (auto ec = family_of(s, family)) return ec;
  const socket_address any = family == AF_INET6 ? socket_address::any_v6(0) : socket_address::any_v4(0);
  if (auto ec = bind(s, any, false, false)) return ec;
  if (::listen(sock_of(s), backlog) != 0) return last_error();
  return {};
}

std::error_code set_nodelay(native_socket s, bool enable) noexcept {
  return set_int_option(s, IPPROTO_TCP, TCP_NODELAY, enable ? 1 : 0);
}

std::error_code set_keepalive(native_socket s, bool enable, int delay_seconds) noexcept {
  // SIO_KEEPALIVE_VALS sets the switch and both times in one call and works on every
  // Windows version (TCP_KEEPIDLE as a socket option needs Windows 10 1709). The probe
  // interval is 1 s, as libuv uses; Windows sends 10 probes before giving up.
  tcp_keepalive vals{};
  vals.onoff = enable ? 1 : 0;
  const unsigned long delay = static_cast<unsigned long>(delay_seconds < 1 ? 1 : delay_seconds);
  vals.keepalivetime = delay > 4'000'000ul ? 4'000'000'000ul : delay * 1000ul;
  vals.keepaliveinterval = 1000;
  DWORD returned = 0;
  if (::WSAIoctl(sock_of(s), SIO_KEEPALIVE_VALS, &vals, sizeof vals, nullptr, 0, &returned, nullptr, nullptr) != 0) {
    return last_error();
  }
  return {};
}

std::error_code local_address(native_socket s, socket_address& out) noexcept {
  SOCKADDR_STORAGE ss{};
  int len = sizeof ss;
  if (::getsockname(sock_of(s), reinterpret_cast<sockaddr*>(&ss), &len) != 0) return last_error();
  out = from_native(&ss, static_cast<std::size_t>(len));
  return {};
}

std::error_code peer_address(native_socket s, socket_address& out) noexcept {
  SOCKADDR_STORAGE ss{};
  int len = sizeof ss;
  if (::getpeername(sock_of(s), reinterpret_cast<sockaddr*>(&ss), &len) != 0) return last_error();
  out = from_native(&ss, static_cast<std::size_t>(len));
  return {};
}

std::error_code shutdown_write(native_socket s) noexcept {
  if (::shutdown(sock_of(s), SD_SEND) != 0) return last_error();
  return {};
}

std::error_code set_reset_on_close(native_socket s) noexcept {
  linger l{};
  l.l_onoff = 1;
  l.l_linger = 0;
  if (::setsockopt(sock_of(s), SOL_SOCKET, SO_LINGER, reinterpret_cast<const char*>(&l), sizeof l) != 0) {
    return last_error();
  }
  return {};
}

std::size_t try_send(native_socket s, const io_vec* bufs, std::size_t nbufs, std::error_code& ec) noexcept {
  // The core hands at most 64 buffers; more would be sent by a later call anyway.
  constexpr std::size_t max_bufs = 64;
  WSABUF wsa[max_bufs];
  DWORD n = 0;
  for (std::size_t i = 0; i < nbufs && n < max_bufs; ++i) {
    // A buffer longer than a ULONG is sent in part; the caller sends the rest.
    const std::size_t len = bufs[i].len > 0xFFFFFFFFu ? 0xFFFFFFFFu : bufs[i].len;
    wsa[n].len = static_cast<ULONG>(len);
    wsa[n].buf = static_cast<CHAR*>(bufs[i].base);
    ++n;
    if (len != bufs[i].len) break;
  }
  DWORD sent = 0;
  // Not overlapped: on the non-blocking socket this sends what fits and fails with
  // WSAEWOULDBLOCK when nothing does.
  if (::WSASend(sock_of(s), wsa, n, &sent, 0, nullptr, nullptr) != 0) {
    ec = last_error();
    return 0;
  }
  ec.clear();
  return sent;
}

void close(native_socket s) noexcept {
  if (s != invalid_socket) ::closesocket(sock_of(s));
}

}  // namespace eddy::detail::net
