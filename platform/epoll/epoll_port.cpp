#include "platform/epoll/epoll_port.hpp"

#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <new>
#include <utility>
#include <ctime>

#include "platform/contract/fault.hpp"
#include "platform/posix/fd_passing.hpp"
#include "platform/posix/posix_util.hpp"

namespace eddy::platform::epoll {
namespace {

using detail::io_object;
using detail::op_kind;
using detail::operation;

struct op_state {
  operation* next;
};

struct io_state {
  operation* read_head;
  operation* read_tail;
  operation* write_head;
  operation* write_tail;
  bool readable;
  bool writable;
  bool registered;
  bool running[2];  // run_queue() is serving this side (0 read, 1 write) right now
  bool retry;       // in retry_: its queue stopped at the per-event limit
};

// Operations served per socket side per readiness event before others get a turn (libuv
// reads at most 32 times per event too); the rest continue in the next poll.
constexpr int max_per_event = 32;

}  // namespace

// Datagrams received together with recvmmsg and not yet handed out. One batch per port,
// owned by one socket at a time; receive operations on that socket are served from it
// (copying into the caller's buffer) before the next recvmmsg.
struct port::datagram_batch {
  static constexpr unsigned slots = 16;
  static constexpr std::size_t slot_size = 64 * 1024;  // any UDP datagram fits
  std::unique_ptr<std::byte[]> data{new std::byte[std::size_t{slots} * slot_size]};  // touched as used
  mmsghdr hdrs[slots];
  iovec iov[slots];
  sockaddr_storage names[slots];
  io_object* owner = nullptr;
  unsigned next = 0;
  unsigned count = 0;
};

namespace {

constexpr int min_events = 128;   // port::events_ at first
constexpr int max_events = 4096;  // and at most (48 KiB)

io_state& state(io_object& io) noexcept { return *reinterpret_cast<io_state*>(io.port_data.data()); }
operation*& next_of(operation& op) noexcept { return detail::port_state<op_state>(op).next; }

void push(operation*& head, operation*& tail, operation& op) noexcept {
  next_of(op) = nullptr;
  if (tail != nullptr) {
    next_of(*tail) = &op;
  } else {
    head = &op;
  }
  tail = &op;
}

bool unlink(operation*& head, operation*& tail, operation& op) noexcept {
  operation* prev = nullptr;
  for (operation* p = head; p != nullptr; prev = p, p = next_of(*p)) {
    if (p != &op) continue;
    if (prev != nullptr) {
      next_of(*prev) = next_of(*p);
    } else {
      head = next_of(*p);
    }
    if (tail == p) tail = prev;
    return true;
  }
  return false;
}

int fd_of(const io_object& io) noexcept { return static_cast<int>(io.native); }

void fail(operation& op, int err) noexcept {
  op.result = 0;
  op.error = from_errno(err);
}

constexpr ssize_t no_buffer = -2;

// The buffer for a read-side operation (acquired once, then reused by later attempts).
bool take_buffer(operation& op) noexcept {
  op.buf = op.acquire(&op);
  return op.buf.len != 0;
}

// One attempt at op's syscall: its return value, or -1 with errno set (EAGAIN: wait for
// readiness), or no_buffer.
// Hands out datagram i of the batch to op.
ssize_t serve_datagram(port::datagram_batch& b, operation& op) noexcept {
  const unsigned i = b.next++;
  if (b.next == b.count) b.owner = nullptr;
  const std::size_t len = b.hdrs[i].msg_len;
  const std::size_t n = len < op.buf.len ? len : op.buf.len;
  std::memcpy(op.buf.base, b.data.get() + std::size_t{i} * port::datagram_batch::slot_size, n);
  const socklen_t namelen = b.hdrs[i].msg_hdr.msg_namelen;
  std::memcpy(op.from, &b.names[i], namelen <= 128 ? namelen : 128);
  op.fromlen = namelen;
  const bool cut = (b.hdrs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0 || len > op.buf.len;
  op.flags = cut ? detail::datagram_truncated : 0;
  return static_cast<ssize_t>(n);
}

// A datagram for op through recvmmsg: from what the batch holds for this socket, or a new
// batch. Returns -2 (not_batched) when the batch belongs to another socket.
constexpr ssize_t not_batched = -3;
ssize_t receive_batched(port::datagram_batch& b, operation& op) noexcept {
  io_object& io = *op.io;
  if (b.owner == &io) return serve_datagram(b, op);
  if (b.owner != nullptr) return not_batched;
  for (unsigned i = 0; i < port::datagram_batch::slots; ++i) {
    b.iov[i].iov_base = b.data.get() + std::size_t{i} * port::datagram_batch::slot_size;
    b.iov[i].iov_len = port::datagram_batch::slot_size;
    b.hdrs[i] = mmsghdr{};
    b.hdrs[i].msg_hdr.msg_iov = &b.iov[i];
    b.hdrs[i].msg_hdr.msg_iovlen = 1;
    b.hdrs[i].msg_hdr.msg_name = &b.names[i];
    b.hdrs[i].msg_hdr.msg_namelen = sizeof b.names[i];
  }
  const int n = ::recvmmsg(fd_of(io), b.hdrs, port::datagram_batch::slots, MSG_DONTWAIT, nullptr);
  if (n <= 0) return -1;  // errno set (EAGAIN: wait for readiness)
  b.owner = &io;
  b.next = 0;
  b.count = static_cast<unsigned>(n);
  return serve_datagram(b, op);
}

ssize_t attempt(operation& op, port::datagram_batch* batch) noexcept {
  io_object& io = *op.io;
  const int fd = fd_of(io);
  if (op.kind == op_kind::send || op.kind == op_kind::write || op.kind == op_kind::sendto) {
    if (int e = EDDY_FAULT(send)) {  // fault injection: the send fails, nothing sent
      errno = e;
      return -1;
    }
  }
  switch (op.kind) {
    case op_kind::nop:
      return 0;
    case op_kind::file_open:
    case op_kind::file_close:
    case op_kind::file_read:
    case op_kind::file_write:
    case op_kind::file_stat:
    case op_kind::file_sync:
      errno = ENOTSUP;  // refused by submit(); never queued
      return -1;
    case op_kind::accept: {
      int r = ::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (r < 0) return -1;
      op.accepted = r;
      return 0;
    }
    case op_kind::connect: {
      int err = 0;
      socklen_t len = sizeof err;
      if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return -1;
      if (err == EINPROGRESS || err == EALREADY) err = EAGAIN;
      errno = err;
      return err == 0 ? 0 : -1;
    }
    case op_kind::recv: {
      if (!take_buffer(op)) return no_buffer;
      op.accepted = -1;
      if (!io.ipc) return ::recv(fd, op.buf.base, op.buf.len, 0);
      posix::fd_message m;
      posix::prepare_recv(m, reinterpret_cast<iovec*>(&op.buf), 1);
      ssize_t n = ::recvmsg(fd, &m.msg, MSG_CMSG_CLOEXEC);
      if (n >= 0) op.accepted = posix::take_received_fd(m.msg);
      return n;
    }
    case op_kind::read:
      if (!take_buffer(op)) return no_buffer;
      return ::read(fd, op.buf.base, op.buf.len);
    case op_kind::recvfrom: {
      if (!take_buffer(op)) return no_buffer;
      if (batch != nullptr) {
        const ssize_t r = receive_batched(*batch, op);
        if (r != not_batched) return r;
      }
      msghdr msg{};
      msg.msg_iov = reinterpret_cast<iovec*>(&op.buf);
      msg.msg_iovlen = 1;
      msg.msg_name = op.from;
      msg.msg_namelen = 128;
      ssize_t n = ::recvmsg(fd, &msg, 0);
      if (n >= 0) {
        op.fromlen = msg.msg_namelen;
        op.flags = (msg.msg_flags & MSG_TRUNC) != 0 ? detail::datagram_truncated : 0;
      }
      return n;
    }
    case op_kind::send: {
      posix::fd_message m;
      posix::prepare_send(m, reinterpret_cast<iovec*>(const_cast<detail::io_vec*>(op.bufs)), op.nbufs,
                          io.ipc ? static_cast<int>(op.send_handle) : -1);
      return ::sendmsg(fd, &m.msg, MSG_NOSIGNAL);  // MSG_NOSIGNAL: EPIPE, not SIGPIPE
    }
    case op_kind::write:
      return ::writev(fd, reinterpret_cast<const iovec*>(op.bufs), static_cast<int>(op.nbufs));
    case op_kind::sendto: {
      msghdr msg{};
      msg.msg_iov = reinterpret_cast<iovec*>(const_cast<detail::io_vec*>(op.bufs));
      msg.msg_iovlen = op.nbufs;
      msg.msg_name = const_cast<void*>(op.addr);
      msg.msg_namelen = op.addr != nullptr ? op.addrlen : 0;
      return ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    }
    case op_kind::poll: {
      // The port's readiness flags say only "worth trying": someone else does the I/O on
      // this fd, so ask the kernel (EAGAIN: wait for the next edge).
      pollfd p{fd, static_cast<short>((op.flags & detail::poll_readable) != 0 ? POLLIN : POLLOUT), 0};
      const int r = ::poll(&p, 1, 0);
      if (r > 0) return p.revents;
      if (r == 0) errno = EAGAIN;
      return -1;
    }
  }
  return 0;
}

// Fault injection (platform/contract/fault.hpp): a receive or accept that succeeded is reported failed
// with the armed errno, so the failure takes perform()'s real error path. What it took (an
// accepted or passed descriptor) is closed; its bytes are dropped.
ssize_t injected([[maybe_unused]] operation& op, ssize_t n) noexcept {
#if defined(EDDY_FAULT_INJECTION)
  if (n < 0) return n;
  int e = 0;
  switch (op.kind) {
    case op_kind::accept:
      if ((e = EDDY_FAULT(accept)) != 0) ::close(static_cast<int>(std::exchange(op.accepted, -1)));
      break;
    case op_kind::recv:
    case op_kind::read:
    case op_kind::recvfrom:
      e = EDDY_FAULT(recv);
      if (e != 0 && op.kind == op_kind::recv && op.accepted >= 0) ::close(static_cast<int>(std::exchange(op.accepted, -1)));
      break;
    default: break;  // send, write, sendto: attempt() fails them before the syscall
  }
  if (e == 0) return n;
  errno = e;
  return -1;
#else
  return n;
#endif
}

std::size_t gather_size(const operation& op) noexcept {
  std::size_t n = 0;
  for (std::uint32_t i = 0; i < op.nbufs; ++i) n += op.bufs[i].len;
  return n;
}

bool is_read_side(const operation& op) noexcept;

// Tries the operation's syscall. Returns false when it must wait for readiness (EAGAIN);
// true when it finished, with op.result / op.error set.
bool perform(operation& op, port::datagram_batch* batch) noexcept {
  for (;;) {
    const ssize_t n = injected(op, attempt(op, batch));
    if (n >= 0) {
      op.result = n;
      // A short write means the socket buffer is full: wait for EPOLLOUT before the rest.
      if ((op.kind == op_kind::send || op.kind == op_kind::write) && static_cast<std::size_t>(n) < gather_size(op)) {
        state(*op.io).writable = false;
      }
      return true;
    }
    if (n == no_buffer) {
      op.error = make_error_code(errc::no_memory);
      return true;
    }
    if (errno == EINTR || (op.kind == op_kind::accept && errno == ECONNABORTED)) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      (is_read_side(op) ? state(*op.io).readable : state(*op.io).writable) = false;
      // Nothing to read: the buffer goes back while the operation waits (an idle connection
      // holds none); the next attempt acquires one again.
      if ((op.kind == op_kind::recv || op.kind == op_kind::read) && op.release != nullptr && op.buf.len != 0) {
        op.release(&op);
        op.buf = {nullptr, 0};
      }
      return false;
    }
    if (errno == EIO && op.kind == op_kind::read) {  // a pty whose other side closed
      op.result = 0;
      return true;
    }
    fail(op, errno);
    return true;
  }
}

bool is_read_side(const operation& op) noexcept {
  const op_kind k = op.kind;
  if (k == op_kind::poll) return (op.flags & detail::poll_readable) != 0;
  return k == op_kind::accept || k == op_kind::recv || k == op_kind::recvfrom || k == op_kind::read;
}

}  // namespace

port::port() = default;  // out of line: datagram_batch is complete only here
port::~port() { close(); }

std::error_code port::init() {
  epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) return from_errno(errno);
  wakefd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wakefd_ < 0) {
    auto ec = from_errno(errno);
    close();
    return ec;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // nullptr marks the wake fd
  if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, wakefd_, &ev) < 0) {
    auto ec = from_errno(errno);
    close();
    return ec;
  }
  events_.reset(new (std::nothrow) epoll_event[min_events]);
  if (!events_) {
    close();
    return make_error_code(errc::no_memory);
  }
  events_cap_ = min_events;
  return {};
}

