#include "eddy/tcp.hpp"

#include "io/stream_impl.hpp"

namespace eddy {
namespace detail {

void stream_impl::start_accept() noexcept {
  if (!listening() || listener_->op.in_flight || closing_) return;
  submit(listener_->op);
}

void stream_impl::on_accept_complete(operation* op) {
  stream_impl& s = owner_of(op);
  s.op_done();
  if (s.closing_ || !s.listening()) {
    if (!op->error && op->accepted != contract::net::invalid_socket) contract::net::close(op->accepted);
    return;
  }
  std::error_code ec = op->error;
  if (ec == errc::operation_canceled) return;
  if (ec == errc::too_many_open_files) {
    // Out of descriptors: drop what waits rather than retrying the same failure forever.
    // The user still sees the error; accepting resumes with the next connection.
    contract::net::shed_pending_connections(s.io_.native);
  }
  stream_listener& l = *s.listener_;  // op is the listener's own
  if (!ec) l.accepted.push(op->accepted);
  op->accepted = contract::net::invalid_socket;
  s.loop_.invoke(&s, [&] { l.on_connection(ec); });
  // Keep accepting while the user takes what arrives; connections left waiting stop the
  // accept loop (the kernel backlog holds the rest) until accept() is called again.
  if (l.accepted.empty()) s.start_accept();
}

void stream_impl::on_connect_complete(operation* op) {
  stream_impl& s = owner_of(op);
  s.op_done();
  std::error_code ec = s.closing_ ? make_error_code(errc::operation_canceled) : op->error;
  if (!ec) s.connected_ = true;
  if (!s.reader_.reading && s.writer_.head == nullptr) s.set_active(false);
  auto cb = std::move(s.connector_->on_connect);  // the operation is the connector's
  s.connector_->on_connect = nullptr;
  if (cb) s.loop_.invoke(&s, [&] { cb(ec); });
}

std::error_code stream_impl::start_listen(int backlog, completion_callback on_connection) {
  if (closing_) return make_error_code(errc::closed);
  if (!on_connection) return make_error_code(errc::invalid_argument);
  if (listening()) return make_error_code(errc::already_started);
  if (connected_) return make_error_code(errc::already_connected);
  stream_listener* l = listener_part();
  if (l == nullptr) return make_error_code(errc::no_memory);
  if (auto ec = contract::net::listen(io_.native, backlog > 0 ? backlog : 511)) return ec;
  l->on_connection = std::move(on_connection);
  l->listening = true;
  set_active(true);
  start_accept();
  return {};
}

std::error_code stream_impl::accept_into(stream_impl& c) {
  if (c.has_socket()) return make_error_code(errc::already_connected);
  if (!listener_ || listener_->accepted.empty()) return make_error_code(errc::would_block);
  contract::net::native_socket sock = listener_->accepted.pop();
  int family = 0;
  io_kind kind = io_kind::socket;
  std::error_code ec = contract::net::adopt(sock, family, kind);
  if (!ec) ec = c.set_socket(sock, family, kind);
  if (ec) {
    contract::net::close(sock);
  } else {
    c.connected_ = true;
  }
  start_accept();
  return ec;
}

void stream_impl::start_connect(completion_callback on_connect) {
  stream_connector& c = *connector_;  // made by connect(), which filled in the address
  c.op.addr = c.addr.data.data();
  c.op.addrlen = c.addr.len;
  c.on_connect = std::move(on_connect);
  set_active(true);
  submit(c.op);
}

std::error_code stream_impl::adopt(std::intptr_t native) {
  if (closing_) return make_error_code(errc::closed);
  if (has_socket()) return make_error_code(errc::already_connected);
  int family = 0;
  io_kind kind = io_kind::socket;
  if (auto ec = contract::net::adopt(native, family, kind)) return ec;
  if (auto ec = set_socket(native, family, kind)) return ec;
  if (kind != io_kind::socket) {
    connected_ = true;  // a pipe or tty descriptor is a stream from the start
    return {};
  }
  socket_address peer;
  std::string name;
  connected_ = !contract::net::peer_address(native, peer) || (peer.family() == address_family::unspecified &&
                                                    !contract::net::local_name(native, true, name));
  return {};
}

}  // namespace detail

namespace {

detail::stream_impl* as_tcp(detail::handle_base* h) noexcept { return static_cast<detail::stream_impl*>(h); }

// Creates the socket on first use, for addr's family.
std::error_code ensure_socket(detail::stream_impl& s, address_family family) {
  if (s.io_.native != contract::net::invalid_socket) return {};
  contract::net::native_socket sock = contract::net::invalid_socket;
  if (auto ec = contract::net::open_tcp(family, sock)) return ec;
  if (auto ec = s.set_socket(sock, contract::net::native_family(family))) {
    contract::net::close(sock);
    return ec;
  }
  return {};
}

}  // namespace

tcp::tcp(eddy::loop& owner) : stream(owner, new detail::stream_impl(owner.impl(), handle_type::tcp), handle_type::tcp) {}

std::error_code tcp::bind(const socket_address& addr, tcp_bind_options options) {
  auto* s = as_tcp(impl_);
  if (s == nullptr || s->closing_) return make_error_code(errc::closed);
  if (addr.family() == address_family::unspecified) return make_error_code(errc::invalid_argument);
  if (auto ec = ensure_socket(*s, addr.family())) return ec;
  return contract::net::bind(s->io_.native, addr, options.reuse_port, options.ipv6_only);
}

std::error_code tcp::listen(int backlog, completion_callback on_connection) {
  auto* s = as_tcp(impl_);
  if (s == nullptr || s->closing_) return make_error_code(errc::closed);
  if (auto ec = ensure_socket(*s, address_family::ipv4)) return ec;  // unbound: any port on IPv4
  return s->start_listen(backlog, std::move(on_connection));
}

std::error_code tcp::accept(tcp& client) {
  auto* s = as_tcp(impl_);
  auto* c = as_tcp(client.impl_);
  if (s == nullptr || s->closing_ || c == nullptr || c->closing_) return make_error_code(errc::closed);
  return s->accept_into(*c);
}

std::error_code tcp::connect(const socket_address& addr, completion_callback on_connect) {
  auto* s = as_tcp(impl_);
  if (s == nullptr || s->closing_) return make_error_code(errc::closed);
  if (s->connected_ || s->connecting()) return make_error_code(errc::already_connected);
  if (s->listening()) return make_error_code(errc::invalid_argument);
  if (addr.family() == address_family::unspecified) return make_error_code(errc::invalid_argument);
  detail::stream_connector* c = s->connector_part();
  if (c == nullptr) return make_error_code(errc::no_memory);
  if (auto ec = ensure_socket(*s, addr.family())) return ec;
  contract::net::to_native(addr, c->addr);
  s->start_connect(std::move(on_connect));
  return {};
}

std::error_code tcp::set_nodelay(bool enable) {
  auto* s = as_tcp(impl_);
  if (s == nullptr || s->io_.native == contract::net::invalid_socket) return make_error_code(errc::bad_descriptor);
  return contract::net::set_nodelay(s->io_.native, enable);
}

std::error_code tcp::set_keepalive(bool enable, std::chrono::seconds delay) {
  auto* s = as_tcp(impl_);
  if (s == nullptr || s->io_.native == contract::net::invalid_socket) return make_error_code(errc::bad_descriptor);
  return contract::net::set_keepalive(s->io_.native, enable, static_cast<int>(delay.count()));
}

void tcp::close_reset(std::function<void()> on_close) {
  if (auto* s = as_tcp(impl_)) s->reset_on_close_ = true;
  close(std::move(on_close));
}

socket_address tcp::local_address(std::error_code& ec) const {
  socket_address out;
  auto* s = as_tcp(impl_);
  if (s == nullptr || s->io_.native == contract::net::invalid_socket) {
    ec = make_error_code(errc::bad_descriptor);
    return out;
  }
  ec = contract::net::local_address(s->io_.native, out);
  return out;
}

socket_address tcp::peer_address(std::error_code& ec) const {
  socket_address out;
  auto* s = as_tcp(impl_);
  if (s == nullptr || s->io_.native == contract::net::invalid_socket) {
    ec = make_error_code(errc::bad_descriptor);
    return out;
  }
  ec = contract::net::peer_address(s->io_.native, out);
  return out;
}

std::error_code tcp::open(std::intptr_t native_socket) {
  auto* s = as_tcp(impl_);
  return s ? s->adopt(native_socket) : make_error_code(errc::closed);
}

}  // namespace eddy
