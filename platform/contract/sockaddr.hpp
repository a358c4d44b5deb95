// Converting between eddy::socket_address and the BSD sockaddr structures, which POSIX and
// Winsock define alike. Include it after the OS's socket headers (netinet/in.h on POSIX,
// platform/win32/win32.hpp on Windows); platform/*/net.cpp use it for to_native/from_native.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>

#include "platform/contract/net.hpp"

namespace eddy::contract::net::bsd {

inline void to_sockaddr(const socket_address& addr, native_address& out) noexcept {
  out.data.fill(std::byte{0});
  if (addr.family() == address_family::ipv6) {
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(addr.port());
    std::memcpy(&sa.sin6_addr, addr.bytes(), 16);
    sa.sin6_scope_id = addr.scope_id();
    std::memcpy(out.data.data(), &sa, sizeof sa);
    out.len = sizeof sa;
  } else {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(addr.port());
    std::memcpy(&sa.sin_addr, addr.bytes(), 4);
    std::memcpy(out.data.data(), &sa, sizeof sa);
    out.len = sizeof sa;
  }
}

inline socket_address from_sockaddr(const void* p, std::size_t len) noexcept {
  sockaddr_storage ss{};
  std::memcpy(&ss, p, len < sizeof ss ? len : sizeof ss);
  if (ss.ss_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
    sockaddr_in6 sa{};
    std::memcpy(&sa, &ss, sizeof sa);
    std::array<std::uint8_t, 16> b{};
    std::memcpy(b.data(), &sa.sin6_addr, 16);
    return socket_address::ipv6(b, ntohs(sa.sin6_port), sa.sin6_scope_id);
  }
  if (ss.ss_family == AF_INET && len >= sizeof(sockaddr_in)) {
    sockaddr_in sa{};
    std::memcpy(&sa, &ss, sizeof sa);
    std::array<std::uint8_t, 4> b{};
    std::memcpy(b.data(), &sa.sin_addr, 4);
    return socket_address::ipv4(b, ntohs(sa.sin_port));
  }
  return {};
}

}  // namespace eddy::contract::net::bsd
