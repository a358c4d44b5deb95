// A minimal HTTP/1.1 server that answers every request with "Hello World\n": the seeds'
// hello-world server, and the workload of eddy's HTTP benchmarks.
//
// Keep-alive and pipelining: every complete request in what was read is answered, in order,
// with one write; a request split across reads waits for the rest. A malformed request, or
// one whose headers exceed 64 KiB, gets 400 and the connection is closed after the answer.
// Bodies with Content-Length are read and discarded; Transfer-Encoding gets 501.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "eddy/eddy.hpp"

namespace hello {

inline constexpr std::size_t max_header_bytes = 64 * 1024;

// The answers (the same bytes in every server of the benchmarks).
inline constexpr std::string_view ok_response =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\nHello World\n";
inline constexpr std::string_view ok_response_close =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nConnection: close\r\n\r\nHello World\n";
inline constexpr std::string_view ok_response_keep_alive_10 =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nConnection: keep-alive\r\n\r\nHello "
    "World\n";
inline constexpr std::string_view bad_request_response =
    "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
inline constexpr std::string_view not_implemented_response =
    "HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

// The samples' command line: [--host ADDR] [--port N] [--backend auto|io_uring|epoll|iocp]
// [--slow-callback-ms N] (the loop's slow-callback detector; see eddy::loop_options).
struct command_line {
  eddy::socket_address address;  // 127.0.0.1:8080 unless given
  eddy::loop_options options;
};
// Parses argv; on a bad argument prints the usage (or the problem) as `name` and returns
// std::nullopt.
std::optional<command_line> parse_command_line(int argc, char** argv, const char* name);

// What the parser found at the front of a buffer.
struct parse_result {
  enum kind_t { incomplete, request, bad_request, not_implemented } kind = incomplete;
  std::size_t consumed = 0;  // bytes of this request (headers and body) when kind == request
  bool keep_alive = true;
  bool http10 = false;
  bool get = false;            // the method is GET
  std::string_view target;     // the request target ("/metrics"), a view into the data
};

// Parses one request from the front of data. Pure: no state between calls.
parse_result parse_request(std::string_view data);

class server {
 public:
  explicit server(eddy::loop& loop);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Binds and listens; the bound address (with the real port) is in address() afterwards.
  std::error_code listen(const eddy::socket_address& addr, int backlog = 1024);
  [[nodiscard]] eddy::socket_address address() const { return listener_.local_address(); }
  // Stops accepting and closes every connection.
  void close();
  // Answers GET /metrics with what `write` appends (Prometheus text, e.g. eddy::write_metrics);
  // every other request keeps its Hello World. Unset: /metrics is Hello World too.
  void set_metrics(std::function<void(std::string&)> write) { metrics_ = std::move(write); }
  // Lets the loop end while the server listens (its connections still keep it alive).
  void unref() noexcept { listener_.unref(); }

  [[nodiscard]] std::uint64_t requests() const noexcept { return requests_; }
  [[nodiscard]] std::size_t connections() const noexcept { return conns_.size(); }

 private:
  struct connection;
  void on_connection(std::error_code ec);
  void drop(connection* c);

  eddy::loop& loop_;
  eddy::tcp listener_;
  std::vector<std::unique_ptr<connection>> conns_;
  std::uint64_t requests_ = 0;
  bool closing_ = false;
  std::function<void(std::string&)> metrics_;
};

}  // namespace hello
