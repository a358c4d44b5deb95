#include <netdb.h>
#include <sys/socket.h>

#include <cerrno>

#include "platform/contract/net.hpp"
#include "platform/contract/resolver.hpp"

namespace eddy::contract::resolver {
namespace {

std::error_code from_eai(int code) noexcept {
  switch (code) {
    case 0: return {};
    case EAI_NONAME:
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY:
#endif
      return make_error_code(errc::host_not_found);
    case EAI_AGAIN: return make_error_code(errc::try_again);
    case EAI_BADFLAGS:
    case EAI_SERVICE:
    case EAI_SOCKTYPE:
      return make_error_code(errc::invalid_argument);
    case EAI_FAMILY: return make_error_code(errc::not_supported);
    case EAI_MEMORY: return make_error_code(errc::no_memory);
    case EAI_SYSTEM: return from_errno(errno);
    default: return make_error_code(errc::dns_failure);
  }
}

}  // namespace

std::error_code lookup(const std::string& host, const std::string& service, const dns::lookup_hints& hints,
                       std::vector<socket_address>& out) {
  addrinfo want{};
  want.ai_family = hints.family == address_family::ipv4   ? AF_INET
                   : hints.family == address_family::ipv6 ? AF_INET6
                                                          : AF_UNSPEC;
  want.ai_socktype = hints.type == dns::socket_type::stream     ? SOCK_STREAM
                     : hints.type == dns::socket_type::datagram ? SOCK_DGRAM
                                                                : 0;
  // AI_ADDRCONFIG: only families the machine has addresses for (not for literals).
  want.ai_flags = (hints.passive ? AI_PASSIVE : 0) | (hints.numeric_host ? AI_NUMERICHOST : AI_ADDRCONFIG);
  addrinfo* res = nullptr;
  int r = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.empty() ? nullptr : service.c_str(), &want,
                        &res);
  if (r == EAI_BADFLAGS || (r == EAI_NONAME && host == "localhost")) {
    // AI_ADDRCONFIG hides loopback-only machines' addresses on some systems; ask again without.
    want.ai_flags &= ~AI_ADDRCONFIG;
    r = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.empty() ? nullptr : service.c_str(), &want, &res);
  }
  if (r != 0) return from_eai(r);
  for (addrinfo* p = res; p != nullptr; p = p->ai_next) {
    socket_address a = net::from_native(p->ai_addr, p->ai_addrlen);
    if (a.family() != address_family::unspecified) out.push_back(a);
  }
  ::freeaddrinfo(res);
  return {};
}

std::error_code reverse(const socket_address& address, bool numeric, std::string& host, std::string& service) {
  net::native_address na;
  net::to_native(address, na);
  char h[NI_MAXHOST];
  char s[NI_MAXSERV];
  const int flags = numeric ? (NI_NUMERICHOST | NI_NUMERICSERV) : 0;
  int r = ::getnameinfo(reinterpret_cast<const sockaddr*>(na.data.data()), na.len, h, sizeof h, s, sizeof s, flags);
  if (r != 0) return from_eai(r);
  host = h;
  service = s;
  return {};
}

}  // namespace eddy::contract::resolver
