// The resolver's engine when eddy is built without c-ares (see src/dns/dns_channel.hpp): every
// resolver reports errc::not_supported.
#include "dns/dns_channel.hpp"

namespace eddy::detail::dns_channel {

std::error_code open(channel*& out, const dns::resolver_options&, socket_state_fn, void*) {
  out = nullptr;
  return make_error_code(errc::not_supported);
}
void destroy(channel*) noexcept {}
std::error_code set_servers(channel&, std::string_view) { return make_error_code(errc::not_supported); }
std::string servers(channel&) { return {}; }
void query(channel&, const std::string&, dns::record_type, query_done_fn done, void* arg) {
  done(arg, make_error_code(errc::not_supported), {});
}
void process(channel&, std::intptr_t, std::intptr_t) {}
std::int64_t next_timeout_ns(channel&) { return -1; }
void cancel_all(channel&) {}

}  // namespace eddy::detail::dns_channel
