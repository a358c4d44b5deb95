#include "platform/contract/net.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "platform/contract/sockaddr.hpp"  // after the socket headers
#include "platform/contract/fault.hpp"

#include <atomic>
#include <cerrno>
#include <cstring>

namespace eddy::contract::net {
namespace {

std::error_code last_error() noexcept { return from_errno(errno); }

int fd_of(native_socket s) noexcept { return static_cast<int>(s); }

// A descriptor held in reserve for shed_pending_connections().
std::atomic<int> g_reserve_fd{-1};
void open_reserve() noexcept {
  int fd = ::open("/", O_RDONLY | O_CLOEXEC);
  int expected = -1;
  if (fd >= 0 && !g_reserve_fd.compare_exchange_strong(expected, fd)) ::close(fd);
}

std::error_code set_int_option(native_socket s, int level, int name, int value) noexcept {
  if (::setsockopt(fd_of(s), level, name, &value, sizeof value) != 0) return last_error();
  return {};
}

// IPV6_V6ONLY for IPv6 addresses, then bind: the tail of every bind.
std::error_code bind_to(native_socket s, const socket_address& addr, bool ipv6_only) noexcept {
  if (addr.family() == address_family::ipv6) {
    if (auto ec = set_int_option(s, IPPROTO_IPV6, IPV6_V6ONLY, ipv6_only ? 1 : 0)) return ec;
  }
  native_address na;
  to_native(addr, na);
  if (::bind(fd_of(s), reinterpret_cast<const sockaddr*>(na.data.data()), na.len) != 0) return last_error();
  return {};
}

std::error_code socket_name(native_socket s, bool peer, socket_address& out) noexcept {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  const int r = peer ? ::getpeername(fd_of(s), reinterpret_cast<sockaddr*>(&ss), &len)
                     : ::getsockname(fd_of(s), reinterpret_cast<sockaddr*>(&ss), &len);
  if (r != 0) return last_error();
  out = from_native(&ss, len);
  return {};
}

}  // namespace

static_assert(sizeof(io_vec) == sizeof(iovec) && offsetof(io_vec, base) == offsetof(iovec, iov_base) &&
                  offsetof(io_vec, len) == offsetof(iovec, iov_len),
              "io_vec must be layout-compatible with struct iovec");

int native_family(address_family family) noexcept { return family == address_family::ipv6 ? AF_INET6 : AF_INET; }

void to_native(const socket_address& addr, native_address& out) noexcept { bsd::to_sockaddr(addr, out); }

socket_address from_native(const void* p, std::size_t len) noexcept { return bsd::from_sockaddr(p, len); }

std::error_code open_tcp(address_family family, native_socket& out) noexcept {
  if (int e = EDDY_FAULT(socket)) return from_errno(e);
  int fd = ::socket(native_family(family), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) return last_error();
  out = fd;
  return {};
}

std::error_code adopt(native_socket s, int& family, io_kind& kind) noexcept {
  int fd = fd_of(s);
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return last_error();
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    if (errno != ENOTSOCK) return last_error();
    family = 0;
    kind = io_kind::stream;  // a pipe, tty or character device: read/write
    return {};
  }
  family = ss.ss_family;
  kind = io_kind::socket;
  return {};
}


void shed_pending_connections(native_socket listener) noexcept {
  int reserve = g_reserve_fd.exchange(-1);
  if (reserve < 0) {
    open_reserve();  // the first time there is none: keep one for the next storm
    return;
  }
  ::close(reserve);
  for (;;) {
    int fd = ::accept4(fd_of(listener), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) break;
    ::close(fd);
  }
  open_reserve();
}

std::size_t try_write(native_socket s, const io_vec* bufs, std::size_t nbufs, std::error_code& ec) noexcept {
  ssize_t n;
  do {
    n = ::writev(fd_of(s), reinterpret_cast<const iovec*>(bufs), static_cast<int>(nbufs));
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    ec = last_error();
    return 0;
  }
  ec.clear();
  return static_cast<std::size_t>(n);
}

std::error_code bind(native_socket s, const socket_address& addr, bool reuse_port, bool ipv6_only) noexcept {
  if (auto ec = set_int_option(s, SOL_SOCKET, SO_REUSEADDR, 1)) return ec;
  if (reuse_port) {
    if (auto ec = set_int_option(s, SOL_SOCKET, SO_REUSEPORT, 1)) return ec;
  }
  return bind_to(s, addr, ipv6_only);
}


std::error_code listen(native_socket s, int backlog) noexcept {
  if (::listen(fd_of(s), backlog) != 0) return last_error();
  if (g_reserve_fd.load() < 0) open_reserve();  // for shed_pending_connections()
  return {};
}

std::error_code set_nodelay(native_socket s, bool enable) noexcept {
  return set_int_option(s, IPPROTO_TCP, TCP_NODELAY, enable ? 1 : 0);
}

