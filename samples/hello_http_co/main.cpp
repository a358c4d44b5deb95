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

using hello::bad_request_response;
using hello::not_implemented_response;
using hello::ok_response;
using hello::ok_response_close;
using hello::ok_response_keep_alive_10;

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
  std::string in, out;
  for (bool open = true; open;) {
    // The bytes are lent by the loop until the next co_await: a connection waiting for its
    // next request holds no read buffer.
    auto n = co_await co::read(*conn, co::nothrow);
    if (n.error || n.value.empty()) break;
    in.append(reinterpret_cast<const char*>(n.value.data()), n.value.size());
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

}  // namespace

int main(int argc, char** argv) {
  const auto cli = hello::parse_command_line(argc, argv, "hello_http_co");
  if (!cli) return 2;
  const eddy::loop_options& options = cli->options;
  const eddy::socket_address* addr = &cli->address;

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
