// eddy::udp: UDP sockets (libuv's uv_udp_t).
//
// Receiving: recv_start() delivers one datagram per callback, with the sender's address,
// until recv_stop() or close(). A datagram larger than the buffer arrives cut short with
// `truncated` set. Buffers follow the stream rules (see stream.hpp): an alloc callback's
// buffer is borrowed until the receive callback for it returns; without one, the handle's
// own 64 KiB buffer is valid during the callback only.
// Sending: send() queues one datagram (the buffers are borrowed until its callback runs);
// datagrams go out in order. send_queue_size() counts bytes queued and not yet sent.
// Threads: loop thread only. Closing cancels queued sends (errc::operation_canceled).
#pragma once

#include <cstddef>
#include <functional>
#include <span>
#include <system_error>

#include "eddy/address.hpp"
#include "eddy/handle.hpp"
#include "eddy/stream.hpp"

namespace eddy {

struct udp_bind_options {
  bool ipv6_only = false;      // IPv6 sockets only: no IPv4-mapped traffic
  bool reuse_address = false;  // SO_REUSEADDR: several sockets on one (multicast) port
  bool reuse_port = false;     // SO_REUSEPORT (Linux): the kernel spreads datagrams
};

// data: the filled part of the buffer; from: the sender; truncated: the datagram was larger
// than the buffer. ec is set (and data empty) on errors.
using udp_recv_callback =
    std::function<void(std::error_code ec, std::span<std::byte> data, const socket_address& from, bool truncated)>;

class EDDY_API udp final : public handle {
 public:
  explicit udp(eddy::loop& owner);

  std::error_code bind(const socket_address& addr, udp_bind_options options = {});
  // Connected UDP: send() without an address goes to addr, and only its datagrams arrive.
  std::error_code connect(const socket_address& addr);
  std::error_code disconnect();

  std::error_code recv_start(alloc_callback alloc, udp_recv_callback on_recv);
  std::error_code recv_start(udp_recv_callback on_recv);
  // Receives one datagram into buf (borrowed until on_recv runs), then stops receiving:
  // on_recv runs exactly once, with the datagram, an error, or errc::operation_canceled when
  // the socket is closed first (before the close callback; not when the handle is
  // destroyed). recv_stop() ends it without calling on_recv (after close() it changes
  // nothing: the close ends it with operation_canceled). errc::invalid_argument for an
  // empty buf, otherwise the errors of recv_start().
  std::error_code recv_once(mutable_buffer buf, udp_recv_callback on_recv);
  void recv_stop() noexcept;
  [[nodiscard]] bool is_receiving() const noexcept;

  // Sends one datagram made of bufs to `to` (an unspecified address: the connected peer).
  std::error_code send(std::span<const const_buffer> bufs, const socket_address& to, completion_callback on_done);
  std::error_code send(const_buffer buf, const socket_address& to, completion_callback on_done);
  // Sends now or fails with would_block (also while earlier sends are queued).
  std::size_t try_send(std::span<const const_buffer> bufs, const socket_address& to, std::error_code& ec);
  [[nodiscard]] std::size_t send_queue_size() const noexcept;
  [[nodiscard]] std::size_t send_queue_count() const noexcept;

  std::error_code set_broadcast(bool enable);
  std::error_code set_ttl(int ttl);
  std::error_code set_multicast_ttl(int ttl);
  std::error_code set_multicast_loop(bool enable);
  // The interface multicast goes out on, by its local address (IPv6: by scope id).
  std::error_code set_multicast_interface(const socket_address& interface_addr);
  // interface_addr unspecified: let the system choose.
  std::error_code join_multicast(const socket_address& group, const socket_address& interface_addr = {});
  std::error_code leave_multicast(const socket_address& group, const socket_address& interface_addr = {});

  [[nodiscard]] socket_address local_address(std::error_code& ec) const;
  [[nodiscard]] socket_address local_address() const {
    std::error_code ec;
    return local_address(ec);
  }
  [[nodiscard]] socket_address peer_address(std::error_code& ec) const;

  // Adopts an existing UDP socket; eddy owns and closes it.
  std::error_code open(std::intptr_t native_socket);
};

}  // namespace eddy
