// platform/contract/net.hpp with Winsock: the Windows twin of platform/posix/net.cpp.
//
// Sockets are created overlapped (the IOCP port issues AcceptEx / ConnectEx / WSARecv /
// WSASend on them), not inheritable, and non-blocking (FIONBIO), so the synchronous calls
// here (try_send, and the port's follow-up read after a zero-byte read) never block.
// Overlapped calls are not affected by FIONBIO: they still pend and complete through the port.
// Winsock is started by the IOCP port when a loop opens (port::init).
#include "platform/win32/win32.hpp"
#include "platform/win32/utf16.hpp"
#include "platform/contract/fault.hpp"
// winsock2.h must come before windows.h (which would otherwise pull in the old winsock.h).
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mstcpip.h>  // SIO_KEEPALIVE_VALS, struct tcp_keepalive
#include <windows.h>

#include <cstring>
#include <new>

// mingw-w64's headers lack it (mstcpip.h in the Windows SDK): _WSAIOW(IOC_VENDOR, 12).
#ifndef SIO_UDP_CONNRESET
#define SIO_UDP_CONNRESET _WSAIOW(IOC_VENDOR, 12)
#endif
#include <string>

#include "platform/win32/local_pipe.hpp"
#include "platform/win32/utf16.hpp"
#include "platform/contract/net.hpp"
#include "platform/contract/sockaddr.hpp"

namespace eddy::contract::net {
namespace win32 = ::eddy::platform::win32;
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

// Whether a HANDLE was opened for synchronous I/O (no FILE_FLAG_OVERLAPPED: CreatePipe's
// anonymous pipes, a redirected stdin file). An overlapped ReadFile on such a handle would
// block the loop thread until data came. NtQueryInformationFile(FileModeInformation) says;
// false when it cannot be asked.
bool is_synchronous_handle(HANDLE h) noexcept {
  struct io_status {
    union {
      LONG status;
      PVOID pointer;
    };
    ULONG_PTR information;
  };
  using query_fn = LONG(NTAPI*)(HANDLE, io_status*, PVOID, ULONG, int);
  static const query_fn query = [] {
    const HMODULE ntdll = ::GetModuleHandleW(L"ntdll.dll");
    // Through void(*)(): the one function pointer type GCC lets any other be cast from quietly.
    return ntdll == nullptr ? nullptr
                            : reinterpret_cast<query_fn>(
                                  reinterpret_cast<void (*)()>(::GetProcAddress(ntdll, "NtQueryInformationFile")));
  }();
  if (query == nullptr) return false;
  constexpr int file_mode_information = 16;
  constexpr ULONG synchronous_io = 0x10 | 0x20;  // FILE_SYNCHRONOUS_IO_ALERT | _NONALERT
  io_status iosb{};
  ULONG mode = 0;
  if (query(h, &iosb, &mode, sizeof mode, file_mode_information) != 0) return false;
  return (mode & synchronous_io) != 0;
}

using win32::is_socket;

}  // namespace

static_assert(sizeof(SOCKET) == sizeof(native_socket), "a SOCKET must fit in native_socket");
static_assert(static_cast<native_socket>(INVALID_SOCKET) == invalid_socket, "INVALID_SOCKET is -1 as intptr_t");
static_assert(sizeof(SOCKADDR_STORAGE) <= sizeof(native_address::data), "native_address is too small");

int native_family(address_family family) noexcept { return family == address_family::ipv6 ? AF_INET6 : AF_INET; }

void to_native(const socket_address& addr, native_address& out) noexcept { bsd::to_sockaddr(addr, out); }

socket_address from_native(const void* p, std::size_t len) noexcept { return bsd::from_sockaddr(p, len); }

