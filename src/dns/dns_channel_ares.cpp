// The resolver's engine on c-ares (see src/dns/dns_channel.hpp). c-ares does the socket I/O and
// the DNS protocol; this file maps its options, states and errors to eddy's, and reads the
// answers into dns::records. Only c-ares' portable API is used: ares.h brings the address
// family constants with it on every platform.
#include <ares.h>

#include <array>
#include <cstring>
#include <memory>
#include <mutex>

#include "dns/dns_channel.hpp"

namespace eddy::detail::dns_channel {

struct channel {
  ares_channel ares = nullptr;
  socket_state_fn on_socket = nullptr;
  void* ctx = nullptr;
};

namespace {

std::error_code from_ares(int status) noexcept {
  switch (status) {
    case ARES_SUCCESS: return {};
    case ARES_ENODATA: return make_error_code(errc::no_data);
    case ARES_ENOTFOUND: return make_error_code(errc::host_not_found);
    case ARES_ESERVFAIL: return make_error_code(errc::try_again);  // as getaddrinfo's EAI_AGAIN
    case ARES_ETIMEOUT: return make_error_code(errc::timed_out);
    case ARES_ECONNREFUSED: return make_error_code(errc::connection_refused);
    case ARES_ENOMEM: return make_error_code(errc::no_memory);
    case ARES_ENOTIMP: return make_error_code(errc::not_supported);
    case ARES_ECANCELLED:
    case ARES_EDESTRUCTION: return make_error_code(errc::operation_canceled);
    case ARES_EBADQUERY:
    case ARES_EBADNAME:
    case ARES_EBADFAMILY:
    case ARES_EBADSTR:
    case ARES_EBADFLAGS: return make_error_code(errc::invalid_argument);
    default: return make_error_code(errc::dns_failure);  // FORMERR, REFUSED, a bad answer, ...
  }
}

// The wire values of the record types (RFC 1035, 3596, 2782).
int wire_type(dns::record_type t) noexcept {
  switch (t) {
    case dns::record_type::a: return 1;
    case dns::record_type::ns: return 2;
    case dns::record_type::cname: return 5;
    case dns::record_type::soa: return 6;
    case dns::record_type::ptr: return 12;
    case dns::record_type::mx: return 15;
    case dns::record_type::txt: return 16;
    case dns::record_type::aaaa: return 28;
    case dns::record_type::srv: return 33;
  }
  return 0;
}
constexpr int class_in = 1;

// Reads a DNS message (RFC 1035 section 4) from c-ares' buffer: the answer section's
// records of one type. Every read is bounds-checked; a short or malformed message is a
// dns_failure, never a crash.
class answer_reader {
 public:
  answer_reader(const unsigned char* buf, int len) noexcept : buf_(buf), len_(static_cast<std::size_t>(len)) {}

  std::error_code read(dns::record_type type, dns::records& out) {
    out = dns::records{};
    out.type = type;
    std::uint16_t qdcount = 0, ancount = 0;
    if (len_ < 12) return bad();
    qdcount = u16_at(4);
    ancount = u16_at(6);
    std::size_t pos = 12;
    for (unsigned i = 0; i < qdcount; ++i) {
      if (!skip_name(pos) || pos + 4 > len_) return bad();
      pos += 4;  // type, class
    }
    const int want = wire_type(type);
    for (unsigned i = 0; i < ancount; ++i) {
      if (!skip_name(pos) || pos + 10 > len_) return bad();
      const int rtype = u16_at(pos);
      const int rclass = u16_at(pos + 2);
      const std::uint32_t ttl = u32_at(pos + 4);
      const std::size_t rdlen = u16_at(pos + 8);
      pos += 10;
      if (pos + rdlen > len_) return bad();
      if (rtype == want && rclass == class_in) {
        if (auto ec = read_record(type, pos, rdlen, ttl, out)) return ec;
      }
      pos += rdlen;
    }
    const bool empty = out.addresses.empty() && out.names.empty() && out.mx.empty() && out.txt.empty() &&
                       out.srv.empty() && !out.soa;
    return empty ? make_error_code(errc::no_data) : std::error_code{};
  }

 private:
  static std::error_code bad() noexcept { return make_error_code(errc::dns_failure); }

