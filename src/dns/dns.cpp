#include "eddy/dns.hpp"

#include <memory>

#include "platform/contract/resolver.hpp"

namespace eddy::dns {

work_request lookup(eddy::loop& loop, std::string_view host, std::string_view service, lookup_hints hints,
                    lookup_callback on_done) {
  struct job {
    std::string host, service;
    lookup_hints hints;
    std::error_code ec;
    std::vector<socket_address> out;
  };
  auto j = std::make_shared<job>(job{std::string(host), std::string(service), hints, {}, {}});
  return queue_work(
      loop, [j] { j->ec = contract::resolver::lookup(j->host, j->service, j->hints, j->out); },
      [j, cb = std::move(on_done)](std::error_code ec) {
        if (!ec) ec = j->ec;
        if (ec) j->out.clear();
        cb(ec, std::move(j->out));
      },
      work_kind::slow_io);
}

work_request reverse_lookup(eddy::loop& loop, const socket_address& address, bool numeric, reverse_callback on_done) {
  struct job {
    socket_address address;
    bool numeric;
    std::error_code ec;
    std::string host, service;
  };
  auto j = std::make_shared<job>(job{address, numeric, {}, {}, {}});
  return queue_work(
      loop, [j] { j->ec = contract::resolver::reverse(j->address, j->numeric, j->host, j->service); },
      [j, cb = std::move(on_done)](std::error_code ec) {
        if (!ec) ec = j->ec;
        cb(ec, ec ? std::string() : std::move(j->host), ec ? std::string() : std::move(j->service));
      },
      work_kind::slow_io);
}

}  // namespace eddy::dns
