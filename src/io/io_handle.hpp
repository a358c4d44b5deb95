// The part every handle with a kernel object shares (tcp, udp, and pipes to come): the
// io object registered with the port, the count of operations in flight, and the close
// rule that the close phase waits for them.
#pragma once

#include "loop/loop_impl.hpp"
#include "platform/contract/net.hpp"

namespace eddy::detail {

class io_handle : public handle_base {
 public:
  io_handle(loop_impl& loop, handle_type type) noexcept : handle_base(loop, type) {}

  [[nodiscard]] bool busy() const noexcept override { return ops_in_flight_ != 0; }

  // Readies op to be issued by this handle.
  void prepare(operation& op, op_kind kind, void (*complete)(operation*)) noexcept {
    op.owner = this;
    op.io = &io_;
    op.kind = kind;
    op.complete = complete;
  }

  // Starts using a socket (created, accepted or adopted): registers it with the port.
  std::error_code set_socket(contract::net::native_socket s, int family, io_kind kind = io_kind::socket) {
    io_.native = s;
    io_.family = family;
    io_.kind = kind;
    if (auto ec = loop_.port_attach(io_)) {
      io_.native = contract::net::invalid_socket;
      return ec;
    }
    attached_ = true;
    return {};
  }
  [[nodiscard]] bool has_socket() const noexcept { return io_.native != contract::net::invalid_socket; }

  void submit(operation& op) noexcept {
    ++ops_in_flight_;
    loop_.submit(op);
  }
  // Every completion function calls this first: it keeps the close phase waiting for the
  // last operation.
  void op_done() noexcept {
    --ops_in_flight_;
    if (closing_ && ops_in_flight_ == 0) queue_for_close();
  }
  void cancel(operation& op) noexcept {
    if (op.in_flight) loop_.cancel(op);
  }

  // Unregisters and closes the socket (close phase: nothing is in flight any more).
  void close_socket() noexcept {
    if (!has_socket()) return;
    if (attached_) loop_.port_detach(io_);
    attached_ = false;
    if (reset_on_close_) (void)contract::net::set_reset_on_close(io_.native);
    contract::net::close(io_.native);
    io_.native = contract::net::invalid_socket;
  }

  template <class T>
  static T& owner_of(operation* op) noexcept {
    return *static_cast<T*>(static_cast<io_handle*>(op->owner));
  }

  io_object io_;
  bool attached_ = false;
  bool reset_on_close_ = false;
  std::uint32_t ops_in_flight_ = 0;
};

}  // namespace eddy::detail
