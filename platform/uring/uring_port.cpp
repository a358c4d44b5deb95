// The io_uring port's ring (see port_state.hpp for how the port is split): init, attach and
// detach, submit (one SQE per operation), cancel, reap and poll, wake, close. Loop thread
// only, except wake().
#include "platform/uring/port_state.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <sys/syscall.h>
#include <unistd.h>

#include "platform/contract/fault.hpp"
#include "platform/posix/fs_posix.hpp"

namespace eddy::platform::uring {

namespace {

// EDDY_URING_SINGLE_ISSUER=0 (or "off") keeps rings usable from any thread.
bool single_issuer_wanted() noexcept {
  const char* env = std::getenv("EDDY_URING_SINGLE_ISSUER");
  return env == nullptr || (std::strcmp(env, "0") != 0 && std::strcmp(env, "off") != 0);
}

// The calling thread's kernel id, read once per thread: poll() asks on every iteration, and
// gettid is a real system call.
pid_t this_thread_id() noexcept {
  thread_local const pid_t id = ::gettid();
  return id;
}

}  // namespace

std::error_code port::init() {
  // In order of preference (each needs a newer kernel than the next):
  // - single issuer + deferred task running (6.1): completions are posted only when the loop
  //   asks for them, in one batch on its own thread. Created disabled, so that the thread
  //   that binds the ring is the first to submit (see enable_now), not the one that made it.
  // - cooperative task running (5.19): posted when the loop enters the kernel anyway,
  //   instead of interrupting it.
  // The TASKRUN flag (with either) says when completions wait to be posted.
  constexpr unsigned deferred = IORING_SETUP_CLAMP | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
                                IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_R_DISABLED;
  constexpr unsigned cooperative = IORING_SETUP_CLAMP | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
  int r = -EINVAL;
  io_uring_params params{};
  for (unsigned flags : {single_issuer_wanted() ? deferred : cooperative, cooperative, unsigned{IORING_SETUP_CLAMP}}) {
    params = io_uring_params{};
    params.flags = flags;
    r = io_uring_queue_init_params(ring_entries, &ring_, &params);
    if (r != -EINVAL) break;
  }
  if (r < 0) return make_error_code(errc::backend_unavailable);  // e.g. seccomp, io_uring_disabled
  open_ = true;
  disabled_ = (params.flags & IORING_SETUP_R_DISABLED) != 0;
  single_issuer_ = (params.flags & IORING_SETUP_SINGLE_ISSUER) != 0;
  // Timeouts through the wait itself need IORING_FEAT_EXT_ARG (Linux 5.11); without it
  // the epoll port is the better choice, so say unavailable and let the loop fall back.
  if ((params.features & IORING_FEAT_EXT_ARG) == 0 || (params.features & IORING_FEAT_NODROP) == 0) {
    close();
    return make_error_code(errc::backend_unavailable);
  }
  probe_file_ops(params);
  wakefd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wakefd_ < 0) {
    auto ec = from_errno(errno);
    close();
    return ec;
  }
  arm_wake();
  return {};
}

void port::enable_now() noexcept {
  disabled_ = false;
  owner_ = this_thread_id();
  // liburing 2.3 (Debian 12) declares io_uring_enable_rings but does not export it: the
  // register call itself.
  if (::syscall(__NR_io_uring_register, ring_.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0) < 0) {
    // Cannot happen for a ring this port made disabled; without it nothing would run.
    std::fputs("eddy: io_uring: the ring could not be enabled\n", stderr);
    std::abort();
  }
  // A registered ring descriptor (Linux 5.18+) spares io_uring_enter the descriptor lookup.
  // The registration belongs to the calling thread, so only a ring bound to this thread
  // uses it; without it, liburing uses the plain descriptor.
  if (single_issuer_) (void)io_uring_register_ring_fd(&ring_);
}

