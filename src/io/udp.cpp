#include "eddy/udp.hpp"

#include <memory>
#include <vector>

#include "io/io_handle.hpp"

namespace eddy {
namespace detail {
namespace {

constexpr std::size_t own_buffer_size = 64 * 1024;
constexpr std::size_t max_iov = 64;

// One queued datagram. Recycled through a free list.
struct datagram {
  std::vector<io_vec> bufs;
  std::size_t bytes = 0;
  contract::net::native_address to;
  bool connected = false;  // no address: the connected peer
  completion_callback cb;
  datagram* next = nullptr;
};

}  // namespace

class udp_impl final : public io_handle {
 public:
  explicit udp_impl(loop_impl& loop) noexcept : io_handle(loop, handle_type::udp) {
    prepare(recv_op_, op_kind::recvfrom, &on_recv_complete);
    recv_op_.acquire = &acquire_buffer;
    recv_op_.from = from_.data.data();
    prepare(send_op_, op_kind::sendto, &on_send_complete);
  }

  ~udp_impl() override {
    while (datagram* d = free_) {
      free_ = d->next;
      delete d;
    }
  }

  void on_close() noexcept override {
    recv_closed_ = receiving_ && recv_once_;
    receiving_ = false;
    recv_once_ = false;
    cancel(recv_op_);
    cancel(send_op_);
  }

  void on_release() noexcept override {
    fail_sends(make_error_code(errc::operation_canceled));
    // A recv_once is a request too (unless the handle is gone: then no callback of it runs).
    if (recv_closed_ && owner_ != nullptr) {
      recv_closed_ = false;
      notify(make_error_code(errc::operation_canceled), {}, socket_address{}, false);
    }
    close_socket();
  }

  std::error_code ensure_socket(address_family family) {
    if (has_socket()) return {};
    contract::net::native_socket s = contract::net::invalid_socket;
    if (auto ec = contract::net::open_udp(family, s)) return ec;
    if (auto ec = set_socket(s, contract::net::native_family(family))) {
      contract::net::close(s);
      return ec;
    }
    return {};
  }

  std::error_code recv_start(alloc_callback alloc, udp_recv_callback cb, mutable_buffer once = {}) {
    if (closing_) return make_error_code(errc::closed);
    if (receiving_) return make_error_code(errc::already_started);
    if (!has_socket()) {
      // libuv binds an unbound socket to the IPv4 wildcard before receiving.
      if (auto ec = ensure_socket(address_family::ipv4)) return ec;
      if (auto ec = contract::net::bind_udp(io_.native, socket_address::any_v4(0), false, false, false)) return ec;
    }
    alloc_ = std::move(alloc);
    on_recv_ = std::move(cb);
    once_buf_ = once;
    recv_once_ = !once.empty();
    receiving_ = true;
    update_active();
    start_recv();
    return {};
  }

  std::error_code recv_once(mutable_buffer buf, udp_recv_callback cb) {
    if (buf.empty()) return make_error_code(errc::invalid_argument);
    return recv_start(nullptr, std::move(cb), buf);
  }

  void recv_stop() noexcept {
    if (!receiving_) return;
    receiving_ = false;
    recv_once_ = false;
    cancel(recv_op_);
    update_active();
  }

  void start_recv() noexcept {
    if (!receiving_ || recv_op_.in_flight || closing_) return;
    buf_ = {nullptr, 0};
    submit(recv_op_);
  }

  static io_vec acquire_buffer(operation* op) {
    auto& u = owner_of<udp_impl>(op);
    if (u.buf_.len != 0) return u.buf_;
    mutable_buffer b;
    if (u.recv_once_) {
      b = u.once_buf_;
    } else if (u.alloc_) {
      u.loop_.invoke(&u, [&] { b = u.alloc_(own_buffer_size); });
    } else {
      if (!u.own_) u.own_ = std::make_unique_for_overwrite<std::byte[]>(own_buffer_size);
      b = mutable_buffer(u.own_.get(), own_buffer_size);
    }
    u.buf_ = {b.data(), b.size()};
    return u.buf_;
  }

