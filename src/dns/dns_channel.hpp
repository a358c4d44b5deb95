// The resolver's engine (src/dns/resolver.cpp drives it): a DNS channel that does its own socket
// I/O. src/dns/dns_channel_ares.cpp is c-ares; src/dns/dns_channel_none.cpp stands in when eddy is
// built without c-ares, and open() fails there with errc::not_supported.
//
// The channel never blocks and owns no thread: it reports which of its sockets it needs to
// hear about (socket_state_fn) and when it next needs the time to move on (next_timeout_ns);
// the owner calls process() when a socket is ready or the timeout has passed. Query
// callbacks run inside query(), process(), cancel_all() and destroy(). Loop thread only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

#include "eddy/dns.hpp"
#include "eddy/error.hpp"

namespace eddy::detail::dns_channel {

struct channel;

inline constexpr std::intptr_t no_socket = -1;

// The channel wants (or no longer wants) to know when sock is readable / writable.
// Both false: sock is about to be closed by the channel, right after this call returns.
using socket_state_fn = void (*)(void* ctx, std::intptr_t sock, bool readable, bool writable);
// A query finished: with records (ec empty) or an eddy::errc code.
using query_done_fn = void (*)(void* arg, std::error_code ec, dns::records answer);

std::error_code open(channel*& out, const dns::resolver_options& options, socket_state_fn on_socket, void* ctx);
// Ends every query (errc::operation_canceled), closes the sockets and frees the channel.
void destroy(channel* ch) noexcept;
std::error_code set_servers(channel& ch, std::string_view servers);
std::string servers(channel& ch);
void query(channel& ch, const std::string& name, dns::record_type type, query_done_fn done, void* arg);
// Reads / writes what is ready (no_socket: nothing) and handles the timeouts that passed.
void process(channel& ch, std::intptr_t readable, std::intptr_t writable);
// Nanoseconds until process() must run again for the timeouts; -1 when nothing is pending.
std::int64_t next_timeout_ns(channel& ch);
void cancel_all(channel& ch);

}  // namespace eddy::detail::dns_channel