std::error_code port::attach(io_object& io) {
  io_state& st = state(io);
  st = io_state{};
  // Unknown readiness counts as ready: the first attempt finds out (EAGAIN clears it).
  st.readable = st.writable = true;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = &io;
  if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd_of(io), &ev) < 0) {
    // Regular files (and /dev/null) cannot be watched: they are always ready, so every
    // attempt just goes through.
    if (errno == EPERM) return {};
    return from_errno(errno);
  }
  st.registered = true;
  return {};
}

port::datagram_batch* port::batch() noexcept {
  if (!batch_) batch_.reset(new (std::nothrow) datagram_batch);  // without it: one recvmsg each
  return batch_.get();
}

void port::detach(io_object& io) noexcept {
  io_state& st = state(io);
  if (batch_ && batch_->owner == &io) batch_->owner = nullptr;  // held datagrams go with it
  if (st.retry) {
    for (auto& p : retry_) {
      if (p == &io) {
        p = retry_.back();
        retry_.pop_back();
        break;
      }
    }
  }
  if (st.registered) ::epoll_ctl(epfd_, EPOLL_CTL_DEL, fd_of(io), nullptr);
  st = io_state{};
}

void port::make_ready(operation& op) noexcept {
  next_of(op) = nullptr;
  if (ready_tail_ != nullptr) {
    next_of(*ready_tail_) = &op;
  } else {
    ready_head_ = &op;
  }
  ready_tail_ = &op;
}

