// eddy::co DNS: co::lookup and co::reverse_lookup (the system resolver, on the pool) and
// co::resolve (dns::resolver, every record type).
// Ownership: names given as string_view are read when the operation starts (at co_await);
// a resolver passed by reference is borrowed and must outlive the awaiter. The answer travels
// in a cell shared with the callback (detail/cell.hpp): an awaiter that goes first leaves the
// query to finish unseen. Threads: loop thread only; the task resumes on the loop thread.
#pragma once

#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "eddy/co/core.hpp"
#include "eddy/co/detail/cell.hpp"
#include "eddy/dns.hpp"
#include "eddy/loop.hpp"

namespace eddy {
namespace co {

template <bool Throw = true>
auto lookup(eddy::loop& loop, std::string_view host, std::string_view service, dns::lookup_hints hints = {}) {
  using R = std::vector<socket_address>;
  return detail::make_op<R, Throw>([&loop, host, service, hints](detail::cell<R>* c) {
    return dns::lookup(loop, host, service, hints, [c](std::error_code ec, R addresses) {
      c->res.error = ec;
      c->res.value = std::move(addresses);
      detail::complete(c);
    });
  });
}
// dns::lookup: the addresses of host (and service). Errors: errc::host_not_found, ...
inline auto lookup(eddy::loop& loop, std::string_view host, std::string_view service, nothrow_t,
                   dns::lookup_hints hints = {}) {
  return lookup<false>(loop, host, service, hints);
}

// What reverse_lookup finds: the host and service names of an address.
struct host_service {
  std::string host;
  std::string service;
};

// dns::reverse_lookup (getnameinfo on the pool). numeric: numbers only, no lookup.
template <class... Form>
requires detail::form<Form...>
auto reverse_lookup(eddy::loop& loop, const socket_address& address, bool numeric, Form...) {
  return detail::make_op<host_service, detail::throws<Form...>>([&loop, address,
                                                                 numeric](detail::cell<host_service>* c) {
    return dns::reverse_lookup(loop, address, numeric, [c](std::error_code ec, std::string host, std::string service) {
      c->res.error = ec;
      c->res.value = {std::move(host), std::move(service)};
      detail::complete(c);
    });
  });
}

// r.resolve(name, type): name's records of one type from r's servers (dns::resolver; its
// errors: errc::no_data, host_not_found, timed_out, not_supported without c-ares, ...).
// r must outlive the awaiter; destroying the awaiter leaves the query to finish unseen
// (resolver::cancel() ends every query of r).
template <class... Form>
requires detail::form<Form...>
auto resolve(dns::resolver& r, std::string_view name, dns::record_type type, Form...) {
  using R = dns::records;
  return detail::make_op<R, detail::throws<Form...>>([&r, name, type](detail::cell<R>* c) {
    // The resolver drops its callbacks when it is destroyed: the callback holds its share.
    return r.resolve(name, type, [h = detail::cell_hold<R>(c)](std::error_code ec, R answer) {
      h->res.error = ec;
      h->res.value = std::move(answer);
      detail::resume(h.get());
    });
  });
}
// dns::resolve: one query with a resolver of its own on the system's servers.
template <class... Form>
requires detail::form<Form...>
auto resolve(eddy::loop& loop, std::string_view name, dns::record_type type, Form...) {
  using R = dns::records;
  return detail::make_op<R, detail::throws<Form...>>([&loop, name, type](detail::cell<R>* c) {
    dns::resolve(loop, name, type, [c](std::error_code ec, R answer) {
      c->res.error = ec;
      c->res.value = std::move(answer);
      detail::complete(c);
    });
    return std::error_code{};
  });
}

}  // namespace co
}  // namespace eddy