  std::uint16_t u16_at(std::size_t p) const noexcept {
    return static_cast<std::uint16_t>((buf_[p] << 8) | buf_[p + 1]);
  }
  std::uint32_t u32_at(std::size_t p) const noexcept {
    return (std::uint32_t{buf_[p]} << 24) | (std::uint32_t{buf_[p + 1]} << 16) | (std::uint32_t{buf_[p + 2]} << 8) |
           std::uint32_t{buf_[p + 3]};
  }

  // Moves pos past an encoded name (labels, ending in a zero byte or a compression pointer).
  bool skip_name(std::size_t& pos) const noexcept {
    while (pos < len_) {
      const unsigned char n = buf_[pos];
      if (n == 0) {
        ++pos;
        return true;
      }
      if ((n & 0xC0) == 0xC0) {
        pos += 2;
        return pos <= len_;
      }
      if ((n & 0xC0) != 0) return false;  // reserved label types
      pos += 1 + std::size_t{n};
    }
    return false;
  }

  // The name at pos (following compression pointers); its encoded length in used.
  bool name_at(std::size_t pos, std::size_t end, std::string& out, std::size_t& used) const {
    if (pos >= end) return false;
    char* s = nullptr;
    long enclen = 0;
    if (ares_expand_name(buf_ + pos, buf_, static_cast<int>(len_), &s, &enclen) != ARES_SUCCESS) return false;
    out = s;
    ares_free_string(s);
    used = static_cast<std::size_t>(enclen);
    return pos + used <= end;
  }

  std::error_code read_record(dns::record_type type, std::size_t pos, std::size_t rdlen, std::uint32_t ttl,
                              dns::records& out) {
    const std::size_t end = pos + rdlen;
    std::size_t used = 0;
    std::string name;
    switch (type) {
      case dns::record_type::a: {
        if (rdlen != 4) return bad();
        std::array<std::uint8_t, 4> b{};
        std::memcpy(b.data(), buf_ + pos, 4);
        out.addresses.push_back({socket_address::ipv4(b, 0), ttl});
        return {};
      }
      case dns::record_type::aaaa: {
        if (rdlen != 16) return bad();
        std::array<std::uint8_t, 16> b{};
        std::memcpy(b.data(), buf_ + pos, 16);
        out.addresses.push_back({socket_address::ipv6(b, 0), ttl});
        return {};
      }
      case dns::record_type::cname:
      case dns::record_type::ns:
      case dns::record_type::ptr:
        if (!name_at(pos, end, name, used)) return bad();
        out.names.push_back(std::move(name));
        return {};
      case dns::record_type::mx:
        if (rdlen < 3 || !name_at(pos + 2, end, name, used)) return bad();
        out.mx.push_back({std::move(name), u16_at(pos)});
        return {};
      case dns::record_type::srv:
        if (rdlen < 7 || !name_at(pos + 6, end, name, used)) return bad();
        out.srv.push_back({std::move(name), u16_at(pos + 4), u16_at(pos), u16_at(pos + 2)});
        return {};
      case dns::record_type::txt: {
        dns::txt_record r;
        while (pos < end) {
          const std::size_t n = buf_[pos];
          if (pos + 1 + n > end) return bad();
          r.chunks.emplace_back(reinterpret_cast<const char*>(buf_ + pos + 1), n);
          pos += 1 + n;
        }
        out.txt.push_back(std::move(r));
        return {};
      }
      case dns::record_type::soa: {
        dns::soa_record r;
        if (!name_at(pos, end, r.nsname, used)) return bad();
        pos += used;
        if (!name_at(pos, end, r.hostmaster, used)) return bad();
        pos += used;
        if (pos + 20 > end) return bad();
        r.serial = u32_at(pos);
        r.refresh = u32_at(pos + 4);
        r.retry = u32_at(pos + 8);
        r.expire = u32_at(pos + 12);
        r.minttl = u32_at(pos + 16);
        out.soa = std::move(r);
        return {};
      }
    }
    return bad();
  }

