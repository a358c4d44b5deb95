// eddy::co UDP: co::receive (one datagram) and co::send.
// Ownership: the socket and the buffers are borrowed. A receive registers the awaiter's
// address and is stopped when the awaiter goes (a datagram arriving after that is not kept);
// a send completes through a cell (detail/cell.hpp), its bytes borrowed until it completes.
// Threads: loop thread only; the task resumes on the loop thread.
#pragma once

#include <cstddef>
#include <span>
#include <system_error>
#include <utility>

#include "eddy/address.hpp"
#include "eddy/co/core.hpp"
#include "eddy/co/detail/cell.hpp"
#include "eddy/co/detail/own_op.hpp"
#include "eddy/stream.hpp"
#include "eddy/udp.hpp"

namespace eddy {
namespace co {

// One received datagram: its size in the buffer, its sender, and whether it was larger than
// the buffer (cut short).
struct datagram {
  std::size_t size = 0;
  socket_address from;
  bool truncated = false;
};

namespace detail {
// Receives one datagram into a borrowed buffer (udp::recv_once); as read_op, the callback
// holds the awaiter's address and an awaiter that goes first stops the receive.
struct recv_kind {
  using handle = udp;
  using value = datagram;
  template <class Op>
  static std::error_code start(udp& u, mutable_buffer buf, Op* op) {
    return u.recv_once(buf, [op](std::error_code e, std::span<std::byte> data, const socket_address& from, bool cut) {
      op->out.res.error = e;
      op->out.res.value = {data.size(), from, cut};
      op->finish();
    });
  }
  static void stop(udp& u) { u.recv_stop(); }
};
template <bool Throw>
using recv_op = oneshot_op<recv_kind, Throw>;
}  // namespace detail

// Receives one datagram into buf (borrowed until it arrives, or until the socket closes if
// the awaiter goes first; a datagram arriving after that is not kept). Binds an unbound
// socket to the IPv4 wildcard first, as udp::recv_start. Closing the socket while a task
// waits here resumes it with errc::operation_canceled.
inline detail::recv_op<true> receive(udp& u, mutable_buffer buf) { return {u, buf}; }
inline detail::recv_op<false> receive(udp& u, mutable_buffer buf, nothrow_t) { return {u, buf}; }

// Sends one datagram made of bufs (the span is copied; the bytes are borrowed until the
// send completes) to `to` (unspecified: the connected peer).
template <class... Form>
requires detail::form<Form...>
auto send(udp& u, std::span<const const_buffer> bufs, const socket_address& to, Form...) {
  return detail::void_op<detail::throws<Form...>>(
      [&u, bufs, to](completion_callback cb) { return u.send(bufs, to, std::move(cb)); });
}
template <class... Form>
requires detail::form<Form...>
auto send(udp& u, const_buffer buf, const socket_address& to, Form...) {
  return detail::void_op<detail::throws<Form...>>(
      [&u, buf, to](completion_callback cb) { return u.send(buf, to, std::move(cb)); });
}

}  // namespace co
}  // namespace eddy
