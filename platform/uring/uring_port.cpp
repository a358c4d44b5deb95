#include "platform/uring/uring_port.hpp"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "platform/posix/fd_passing.hpp"
#include "platform/posix/posix_util.hpp"

namespace eddy::platform::uring {
namespace {

constexpr unsigned ring_entries = 256;
constexpr unsigned reap_batch = 128;

// user_data values that are not operations.
constexpr std::uint64_t wake_tag = 1;
constexpr std::uint64_t ignore_tag = 2;

struct recv_state {
  bool no_buffer;
};

}  // namespace

std::error_code port::init() {
  io_uring_params params{};
  params.flags = IORING_SETUP_CLAMP;
  int r = io_uring_queue_init_params(ring_entries, &ring_, &params);
  if (r < 0) return make_error_code(errc::backend_unavailable);  // e.g. seccomp, io_uring_disabled
  open_ = true;
  // Timeouts through the wait itself need IORING_FEAT_EXT_ARG (Linux 5.11); without it
  // the epoll port is the better choice, so say unavailable and let the loop fall back.
  if ((params.features & IORING_FEAT_EXT_ARG) == 0 || (params.features & IORING_FEAT_NODROP) == 0) {
    close();
    return make_error_code(errc::backend_unavailable);
  }
  wakefd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wakefd_ < 0) {
    auto ec = from_errno(errno);
    close();
    return ec;
  }
  arm_wake();
  return {};
}

io_uring_sqe* port::get_sqe() noexcept {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  while (sqe == nullptr) {
    // The submission queue is full: hand what is there to the kernel and try again.
    // IORING_FEAT_NODROP guarantees completions are not lost while we do.
    io_uring_submit(&ring_);
    sqe = io_uring_get_sqe(&ring_);
  }
  return sqe;
}

void port::arm_wake() noexcept {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_read(sqe, wakefd_, &wake_value_, sizeof wake_value_, 0);
  io_uring_sqe_set_data64(sqe, wake_tag);
}

// Sockets need no registration: every operation names its fd.
std::error_code port::attach(detail::io_object&) { return {}; }
void port::detach(detail::io_object&) noexcept {}