  const unsigned char* buf_;
  std::size_t len_;
};

struct query_state {
  query_done_fn done;
  void* arg;
  dns::record_type type;
};

void on_answer(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
  std::unique_ptr<query_state> q(static_cast<query_state*>(arg));
  dns::records answer;
  answer.type = q->type;
  std::error_code ec = from_ares(status);
  if (!ec) {
    if (abuf == nullptr) {
      ec = make_error_code(errc::dns_failure);
    } else {
      ec = answer_reader(abuf, alen).read(q->type, answer);
    }
  }
  if (ec) {
    answer = dns::records{};
    answer.type = q->type;
  }
  q->done(q->arg, ec, std::move(answer));
}

void on_socket_state(void* data, ares_socket_t sock, int readable, int writable) {
  auto* ch = static_cast<channel*>(data);
  ch->on_socket(ch->ctx, static_cast<std::intptr_t>(sock), readable != 0, writable != 0);
}

ares_socket_t to_ares(std::intptr_t s) noexcept {
  return s == no_socket ? ARES_SOCKET_BAD : static_cast<ares_socket_t>(s);
}

}  // namespace

std::error_code open(channel*& out, const dns::resolver_options& options, socket_state_fn on_socket, void* ctx) {
  out = nullptr;
  // Process-wide set-up (Winsock on Windows, nothing on Linux); c-ares wants it done once.
  static std::once_flag once;
  static int init_status = ARES_SUCCESS;
  std::call_once(once, [] { init_status = ares_library_init(ARES_LIB_INIT_ALL); });
  if (init_status != ARES_SUCCESS) return from_ares(init_status);

  auto ch = std::make_unique<channel>();
  ch->on_socket = on_socket;
  ch->ctx = ctx;
  ares_options opts{};
  int mask = ARES_OPT_SOCK_STATE_CB;
  opts.sock_state_cb = &on_socket_state;
  opts.sock_state_cb_data = ch.get();
  if (options.timeout.count() > 0) {
    opts.timeout = static_cast<int>(options.timeout.count());
    mask |= ARES_OPT_TIMEOUTMS;
  }
  if (options.tries > 0) {
    opts.tries = options.tries;
    mask |= ARES_OPT_TRIES;
  }
  if (const int st = ares_init_options(&ch->ares, &opts, mask); st != ARES_SUCCESS) return from_ares(st);
  out = ch.release();
  return {};
}

void destroy(channel* ch) noexcept {
  if (ch == nullptr) return;
  ares_destroy(ch->ares);  // ends the queries (ARES_EDESTRUCTION) and closes the sockets
  delete ch;
}

std::error_code set_servers(channel& ch, std::string_view servers) {
  const std::string csv(servers);
  if (csv.empty()) return make_error_code(errc::invalid_argument);
  const int st = ares_set_servers_ports_csv(ch.ares, csv.c_str());
  if (st == ARES_ENOTIMP) return make_error_code(errc::busy);  // queries in flight
  if (st == ARES_ENODATA) return make_error_code(errc::invalid_argument);
  return from_ares(st);
}

std::string servers(channel& ch) {
  ares_addr_port_node* list = nullptr;
  if (ares_get_servers_ports(ch.ares, &list) != ARES_SUCCESS) return {};
  std::string out;
  for (ares_addr_port_node* n = list; n != nullptr; n = n->next) {
    const auto port = static_cast<std::uint16_t>(n->udp_port != 0 ? n->udp_port : 53);
    socket_address a;
    if (n->family == AF_INET) {
      std::array<std::uint8_t, 4> b{};
      std::memcpy(b.data(), &n->addr.addr4, 4);
      a = socket_address::ipv4(b, port);
    } else if (n->family == AF_INET6) {
      std::array<std::uint8_t, 16> b{};
      std::memcpy(b.data(), &n->addr.addr6, 16);
      a = socket_address::ipv6(b, port);
    } else {
      continue;
    }
    if (!out.empty()) out += ',';
    out += a.to_string();
  }
  ares_free_data(list);
  return out;
}

void query(channel& ch, const std::string& name, dns::record_type type, query_done_fn done, void* arg) {
  auto* q = new query_state{done, arg, type};
  ares_query(ch.ares, name.c_str(), class_in, wire_type(type), &on_answer, q);
}

void process(channel& ch, std::intptr_t readable, std::intptr_t writable) {
  ares_process_fd(ch.ares, to_ares(readable), to_ares(writable));
}

std::int64_t next_timeout_ns(channel& ch) {
  timeval tv{};
  if (ares_timeout(ch.ares, nullptr, &tv) == nullptr) return -1;
  return static_cast<std::int64_t>(tv.tv_sec) * 1'000'000'000 + static_cast<std::int64_t>(tv.tv_usec) * 1000;
}

void cancel_all(channel& ch) { ares_cancel(ch.ares); }

}  // namespace eddy::detail::dns_channel
