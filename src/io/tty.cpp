#include "eddy/tty.hpp"

#include "platform/contract/tty.hpp"
#include "io/stream_impl.hpp"

namespace eddy {
namespace {
detail::stream_impl* as_tty(detail::handle_base* h) noexcept { return static_cast<detail::stream_impl*>(h); }
}  // namespace

handle_kind guess_handle(int fd) noexcept { return contract::tty::guess(fd); }

tty::tty(eddy::loop& owner) : stream(owner, new detail::stream_impl(owner.impl(), handle_type::tty), handle_type::tty) {}

std::error_code tty::open(int fd) {
  auto* s = as_tty(impl_);
  if (s == nullptr || s->closing_) return make_error_code(errc::closed);
  if (s->has_socket()) return make_error_code(errc::already_connected);
  std::intptr_t native = -1;
  detail::io_kind kind = detail::io_kind::stream;
  if (auto ec = contract::tty::open(fd, native, kind)) return ec;
  if (auto ec = s->set_socket(native, 0, kind)) {
    contract::tty::close(native);
    return ec;
  }
  s->connected_ = true;
  return {};
}

std::error_code tty::set_mode(tty_mode mode) {
  auto* s = as_tty(impl_);
  if (s == nullptr || !s->has_socket()) return make_error_code(errc::bad_descriptor);
  return contract::tty::set_mode(s->io_.native, mode);
}

std::error_code tty::get_winsize(int& width, int& height) const {
  auto* s = as_tty(impl_);
  if (s == nullptr || !s->has_socket()) return make_error_code(errc::bad_descriptor);
  return contract::tty::winsize(s->io_.native, width, height);
}

std::error_code tty::reset_mode() noexcept { return contract::tty::reset_mode(); }

}  // namespace eddy
