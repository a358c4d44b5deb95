// getaddrinfo / getnameinfo with Winsock (run on pool threads by src/dns.cpp). Winsock's
// EAI_* values are WSA error numbers, so eddy::from_win32 maps them.
#include "platform/win32/win32.hpp"
#include <winsock2.h>
#include <ws2tcpip.h>

#include "platform/contract/net.hpp"
#include "platform/contract/resolver.hpp"

namespace eddy::contract::resolver {
namespace {

// Winsock must be started in the process; a loop's port normally did it already, but a
// lookup may come first.
void ensure_winsock() noexcept {
  static const bool started = [] {
    WSADATA data;
    return ::WSAStartup(MAKEWORD(2, 2), &data) == 0;
  }();
  (void)started;
}

}  // namespace

std::error_code lookup(const std::string& host, const std::string& service, const dns::lookup_hints& hints,
                       std::vector<socket_address>& out) {
  ensure_winsock();
  addrinfo want{};
  want.ai_family = hints.family == address_family::ipv4   ? AF_INET
                   : hints.family == address_family::ipv6 ? AF_INET6
                                                          : AF_UNSPEC;
  want.ai_socktype = hints.type == dns::socket_type::stream     ? SOCK_STREAM
                     : hints.type == dns::socket_type::datagram ? SOCK_DGRAM
                                                                : 0;
  want.ai_flags = (hints.passive ? AI_PASSIVE : 0) | (hints.numeric_host ? AI_NUMERICHOST : 0);
  addrinfo* res = nullptr;
  const int r = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.empty() ? nullptr : service.c_str(),
                              &want, &res);
  if (r != 0) return from_win32(static_cast<std::uint32_t>(r));
  for (addrinfo* p = res; p != nullptr; p = p->ai_next) {
    socket_address a = net::from_native(p->ai_addr, p->ai_addrlen);
    if (a.family() != address_family::unspecified) out.push_back(a);
  }
  ::freeaddrinfo(res);
  return {};
}

std::error_code reverse(const socket_address& address, bool numeric, std::string& host, std::string& service) {
  ensure_winsock();
  net::native_address na;
  net::to_native(address, na);
  char h[NI_MAXHOST];
  char s[NI_MAXSERV];
  const int flags = numeric ? (NI_NUMERICHOST | NI_NUMERICSERV) : 0;
  const int r = ::getnameinfo(reinterpret_cast<const sockaddr*>(na.data.data()), static_cast<socklen_t>(na.len), h,
                              sizeof h, s, sizeof s, flags);
  if (r != 0) return from_win32(static_cast<std::uint32_t>(r));
  host = h;
  service = s;
  return {};
}

}  // namespace eddy::contract::resolver
