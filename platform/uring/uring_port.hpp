// The io_uring port (liburing): one ring per loop. Operations become SQEs, results come
// back as CQEs. The wait for completions carries the timeout itself (IORING_FEAT_EXT_ARG),
// so submitting and waiting is one io_uring_enter per iteration, and no timer thread exists.
// Wake is an eventfd with a read kept armed on the ring.
//
// The ring is set up single-issuer with deferred task running (Linux 6.1+, probed, with
// cooperative task running as the fallback): the kernel posts completions only when the
// loop enters it to wait or to collect them, in one batch, and never interrupts the loop
// thread to do so. The ring is created disabled and enabled by its first submission, which
// binds it to that thread: on this port a loop must keep running on the thread that first
// ran it (poll() aborts with a message otherwise; EDDY_URING_SINGLE_ISSUER=0 turns the mode
// off for programs that move a loop between threads). A bound ring's descriptor is
// registered with its thread (Linux 5.18+), so io_uring_enter skips the descriptor lookup.
//
// Sockets read with one multishot receive (recvmsg for datagram sockets, with the sender's
// address) into a ring of provided buffers (Linux 6.0+;
// probed, with plain receives into the caller's buffer as the fallback): no buffer is pinned
// per idle connection, and data that arrives while nobody reads waits in the ring's buffers.
// Listeners use one multishot accept (Linux 5.19+; probed by trying it, with single-shot
// accepts as the fallback): connections that arrive while the core is not waiting are kept
// and handed to the next accept operation without another SQE.
#pragma once

#include <liburing.h>

#include <sys/types.h>

#include <vector>

#include "platform/contract/port.hpp"

namespace eddy::platform::uring {

class port {
 public:
  static constexpr backend_kind kind = backend_kind::io_uring;

  port() = default;
  port(const port&) = delete;
  port& operator=(const port&) = delete;
  ~port() { close(); }

  std::error_code init();
  // The file_* kinds this kernel has opcodes for (probed at init); everything else always.
  bool supports(detail::op_kind k) const noexcept {
    return !detail::is_file_op(k) ||
           (file_ops_ & (1u << (static_cast<unsigned>(k) - static_cast<unsigned>(detail::op_kind::file_open)))) != 0;
  }
  void submit(detail::operation& op) noexcept;
  bool cancel(detail::operation& op) noexcept;
  detail::poll_result poll(std::int64_t timeout_ns);
  void wake() noexcept;
  void close() noexcept;
  std::error_code attach(detail::io_object& io);
  void detach(detail::io_object& io) noexcept;

  struct listener;   // a listening socket's multishot accept (port_state.hpp)
  struct stream_rx;  // a connected socket's multishot receive (port_state.hpp)

 private:
  io_uring_sqe* get_sqe() noexcept;
  // Before any io_uring_enter: enables a ring that was created disabled (binding it to the
  // calling thread); in poll(), also checks that the loop still runs on that thread.
  void enable() noexcept {
    if (disabled_) enable_now();
  }
  void enable_now() noexcept;
  void check_thread() noexcept;
  void arm_wake() noexcept;
  std::uint32_t reap(detail::poll_result& out);
  static std::int32_t injected(detail::operation& op, std::int32_t res) noexcept;
  void make_ready(detail::operation& op) noexcept;
  void submit_accept(detail::operation& op) noexcept;
  void arm_accept(listener& l) noexcept;
  void on_accept_cqe(listener& l, int res, unsigned flags, detail::poll_result& out);
  void free_listener(listener* l) noexcept;
  struct buffer_group;  // a provided-buffer ring and its memory (port_state.hpp)
  buffer_group* group_for(bool datagram) noexcept;
  void submit_recv(detail::operation& op) noexcept;
  void submit_plain(detail::operation& op) noexcept;
  void arm_recv(stream_rx& rx) noexcept;
  void serve_recv(stream_rx& rx, detail::operation& op) noexcept;
  void on_recv_cqe(stream_rx& rx, int res, unsigned flags, detail::poll_result& out);
  void free_rx(stream_rx* rx) noexcept;
  void recycle(stream_rx& rx, unsigned short bid) noexcept;

  // Operations finished without a CQE of their own (an accept served from a listener's
  // stash, a cancelled wait); delivered by the next poll.
  detail::operation* ready_head_ = nullptr;
  detail::operation* ready_tail_ = nullptr;
  bool multishot_accept_ = true;  // false once the kernel refused it
  std::vector<listener*> listeners_;
  std::vector<stream_rx*> receivers_;

  // Provided-buffer rings, set up on first use: group 0 for streams (16 KiB buffers),
  // group 1 for datagrams (a whole datagram with its recvmsg header per buffer).
  enum class rx_support { unknown, yes, no };
  buffer_group* groups_[2] = {nullptr, nullptr};
  rx_support multishot_[2] = {rx_support::unknown, rx_support::unknown};

  void probe_file_ops(const io_uring_params& params) noexcept;
  void prep_file(io_uring_sqe* sqe, detail::operation& op) noexcept;
  bool single_buffer(const detail::operation& op) const noexcept;
  unsigned file_ops_ = 0;  // bit (kind - file_open) for each file kind the ring runs
  bool single_rw_ = false;  // IORING_OP_READ / WRITE: one buffer without an iovec to import

  io_uring ring_{};
  bool open_ = false;
  bool disabled_ = false;        // created with IORING_SETUP_R_DISABLED, not enabled yet
  bool single_issuer_ = false;   // IORING_SETUP_SINGLE_ISSUER: bound to owner_
  pid_t owner_ = 0;              // the kernel's id of that thread (a std::thread::id is reused at once)
  int wakefd_ = -1;
  std::uint64_t wake_value_ = 0;
};

}  // namespace eddy::platform::uring