void port::submit(detail::operation& op) noexcept {
  io_uring_sqe* sqe = get_sqe();
  const int fd = op.io != nullptr ? static_cast<int>(op.io->native) : -1;
  switch (op.kind) {
    case detail::op_kind::nop:
      io_uring_prep_nop(sqe);
      break;
    case detail::op_kind::accept:
      io_uring_prep_accept(sqe, fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      break;
    case detail::op_kind::connect:
      io_uring_prep_connect(sqe, fd, static_cast<const sockaddr*>(op.addr), op.addrlen);
      break;
    case detail::op_kind::recv: {
      op.buf = op.acquire(&op);
      if (op.buf.len == 0) {
        io_uring_prep_nop(sqe);  // completes at once; reap sees the empty buffer: no_memory
      } else if (op.io->ipc) {
        auto& m = detail::port_state<posix::fd_message>(op);
        posix::prepare_recv(m, reinterpret_cast<iovec*>(&op.buf), 1);
        io_uring_prep_recvmsg(sqe, fd, &m.msg, MSG_CMSG_CLOEXEC);
      } else {
        io_uring_prep_recv(sqe, fd, op.buf.base, op.buf.len, 0);
      }
      break;
    }
    case detail::op_kind::read: {
      detail::io_vec buf = op.acquire(&op);
      detail::port_state<recv_state>(op).no_buffer = buf.len == 0;
      if (buf.len == 0) {
        io_uring_prep_nop(sqe);
      } else {
        // Offset -1: the current position, as read(2) (pipes and ttys have none).
        io_uring_prep_read(sqe, fd, buf.base, static_cast<unsigned>(buf.len), static_cast<__u64>(-1));
      }
      break;
    }
    case detail::op_kind::write:
      io_uring_prep_writev(sqe, fd, reinterpret_cast<const iovec*>(op.bufs), op.nbufs, static_cast<__u64>(-1));
      break;
    case detail::op_kind::recvfrom: {
      op.buf = op.acquire(&op);
      if (op.buf.len == 0) {  // reap sees the empty buffer and reports no_memory
        io_uring_prep_nop(sqe);
        break;
      }
      msghdr& msg = detail::port_state<msghdr>(op);
      msg = msghdr{};
      msg.msg_iov = reinterpret_cast<iovec*>(&op.buf);
      msg.msg_iovlen = 1;
      msg.msg_name = op.from;
      msg.msg_namelen = 128;
      io_uring_prep_recvmsg(sqe, fd, &msg, 0);
      break;
    }
    case detail::op_kind::sendto: {
      msghdr& msg = detail::port_state<msghdr>(op);
      msg = msghdr{};
      msg.msg_iov = reinterpret_cast<iovec*>(const_cast<detail::io_vec*>(op.bufs));
      msg.msg_iovlen = op.nbufs;
      msg.msg_name = const_cast<void*>(op.addr);
      msg.msg_namelen = op.addr != nullptr ? op.addrlen : 0;
      io_uring_prep_sendmsg(sqe, fd, &msg, MSG_NOSIGNAL);
      break;
    }
    case detail::op_kind::send: {
      auto& m = detail::port_state<posix::fd_message>(op);
      posix::prepare_send(m, reinterpret_cast<iovec*>(const_cast<detail::io_vec*>(op.bufs)), op.nbufs,
                          op.io->ipc ? static_cast<int>(op.send_handle) : -1);
      // MSG_NOSIGNAL: a peer that went away is an EPIPE error, not a SIGPIPE.
      io_uring_prep_sendmsg(sqe, fd, &m.msg, MSG_NOSIGNAL);
      break;
    }
  }
  io_uring_sqe_set_data(sqe, &op);
}

bool port::cancel(detail::operation& op) noexcept {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_cancel(sqe, &op, 0);
  io_uring_sqe_set_data64(sqe, ignore_tag);
  return true;
}

std::uint32_t port::reap(detail::poll_result& out) {
  // Copy a batch of CQEs out and release the ring's slots before running any callback,
  // so callbacks may submit freely.
  struct entry {
    std::uint64_t data;
    std::int32_t res;
  };
  entry batch[reap_batch];
  std::uint32_t total = 0;
  for (;;) {
    unsigned n = 0;
    unsigned head;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      batch[n++] = {cqe->user_data, cqe->res};
      if (n == reap_batch) break;
    }
    if (n == 0) break;
    io_uring_cq_advance(&ring_, n);
    for (unsigned i = 0; i < n; ++i) {
      if (batch[i].data == wake_tag) {
        out.woken = true;
        arm_wake();
        continue;
      }
      if (batch[i].data == ignore_tag) continue;
      auto* op = reinterpret_cast<detail::operation*>(static_cast<std::uintptr_t>(batch[i].data));
      if ((op->kind == detail::op_kind::read && detail::port_state<recv_state>(*op).no_buffer) ||
          (op->kind == detail::op_kind::recv && op->buf.len == 0) ||
          (op->kind == detail::op_kind::recvfrom && op->buf.len == 0)) {
        op->result = 0;
        op->error = make_error_code(errc::no_memory);
      } else if (batch[i].res == -EIO && op->kind == detail::op_kind::read) {
        op->result = 0;  // a pty whose other side closed: end of stream
        op->error = {};
      } else if (batch[i].res < 0) {
        op->result = 0;
        op->error = from_errno(-batch[i].res);
      } else if (op->kind == detail::op_kind::recvfrom) {
        const msghdr& msg = detail::port_state<msghdr>(*op);
        op->result = batch[i].res;
        op->fromlen = msg.msg_namelen;
        op->flags = (msg.msg_flags & MSG_TRUNC) != 0 ? detail::datagram_truncated : 0;
        op->error = {};
      } else if (op->kind == detail::op_kind::recv) {
        op->result = batch[i].res;
        op->error = {};
        op->accepted = op->io->ipc ? posix::take_received_fd(detail::port_state<posix::fd_message>(*op).msg) : -1;
      } else if (op->kind == detail::op_kind::accept) {
        op->accepted = batch[i].res;
        op->result = 0;
        op->error = {};
      } else {
        op->result = batch[i].res;
        op->error = {};
      }
      ++total;
      detail::deliver(*op);
    }
    if (n < reap_batch) break;
  }
  out.completions += total;
  return total;
}

detail::poll_result port::poll(std::int64_t timeout_ns) {
  detail::poll_result out;
  if (timeout_ns == 0) {
    if (io_uring_sq_ready(&ring_) > 0) io_uring_submit(&ring_);
  } else if (io_uring_cq_ready(&ring_) == 0) {
    __kernel_timespec ts{};
    __kernel_timespec* tsp = nullptr;
    if (timeout_ns > 0) {
      ts.tv_sec = timeout_ns / 1'000'000'000;
      ts.tv_nsec = timeout_ns % 1'000'000'000;
      tsp = &ts;
    }
    io_uring_cqe* cqe = nullptr;
    // One io_uring_enter: submits what is queued and waits for one completion or the
    // timeout. -ETIME and -EINTR are normal outcomes.
    (void)io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, tsp, nullptr);
  } else if (io_uring_sq_ready(&ring_) > 0) {
    io_uring_submit(&ring_);
  }
  reap(out);
  return out;
}

void port::wake() noexcept {
  std::uint64_t one = 1;
  [[maybe_unused]] auto r = ::write(wakefd_, &one, sizeof one);
}

void port::close() noexcept {
  if (open_) {
    io_uring_queue_exit(&ring_);
    open_ = false;
  }
  posix::close_fd(wakefd_);
}

}  // namespace eddy::platform::uring
