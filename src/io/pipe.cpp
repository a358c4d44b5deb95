#include "eddy/pipe.hpp"

#include "eddy/tcp.hpp"
#include "eddy/udp.hpp"

#include "io/stream_impl.hpp"

namespace eddy {
namespace {

detail::stream_impl* as_pipe(detail::handle_base* h) noexcept { return static_cast<detail::stream_impl*>(h); }

std::error_code ensure_socket(detail::stream_impl& s) {
  if (s.has_socket()) return {};
  contract::net::native_socket sock = contract::net::invalid_socket;
  if (auto ec = contract::net::open_local(sock)) return ec;
  if (auto ec = s.set_socket(sock, 0)) {
    contract::net::close(sock);
    return ec;
  }
  return {};
}

}  // namespace

pipe::pipe(eddy::loop& owner, bool ipc)
    : stream(owner, new detail::stream_impl(owner.impl(), handle_type::pipe), handle_type::pipe) {
  as_pipe(impl_)->io_.ipc = ipc;
}

std::error_code pipe::write2(std::span<const const_buffer> bufs, handle& send_handle, completion_callback on_done) {
  auto* s = as_pipe(impl_);
  if (s == nullptr || s->closing_) return make_error_code(errc::closed);
  if (!s->io_.ipc) return make_error_code(errc::not_supported);
  auto* h = detail::handle_base::of(send_handle);
  auto* io = (h == nullptr || h->closing_ ||
              (send_handle.type() != handle_type::tcp && send_handle.type() != handle_type::pipe &&
               send_handle.type() != handle_type::udp))
                 ? nullptr
                 : static_cast<detail::io_handle*>(h);
  if (io == nullptr || !io->has_socket()) return make_error_code(errc::bad_descriptor);
  if (bufs.empty() || bufs[0].empty()) return make_error_code(errc::invalid_argument);  // a handle needs a byte to ride on
  return s->write(bufs, std::move(on_done), io->io_.native);
}

std::size_t pipe::pending_count() const noexcept {
  auto* s = as_pipe(impl_);
  return s ? s->reader_.pending_handles.size() : 0;
}

namespace {
template <class Target>
std::error_code take_pending(detail::stream_impl* s, Target& out) {
  if (s == nullptr || s->closing_) return make_error_code(errc::closed);
  if (s->reader_.pending_handles.empty()) return make_error_code(errc::would_block);
  std::intptr_t native = s->reader_.pending_handles.pop();
  if (auto ec = out.open(native)) {
    contract::net::close(native);
    return ec;
  }
  return {};
}
}  // namespace

std::error_code pipe::accept_pending(tcp& out) { return take_pending(as_pipe(impl_), out); }
std::error_code pipe::accept_pending(pipe& out) { return take_pending(as_pipe(impl_), out); }
std::error_code pipe::accept_pending(udp& out) { return take_pending(as_pipe(impl_), out); }

std::error_code pipe::bind(std::string_view name) {
  auto* s = as_pipe(impl_);
  if (s == nullptr || s->closing_) return make_error_code(errc::closed);
  if (s->bound_name() != nullptr) return make_error_code(errc::already_started);
  detail::stream_listener* l = s->listener_part();
  if (l == nullptr) return make_error_code(errc::no_memory);
  if (auto ec = ensure_socket(*s)) return ec;
  if (auto ec = contract::net::bind_local(s->io_.native, name)) return ec;
  l->bound_name.assign(name);
  return {};
}

std::error_code pipe::listen(int backlog, completion_callback on_connection) {
  auto* s = as_pipe(impl_);
  if (s == nullptr || s->closing_) return make_error_code(errc::closed);
  if (!on_connection) return make_error_code(errc::invalid_argument);
  if (s->bound_name() == nullptr) return make_error_code(errc::invalid_argument);  // bind first
  if (s->listening()) return make_error_code(errc::already_started);
  if (auto ec = contract::net::listen(s->io_.native, backlog > 0 ? backlog : 511)) return ec;
  s->listener_->on_connection = std::move(on_connection);  // bind made the listener
  s->listener_->listening = true;
  s->set_active(true);
  s->start_accept();
  return {};
}

std::error_code pipe::accept(pipe& client) {
  auto* s = as_pipe(impl_);
  auto* c = as_pipe(client.impl_);
  if (s == nullptr || s->closing_ || c == nullptr || c->closing_) return make_error_code(errc::closed);
  return s->accept_into(*c);
}

std::error_code pipe::connect(std::string_view name, completion_callback on_connect) {
  auto* s = as_pipe(impl_);
  if (s == nullptr || s->closing_) return make_error_code(errc::closed);
  if (s->connected_ || s->connecting()) return make_error_code(errc::already_connected);
  detail::stream_connector* c = s->connector_part();
  if (c == nullptr) return make_error_code(errc::no_memory);
  if (auto ec = contract::net::local_target(name, c->addr)) return ec;
  if (auto ec = ensure_socket(*s)) return ec;
  s->start_connect(std::move(on_connect));
  return {};
}

std::error_code pipe::chmod(pipe_access access) {
  auto* s = as_pipe(impl_);
  if (s == nullptr || s->closing_) return make_error_code(errc::closed);
  const std::string* name = s->bound_name();
  if (name == nullptr) return make_error_code(errc::bad_descriptor);
  const auto bits = static_cast<int>(access);
  return contract::net::chmod_local(*name, (bits & 1) != 0, (bits & 2) != 0);
}

std::string pipe::local_name(std::error_code& ec) const {
  std::string out;
  auto* s = as_pipe(impl_);
  ec = s == nullptr || !s->has_socket() ? make_error_code(errc::bad_descriptor)
                                        : contract::net::local_name(s->io_.native, false, out);
  return out;
}

std::string pipe::peer_name(std::error_code& ec) const {
  std::string out;
  auto* s = as_pipe(impl_);
  ec = s == nullptr || !s->has_socket() ? make_error_code(errc::bad_descriptor)
                                        : contract::net::local_name(s->io_.native, true, out);
  return out;
}

std::error_code pipe::open(std::intptr_t native_handle) {
  auto* s = as_pipe(impl_);
  if (s == nullptr || s->closing_) return make_error_code(errc::closed);
  return s->adopt(native_handle);
}

}  // namespace eddy
