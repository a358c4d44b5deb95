// The ports compiled for this OS, as one std::variant the core dispatches on with a switch
// (std::visit): no virtual call per operation. This is the only file outside a port's own
// folder that knows which OS it is built for.
#pragma once

#include <variant>

#include "platform/contract/port.hpp"

#if defined(_WIN32)
#include "platform/iocp/iocp_port.hpp"
#elif defined(__linux__)
#include "platform/epoll/epoll_port.hpp"
#include "platform/uring/uring_port.hpp"
#else
#error "eddy has no port for this OS yet"
#endif

namespace eddy::detail {

#if defined(_WIN32)
using port_variant = std::variant<std::monostate, platform::iocp::port>;
inline constexpr backend_kind default_backends[] = {backend_kind::iocp};
#else
using port_variant = std::variant<std::monostate, platform::uring::port, platform::epoll::port>;
// Tried in this order by backend_kind::automatic.
inline constexpr backend_kind default_backends[] = {backend_kind::io_uring, backend_kind::epoll};
#endif

namespace ports_check {
template <class V>
struct all_ports;
template <class... P>
struct all_ports<std::variant<std::monostate, P...>> {
  static constexpr bool value = (backend_port<P> && ...);
};
static_assert(all_ports<port_variant>::value, "a port does not implement the backend contract");
}  // namespace ports_check

// Builds the port for kind in v and initialises it. not compiled / refused by the machine:
// errc::backend_unavailable (with v left empty).
template <std::size_t I = 1>
std::error_code emplace_port(port_variant& v, backend_kind kind) {
  if constexpr (I < std::variant_size_v<port_variant>) {
    using P = std::variant_alternative_t<I, port_variant>;
    if (P::kind == kind) {
      auto& p = v.emplace<I>();
      if (auto ec = p.init()) {
        v.emplace<0>();
        return ec;
      }
      return {};
    }
    return emplace_port<I + 1>(v, kind);
  } else {
    return make_error_code(errc::backend_unavailable);
  }
}

template <std::size_t I = 1>
constexpr bool port_compiled(backend_kind kind) {
  if constexpr (I < std::variant_size_v<port_variant>) {
    return std::variant_alternative_t<I, port_variant>::kind == kind || port_compiled<I + 1>(kind);
  } else {
    return false;
  }
}

}  // namespace eddy::detail
