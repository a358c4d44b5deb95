// Name resolution on the thread pool (Node's dns.lookup / libuv's uv_getaddrinfo):
// getaddrinfo and getnameinfo run on pool threads as slow I/O (at most half of the pool),
// the callback runs on the loop thread.
// Errors: errc::host_not_found (no such name), errc::try_again (temporary failure),
// errc::invalid_argument (bad hints or a non-numeric host with numeric_host), others.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "eddy/address.hpp"
#include "eddy/handle.hpp"
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

// ---------------------------------------------------------------- the DNS resolver
// Node's dns.resolve* and dns.Resolver: queries a DNS server directly (no hosts file, no
// search domains) with c-ares, driven by the loop: the port watches c-ares' sockets and a
// loop timer drives its retries and timeouts. Nothing blocks and no pool thread is used.
//
// A resolver is a handle with its own c-ares channel and server list. Queries share the
// channel; each completes exactly once, on the loop thread:
// - with the records, or
// - errc::no_data (the name exists, but has no records of that type), errc::host_not_found
//   (no such name), errc::timed_out (no server answered after every try),
//   errc::connection_refused, errc::try_again (the server failed: SERVFAIL),
//   errc::invalid_argument (a malformed name), errc::dns_failure (a bad or refused answer),
//   errc::operation_canceled (cancel(), or close() while the query was in flight), or
//   errc::not_supported when eddy was built without c-ares (the mingw build here) or the
//   port cannot watch sockets for c-ares (iocp).
// A query's callback never runs inside the resolve(), cancel() or close() that ended it: it
// comes from the loop, later. After the resolver object is destroyed no callback runs.
// Threads: a resolver and its queries belong to the loop thread; nothing here blocks (the
// constructor reads /etc/resolv.conf once). The answer is the callback's to keep.

enum class record_type { a, aaaa, cname, mx, ns, txt, srv, ptr, soa };

// "A", "AAAA", "CNAME", ...
EDDY_API const char* to_string(record_type type) noexcept;

struct address_record {  // A and AAAA
  socket_address address;  // port 0
  std::uint32_t ttl = 0;   // seconds
};
struct mx_record {
  std::string exchange;
  std::uint16_t priority = 0;
};
struct srv_record {
  std::string name;  // the target host
  std::uint16_t port = 0;
  std::uint16_t priority = 0;
  std::uint16_t weight = 0;
};
struct txt_record {
  std::vector<std::string> chunks;  // one record's character-strings, in order (Node: string[])
};
struct soa_record {
  std::string nsname;
  std::string hostmaster;
  std::uint32_t serial = 0;
  std::uint32_t refresh = 0;
  std::uint32_t retry = 0;
  std::uint32_t expire = 0;
  std::uint32_t minttl = 0;
};

// The answer to one query: the member for the type asked is filled, the others are empty.
struct records {
  record_type type = record_type::a;
  std::vector<address_record> addresses;  // a, aaaa
  std::vector<std::string> names;         // cname, ns, ptr
  std::vector<mx_record> mx;
  std::vector<txt_record> txt;
  std::vector<srv_record> srv;
  std::optional<soa_record> soa;
};

using resolve_callback = std::function<void(std::error_code ec, records answer)>;

struct resolver_options {
  // Per try; zero: the system's setting (resolv.conf "options timeout", else 5 s).
  std::chrono::milliseconds timeout{0};
  // Tries per server; zero: the system's setting (resolv.conf "options attempts", else 4).
  int tries = 0;
};

class EDDY_API resolver final : public handle {
 public:
  // Reads the system configuration (/etc/resolv.conf) for the servers. Loop thread only.
  // A failure here (no memory, or no c-ares in this build) is reported by every query.
  explicit resolver(eddy::loop& owner, resolver_options options = {});

  // Replaces the server list: comma-separated addresses with optional ports, e.g.
  // "127.0.0.1:5353,[::1]:53,8.8.8.8". errc::invalid_argument for a malformed list;
  // errc::busy while queries are in flight (c-ares cannot change servers under them).
  std::error_code set_servers(std::string_view servers);
  // The servers in use, in set_servers' form ("" if there are none).
  [[nodiscard]] std::string servers() const;

  // Asks for name's records of the given type. The name is copied. The resolver is active
  // (keeps the loop alive) while queries are in flight. errc::closed (and no callback) once
  // the resolver is closing; every other outcome comes through on_done.
  std::error_code resolve(std::string_view name, record_type type, resolve_callback on_done);

  // Ends every query in flight: each completes with errc::operation_canceled.
  void cancel() noexcept;
};

// One query with a resolver of its own using the system's servers (Node's dns.resolve).
// The resolver lives until the callback has run. Loop thread only.
EDDY_API void resolve(eddy::loop& loop, std::string_view name, record_type type, resolve_callback on_done);

}  // namespace eddy::dns
