// Name resolution on the thread pool (Node's dns.lookup / libuv's uv_getaddrinfo):
// getaddrinfo and getnameinfo run on pool threads as slow I/O (at most half of the pool),
// the callback runs on the loop thread.
// Errors: errc::host_not_found (no such name), errc::try_again (temporary failure),
// errc::invalid_argument (bad hints or a non-numeric host with numeric_host), others.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "eddy/address.hpp"
#include "eddy/work.hpp"

namespace eddy::dns {

enum class socket_type { any, stream, datagram };

struct lookup_hints {
  address_family family = address_family::unspecified;  // ipv4, ipv6, or both
  socket_type type = socket_type::stream;                // one entry per address, as Node does
  bool passive = false;       // wildcard addresses for binding when host is empty
  bool numeric_host = false;  // host must be a literal address; no lookup
};

using lookup_callback = std::function<void(std::error_code ec, std::vector<socket_address> addresses)>;
using reverse_callback = std::function<void(std::error_code ec, std::string host, std::string service)>;

// Resolves host (and service: a port number or a name such as "http") into addresses, in
// the resolver's order. The strings are copied.
EDDY_API work_request lookup(eddy::loop& loop, std::string_view host, std::string_view service, lookup_hints hints,
                             lookup_callback on_done);
// Looks up the host and service names of an address. numeric: numbers only, no lookup.
EDDY_API work_request reverse_lookup(eddy::loop& loop, const socket_address& address, bool numeric,
                                     reverse_callback on_done);

}  // namespace eddy::dns
