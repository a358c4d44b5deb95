#include "http_server.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <chrono>
#include <cstring>
#include <deque>
#include <string>

namespace hello {
namespace {


bool is_token_char(char c) {
  if (std::isalnum(static_cast<unsigned char>(c)) != 0) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool contains_token(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    auto comma = list.find(',');
    if (iequals(trim(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

parse_result parse_request(std::string_view data) {
  parse_result r;
  const auto end = data.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    r.kind = data.size() > max_header_bytes ? parse_result::bad_request : parse_result::incomplete;
    // A request line must start with a method: reject garbage early.
    auto sp = data.find(' ');
    std::string_view method = data.substr(0, std::min(sp, data.size()));
    if (!std::all_of(method.begin(), method.end(), is_token_char)) r.kind = parse_result::bad_request;
    return r;
  }
  if (end + 4 > max_header_bytes) {
    r.kind = parse_result::bad_request;
    return r;
  }
  std::string_view head = data.substr(0, end + 2);  // each line ends in CRLF

  // Request line: METHOD SP target SP HTTP/1.x
  auto line_end = head.find("\r\n");
  std::string_view line = head.substr(0, line_end);
  auto sp1 = line.find(' ');
  auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == 0 || sp1 == std::string_view::npos || sp2 == std::string_view::npos || sp2 == sp1 + 1) {
    r.kind = parse_result::bad_request;
    return r;
  }
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!std::all_of(method.begin(), method.end(), is_token_char) || target.find(' ') != std::string_view::npos ||
      (version != "HTTP/1.1" && version != "HTTP/1.0")) {
    r.kind = parse_result::bad_request;
    return r;
  }
  const bool http10 = version == "HTTP/1.0";
  r.http10 = http10;
  r.get = method.size() == 3 && std::memcmp(method.data(), "GET", 3) == 0;  // inlined: it runs per request
  r.target = target;
  r.keep_alive = !http10;

  // Headers.
  std::size_t body = 0;
  bool have_length = false;
  std::size_t pos = line_end + 2;
  while (pos < head.size()) {
    auto eol = head.find("\r\n", pos);
    std::string_view h = head.substr(pos, eol - pos);
    pos = eol + 2;
    auto colon = h.find(':');
    if (colon == 0 || colon == std::string_view::npos) {
      r.kind = parse_result::bad_request;
      return r;
    }
    std::string_view name = h.substr(0, colon);
    std::string_view value = trim(h.substr(colon + 1));
    if (!std::all_of(name.begin(), name.end(), is_token_char)) {
      r.kind = parse_result::bad_request;
      return r;
    }
    if (iequals(name, "content-length")) {
      if (value.empty() || value.size() > 12 || have_length ||
          !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        r.kind = parse_result::bad_request;
        return r;
      }
      have_length = true;
      body = std::stoull(std::string(value));
    } else if (iequals(name, "transfer-encoding")) {
      r.kind = parse_result::not_implemented;
      return r;
    } else if (iequals(name, "connection")) {
      if (contains_token(value, "close")) r.keep_alive = false;
      if (http10 && contains_token(value, "keep-alive")) r.keep_alive = true;
    }
  }
  if (data.size() < end + 4 + body) return r;  // body not complete yet (kind: incomplete)
  r.kind = parse_result::request;
  r.consumed = end + 4 + body;
  return r;
}

// One connection: what has been read but not answered, and whether to close after writing.
struct server::connection {
  explicit connection(eddy::loop& l) : sock(l) {}
  eddy::tcp sock;
  std::string in;
  std::vector<eddy::const_buffer> out;
  bool closing_after_write = false;
};

server::server(eddy::loop& loop) : loop_(loop), listener_(loop) {}

server::~server() { close(); }

std::error_code server::listen(const eddy::socket_address& addr, int backlog) {
  listener_.set_name("http listener");
  if (auto ec = listener_.bind(addr)) return ec;
  return listener_.listen(backlog, [this](std::error_code ec) { on_connection(ec); });
}

void server::close() {
  if (closing_) return;
  closing_ = true;
  listener_.close();
  for (auto& c : conns_) c->sock.close();
}

void server::drop(connection* c) {
  c->sock.close([this, c] {
    auto it = std::find_if(conns_.begin(), conns_.end(), [c](const auto& p) { return p.get() == c; });
    if (it != conns_.end()) conns_.erase(it);
  });
}

void server::on_connection(std::error_code ec) {
  if (ec) return;  // e.g. too many open files: the listener carries on
  auto owned = std::make_unique<connection>(loop_);
  connection* c = owned.get();
  c->sock.set_name("http connection");
  if (listener_.accept(c->sock)) {
    c->sock.close();
    return;
  }
  conns_.push_back(std::move(owned));
  (void)c->sock.set_nodelay(true);
  c->sock.read_start([this, c](std::error_code rec, std::span<std::byte> data) {
    if (rec) {
      drop(c);  // end of stream or error: nothing more to answer
      return;
    }
    c->in.append(reinterpret_cast<const char*>(data.data()), data.size());
    std::size_t offset = 0;
    c->out.clear();
    std::shared_ptr<std::deque<std::string>> answers;  // /metrics answers, kept until written
    for (;;) {
      parse_result r = parse_request(std::string_view(c->in).substr(offset));
      if (r.kind == parse_result::incomplete) break;
      if (r.kind != parse_result::request) {
        c->out.push_back(eddy::buffer(r.kind == parse_result::bad_request ? bad_request_response
                                                                          : not_implemented_response));
        c->closing_after_write = true;
        break;
      }
      ++requests_;
      offset += r.consumed;
      if (metrics_ && r.get && r.target == "/metrics") {
        if (!answers) answers = std::make_shared<std::deque<std::string>>();
        std::string body;
        metrics_(body);
        answers->push_back("HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                         "Content-Length: " +
                         std::to_string(body.size()) + "\r\n" + (r.keep_alive ? "" : "Connection: close\r\n") +
                         "\r\n" + body);
        c->out.push_back(eddy::buffer(std::string_view(answers->back())));
        if (!r.keep_alive) {
          c->closing_after_write = true;
          break;
        }
        continue;
      }
      if (!r.keep_alive) {
        c->out.push_back(eddy::buffer(ok_response_close));
        c->closing_after_write = true;
        break;
      }
      c->out.push_back(eddy::buffer(r.http10 ? ok_response_keep_alive_10 : ok_response));
    }
    c->in.erase(0, offset);
    if (c->out.empty()) return;
    // The responses are static strings or in `answers`, which the write's callback keeps until
    // the write is done. Only a write with /metrics answers captures them: a std::function
    // holding a shared_ptr (even an empty one) does not fit its small buffer and would
    // allocate for every plain answer.
    if (answers) {
      c->sock.write(c->out, [answers](std::error_code) {});
    } else {
      c->sock.write(c->out, [](std::error_code) {});
    }
    if (c->closing_after_write) {
      c->sock.read_stop();
      c->sock.shutdown([this, c](std::error_code) { drop(c); });
    }
  });
}

std::optional<command_line> parse_command_line(int argc, char** argv, const char* name) {
  const auto usage = [&]() -> std::optional<command_line> {
    std::fprintf(stderr, "usage: %s [--host ADDR] [--port N] [--backend auto|io_uring|epoll|iocp] [--slow-callback-ms N]\n", name);
    return std::nullopt;
  };
  std::string host = "127.0.0.1";
  long port = 8080;
  command_line out;
  for (int i = 1; i < argc; i += 2) {  // a flag and its value
    const std::string arg = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    if (value == nullptr) return usage();
    if (arg == "--host") {
      host = value;
    } else if (arg == "--port") {
      char* end = nullptr;
      port = std::strtol(value, &end, 10);
      if (end == value || *end != '\0' || port < 0 || port > 65535) return usage();
    } else if (arg == "--backend") {
      auto kind = eddy::parse_backend(std::strcmp(value, "auto") == 0 ? "automatic" : value);
      if (!kind) return usage();
      out.options.backend = *kind;
    } else if (arg == "--slow-callback-ms") {
      char* end = nullptr;
      const double ms = std::strtod(value, &end);
      if (end == value || *end != '\0' || !(ms >= 0) || ms > 1e9) return usage();
      out.options.slow_callback_threshold = std::chrono::nanoseconds(static_cast<std::int64_t>(ms * 1e6));
    } else {
      return usage();
    }
  }
  auto addr = eddy::socket_address::parse(host, static_cast<std::uint16_t>(port));
  if (!addr) {
    std::fprintf(stderr, "%s: %s is not an IPv4 or IPv6 address\n", name, host.c_str());
    return std::nullopt;
  }
  out.address = *addr;
  return out;
}

}  // namespace hello