void port::submit(operation& op) noexcept {
  op.result = 0;
  op.error = {};
  if (int e = EDDY_FAULT(submit)) {  // fault injection: as if the operation's syscall failed at once
    fail(op, e);
    make_ready(op);
    return;
  }
  if (detail::is_file_op(op.kind)) {
    op.error = make_error_code(errc::not_supported);
    make_ready(op);
    return;
  }
  if (op.kind == op_kind::nop) {
    make_ready(op);
    return;
  }
  io_state& st = state(*op.io);
  if (op.kind == op_kind::connect) {
    int r;
    do {
      r = ::connect(fd_of(*op.io), static_cast<const sockaddr*>(op.addr), op.addrlen);
    } while (r < 0 && errno == EINTR);
    if (r == 0) {
      make_ready(op);
    } else if (errno == EINPROGRESS) {
      st.writable = false;
      push(st.write_head, st.write_tail, op);
    } else {
      fail(op, errno);
      make_ready(op);
    }
    return;
  }
  if (is_read_side(op)) {
    if (st.running[0]) {
      // Submitted from a callback that run_queue() is delivering: it takes this one next,
      // in the same poll, while the socket stays readable.
      push(st.read_head, st.read_tail, op);
    } else if (st.read_head == nullptr && st.readable && perform(op, batch())) {
      make_ready(op);
    } else {
      push(st.read_head, st.read_tail, op);
    }
  } else {
    if (st.running[1]) {
      push(st.write_head, st.write_tail, op);
    } else if (st.write_head == nullptr && st.writable && perform(op, batch())) {
      make_ready(op);
    } else {
      push(st.write_head, st.write_tail, op);
    }
  }
}

