// The loop's port, seen from the core: one object that holds whichever port (io_uring, epoll,
// iocp) the loop opened and forwards the backend contract (platform/backend.hpp) to it.
//
// The ports' types (and the OS headers they bring: <liburing.h>, <sys/epoll.h>, <windows.h>)
// are visible only in src/loop/port.cpp, which defines every member here; the storage below
// holds the ports' std::variant as raw bytes (its size and alignment are checked there at
// compile time). Each call is one direct call into port.cpp, whose with_port() switches on
// the variant (std::visit) as the loop did inline before: no virtual call, no allocation.
//
// Threads: everything on the loop thread except wake(), which any thread may call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>

#include "eddy/loop.hpp"
#include "platform/backend.hpp"

namespace eddy::detail {

class loop_port {
 public:
  loop_port() noexcept;
  loop_port(const loop_port&) = delete;
  loop_port& operator=(const loop_port&) = delete;
  ~loop_port();  // destroys the port object (close() releases its OS objects first)

  // Builds and initialises the port for kind. Not compiled in, or refused by the machine:
  // errc::backend_unavailable or the port's init() error, and the object stays empty.
  std::error_code open(backend_kind kind);
  // Releases the port's OS objects (idempotent; nothing happens when none is open).
  void close() noexcept;
  [[nodiscard]] bool is_open() const noexcept { return open_; }

  void submit(operation& op) noexcept;
  bool cancel(operation& op) noexcept;
  [[nodiscard]] bool supports(op_kind kind) const noexcept;
  std::error_code attach(io_object& io);  // errc::closed when no port is open
  void detach(io_object& io) noexcept;
  poll_result poll(std::int64_t timeout_ns);
  void wake() noexcept;

  // Whether a port for kind is compiled into this build.
  static bool compiled(backend_kind kind) noexcept;
  // The ports backend_kind::automatic tries, in order.
  static std::span<const backend_kind> defaults() noexcept;

  // Size of the storage; port.cpp checks that every port fits.
  static constexpr std::size_t storage_size = 512;

 private:
  alignas(alignof(std::max_align_t)) std::byte storage_[storage_size];
  bool open_ = false;  // init() succeeded and close() has not run
};

}  // namespace eddy::detail
