// lookup: names to addresses, both ways eddy offers them (Node's dns.lookup and dns.resolve*).
//
//   lookup HOST                                      getaddrinfo on the thread pool, as the
//                                                    system resolves (hosts file, search domains)
//   lookup --resolve TYPE NAME [--server IP:PORT]    a DNS query through eddy's resolver (c-ares
//                                                    driven by the loop), to the system's servers
//                                                    or the one given; TYPE is A, AAAA, CNAME, MX,
//                                                    NS, TXT, SRV, PTR or SOA
//
// One answer per line; an error is printed on stderr with exit status 1 (2 for bad usage).
// The port is EDDY_BACKEND's (io_uring, epoll, iocp) or the default one.
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "eddy/eddy.hpp"

namespace {

int usage(const char* self) {
  std::fprintf(stderr, "usage: %s HOST\n       %s --resolve TYPE NAME [--server IP:PORT]\n", self, self);
  return 2;
}

bool parse_type(std::string_view s, eddy::dns::record_type& out) {
  using eddy::dns::record_type;
  for (record_type t : {record_type::a, record_type::aaaa, record_type::cname, record_type::mx, record_type::ns,
                        record_type::txt, record_type::srv, record_type::ptr, record_type::soa}) {
    if (s.size() == std::strlen(eddy::dns::to_string(t))) {
      bool same = true;
      for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i] >= 'a' && s[i] <= 'z' ? static_cast<char>(s[i] - 'a' + 'A') : s[i];
        same = same && c == eddy::dns::to_string(t)[i];
      }
      if (same) {
        out = t;
        return true;
      }
    }
  }
  return false;
}

void print(const eddy::dns::records& r) {
  for (const auto& a : r.addresses) std::printf("%s ttl=%u\n", a.address.host().c_str(), a.ttl);
  for (const auto& n : r.names) std::printf("%s\n", n.c_str());
  for (const auto& m : r.mx) std::printf("%u %s\n", m.priority, m.exchange.c_str());
  for (const auto& s : r.srv) std::printf("%u %u %u %s\n", s.priority, s.weight, s.port, s.name.c_str());
  for (const auto& t : r.txt) {
    std::string line;
    for (const auto& c : t.chunks) line += "\"" + c + "\" ";
    if (!line.empty()) line.pop_back();
    std::printf("%s\n", line.c_str());
  }
  if (r.soa) {
    std::printf("%s %s %u %u %u %u %u\n", r.soa->nsname.c_str(), r.soa->hostmaster.c_str(), r.soa->serial,
                r.soa->refresh, r.soa->retry, r.soa->expire, r.soa->minttl);
  }
}

}  // namespace

int main(int argc, char** argv) {
  eddy::loop loop;
  int status = 0;
  if (argc == 2 && argv[1][0] != '-') {
    eddy::dns::lookup(loop, argv[1], "", {}, [&](std::error_code ec, std::vector<eddy::socket_address> addresses) {
      if (ec) {
        std::fprintf(stderr, "lookup %s: %s\n", argv[1], ec.message().c_str());
        status = 1;
        return;
      }
      for (const auto& a : addresses) std::printf("%s\n", a.host().c_str());
    });
    loop.run();
    return status;
  }
  if ((argc != 4 && argc != 6) || std::strcmp(argv[1], "--resolve") != 0) return usage(argv[0]);
  if (argc == 6 && std::strcmp(argv[4], "--server") != 0) return usage(argv[0]);
  eddy::dns::record_type type{};
  if (!parse_type(argv[2], type)) return usage(argv[0]);
  eddy::dns::resolver resolver(loop);
  if (argc == 6) {
    if (auto ec = resolver.set_servers(argv[5])) {
      std::fprintf(stderr, "lookup: --server %s: %s\n", argv[5], ec.message().c_str());
      return 2;
    }
  }
  const char* name = argv[3];
  auto ec = resolver.resolve(name, type, [&](std::error_code rec, eddy::dns::records answer) {
    if (rec) {
      std::fprintf(stderr, "resolve %s %s: %s\n", eddy::dns::to_string(type), name, rec.message().c_str());
      status = 1;
    } else {
      print(answer);
    }
    resolver.close();
  });
  if (ec) {
    std::fprintf(stderr, "resolve %s %s: %s\n", eddy::dns::to_string(type), name, ec.message().c_str());
    resolver.close();
    status = 1;
  }
  loop.run();
  return status;
}