std::error_code set_keepalive(native_socket s, bool enable, int delay_seconds) noexcept {
  if (auto ec = set_int_option(s, SOL_SOCKET, SO_KEEPALIVE, enable ? 1 : 0)) return ec;
  if (enable) return set_int_option(s, IPPROTO_TCP, TCP_KEEPIDLE, delay_seconds < 1 ? 1 : delay_seconds);
  return {};
}

std::error_code local_address(native_socket s, socket_address& out) noexcept { return socket_name(s, false, out); }

std::error_code peer_address(native_socket s, socket_address& out) noexcept { return socket_name(s, true, out); }

std::error_code shutdown_write(native_socket s) noexcept {
  if (::shutdown(fd_of(s), SHUT_WR) != 0) return last_error();
  return {};
}

std::error_code set_reset_on_close(native_socket s) noexcept {
  linger l{};
  l.l_onoff = 1;
  l.l_linger = 0;
  if (::setsockopt(fd_of(s), SOL_SOCKET, SO_LINGER, &l, sizeof l) != 0) return last_error();
  return {};
}

std::size_t try_send(native_socket s, const io_vec* bufs, std::size_t nbufs, std::error_code& ec) noexcept {
  msghdr msg{};
  msg.msg_iov = reinterpret_cast<iovec*>(const_cast<io_vec*>(bufs));
  msg.msg_iovlen = nbufs;
  ssize_t n;
  do {
    // MSG_NOSIGNAL: a peer that went away is an EPIPE error, not a SIGPIPE.
    n = ::sendmsg(fd_of(s), &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    ec = last_error();
    return 0;
  }
  ec.clear();
  return static_cast<std::size_t>(n);
}

void close(native_socket s) noexcept {
  if (s >= 0) ::close(fd_of(s));
}

}  // namespace eddy::contract::net

// ---------------------------------------------------------------- UDP