bool port::cancel(operation& op) noexcept {
  if (op.io == nullptr) return false;
  io_state& st = state(*op.io);
  if (unlink(st.read_head, st.read_tail, op) || unlink(st.write_head, st.write_tail, op)) {
    op.result = 0;
    op.error = make_error_code(errc::operation_canceled);
    make_ready(op);
    return true;
  }
  return false;
}

void port::run_queue(io_object& io, bool read_side, detail::poll_result& out) {
  io_state& st = state(io);
  const int side = read_side ? 0 : 1;
  st.running[side] = true;
  for (int served = 0;; ++served) {
    operation*& head = read_side ? st.read_head : st.write_head;
    operation*& tail = read_side ? st.read_tail : st.write_tail;
    const bool ready = read_side ? st.readable : st.writable;
    if (head == nullptr || !ready) break;
    if (served == max_per_event) {
      // Still ready with work queued: edge-triggered epoll will not say so again, so come
      // back to it in the next poll.
      if (!st.retry) {
        st.retry = true;
        retry_.push_back(&io);
      }
      break;
    }
    operation* op = head;
    if (!perform(*op, batch())) break;
    head = next_of(*op);
    if (head == nullptr) tail = nullptr;
    ++out.completions;
    // May submit to this io object (queued: served in this loop), cancel on it, or close
    // its handle (detach runs only in the close phase, after this poll).
    detail::complete(*op);
  }
  st.running[side] = false;
}