  static void on_recv_complete(operation* op) {
    auto& u = owner_of<udp_impl>(op);
    u.op_done();
    io_vec buf = u.buf_;
    u.buf_ = {nullptr, 0};
    if (u.closing_) return;
    if (!u.receiving_ || op->error == errc::operation_canceled) {
      u.start_recv();  // recv_stop() cancelled it; a receive may have started since
      return;
    }
    std::error_code ec = op->error;
    socket_address from;
    std::span<std::byte> data;
    if (!ec) {
      from = contract::net::from_native(u.from_.data.data(), op->fromlen);
      data = std::span<std::byte>(static_cast<std::byte*>(buf.base), static_cast<std::size_t>(op->result));
    }
    const bool truncated = (op->flags & datagram_truncated) != 0;
    if (u.recv_once_) {
      u.receiving_ = false;
      u.recv_once_ = false;
      u.update_active();
    }
    u.notify(ec, data, from, truncated);
    u.start_recv();  // errors on datagram sockets (e.g. ICMP port unreachable) do not stop receiving
  }

  // The callback may start the next receive, which replaces on_recv_: it runs from a local
  // so that it is not destroyed while it runs.
  void notify(std::error_code ec, std::span<std::byte> data, const socket_address& from, bool truncated) {
    udp_recv_callback cb = std::move(on_recv_);
    on_recv_ = nullptr;
    loop_.invoke(this, [&] { cb(ec, data, from, truncated); });
    if (!on_recv_) on_recv_ = std::move(cb);
  }

  std::error_code send(std::span<const const_buffer> bufs, const socket_address& to, completion_callback cb) {
    if (closing_) return make_error_code(errc::closed);
    if (to.family() == address_family::unspecified && !connected_) return make_error_code(errc::not_connected);
    if (auto ec = ensure_socket(to.family() == address_family::unspecified ? address_family::ipv4 : to.family())) {
      return ec;
    }
    datagram* d = free_ != nullptr ? free_ : new datagram;
    if (d == free_) free_ = d->next;
    d->next = nullptr;
    d->bufs.clear();
    d->bytes = 0;
    for (const auto& b : bufs) {
      if (d->bufs.size() == max_iov) break;
      d->bufs.push_back({const_cast<std::byte*>(b.data()), b.size()});
      d->bytes += b.size();
    }
    d->connected = to.family() == address_family::unspecified;
    if (!d->connected) contract::net::to_native(to, d->to);
    d->cb = std::move(cb);
    if (tail_ != nullptr) {
      tail_->next = d;
    } else {
      head_ = d;
    }
    tail_ = d;
    queue_bytes_ += d->bytes;
    ++queue_count_;
    update_active();
    start_send();
    return {};
  }

  void start_send() noexcept {
    if (send_op_.in_flight || closing_ || head_ == nullptr) return;
    datagram* d = head_;
    send_op_.bufs = d->bufs.data();
    send_op_.nbufs = static_cast<std::uint32_t>(d->bufs.size());
    send_op_.addr = d->connected ? nullptr : d->to.data.data();
    send_op_.addrlen = d->connected ? 0 : d->to.len;
    submit(send_op_);
  }

  datagram* pop_front() noexcept {
    datagram* d = head_;
    head_ = d->next;
    if (head_ == nullptr) tail_ = nullptr;
    queue_bytes_ -= d->bytes;
    --queue_count_;
    return d;
  }

  void recycle(datagram* d) noexcept {
    d->cb = nullptr;
    d->next = free_;
    free_ = d;
  }

  static void on_send_complete(operation* op) {
    auto& u = owner_of<udp_impl>(op);
    u.op_done();
    datagram* d = u.pop_front();
    auto cb = std::move(d->cb);
    u.recycle(d);
    // A datagram either goes out whole or fails; a short count cannot happen for UDP.
    std::error_code ec = op->error;
    if (cb) u.loop_.invoke(&u, [&] { cb(ec); });
    u.update_active();
    u.start_send();
  }

  void fail_sends(std::error_code ec) noexcept {
    while (head_ != nullptr) {
      datagram* d = pop_front();
      auto cb = std::move(d->cb);
      recycle(d);
      if (cb) loop_.invoke(this, [&] { cb(ec); });
    }
  }

