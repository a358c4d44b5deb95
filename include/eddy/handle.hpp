// eddy::handle: the base of every long-lived object attached to a loop (timers, idle,
// prepare and check handles, async, and later sockets and pipes).
//
// Lifetime rules (libuv's, made safe for C++):
// - A handle is open from construction until close(). close() may be called from any
//   callback, the handle's own included. The close callback runs in the loop's close phase.
// - The handle object may be destroyed at any time on the loop thread, even inside its own
//   callback: destroying an open handle closes it without a close callback. The runtime keeps
//   its own state until the close phase, so none of the handle's own callbacks (read, listen,
//   timer, close, ...) runs after it is destroyed. Requests made on it before (a stream's write,
//   shutdown or connect) are different: like libuv's requests they always complete, with
//   errc::operation_canceled, so that what they own (their buffers) can be released.
// - Only the loop thread may use a handle (async::send is the exception, see async.hpp).
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "eddy/export.hpp"

namespace eddy {

class loop;
namespace detail {
class handle_base;
class loop_impl;
}

enum class handle_type { timer, idle, prepare, check, async, tcp, udp, pipe, tty, signal, process, fs_poll, internal, resolver, fs_event };
// "timer", "idle", ..., "fs_event": the names dump_handles and the slow-callback reports use.
EDDY_API std::string_view to_string(handle_type type) noexcept;

class EDDY_API handle {
 public:
  handle(const handle&) = delete;
  handle& operator=(const handle&) = delete;
  virtual ~handle();

  // A referenced active handle keeps the loop alive; an unreferenced one does not.
  // Handles start referenced. Both calls are idempotent.
  void ref() noexcept;
  void unref() noexcept;
  [[nodiscard]] bool has_ref() const noexcept;
  // Active means started (a running timer, a started idle handle, an open async handle).
  [[nodiscard]] bool is_active() const noexcept;
  // True from close() on (and after the handle is gone).
  [[nodiscard]] bool is_closing() const noexcept;

  // Stops the handle and schedules on_close for the close phase of this iteration.
  // A second close() is ignored.
  void close(std::function<void()> on_close = {});

  // A label for reports (slow callbacks, traces, metrics dumps); empty by default, when
  // reports show the type and address instead. The runtime keeps its own copy. Ignored once
  // the handle is closed, when name() is empty.
  void set_name(std::string name);
  [[nodiscard]] std::string_view name() const noexcept;

  [[nodiscard]] eddy::loop& get_loop() const noexcept { return *loop_; }
  [[nodiscard]] handle_type type() const noexcept { return type_; }

 protected:
  handle(eddy::loop& owner, detail::handle_base* impl, handle_type type) noexcept;
  // The implementation, or nullptr once the runtime has released it (after close).
  detail::handle_base* impl_;

 private:
  friend class detail::handle_base;
  friend class detail::loop_impl;
  eddy::loop* loop_;
  handle_type type_;
};

}  // namespace eddy
