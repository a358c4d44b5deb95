// The one core unit that sees the ports' types (and so their OS headers): it holds the
// ports' variant (platform/ports.hpp) inside loop_port's storage and dispatches the backend
// contract to the open port with with_port(). tools/check-deps.sh checks that no other src/
// unit includes a port's or an OS's headers.
#include "loop/port.hpp"

#include <memory>
#include <new>
#include <type_traits>
#include <variant>

#include "platform/ports.hpp"

namespace eddy::detail {

namespace {

static_assert(sizeof(port_variant) <= loop_port::storage_size, "loop_port::storage_size is too small for the ports");
static_assert(alignof(port_variant) <= alignof(std::max_align_t), "a port is over-aligned for loop_port's storage");

template <class T>
inline constexpr bool is_port_v = !std::is_same_v<std::decay_t<T>, std::monostate>;

// Runs f on the open port, or returns none when there is none (f's result type must be
// that of none; void when called without none).
template <class V, class F>
void with_port(V& v, F&& f) {
  std::visit(
      [&](auto& p) {
        if constexpr (is_port_v<decltype(p)>) f(p);
      },
      v);
}
template <class V, class R, class F>
R with_port(V& v, R none, F&& f) {
  return std::visit(
      [&](auto& p) -> R {
        if constexpr (is_port_v<decltype(p)>) {
          return f(p);
        } else {
          return none;
        }
      },
      v);
}

// The variant that loop_port's storage holds (constructed by loop_port's constructor).
port_variant& ports(std::byte* storage) noexcept { return *std::launder(reinterpret_cast<port_variant*>(storage)); }
const port_variant& ports(const std::byte* storage) noexcept {
  return *std::launder(reinterpret_cast<const port_variant*>(storage));
}

}  // namespace

loop_port::loop_port() noexcept { ::new (static_cast<void*>(storage_)) port_variant(); }

loop_port::~loop_port() { std::destroy_at(&ports(storage_)); }

std::error_code loop_port::open(backend_kind kind) {
  if (auto ec = emplace_port(ports(storage_), kind)) return ec;
  open_ = true;
  return {};
}

void loop_port::close() noexcept {
  if (!open_) return;
  with_port(ports(storage_), [](auto& p) { p.close(); });
  open_ = false;
}

void loop_port::submit(operation& op) noexcept {
  with_port(ports(storage_), [&](auto& p) { p.submit(op); });
}

bool loop_port::cancel(operation& op) noexcept {
  return with_port(ports(storage_), false, [&](auto& p) { return p.cancel(op); });
}

bool loop_port::supports(op_kind kind) const noexcept {
  return with_port(ports(storage_), false, [&](const auto& p) { return p.supports(kind); });
}

std::error_code loop_port::attach(io_object& io) {
  return with_port(ports(storage_), make_error_code(errc::closed), [&](auto& p) { return p.attach(io); });
}

void loop_port::detach(io_object& io) noexcept {
  with_port(ports(storage_), [&](auto& p) { p.detach(io); });
}

poll_result loop_port::poll(std::int64_t timeout_ns) {
  return with_port(ports(storage_), poll_result{}, [&](auto& p) { return p.poll(timeout_ns); });
}

void loop_port::wake() noexcept {
  with_port(ports(storage_), [](auto& p) { p.wake(); });
}

bool loop_port::compiled(backend_kind kind) noexcept { return port_compiled(kind); }

std::span<const backend_kind> loop_port::defaults() noexcept { return default_backends; }

}  // namespace eddy::detail