namespace {
// A non-blocking, overlapped, non-inheritable socket.
std::error_code open_socket(int af, int type, int protocol, native_socket& out) noexcept {
  if (int e = EDDY_FAULT(socket)) return from_errno(e);
  // WSA_FLAG_NO_HANDLE_INHERIT is Windows' close-on-exec: a child process must not keep a
  // listener or connection alive. Windows 7 before SP1 rejects the flag (WSAEINVAL); clear
  // the inherit flag by hand there.
  SOCKET s = ::WSASocketW(af, type, protocol, nullptr, 0, WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  if (s == INVALID_SOCKET && ::WSAGetLastError() == WSAEINVAL) {
    s = ::WSASocketW(af, type, protocol, nullptr, 0, WSA_FLAG_OVERLAPPED);
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
}  // namespace

std::error_code open_tcp(address_family family, native_socket& out) noexcept {
  return open_socket(native_family(family), SOCK_STREAM, IPPROTO_TCP, out);
}

std::error_code adopt(native_socket s, int& family, io_kind& kind) noexcept {
  if (s == invalid_socket || win32::is_local_marker(s)) return make_error_code(errc::bad_descriptor);
  if (!is_socket(s)) {
    // A kernel HANDLE: a pipe (a named pipe instance, an anonymous pipe), a file, or a
    // console. Sockets also report FILE_TYPE_PIPE, hence the socket test first.
    const HANDLE h = reinterpret_cast<HANDLE>(s);
    ::SetLastError(NO_ERROR);
    const DWORD type = ::GetFileType(h);
    if (type == FILE_TYPE_UNKNOWN && ::GetLastError() != NO_ERROR) return from_win32(::GetLastError());
    DWORD mode = 0;
    family = 0;
    kind = type == FILE_TYPE_CHAR && ::GetConsoleMode(h, &mode) ? io_kind::console : io_kind::stream;
    // The port's reads and writes are overlapped: a handle opened for synchronous I/O would
    // block the loop (libuv reads those on a thread; not done here yet).
    if (kind == io_kind::stream && is_synchronous_handle(h)) return make_error_code(errc::not_supported);
    return {};
  }
  kind = io_kind::socket;
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

namespace {
// IPV6_V6ONLY for IPv6 addresses, then bind: the tail of every bind.
std::error_code bind_to(native_socket s, const socket_address& addr, bool ipv6_only) noexcept {
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
}  // namespace

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
  return bind_to(s, addr, ipv6_only);
}

std::error_code listen(native_socket s, int backlog) noexcept {
  if (win32::is_local_marker(s)) {
    // A named pipe: bind_local created the first instance; more instances let that many
    // clients connect before the next accept (a pipe's backlog). The port issues
    // ConnectNamedPipe on each when the accept operation comes.
    win32::local_pipe& p = *win32::local_of(s);
    if (p.name.empty()) return make_error_code(errc::invalid_argument);
    if (p.listening) return make_error_code(errc::already_started);
    for (auto*& inst : p.instances) {
      if (inst != nullptr) continue;
      const HANDLE h = win32::create_pipe_instance(p, false);
      if (h == INVALID_HANDLE_VALUE) break;  // fewer instances, still a listener
      inst = new (std::nothrow) win32::pipe_instance{};
      if (inst == nullptr) {
        ::CloseHandle(h);
        break;
      }
      inst->handle = h;
      inst->listener = &p;
    }
    p.listening = true;
    return {};
  }
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
  // A named pipe has no half-close: closing it is the only end-of-stream a reader sees.
  if (win32::is_local_marker(s) || !is_socket(s)) return make_error_code(errc::not_supported);
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
  if (s == invalid_socket) return;
  if (win32::is_local_marker(s)) {
    // An unconnected pipe or a listener (detach has orphaned instances with I/O pending).
    win32::local_pipe* p = win32::local_of(s);
    for (auto*& inst : p->instances) {
      if (inst != nullptr) win32::free_pipe_instance(inst);
      inst = nullptr;
    }
    delete p;
    return;
  }
  // A socket, or a HANDLE the core holds as a stream (an accepted or connected pipe).
  if (::closesocket(sock_of(s)) != 0 && ::WSAGetLastError() == WSAENOTSOCK) ::CloseHandle(reinterpret_cast<HANDLE>(s));
}

void shed_pending_connections(native_socket) noexcept {
  // Nothing to shed: AcceptEx accepts into a socket the port created beforehand, so running
  // out of descriptors fails that creation, not the kernel's accept, and nothing spins.
}

std::size_t try_write(native_socket, const io_vec*, std::size_t, std::error_code& ec) noexcept {
  // Pipes and files are opened overlapped; a write on them cannot be done "only if it does
  // not block" (a non-overlapped WriteFile on an overlapped handle is not allowed, and an
  // overlapped one may pend). Like libuv for non-blocking pipes: always would_block, so the
  // caller queues a write.
  ec = make_error_code(errc::would_block);
  return 0;
}

}  // namespace eddy::contract::net

// ---------------------------------------------------------------- UDP

namespace eddy::contract::net {

std::error_code open_udp(address_family family, native_socket& out) noexcept {
  native_socket sock = invalid_socket;
  if (auto ec = open_socket(native_family(family), SOCK_DGRAM, IPPROTO_UDP, sock)) return ec;
  const SOCKET s = static_cast<SOCKET>(sock);
  // An ICMP port-unreachable caused by an earlier sendto would otherwise fail the next
  // receive with WSAECONNRESET (Linux reports it only on connected sockets, and eddy's
  // receive does not stop for it). libuv turns it off the same way. Failure is harmless
  // (Wine does not report it at all).
  BOOL off = FALSE;
  DWORD returned = 0;
  ::WSAIoctl(s, SIO_UDP_CONNRESET, &off, sizeof off, nullptr, 0, &returned, nullptr, nullptr);
  out = static_cast<native_socket>(s);
  return {};
}

std::error_code bind_udp(native_socket s, const socket_address& addr, bool reuse_address, bool reuse_port,
                         bool ipv6_only) noexcept {
  if (reuse_port) return make_error_code(errc::not_supported);  // no SO_REUSEPORT on Windows
  // SO_REUSEADDR on Windows lets several sockets bind one address and port, which is what
  // multicast receivers sharing a port need (libuv maps UV_UDP_REUSEADDR to it as well).
  if (reuse_address) {
    if (auto ec = set_int_option(s, SOL_SOCKET, SO_REUSEADDR, 1)) return ec;
  }
  return bind_to(s, addr, ipv6_only);
}

std::error_code connect_udp(native_socket s, const socket_address& addr) noexcept {
  native_address na;
  to_native(addr, na);
  if (::connect(sock_of(s), reinterpret_cast<const sockaddr*>(na.data.data()), static_cast<int>(na.len)) != 0) {
    return last_error();
  }
  return {};
}

std::error_code disconnect_udp(native_socket s) noexcept {
  // Winsock: connecting a datagram socket to an all-zero address dissolves the association
  // (libuv does the same).
  SOCKADDR_STORAGE ss{};
  int family = AF_INET;
  if (auto ec = family_of(s, family)) return ec;
  ss.ss_family = static_cast<ADDRESS_FAMILY>(family);
  const int len = family == AF_INET6 ? static_cast<int>(sizeof(sockaddr_in6)) : static_cast<int>(sizeof(sockaddr_in));
  if (::connect(sock_of(s), reinterpret_cast<const sockaddr*>(&ss), len) != 0) {
    // Windows reports WSAEADDRNOTAVAIL for the zero address yet disconnects.
    if (::WSAGetLastError() != WSAEADDRNOTAVAIL) return last_error();
  }
  return {};
}

std::error_code set_broadcast(native_socket s, bool enable) noexcept {
  return set_int_option(s, SOL_SOCKET, SO_BROADCAST, enable ? 1 : 0);
}

std::error_code set_ttl(native_socket s, int family, int ttl) noexcept {
  if (ttl < 1 || ttl > 255) return make_error_code(errc::invalid_argument);
  return family == AF_INET6 ? set_int_option(s, IPPROTO_IPV6, IPV6_UNICAST_HOPS, ttl)
                            : set_int_option(s, IPPROTO_IP, IP_TTL, ttl);
}

// Winsock's multicast TTL and loop options take a DWORD (Linux: a byte for IPv4).
std::error_code set_multicast_ttl(native_socket s, int family, int ttl) noexcept {
  if (ttl < 0 || ttl > 255) return make_error_code(errc::invalid_argument);
  return family == AF_INET6 ? set_int_option(s, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, ttl)
                            : set_int_option(s, IPPROTO_IP, IP_MULTICAST_TTL, ttl);
}

std::error_code set_multicast_loop(native_socket s, int family, bool enable) noexcept {
  return family == AF_INET6 ? set_int_option(s, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, enable ? 1 : 0)
                            : set_int_option(s, IPPROTO_IP, IP_MULTICAST_LOOP, enable ? 1 : 0);
}

std::error_code set_multicast_interface(native_socket s, int family, const socket_address& iface) noexcept {
  if (family == AF_INET6) {
    // IPv6 names interfaces by index: the scope id of the address.
    return set_int_option(s, IPPROTO_IPV6, IPV6_MULTICAST_IF, static_cast<int>(iface.scope_id()));
  }
  in_addr a{};
  if (iface.family() == address_family::ipv4) std::memcpy(&a, iface.bytes(), 4);
  if (::setsockopt(sock_of(s), IPPROTO_IP, IP_MULTICAST_IF, reinterpret_cast<const char*>(&a), sizeof a) != 0) {
    return last_error();
  }
  return {};
}

std::error_code join_multicast(native_socket s, const socket_address& group, const socket_address& iface,
                               bool join) noexcept {
  if (group.family() == address_family::ipv6) {
    ipv6_mreq m{};
    std::memcpy(&m.ipv6mr_multiaddr, group.bytes(), 16);
    m.ipv6mr_interface = iface.scope_id();
    if (::setsockopt(sock_of(s), IPPROTO_IPV6, join ? IPV6_ADD_MEMBERSHIP : IPV6_DROP_MEMBERSHIP,
                     reinterpret_cast<const char*>(&m), sizeof m) != 0) {
      return last_error();
    }
    return {};
  }
  if (group.family() != address_family::ipv4) return make_error_code(errc::invalid_argument);
  ip_mreq m{};
  std::memcpy(&m.imr_multiaddr, group.bytes(), 4);
  if (iface.family() == address_family::ipv4) std::memcpy(&m.imr_interface, iface.bytes(), 4);
  if (::setsockopt(sock_of(s), IPPROTO_IP, join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP,
                   reinterpret_cast<const char*>(&m), sizeof m) != 0) {
    return last_error();
  }
  return {};
}

std::size_t try_sendto(native_socket s, const io_vec* bufs, std::size_t nbufs, const native_address* to,
                       std::error_code& ec) noexcept {
  constexpr std::size_t max_bufs = 64;
  WSABUF wsa[max_bufs];
  DWORD n = 0;
  for (std::size_t i = 0; i < nbufs && n < max_bufs; ++i) {
    if (bufs[i].len > 0xFFFFFFFFu) {  // a datagram cannot be sent in part
      ec = make_error_code(errc::message_too_long);
      return 0;
    }
    wsa[n].len = static_cast<ULONG>(bufs[i].len);
    wsa[n].buf = static_cast<CHAR*>(bufs[i].base);
    ++n;
  }
  DWORD sent = 0;
  // Not overlapped: on the non-blocking socket it sends now or fails with WSAEWOULDBLOCK.
  const sockaddr* dest = to != nullptr ? reinterpret_cast<const sockaddr*>(to->data.data()) : nullptr;
  const int dest_len = to != nullptr ? static_cast<int>(to->len) : 0;
  if (::WSASendTo(sock_of(s), wsa, n, &sent, 0, dest, dest_len, nullptr, nullptr) != 0) {
    ec = last_error();
    return 0;
  }
  ec.clear();
  return sent;
}

bool prefer_shared_accept() noexcept { return true; }

}  // namespace eddy::contract::net
