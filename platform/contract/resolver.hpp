// Blocking name resolution, run on pool threads by src/dns.cpp: getaddrinfo/getnameinfo
// on POSIX (platform/posix/resolver.cpp) and Winsock (platform/win32/resolver.cpp).
#pragma once

#include <string>
#include <system_error>
#include <vector>

#include "eddy/dns.hpp"

namespace eddy::contract::resolver {

std::error_code lookup(const std::string& host, const std::string& service, const dns::lookup_hints& hints,
                       std::vector<socket_address>& out);
std::error_code reverse(const socket_address& address, bool numeric, std::string& host, std::string& service);

}  // namespace eddy::contract::resolver
