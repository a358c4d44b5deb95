// The io_uring port (liburing): one ring per loop. Operations become SQEs, results come
// back as CQEs. The wait for completions carries the timeout itself (IORING_FEAT_EXT_ARG),
// so submitting and waiting is one io_uring_enter per iteration, and no timer thread exists.
// Wake is an eventfd with a read kept armed on the ring.
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

#include <vector>

#include "platform/backend.hpp"

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

  struct listener;   // a listening socket's multishot accept (defined in the .cpp)
  struct stream_rx;  // a connected socket's multishot receive (defined in the .cpp)

 private:
  io_uring_sqe* get_sqe() noexcept;
  void arm_wake() noexcept;
  std::uint32_t reap(detail::poll_result& out);
  static std::int32_t injected(detail::operation& op, std::int32_t res) noexcept;
  void make_ready(detail::operation& op) noexcept;
  void submit_accept(detail::operation& op) noexcept;
  void arm_accept(listener& l) noexcept;
  void on_accept_cqe(listener& l, int res, unsigned flags, detail::poll_result& out);
  void free_listener(listener* l) noexcept;
  struct buffer_group;  // a provided-buffer ring and its memory (defined in the .cpp)
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
  int wakefd_ = -1;
  std::uint64_t wake_value_ = 0;
};

}  // namespace eddy::platform::uring
