// Synchronous socket calls the core needs around the asynchronous operations: creating,
// binding, listening, options, addresses and closing. One header, one implementation per
// OS family (platform/posix/net.cpp, platform/win32/net.cpp), so src/ never names an OS.
// Every call is non-blocking (sockets are created non-blocking) and loop-thread only.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

#include "eddy/address.hpp"
#include "platform/contract/port.hpp"

namespace eddy::contract::net {

using detail::io_kind;  // the port contract's types (platform/contract/port.hpp)
using detail::io_vec;

using native_socket = std::intptr_t;
inline constexpr native_socket invalid_socket = -1;  // also Windows' INVALID_SOCKET as intptr_t

// A native sockaddr, big enough for sockaddr_storage.
struct native_address {
  alignas(8) std::array<std::byte, 128> data{};
  std::uint32_t len = 0;
};

void to_native(const socket_address& addr, native_address& out) noexcept;
socket_address from_native(const void* sockaddr_ptr, std::size_t len) noexcept;
// The native AF_ value for a family (what io_object::family holds).
int native_family(address_family family) noexcept;

// Creates a non-blocking, close-on-exec TCP socket (overlapped on Windows).
std::error_code open_tcp(address_family family, native_socket& out) noexcept;
// Readies a descriptor eddy did not create (adopted or accepted): non-blocking, and returns
// its native family and whether it is a socket (kind). POSIX accepts pipes and ttys too.
std::error_code adopt(native_socket s, int& family, io_kind& kind) noexcept;
std::error_code bind(native_socket s, const socket_address& addr, bool reuse_port, bool ipv6_only) noexcept;
std::error_code listen(native_socket s, int backlog) noexcept;
std::error_code set_nodelay(native_socket s, bool enable) noexcept;
std::error_code set_keepalive(native_socket s, bool enable, int delay_seconds) noexcept;
std::error_code local_address(native_socket s, socket_address& out) noexcept;
std::error_code peer_address(native_socket s, socket_address& out) noexcept;
std::error_code shutdown_write(native_socket s) noexcept;
// Makes the next close send a reset (SO_LINGER with a zero timeout).
std::error_code set_reset_on_close(native_socket s) noexcept;
// Sends what fits now; returns the bytes sent. would_block when nothing fit.
std::size_t try_send(native_socket s, const io_vec* bufs, std::size_t nbufs, std::error_code& ec) noexcept;
void close(native_socket s) noexcept;
// After an accept failed with too_many_open_files: accepts and drops what waits in the
// listener's backlog using a descriptor kept in reserve for this (libuv's EMFILE trick),
// so the loop does not spin on the same error. No-op where it does not apply.
void shed_pending_connections(native_socket listener) noexcept;
// try_send for descriptors that are not sockets (io_kind::stream).
std::size_t try_write(native_socket s, const io_vec* bufs, std::size_t nbufs, std::error_code& ec) noexcept;

// Local IPC (pipe): Unix domain sockets on POSIX, named pipes on Windows.
std::error_code open_local(native_socket& out) noexcept;
std::error_code bind_local(native_socket s, std::string_view name) noexcept;
// The native address of a local name, for connect (invalid_argument if it is too long).
std::error_code local_target(std::string_view name, native_address& out) noexcept;
std::error_code local_name(native_socket s, bool peer, std::string& out) noexcept;
std::error_code chmod_local(std::string_view name, bool readable, bool writable) noexcept;
// Removes a filesystem name a listener created (POSIX); no-op elsewhere.
void unlink_local(std::string_view name) noexcept;
// The name of a private local channel called base (letters, digits, '-'), for bind_local
// and local_target, as text that can travel in an environment variable: "@base" on Linux
// (an abstract Unix socket; the '@' stands for the leading NUL, which the caller puts back
// before binding), "\\.\pipe\base" on Windows (a named pipe).
std::string private_local_name(std::string_view base);
// Whether a group of processes serving one listening socket (eddy::cluster) should by
// default all accept on it (shared) rather than have one process accept and pass each
// connection on: true where passing a socket per connection is costly (Windows:
// WSADuplicateSocketW and a frame per connection), false where it is cheap (SCM_RIGHTS)
// and the kernel's own spreading of accepts is uneven (POSIX).
bool prefer_shared_accept() noexcept;

// UDP.
std::error_code open_udp(address_family family, native_socket& out) noexcept;
// reuse_address: SO_REUSEADDR (several sockets on one multicast port); reuse_port: SO_REUSEPORT.
std::error_code bind_udp(native_socket s, const socket_address& addr, bool reuse_address, bool reuse_port,
                         bool ipv6_only) noexcept;
std::error_code connect_udp(native_socket s, const socket_address& addr) noexcept;
std::error_code disconnect_udp(native_socket s) noexcept;
std::error_code set_broadcast(native_socket s, bool enable) noexcept;
std::error_code set_ttl(native_socket s, int family, int ttl) noexcept;
std::error_code set_multicast_ttl(native_socket s, int family, int ttl) noexcept;
std::error_code set_multicast_loop(native_socket s, int family, bool enable) noexcept;
// interface: the local address of the interface (unspecified: the default one).
std::error_code set_multicast_interface(native_socket s, int family, const socket_address& interface_addr) noexcept;
std::error_code join_multicast(native_socket s, const socket_address& group, const socket_address& interface_addr,
                               bool join) noexcept;
// Sends one datagram now (to: nullptr for a connected socket); would_block if it cannot.
std::size_t try_sendto(native_socket s, const io_vec* bufs, std::size_t nbufs, const native_address* to,
                       std::error_code& ec) noexcept;

}  // namespace eddy::contract::net