namespace eddy::contract::net {

std::error_code open_udp(address_family family, native_socket& out) noexcept {
  if (int e = EDDY_FAULT(socket)) return from_errno(e);
  int fd = ::socket(native_family(family), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
  if (fd < 0) return from_errno(errno);
  out = fd;
  return {};
}

std::error_code bind_udp(native_socket s, const socket_address& addr, bool reuse_address, bool reuse_port,
                         bool ipv6_only) noexcept {
  if (reuse_address) {
    if (auto ec = set_int_option(s, SOL_SOCKET, SO_REUSEADDR, 1)) return ec;
  }
  if (reuse_port) {
    if (auto ec = set_int_option(s, SOL_SOCKET, SO_REUSEPORT, 1)) return ec;
  }
  return bind_to(s, addr, ipv6_only);
}

std::error_code connect_udp(native_socket s, const socket_address& addr) noexcept {
  native_address na;
  to_native(addr, na);
  if (::connect(static_cast<int>(s), reinterpret_cast<const sockaddr*>(na.data.data()), na.len) != 0) {
    return from_errno(errno);
  }
  return {};
}

std::error_code disconnect_udp(native_socket s) noexcept {
  sockaddr sa{};
  sa.sa_family = AF_UNSPEC;
  if (::connect(static_cast<int>(s), &sa, sizeof sa) != 0 && errno != EAFNOSUPPORT) return from_errno(errno);
  return {};
}


std::error_code set_broadcast(native_socket s, bool enable) noexcept {
  return set_int_option(s, SOL_SOCKET, SO_BROADCAST, enable ? 1 : 0);
}

std::error_code set_ttl(native_socket s, int family, int ttl) noexcept {
  if (ttl < 1 || ttl > 255) return make_error_code(errc::invalid_argument);
  return family == AF_INET6 ? set_int_option(s, IPPROTO_IPV6, IPV6_UNICAST_HOPS, ttl) : set_int_option(s, IPPROTO_IP, IP_TTL, ttl);
}

std::error_code set_multicast_ttl(native_socket s, int family, int ttl) noexcept {
  if (ttl < 0 || ttl > 255) return make_error_code(errc::invalid_argument);
  if (family == AF_INET6) return set_int_option(s, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, ttl);
  unsigned char v = static_cast<unsigned char>(ttl);
  if (::setsockopt(static_cast<int>(s), IPPROTO_IP, IP_MULTICAST_TTL, &v, sizeof v) != 0) return from_errno(errno);
  return {};
}

std::error_code set_multicast_loop(native_socket s, int family, bool enable) noexcept {
  if (family == AF_INET6) return set_int_option(s, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, enable ? 1 : 0);
  unsigned char v = enable ? 1 : 0;
  if (::setsockopt(static_cast<int>(s), IPPROTO_IP, IP_MULTICAST_LOOP, &v, sizeof v) != 0) return from_errno(errno);
  return {};
}

std::error_code set_multicast_interface(native_socket s, int family, const socket_address& iface) noexcept {
  if (family == AF_INET6) {
    // IPv6 names interfaces by index; the scope id of the address carries it.
    return set_int_option(s, IPPROTO_IPV6, IPV6_MULTICAST_IF, static_cast<int>(iface.scope_id()));
  }
  in_addr a{};
  if (iface.family() == address_family::ipv4) std::memcpy(&a, iface.bytes(), 4);
  if (::setsockopt(static_cast<int>(s), IPPROTO_IP, IP_MULTICAST_IF, &a, sizeof a) != 0) return from_errno(errno);
  return {};
}

std::error_code join_multicast(native_socket s, const socket_address& group, const socket_address& iface,
                               bool join) noexcept {
  const int fd = static_cast<int>(s);
  if (group.family() == address_family::ipv6) {
    ipv6_mreq m{};
    std::memcpy(&m.ipv6mr_multiaddr, group.bytes(), 16);
    m.ipv6mr_interface = iface.scope_id();
    if (::setsockopt(fd, IPPROTO_IPV6, join ? IPV6_ADD_MEMBERSHIP : IPV6_DROP_MEMBERSHIP, &m, sizeof m) != 0) {
      return from_errno(errno);
    }
    return {};
  }
  if (group.family() != address_family::ipv4) return make_error_code(errc::invalid_argument);
  ip_mreq m{};
  std::memcpy(&m.imr_multiaddr, group.bytes(), 4);
  if (iface.family() == address_family::ipv4) std::memcpy(&m.imr_interface, iface.bytes(), 4);
  if (::setsockopt(fd, IPPROTO_IP, join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP, &m, sizeof m) != 0) {
    return from_errno(errno);
  }
  return {};
}

std::size_t try_sendto(native_socket s, const io_vec* bufs, std::size_t nbufs, const native_address* to,
                       std::error_code& ec) noexcept {
  msghdr msg{};
  msg.msg_iov = reinterpret_cast<iovec*>(const_cast<io_vec*>(bufs));
  msg.msg_iovlen = nbufs;
  if (to != nullptr) {
    msg.msg_name = const_cast<std::byte*>(to->data.data());
    msg.msg_namelen = to->len;
  }
  ssize_t n;
  do {
    n = ::sendmsg(static_cast<int>(s), &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    ec = from_errno(errno);
    return 0;
  }
  ec.clear();
  return static_cast<std::size_t>(n);
}

}  // namespace eddy::contract::net

// ---------------------------------------------------------------- local (Unix domain sockets)

namespace eddy::contract::net {

std::error_code open_local(native_socket& out) noexcept {
  if (int e = EDDY_FAULT(socket)) return from_errno(e);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return from_errno(errno);
  out = fd;
  return {};
}

std::error_code local_target(std::string_view name, native_address& out) noexcept {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (name.empty() || name.size() >= sizeof sa.sun_path) return make_error_code(errc::invalid_argument);
  std::memcpy(sa.sun_path, name.data(), name.size());
  out.data.fill(std::byte{0});
  std::memcpy(out.data.data(), &sa, sizeof sa);
  // Abstract names (leading '\0') are exactly as long as given; paths include the NUL.
  out.len = static_cast<std::uint32_t>(offsetof(sockaddr_un, sun_path) + name.size() + (name[0] == '\0' ? 0 : 1));
  return {};
}

std::error_code bind_local(native_socket s, std::string_view name) noexcept {
  native_address na;
  if (auto ec = local_target(name, na)) return ec;
  if (::bind(static_cast<int>(s), reinterpret_cast<const sockaddr*>(na.data.data()), na.len) != 0) {
    return from_errno(errno);
  }
  return {};
}

std::error_code local_name(native_socket s, bool peer, std::string& out) noexcept {
  sockaddr_un sa{};
  socklen_t len = sizeof sa;
  int r = peer ? ::getpeername(static_cast<int>(s), reinterpret_cast<sockaddr*>(&sa), &len)
               : ::getsockname(static_cast<int>(s), reinterpret_cast<sockaddr*>(&sa), &len);
  if (r != 0) return from_errno(errno);
  std::size_t n = len > offsetof(sockaddr_un, sun_path) ? len - offsetof(sockaddr_un, sun_path) : 0;
  if (n > 0 && sa.sun_path[0] != '\0') n = ::strnlen(sa.sun_path, n);  // paths end at their NUL
  try {
    out.assign(sa.sun_path, n);
  } catch (...) {
    return make_error_code(errc::no_memory);
  }
  return {};
}

std::error_code chmod_local(std::string_view name, bool readable, bool writable) noexcept {
  if (name.empty() || name[0] == '\0') return make_error_code(errc::invalid_argument);  // abstract: no file
  std::string path(name);
  mode_t mode = 0;
  if (readable) mode |= S_IRUSR | S_IRGRP | S_IROTH;
  if (writable) mode |= S_IWUSR | S_IWGRP | S_IWOTH;
  if (::chmod(path.c_str(), mode) != 0) return from_errno(errno);
  return {};
}

void unlink_local(std::string_view name) noexcept {
  if (name.empty() || name[0] == '\0') return;
  std::string path(name);
  ::unlink(path.c_str());
}

std::string private_local_name(std::string_view base) {
  // Appended, not "@" + std::string(base): GCC 12 at -O3 reports a false -Wrestrict there.
  std::string out(1, '@');
  out.append(base);
  return out;
}

bool prefer_shared_accept() noexcept { return false; }

}  // namespace eddy::contract::net