void port::check_thread() noexcept {
  if (!single_issuer_ || disabled_ || owner_ == this_thread_id()) return;
  // The kernel refuses every submission and wait of a single-issuer ring from another thread
  // (-EEXIST): the loop could never make progress again.
  std::fputs("eddy: an io_uring loop ran on a thread other than the one that first ran it; set "
             "EDDY_URING_SINGLE_ISSUER=0 for programs that move a loop between threads\n",
             stderr);
  std::abort();
}

io_uring_sqe* port::get_sqe() noexcept {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  while (sqe == nullptr) {
    // The submission queue is full: hand what is there to the kernel and try again.
    // IORING_FEAT_NODROP guarantees completions are not lost while we do.
    enable();
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
std::error_code port::attach(detail::io_object& io) {
  slots(io) = io_slots{nullptr, nullptr};
  return {};
}

void port::detach(detail::io_object& io) noexcept {
  if (stream_rx* rx = slots(io).rx) {
    slots(io).rx = nullptr;
    rx->detached = true;
    rx->waiting = nullptr;
    for (const auto& c : rx->queue) recycle(*rx, c.bid);
    rx->queue.clear();
    if (rx->armed) {
      io_uring_sqe* sqe = get_sqe();
      io_uring_prep_cancel64(sqe, reinterpret_cast<std::uintptr_t>(rx) | rx_bit, 0);
      io_uring_sqe_set_data64(sqe, ignore_tag);
    } else {
      free_rx(rx);
    }
  }
  listener* l = listener_of(io);
  listener_of(io) = nullptr;
  if (l == nullptr) return;
  l->detached = true;
  l->waiting = nullptr;
  for (int fd : l->stash) ::close(fd);
  l->stash.clear();
  if (l->armed) {
    // The ring holds the multishot accept (and a reference to the socket) until it is
    // cancelled; its last CQE frees the listener.
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_cancel64(sqe, reinterpret_cast<std::uintptr_t>(l) | listener_bit, 0);
    io_uring_sqe_set_data64(sqe, ignore_tag);
    // Now, not at the next poll: the core closes its descriptor right after this, and
    // another process may hold the same listening socket (passed over an ipc pipe). Until
    // the cancel runs, the ring would still accept connections that nobody here serves.
    // With deferred task running, the cancel only marks the accept: its wait on the socket
    // goes when the ring next runs its task work. That wait is exclusive, so until then a
    // new connection's wake-up can go to it instead of another loop's accept on the same
    // socket, which then never hears of the connection (IpcLoopsTest.AListenerPassed...
    // hung 1 in 6 under ASan). Run the task work now: the wait is gone when this returns.
    enable();
    io_uring_submit_and_get_events(&ring_);
  } else {
    free_listener(l);
  }
}

void port::make_ready(detail::operation& op) noexcept {
  next_ready(op) = nullptr;
  if (ready_tail_ != nullptr) {
    next_ready(*ready_tail_) = &op;
  } else {
    ready_head_ = &op;
  }
  ready_tail_ = &op;
}

void port::submit(detail::operation& op) noexcept {
  if (int e = EDDY_FAULT(submit)) {  // fault injection: as a CQE with -e for this operation's SQE
    op.result = 0;
    op.error = from_errno(e);
    make_ready(op);
    return;
  }
  if (detail::is_file_op(op.kind) && !supports(op.kind)) {
    op.result = 0;
    op.error = make_error_code(errc::not_supported);
    make_ready(op);
    return;
  }
  if (op.kind == detail::op_kind::accept && multishot_accept_) {
    submit_accept(op);
    return;
  }
  if ((op.kind == detail::op_kind::recv && !op.io->ipc) || op.kind == detail::op_kind::recvfrom) {
    rx_support& support = multishot_[op.kind == detail::op_kind::recvfrom ? 1 : 0];
    if (support == rx_support::unknown) {
      support = group_for(op.kind == detail::op_kind::recvfrom) != nullptr ? rx_support::yes : rx_support::no;
    }
    if (support == rx_support::yes) {
      submit_recv(op);
      return;
    }
  }
  submit_plain(op);
}

// One SQE for op, completed by its own CQE.
void port::submit_plain(detail::operation& op) noexcept {
  if (op.kind == detail::op_kind::send || op.kind == detail::op_kind::write || op.kind == detail::op_kind::sendto ||
      op.kind == detail::op_kind::file_open) {
    // Fault injection: as the operation's CQE with -e, before anything was sent or created.
    if (int e = op.kind == detail::op_kind::file_open ? EDDY_FAULT(file_open) : EDDY_FAULT(send)) {
      op.result = 0;
      op.error = from_errno(e);
      make_ready(op);
      return;
    }
  }
  io_uring_sqe* sqe = get_sqe();
  const int fd = op.io != nullptr ? static_cast<int>(op.io->native) : -1;
  switch (op.kind) {
    case detail::op_kind::nop:
      io_uring_prep_nop(sqe);
      break;
    case detail::op_kind::file_open:
    case detail::op_kind::file_close:
    case detail::op_kind::file_read:
    case detail::op_kind::file_write:
    case detail::op_kind::file_stat:
    case detail::op_kind::file_sync:
      prep_file(sqe, op);
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
    case detail::op_kind::poll:
      // One-shot: the CQE carries the returned events. The ring holds its own reference to
      // the file, so the owner may close the fd once it has asked for the cancel.
      io_uring_prep_poll_add(sqe, fd, (op.flags & detail::poll_readable) != 0 ? POLLIN : POLLOUT);
      break;
  }
  io_uring_sqe_set_data(sqe, &op);
}

bool port::cancel(detail::operation& op) noexcept {
  if ((op.kind == detail::op_kind::recv || op.kind == detail::op_kind::recvfrom) && op.io != nullptr) {
    stream_rx* rx = slots(*op.io).rx;
    if (rx != nullptr && rx->waiting == &op) {
      rx->waiting = nullptr;  // the multishot stays armed: data waits for the next read
      op.error = make_error_code(errc::operation_canceled);
      make_ready(op);
      return true;
    }
  }
  if (op.kind == detail::op_kind::accept && op.io != nullptr) {
    listener* l = listener_of(*op.io);
    if (l != nullptr && l->waiting == &op) {
      l->waiting = nullptr;
      op.error = make_error_code(errc::operation_canceled);
      make_ready(op);
      return true;
    }
  }
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_cancel(sqe, &op, 0);
  io_uring_sqe_set_data64(sqe, ignore_tag);
  return true;
}

// Fault injection (platform/contract/fault.hpp): a CQE that succeeded is rewritten to carry
// -errno, so the failure takes reap()'s real error path. What it brought (an accepted or
// passed descriptor) is closed; its bytes are dropped.
std::int32_t port::injected([[maybe_unused]] detail::operation& op, std::int32_t res) noexcept {
#if defined(EDDY_FAULT_INJECTION)
  if (res < 0) return res;
  int e = 0;
  switch (op.kind) {
    case detail::op_kind::accept:
      if ((e = EDDY_FAULT(accept)) != 0) ::close(res);
      break;
    case detail::op_kind::recv:
    case detail::op_kind::read:
    case detail::op_kind::recvfrom:
      if ((e = EDDY_FAULT(recv)) != 0 && op.kind == detail::op_kind::recv && op.io->ipc) {
        const int fd = posix::take_received_fd(detail::port_state<posix::fd_message>(op).msg);
        if (fd >= 0) ::close(fd);
      }
      break;
    default: break;  // send, write, sendto, file_open: submit_plain() fails them before the SQE
  }
  return e != 0 ? -e : res;
#else
  return res;
#endif
}

std::uint32_t port::reap(detail::poll_result& out) {
  // Copy a batch of CQEs out and release the ring's slots before running any callback,
  // so callbacks may submit freely.
  struct entry {
    std::uint64_t data;
    std::int32_t res;
    std::uint32_t flags;
  };
  entry batch[reap_batch];
  std::uint32_t total = 0;
  for (;;) {
    unsigned n = 0;
    unsigned head;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      batch[n++] = {cqe->user_data, cqe->res, cqe->flags};
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
      if ((batch[i].data & 7) == rx_bit) {
        on_recv_cqe(*reinterpret_cast<stream_rx*>(static_cast<std::uintptr_t>(batch[i].data & ~std::uint64_t{7})),
                    batch[i].res, batch[i].flags, out);
        continue;
      }
      if ((batch[i].data & 7) == listener_bit) {
        on_accept_cqe(*reinterpret_cast<listener*>(static_cast<std::uintptr_t>(batch[i].data & ~std::uint64_t{7})),
                      batch[i].res, batch[i].flags, out);
        continue;
      }
      auto* op = reinterpret_cast<detail::operation*>(static_cast<std::uintptr_t>(batch[i].data));
      batch[i].res = injected(*op, batch[i].res);
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
      } else if (op->kind == detail::op_kind::file_stat) {
        posix::from_statx(*reinterpret_cast<const struct statx*>(op->buf.base), *static_cast<fs::stat_info*>(op->out));
        op->result = 0;
        op->error = {};
      } else {
        op->result = batch[i].res;
        op->error = {};
      }
      ++total;
      detail::complete(*op);
    }
    if (n < reap_batch) break;
  }
  out.completions += total;
  return total;
}

