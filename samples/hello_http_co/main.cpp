// hello_http_co: the HTTP hello-world server (samples/hello_http) written with coroutines.
//
// Usage: hello_http_co [--host 127.0.0.1] [--port 8080] [--backend auto|io_uring|epoll|iocp]
// Same behaviour as hello_http: prints "listening on http://HOST:PORT", answers every request
// with "Hello World\n" (keep-alive, pipelining, 400/501 as hello::parse_request decides), and
// on SIGINT or SIGTERM cancels the accept loop and every connection, then exits 0.
//
// One task accepts; each connection is a task that owns its socket, reads, answers every
// complete request in what it read with one write, and ends with the connection. Cancelling
// the source destroys those tasks, which closes their sockets.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "../hello_http/http_server.hpp"
#include "eddy/co.hpp"
#include "eddy/eddy.hpp"

namespace co = eddy::co;

namespace {

constexpr std::string_view ok_response =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\nHello World\n";
constexpr std::string_view ok_response_close =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nConnection: close\r\n\r\nHello World\n";
constexpr std::string_view ok_response_keep_alive_10 =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nConnection: keep-alive\r\n\r\nHello "
    "World\n";
constexpr std::string_view bad_request_response =
    "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
constexpr std::string_view not_implemented_response =
    "HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

std::uint64_t requests = 0;

// Appends the answers to the complete requests at the front of in; removes them from in.
// Returns false when the connection must close after the answers.
bool answer(std::string& in, std::string& out) {
  std::size_t used = 0;
  bool keep = true;
  while (keep) {
    auto r = hello::parse_request(std::string_view(in).substr(used));
    if (r.kind == hello::parse_result::incomplete) {
      if (in.size() - used > hello::max_header_bytes) {
        out += bad_request_response;
        keep = false;
      }
      break;
    }
    if (r.kind == hello::parse_result::bad_request) {
      out += bad_request_response;
      keep = false;
      break;
    }
    if (r.kind == hello::parse_result::not_implemented) {
      out += not_implemented_response;
      keep = false;
      break;
    }
    ++requests;
    used += r.consumed;
    keep = r.keep_alive;
    out += !keep ? ok_response_close : r.http10 ? ok_response_keep_alive_10 : ok_response;
  }
  in.erase(0, used);
  return keep;
}

eddy::task<> serve(std::unique_ptr<eddy::tcp> conn) {
  std::vector<char> chunk(64 * 1024);
  std::string in, out;
  for (bool open = true; open;) {
    auto n = co_await co::read(*conn, std::as_writable_bytes(std::span(chunk)), co::nothrow);
    if (n.error || n.value == 0) break;
    in.append(chunk.data(), n.value);
    out.clear();
    open = answer(in, out);
    if (!out.empty() && (co_await co::write(*conn, eddy::buffer(out), co::nothrow)).error) break;
  }
  conn->close();
}

eddy::task<> accept_loop(eddy::loop& loop, co::acceptor& acceptor, co::cancellation_token token) {
  for (;;) {
    auto conn = std::make_unique<eddy::tcp>(loop);
    if (auto r = co_await acceptor.accept(*conn, co::nothrow); r.error) {
      std::fprintf(stderr, "hello_http_co: accept: %s\n", r.error.message().c_str());
      continue;
    }
    (void)conn->set_nodelay(true);
    // A connection that fails or is cancelled ends quietly.
    eddy::spawn(loop, co::with_cancellation(token, serve(std::move(conn))), [](std::exception_ptr) {});
  }
}

int usage(const char* argv0) {
  std::fprintf(stderr, "usage: %s [--host ADDR] [--port N] [--backend auto|io_uring|epoll|iocp]\n", argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  long port = 8080;
  eddy::loop_options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    if (value == nullptr) return usage(argv[0]);
    if (arg == "--host") {
      host = value;
    } else if (arg == "--port") {
      char* end = nullptr;
      port = std::strtol(value, &end, 10);
      if (end == value || *end != '\0' || port < 0 || port > 65535) return usage(argv[0]);
    } else if (arg == "--backend") {
      auto kind = eddy::parse_backend(std::strcmp(value, "auto") == 0 ? "automatic" : value);
      if (!kind) return usage(argv[0]);
      options.backend = *kind;
    } else {
      return usage(argv[0]);
    }
    ++i;
  }
  auto addr = eddy::socket_address::parse(host, static_cast<std::uint16_t>(port));
  if (!addr) {
    std::fprintf(stderr, "hello_http_co: %s is not an IPv4 or IPv6 address\n", host.c_str());
    return 2;
  }

  try {
    eddy::loop loop(options);
    co::acceptor acceptor(loop);
    if (auto ec = acceptor.listen(*addr, 1024)) {
      std::fprintf(stderr, "hello_http_co: cannot listen on %s: %s\n", addr->to_string().c_str(),
                   ec.message().c_str());
      return 1;
    }
    co::cancellation_source stop_source;
    eddy::spawn(loop, co::with_cancellation(stop_source.token(), accept_loop(loop, acceptor, stop_source.token())),
                [](std::exception_ptr) {});
    eddy::signal sigint(loop), sigterm(loop);
    auto stop = [&](int signum) {
      std::fprintf(stderr, "hello_http_co: signal %d, closing after %llu requests\n", signum,
                   static_cast<unsigned long long>(requests));
      stop_source.cancel();  // destroys the accept loop and every connection task
      acceptor.socket().close();
      sigint.close();
      sigterm.close();
    };
    if (auto ec = sigint.start(eddy::signals::sigint, stop)) {
      std::fprintf(stderr, "hello_http_co: cannot watch SIGINT: %s\n", ec.message().c_str());
    }
    (void)sigterm.start(eddy::signals::sigterm, stop);  // not supported on Windows: Ctrl-C is SIGINT there
    std::printf("listening on http://%s\n", acceptor.socket().local_address().to_string().c_str());
    std::fflush(stdout);
    loop.run();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hello_http_co: %s\n", e.what());
    return 1;
  }
}
