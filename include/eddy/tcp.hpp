// eddy::tcp: TCP sockets, servers and clients (libuv's uv_tcp_t).
//
// A tcp handle is a listener after listen(), a connection after connect() or accept().
// Errors come back as std::error_code (errc::connection_refused, errc::timed_out,
// errc::address_in_use, ...), from the call itself or as the callback's argument.
// Threads: loop thread only.
#pragma once

#include <chrono>
#include <cstdint>

#include "eddy/address.hpp"
#include "eddy/stream.hpp"

namespace eddy {

struct tcp_bind_options {
  bool ipv6_only = false;   // IPv6 sockets only: no IPv4-mapped connections (dual-stack otherwise)
  bool reuse_port = false;  // SO_REUSEPORT (Linux): several listeners share the port;
                            // errc::not_supported on Windows, as in libuv
};

class EDDY_API tcp final : public stream {
 public:
  explicit tcp(eddy::loop& owner);

  // Binds to addr (port 0 picks a free port; see local_address()). On POSIX SO_REUSEADDR is
  // set, as libuv does, so a restarted server can bind while old connections linger in
  // TIME_WAIT; on Windows SO_EXCLUSIVEADDRUSE, because Windows' SO_REUSEADDR would let
  // another socket take the port over.
  std::error_code bind(const socket_address& addr, tcp_bind_options options = {});
  // Starts listening; on_connection runs once per incoming connection, which the callback
  // should take with accept(). Connections not accepted wait (the kernel backlog fills).
  std::error_code listen(int backlog, completion_callback on_connection);
  // Moves the next waiting connection into client (a fresh, unused tcp on the same loop).
  std::error_code accept(tcp& client);
  // Connects to addr; on_connect gets the result (errc::connection_refused, ...).
  std::error_code connect(const socket_address& addr, completion_callback on_connect);

  std::error_code set_nodelay(bool enable);
  std::error_code set_keepalive(bool enable, std::chrono::seconds delay = std::chrono::seconds(60));

  // Closes with a TCP reset (SO_LINGER 0): the peer sees errc::connection_reset.
  void close_reset(std::function<void()> on_close = {});

  [[nodiscard]] socket_address local_address(std::error_code& ec) const;
  [[nodiscard]] socket_address peer_address(std::error_code& ec) const;
  [[nodiscard]] socket_address local_address() const {
    std::error_code ec;
    return local_address(ec);
  }

  // Adopts an existing connected or listening socket (an fd on POSIX, a SOCKET on Windows).
  // eddy owns it from here on and closes it.
  std::error_code open(std::intptr_t native_socket);
};

}  // namespace eddy