detail::poll_result port::poll(std::int64_t timeout_ns) {
  detail::poll_result out;
  enable();
  check_thread();
  if (ready_head_ != nullptr) timeout_ns = 0;
  if (timeout_ns == 0) {
    // Enter the kernel only to submit, or when completions wait to be posted.
    const bool taskrun = (IO_URING_READ_ONCE(*ring_.sq.kflags) & IORING_SQ_TASKRUN) != 0;
    if (io_uring_sq_ready(&ring_) > 0 || taskrun) io_uring_submit_and_get_events(&ring_);
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
  if (single_issuer_) {
    // With deferred task running the kernel posts a bounded number of completions per enter
    // (IO_LOCAL_TW_DEFAULT_MAX, 20, on the 6.18 kernel here) and keeps the rest, with the TASKRUN
    // flag set, for the next: a loop with hundreds of sockets ready would take them 20 per
    // iteration. While the flag says completions wait, one wait for as many as the queue
    // holds, with a zero timeout, runs that much of the deferred work (submitting nothing:
    // what this poll's callbacks queued waits for the next) and this poll reaps it. A few
    // rounds at most, so that the poll ends and the timers get their turn.
    for (int round = 0; round < 4 && (IO_URING_READ_ONCE(*ring_.sq.kflags) & IORING_SQ_TASKRUN) != 0; ++round) {
      __kernel_timespec zero{};
      io_uring_cqe* cqe = nullptr;
      (void)io_uring_wait_cqes(&ring_, &cqe, *ring_.cq.kring_entries, &zero, nullptr);
      if (reap(out) == 0) break;
    }
  }
  // Then what finished without a CQE; what these callbacks make ready waits for the next poll.
  detail::operation* op = ready_head_;
  ready_head_ = ready_tail_ = nullptr;
  while (op != nullptr) {
    detail::operation* next = next_ready(*op);
    ++out.completions;
    detail::complete(*op);
    op = next;
  }
  return out;
}

void port::wake() noexcept {
  std::uint64_t one = 1;
  [[maybe_unused]] auto r = ::write(wakefd_, &one, sizeof one);
}

void port::close() noexcept {
  for (listener* l : listeners_) {
    for (int fd : l->stash) ::close(fd);
    delete l;
  }
  listeners_.clear();
  for (stream_rx* rx : receivers_) delete rx;
  receivers_.clear();
  ready_head_ = ready_tail_ = nullptr;
  if (open_) {
    io_uring_queue_exit(&ring_);  // also releases the buffer rings' registrations
    open_ = false;
  }
  for (buffer_group*& g : groups_) {
    if (g == nullptr) continue;
    std::free(g->ring);
    std::free(g->data);
    delete g;
    g = nullptr;
  }
  posix::close_fd(wakefd_);
}

}  // namespace eddy::platform::uring