detail::poll_result port::poll(std::int64_t timeout_ns) {
  detail::poll_result out;
  if (ready_head_ != nullptr || !retry_.empty()) timeout_ns = 0;

  epoll_event* const events = events_.get();
  int n = -1;
  if (have_pwait2_) {
    timespec ts{};
    timespec* tsp = nullptr;
    if (timeout_ns >= 0) {
      ts.tv_sec = static_cast<time_t>(timeout_ns / 1'000'000'000);
      ts.tv_nsec = static_cast<long>(timeout_ns % 1'000'000'000);
      tsp = &ts;
    }
    n = ::epoll_pwait2(epfd_, events, events_cap_, tsp, nullptr);
    if (n < 0 && errno == ENOSYS) have_pwait2_ = false;  // kernels before 5.11
  }
  if (!have_pwait2_) {
    // Round up so a timer is never reported due early.
    int ms = timeout_ns < 0 ? -1 : static_cast<int>((timeout_ns + 999'999) / 1'000'000);
    n = ::epoll_pwait(epfd_, events, events_cap_, ms, nullptr);
  }
  if (n < 0) n = 0;  // EINTR: the loop simply goes round again

  for (int i = 0; i < n; ++i) {
    auto* io = static_cast<io_object*>(events[i].data.ptr);
    if (io == nullptr) {
      std::uint64_t value;
      while (::read(wakefd_, &value, sizeof value) > 0) {
      }
      out.woken = true;
      continue;
    }
    const std::uint32_t ev = events[i].events;
    io_state& st = state(*io);
    if ((ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) st.readable = true;
    if ((ev & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0) st.writable = true;
    // A callback run from one of these may close another socket in this batch; its ops are
    // then cancelled (moved to the ready list) and its queues are empty, so this is safe as
    // long as the io object lives until the close phase, which the core guarantees.
    run_queue(*io, false, out);
    run_queue(*io, true, out);
  }

  // A full array: more sockets may be ready than it holds, so the next poll takes more.
  // (Grown after the events above are served: they point into the old array.)
  if (n == events_cap_ && events_cap_ < max_events) {
    // Without the memory the array stays as it is.
    if (auto* bigger = new (std::nothrow) epoll_event[static_cast<std::size_t>(events_cap_) * 2]) {
      events_.reset(bigger);
      events_cap_ *= 2;
    }
  }

  // Sockets that hit the per-event limit last time. Those that hit it again go back on
  // retry_ (empty after the swap) for the next poll.
  if (!retry_.empty()) {
    retry_serving_.swap(retry_);
    for (io_object* io : retry_serving_) state(*io).retry = false;
    for (io_object* io : retry_serving_) {
      run_queue(*io, false, out);
      run_queue(*io, true, out);
    }
    retry_serving_.clear();
  }

  // Deliver the ready list as it stands now; operations made ready by these callbacks
  // go to the next poll.
  operation* op = ready_head_;
  ready_head_ = ready_tail_ = nullptr;
  while (op != nullptr) {
    operation* next = next_of(*op);
    ++out.completions;
    detail::complete(*op);
    op = next;
  }
  return out;
}

void port::wake() noexcept {
  std::uint64_t one = 1;
  // EAGAIN means the counter is already non-zero: the loop will wake anyway.
  [[maybe_unused]] auto r = ::write(wakefd_, &one, sizeof one);
}

void port::close() noexcept {
  posix::close_fd(wakefd_);
  posix::close_fd(epfd_);
  ready_head_ = ready_tail_ = nullptr;
}

}  // namespace eddy::platform::epoll