  void update_active() noexcept { set_active(!closing_ && (receiving_ || head_ != nullptr)); }

  bool receiving_ = false;
  bool recv_once_ = false;    // a recv_once(): one datagram, then receiving stops
  bool recv_closed_ = false;  // close() ended a recv_once: its callback runs at release
  mutable_buffer once_buf_;   // recv_once()'s buffer
  bool connected_ = false;
  alloc_callback alloc_;
  udp_recv_callback on_recv_;
  operation recv_op_;
  io_vec buf_{nullptr, 0};
  contract::net::native_address from_;
  std::unique_ptr<std::byte[]> own_;

  operation send_op_;
  datagram* head_ = nullptr;
  datagram* tail_ = nullptr;
  datagram* free_ = nullptr;
  std::size_t queue_bytes_ = 0;
  std::size_t queue_count_ = 0;
};

}  // namespace detail

namespace {
detail::udp_impl* as_udp(detail::handle_base* h) noexcept { return static_cast<detail::udp_impl*>(h); }
std::error_code closed() { return make_error_code(errc::closed); }
std::error_code no_socket() { return make_error_code(errc::bad_descriptor); }
}  // namespace

udp::udp(eddy::loop& owner) : handle(owner, new detail::udp_impl(owner.impl()), handle_type::udp) {}

std::error_code udp::bind(const socket_address& addr, udp_bind_options o) {
  auto* u = as_udp(impl_);
  if (u == nullptr || u->closing_) return closed();
  if (addr.family() == address_family::unspecified) return make_error_code(errc::invalid_argument);
  if (auto ec = u->ensure_socket(addr.family())) return ec;
  return contract::net::bind_udp(u->io_.native, addr, o.reuse_address, o.reuse_port, o.ipv6_only);
}

std::error_code udp::connect(const socket_address& addr) {
  auto* u = as_udp(impl_);
  if (u == nullptr || u->closing_) return closed();
  if (addr.family() == address_family::unspecified) return make_error_code(errc::invalid_argument);
  if (u->connected_) return make_error_code(errc::already_connected);
  if (auto ec = u->ensure_socket(addr.family())) return ec;
  if (auto ec = contract::net::connect_udp(u->io_.native, addr)) return ec;
  u->connected_ = true;
  return {};
}

std::error_code udp::disconnect() {
  auto* u = as_udp(impl_);
  if (u == nullptr || u->closing_) return closed();
  if (!u->connected_) return make_error_code(errc::not_connected);
  if (auto ec = contract::net::disconnect_udp(u->io_.native)) return ec;
  u->connected_ = false;
  return {};
}

std::error_code udp::recv_start(alloc_callback alloc, udp_recv_callback on_recv) {
  auto* u = as_udp(impl_);
  return u ? u->recv_start(std::move(alloc), std::move(on_recv)) : closed();
}
std::error_code udp::recv_start(udp_recv_callback on_recv) {
  auto* u = as_udp(impl_);
  return u ? u->recv_start(nullptr, std::move(on_recv)) : closed();
}
std::error_code udp::recv_once(mutable_buffer buf, udp_recv_callback on_recv) {
  auto* u = as_udp(impl_);
  return u ? u->recv_once(buf, std::move(on_recv)) : closed();
}
void udp::recv_stop() noexcept {
  if (auto* u = as_udp(impl_)) u->recv_stop();
}
bool udp::is_receiving() const noexcept {
  auto* u = as_udp(impl_);
  return u != nullptr && u->receiving_;
}

std::error_code udp::send(std::span<const const_buffer> bufs, const socket_address& to, completion_callback on_done) {
  auto* u = as_udp(impl_);
  return u ? u->send(bufs, to, std::move(on_done)) : closed();
}
std::error_code udp::send(const_buffer buf, const socket_address& to, completion_callback on_done) {
  return send(std::span<const const_buffer>(&buf, 1), to, std::move(on_done));
}

std::size_t udp::try_send(std::span<const const_buffer> bufs, const socket_address& to, std::error_code& ec) {
  auto* u = as_udp(impl_);
  if (u == nullptr || u->closing_) {
    ec = closed();
    return 0;
  }
  if (u->head_ != nullptr) {
    ec = make_error_code(errc::would_block);
    return 0;
  }
  if (to.family() == address_family::unspecified && !u->connected_) {
    ec = make_error_code(errc::not_connected);
    return 0;
  }
  if ((ec = u->ensure_socket(to.family() == address_family::unspecified ? address_family::ipv4 : to.family()))) {
    return 0;
  }
  detail::io_vec vecs[64];
  std::size_t n = 0;
  for (const auto& b : bufs) {
    if (n == 64) break;
    vecs[n++] = {const_cast<std::byte*>(b.data()), b.size()};
  }
  contract::net::native_address na;
  if (to.family() != address_family::unspecified) contract::net::to_native(to, na);
  return contract::net::try_sendto(u->io_.native, vecs, n, to.family() != address_family::unspecified ? &na : nullptr,
                                 ec);
}

std::size_t udp::send_queue_size() const noexcept {
  auto* u = as_udp(impl_);
  return u ? u->queue_bytes_ : 0;
}
std::size_t udp::send_queue_count() const noexcept {
  auto* u = as_udp(impl_);
  return u ? u->queue_count_ : 0;
}

namespace {
template <class Fn>
std::error_code with_socket(detail::handle_base* h, Fn&& fn) {
  auto* u = as_udp(h);
  if (u == nullptr || u->closing_) return closed();
  if (!u->has_socket()) return no_socket();
  return fn(*u);
}
}  // namespace

std::error_code udp::set_broadcast(bool enable) {
  return with_socket(impl_, [&](detail::udp_impl& u) { return contract::net::set_broadcast(u.io_.native, enable); });
}
std::error_code udp::set_ttl(int ttl) {
  return with_socket(impl_, [&](detail::udp_impl& u) { return contract::net::set_ttl(u.io_.native, u.io_.family, ttl); });
}
std::error_code udp::set_multicast_ttl(int ttl) {
  return with_socket(impl_,
                     [&](detail::udp_impl& u) { return contract::net::set_multicast_ttl(u.io_.native, u.io_.family, ttl); });
}
std::error_code udp::set_multicast_loop(bool enable) {
  return with_socket(
      impl_, [&](detail::udp_impl& u) { return contract::net::set_multicast_loop(u.io_.native, u.io_.family, enable); });
}
std::error_code udp::set_multicast_interface(const socket_address& interface_addr) {
  return with_socket(impl_, [&](detail::udp_impl& u) {
    return contract::net::set_multicast_interface(u.io_.native, u.io_.family, interface_addr);
  });
}
std::error_code udp::join_multicast(const socket_address& group, const socket_address& interface_addr) {
  return with_socket(
      impl_, [&](detail::udp_impl& u) { return contract::net::join_multicast(u.io_.native, group, interface_addr, true); });
}
std::error_code udp::leave_multicast(const socket_address& group, const socket_address& interface_addr) {
  return with_socket(impl_, [&](detail::udp_impl& u) {
    return contract::net::join_multicast(u.io_.native, group, interface_addr, false);
  });
}

socket_address udp::local_address(std::error_code& ec) const {
  socket_address out;
  ec = with_socket(impl_, [&](detail::udp_impl& u) { return contract::net::local_address(u.io_.native, out); });
  return out;
}
socket_address udp::peer_address(std::error_code& ec) const {
  socket_address out;
  ec = with_socket(impl_, [&](detail::udp_impl& u) { return contract::net::peer_address(u.io_.native, out); });
  return out;
}

std::error_code udp::open(std::intptr_t native_socket) {
  auto* u = as_udp(impl_);
  if (u == nullptr || u->closing_) return closed();
  if (u->has_socket()) return make_error_code(errc::already_connected);
  int family = 0;
  detail::io_kind kind = detail::io_kind::socket;
  if (auto ec = contract::net::adopt(native_socket, family, kind)) return ec;
  if (kind != detail::io_kind::socket) return make_error_code(errc::bad_descriptor);
  if (auto ec = u->set_socket(native_socket, family)) return ec;
  socket_address peer;
  u->connected_ = !contract::net::peer_address(native_socket, peer);
  return {};
}

}  // namespace eddy
