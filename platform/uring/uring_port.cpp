#include "platform/uring/uring_port.hpp"

#include <poll.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <deque>

#include "platform/contract/fault.hpp"
#include "platform/posix/fd_passing.hpp"
#include "platform/posix/fs_posix.hpp"
#include "platform/posix/posix_util.hpp"

namespace eddy::platform::uring {
namespace posix_fs = detail::fs_posix;
namespace {

constexpr unsigned ring_entries = 256;
constexpr unsigned reap_batch = 128;

// user_data values that are not operations.
constexpr std::uint64_t wake_tag = 1;
constexpr std::uint64_t ignore_tag = 2;

struct recv_state {
  bool no_buffer;
};

// user_data of a listener's multishot accept: the listener's address with bit 0 set
// (operations are at least 8-aligned, so their low bits are 0).
constexpr std::uint64_t listener_bit = 1;

}  // namespace

struct port::stream_rx {
  struct chunk {
    unsigned short bid;
    unsigned len;
    unsigned offset;
  };
  int fd = -1;
  bool datagram = false;  // recvmsg: one datagram per buffer, with its sender
  bool armed = false;
  bool detached = false;
  bool eof = false;
  bool ever_received = false;
  int error = 0;
  detail::operation* waiting = nullptr;
  std::deque<chunk> queue;  // received and not yet read, oldest first
  msghdr layout{};          // datagrams: how the kernel lays out each buffer (name, payload)
};

struct port::buffer_group {
  io_uring_buf_ring* ring = nullptr;
  unsigned char* data = nullptr;
  unsigned count = 0;
  std::size_t size = 0;
  unsigned short bgid = 0;
  unsigned char* buffer(unsigned short bid) const noexcept { return data + std::size_t{bid} * size; }
  void recycle(unsigned short bid) noexcept {
    io_uring_buf_ring_add(ring, buffer(bid), static_cast<unsigned>(size), bid, io_uring_buf_ring_mask(count), 0);
    io_uring_buf_ring_advance(ring, 1);
  }
};

struct port::listener {
  int fd = -1;
  bool armed = false;        // a multishot accept is in the ring
  bool detached = false;     // the core is done with it; freed with the last CQE
  bool ever_accepted = false;
  detail::operation* waiting = nullptr;  // the core's accept operation, if any
  std::vector<int> stash;                // accepted while nobody waited
  int stashed_error = 0;                 // an error that arrived while nobody waited
};

namespace {

// The io object's port_data: its listener or receiver state (or nullptr).
struct io_slots {
  port::listener* listener;
  port::stream_rx* rx;
};
io_slots& slots(detail::io_object& io) noexcept { return *reinterpret_cast<io_slots*>(io.port_data.data()); }
port::listener*& listener_of(detail::io_object& io) noexcept { return slots(io).listener; }

constexpr unsigned buffer_count = 128;  // streams; a power of two
constexpr unsigned buffer_size = 16 * 1024;
constexpr unsigned dgram_buffer_count = 16;  // datagrams: header, sender, then up to 64 KiB
constexpr unsigned dgram_buffer_size = 64 * 1024 + sizeof(io_uring_recvmsg_out) + sizeof(sockaddr_storage);
constexpr std::uint64_t rx_bit = 2;  // user_data of a multishot receive: its state | 2

}  // namespace

std::error_code port::init() {
  io_uring_params params{};
  // Cooperative task running (Linux 5.19+): completions are posted when the loop enters the
  // kernel anyway, instead of interrupting it; the TASKRUN flag says when to enter.
  params.flags = IORING_SETUP_CLAMP | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
  int r = io_uring_queue_init_params(ring_entries, &ring_, &params);
  if (r == -EINVAL) {
    params = io_uring_params{};
    params.flags = IORING_SETUP_CLAMP;
    r = io_uring_queue_init_params(ring_entries, &ring_, &params);
  }
  if (r < 0) return make_error_code(errc::backend_unavailable);  // e.g. seccomp, io_uring_disabled
  open_ = true;
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

// Which file operations go through the ring: the kernel's probe says which opcodes exist
// (never guessed from the version). Reads and writes at the file's position (offset -1) also
// need IORING_FEAT_RW_CUR_POS (Linux 5.6).
void port::probe_file_ops(const io_uring_params& params) noexcept {
  file_ops_ = 0;
  io_uring_probe* probe = io_uring_get_probe_ring(&ring_);
  if (probe == nullptr) return;
  const auto bit = [](detail::op_kind k) {
    return 1u << (static_cast<unsigned>(k) - static_cast<unsigned>(detail::op_kind::file_open));
  };
  const auto has = [probe](int opcode) { return io_uring_opcode_supported(probe, opcode) != 0; };
  const bool cur_pos = (params.features & IORING_FEAT_RW_CUR_POS) != 0;
  if (has(IORING_OP_OPENAT)) file_ops_ |= bit(detail::op_kind::file_open);
  if (has(IORING_OP_CLOSE)) file_ops_ |= bit(detail::op_kind::file_close);
  if (has(IORING_OP_READV) && cur_pos) file_ops_ |= bit(detail::op_kind::file_read);
  if (has(IORING_OP_WRITEV) && cur_pos) file_ops_ |= bit(detail::op_kind::file_write);
  if (has(IORING_OP_STATX)) file_ops_ |= bit(detail::op_kind::file_stat);
  if (has(IORING_OP_FSYNC)) file_ops_ |= bit(detail::op_kind::file_sync);
  single_rw_ = has(IORING_OP_READ) && has(IORING_OP_WRITE);
  io_uring_free_probe(probe);
}

// One buffer of at most what one read or write moves (Linux's MAX_RW_COUNT): the plain
// opcode then saves the kernel importing an iovec.
bool port::single_buffer(const detail::operation& op) const noexcept {
  return single_rw_ && op.nbufs == 1 && op.bufs[0].len <= 0x7ffff000u;
}

void port::prep_file(io_uring_sqe* sqe, detail::operation& op) noexcept {
  const int fd = static_cast<int>(op.file);
  const auto* iov = reinterpret_cast<const iovec*>(op.bufs);
  switch (op.kind) {
    case detail::op_kind::file_open:
      io_uring_prep_openat(sqe, AT_FDCWD, static_cast<const char*>(op.addr),
                           posix_fs::to_open_flags(static_cast<fs::open_flags>(op.flags)), op.mode);
      break;
    case detail::op_kind::file_close:
      io_uring_prep_close(sqe, fd);
      break;
    case detail::op_kind::file_read:  // offset -1: the file position
      if (single_buffer(op)) {
        io_uring_prep_read(sqe, fd, iov->iov_base, static_cast<unsigned>(iov->iov_len), static_cast<__u64>(op.offset));
      } else {
        io_uring_prep_readv(sqe, fd, iov, op.nbufs, static_cast<__u64>(op.offset));
      }
      break;
    case detail::op_kind::file_write:
      if (single_buffer(op)) {
        io_uring_prep_write(sqe, fd, iov->iov_base, static_cast<unsigned>(iov->iov_len), static_cast<__u64>(op.offset));
      } else {
        io_uring_prep_writev(sqe, fd, iov, op.nbufs, static_cast<__u64>(op.offset));
      }
      break;
    case detail::op_kind::file_stat: {
      const int no_follow = (op.flags & detail::stat_no_follow) != 0 ? AT_SYMLINK_NOFOLLOW : 0;
      auto* x = reinterpret_cast<struct statx*>(op.buf.base);
      if (op.addr != nullptr) {
        io_uring_prep_statx(sqe, AT_FDCWD, static_cast<const char*>(op.addr), no_follow,
                            STATX_BASIC_STATS | STATX_BTIME, x);
      } else {
        io_uring_prep_statx(sqe, fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS | STATX_BTIME, x);
      }
      break;
    }
    case detail::op_kind::file_sync:
      io_uring_prep_fsync(sqe, fd, (op.flags & detail::sync_data_only) != 0 ? IORING_FSYNC_DATASYNC : 0);
      break;
    default:
      io_uring_prep_nop(sqe);  // not a file operation: never called so
      break;
  }
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
    // (A multishot accept is cancelled within the submit call.)
    io_uring_submit(&ring_);
  } else {
    free_listener(l);
  }
}

void port::free_listener(listener* l) noexcept {
  for (int fd : l->stash) ::close(fd);
  for (auto& p : listeners_) {
    if (p == l) {
      p = listeners_.back();
      listeners_.pop_back();
      break;
    }
  }
  delete l;
}

namespace {
struct ready_link {
  detail::operation* next;
};
detail::operation*& next_ready(detail::operation& op) noexcept { return detail::port_state<ready_link>(op).next; }
}  // namespace

void port::make_ready(detail::operation& op) noexcept {
  next_ready(op) = nullptr;
  if (ready_tail_ != nullptr) {
    next_ready(*ready_tail_) = &op;
  } else {
    ready_head_ = &op;
  }
  ready_tail_ = &op;
}

void port::arm_accept(listener& l) noexcept {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_multishot_accept(sqe, l.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, reinterpret_cast<std::uintptr_t>(&l) | listener_bit);
  l.armed = true;
}

void port::submit_accept(detail::operation& op) noexcept {
  listener*& slot = listener_of(*op.io);
  if (slot == nullptr) {
    slot = new (std::nothrow) listener;
    if (slot == nullptr) {
      op.error = make_error_code(errc::no_memory);
      make_ready(op);
      return;
    }
    slot->fd = static_cast<int>(op.io->native);
    listeners_.push_back(slot);
  }
  listener& l = *slot;
  if (!l.stash.empty()) {
    op.accepted = l.stash.front();
    l.stash.erase(l.stash.begin());
    make_ready(op);
    return;
  }
  if (l.stashed_error != 0) {
    op.error = from_errno(l.stashed_error);
    l.stashed_error = 0;
    make_ready(op);
    return;
  }
  l.waiting = &op;
  if (!l.armed) arm_accept(l);
}

void port::on_accept_cqe(listener& l, int res, unsigned flags, detail::poll_result& out) {
  if (res >= 0 && !l.detached) {
    if (int e = EDDY_FAULT(accept)) {  // fault injection: a failed accept CQE
      ::close(res);
      res = -e;
    }
  }
  if ((flags & IORING_CQE_F_MORE) == 0) l.armed = false;
  detail::operation* done = nullptr;  // delivered last: its callback may close the listener
  if (res == -EINVAL && !l.ever_accepted && !l.detached) {
    // A kernel without multishot accept (before 5.19): single-shot accepts from now on.
    multishot_accept_ = false;
    if (detail::operation* op = l.waiting) {
      l.waiting = nullptr;
      io_uring_sqe* sqe = get_sqe();
      io_uring_prep_accept(sqe, l.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      io_uring_sqe_set_data(sqe, op);
    }
  } else if (l.detached) {
    if (res >= 0) ::close(res);
  } else if (res >= 0) {
    l.ever_accepted = true;
    if ((done = l.waiting) != nullptr) {
      done->accepted = res;
      done->result = 0;
      done->error = {};
    } else {
      l.stash.push_back(res);
    }
  } else if (res != -ECANCELED) {
    if ((done = l.waiting) != nullptr) {
      done->result = 0;
      done->error = from_errno(-res);
    } else {
      l.stashed_error = -res;
    }
  }
  if (done != nullptr) l.waiting = nullptr;
  if (!l.armed) {
    if (l.detached) {
      free_listener(&l);
    } else if (l.waiting != nullptr && multishot_accept_) {
      arm_accept(l);  // the kernel ended the multishot (e.g. an error): start another
    }
  }
  if (done != nullptr) {
    ++out.completions;
    detail::complete(*done);
  }
}

// ---------------------------------------------------------------- multishot receive

port::buffer_group* port::group_for(bool datagram) noexcept {
  buffer_group*& g = groups_[datagram ? 1 : 0];
  if (g != nullptr) return g;
  const unsigned count = datagram ? dgram_buffer_count : buffer_count;
  const std::size_t size = datagram ? dgram_buffer_size : buffer_size;
  const unsigned short bgid = datagram ? 1 : 0;
  void* mem = nullptr;
  const std::size_t ring_bytes = count * sizeof(io_uring_buf);
  if (::posix_memalign(&mem, 4096, ring_bytes) != 0) return nullptr;
  std::memset(mem, 0, ring_bytes);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uintptr_t>(mem);
  reg.ring_entries = count;
  reg.bgid = bgid;
  if (io_uring_register_buf_ring(&ring_, &reg, 0) != 0) {  // before Linux 5.19
    std::free(mem);
    return nullptr;
  }
  auto* group = new (std::nothrow) buffer_group;
  // Pages of the buffers are only touched when data lands in them.
  unsigned char* data = static_cast<unsigned char*>(std::malloc(std::size_t{count} * size));
  if (group == nullptr || data == nullptr) {
    io_uring_unregister_buf_ring(&ring_, bgid);
    std::free(mem);
    std::free(data);
    delete group;
    return nullptr;
  }
  group->ring = static_cast<io_uring_buf_ring*>(mem);
  group->data = data;
  group->count = count;
  group->size = size;
  group->bgid = bgid;
  io_uring_buf_ring_init(group->ring);
  for (unsigned i = 0; i < count; ++i) {
    io_uring_buf_ring_add(group->ring, group->buffer(static_cast<unsigned short>(i)), static_cast<unsigned>(size),
                          static_cast<unsigned short>(i), io_uring_buf_ring_mask(count), static_cast<int>(i));
  }
  io_uring_buf_ring_advance(group->ring, static_cast<int>(count));
  g = group;
  return g;
}

void port::recycle(stream_rx& rx, unsigned short bid) noexcept { groups_[rx.datagram ? 1 : 0]->recycle(bid); }

void port::free_rx(stream_rx* rx) noexcept {
  for (const auto& c : rx->queue) recycle(*rx, c.bid);
  for (auto& p : receivers_) {
    if (p == rx) {
      p = receivers_.back();
      receivers_.pop_back();
      break;
    }
  }
  delete rx;
}

void port::arm_recv(stream_rx& rx) noexcept {
  io_uring_sqe* sqe = get_sqe();
  if (rx.datagram) {
    io_uring_prep_recvmsg_multishot(sqe, rx.fd, &rx.layout, 0);
  } else {
    io_uring_prep_recv_multishot(sqe, rx.fd, nullptr, 0, 0);
  }
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = rx.datagram ? 1 : 0;
  io_uring_sqe_set_data64(sqe, reinterpret_cast<std::uintptr_t>(&rx) | rx_bit);
  rx.armed = true;
}

// Completes op from what rx holds: queued data (copied into the caller's buffer), then end of
// stream or an error.
void port::serve_recv(stream_rx& rx, detail::operation& op) noexcept {
  op.result = 0;
  op.error = {};
  if (rx.datagram && !rx.queue.empty()) {
    const auto c = rx.queue.front();
    rx.queue.pop_front();
    buffer_group& g = *groups_[1];
    auto* out = io_uring_recvmsg_validate(g.buffer(c.bid), static_cast<int>(c.len), &rx.layout);
    op.buf = out != nullptr ? op.acquire(&op) : detail::io_vec{nullptr, 0};
    if (out == nullptr) {
      op.error = make_error_code(errc::invalid_argument);  // cannot happen: the kernel filled it
    } else if (op.buf.len == 0) {
      op.error = make_error_code(errc::no_memory);
    } else {
      const std::size_t payload = io_uring_recvmsg_payload_length(out, static_cast<int>(c.len), &rx.layout);
      const std::size_t n = std::min(payload, op.buf.len);
      std::memcpy(op.buf.base, io_uring_recvmsg_payload(out, &rx.layout), n);
      const std::size_t namelen = std::min<std::size_t>(out->namelen, 128);
      std::memcpy(op.from, io_uring_recvmsg_name(out), namelen);
      op.fromlen = static_cast<std::uint32_t>(namelen);
      const bool cut = (out->flags & MSG_TRUNC) != 0 || payload > op.buf.len;
      op.flags = cut ? detail::datagram_truncated : 0;
      op.result = static_cast<std::int64_t>(n);
    }
    g.recycle(c.bid);
    return;
  }
  if (!rx.queue.empty()) {
    op.buf = op.acquire(&op);
    if (op.buf.len == 0) {
      op.error = make_error_code(errc::no_memory);
      return;
    }
    std::size_t filled = 0;
    auto* out = static_cast<unsigned char*>(op.buf.base);
    while (!rx.queue.empty() && filled < op.buf.len) {
      auto& c = rx.queue.front();
      const std::size_t n = std::min<std::size_t>(c.len - c.offset, op.buf.len - filled);
      std::memcpy(out + filled, groups_[0]->buffer(c.bid) + c.offset, n);
      filled += n;
      c.offset += static_cast<unsigned>(n);
      if (c.offset == c.len) {
        groups_[0]->recycle(c.bid);
        rx.queue.pop_front();
      }
    }
    op.result = static_cast<std::int64_t>(filled);
    return;
  }
  if (rx.error != 0) {
    op.error = from_errno(rx.error);
    rx.error = 0;
  }
  // else end of stream: result 0
}

void port::submit_recv(detail::operation& op) noexcept {
  stream_rx*& slot = slots(*op.io).rx;
  if (slot == nullptr) {
    slot = new (std::nothrow) stream_rx;
    if (slot == nullptr) {
      op.error = make_error_code(errc::no_memory);
      make_ready(op);
      return;
    }
    slot->fd = static_cast<int>(op.io->native);
    slot->datagram = op.kind == detail::op_kind::recvfrom;
    slot->layout.msg_namelen = sizeof(sockaddr_storage);
    receivers_.push_back(slot);
  }
  stream_rx& rx = *slot;
  if (!rx.queue.empty() || rx.eof || rx.error != 0) {
    serve_recv(rx, op);
    make_ready(op);
    return;
  }
  rx.waiting = &op;
  if (!rx.armed) arm_recv(rx);
}

void port::on_recv_cqe(stream_rx& rx, int res, unsigned flags, detail::poll_result& out) {
  if ((flags & IORING_CQE_F_MORE) == 0) rx.armed = false;
  if (rx.detached) {
    if (res > 0 && (flags & IORING_CQE_F_BUFFER) != 0) {
      recycle(rx, static_cast<unsigned short>(flags >> IORING_CQE_BUFFER_SHIFT));
    }
    if (!rx.armed) free_rx(&rx);
    return;
  }
  if (res > 0 && (flags & IORING_CQE_F_BUFFER) != 0) {
    if (int e = EDDY_FAULT(recv)) {  // fault injection: a failed recv CQE
      recycle(rx, static_cast<unsigned short>(flags >> IORING_CQE_BUFFER_SHIFT));
      res = -e;
    }
  }
  detail::operation* plain = nullptr;  // to be read without the ring
  if (res > 0) {
    rx.ever_received = true;
    rx.queue.push_back({static_cast<unsigned short>(flags >> IORING_CQE_BUFFER_SHIFT), static_cast<unsigned>(res), 0});
  } else if (res == 0) {
    if (!rx.datagram) rx.eof = true;
  } else if (res == -EINVAL && !rx.ever_received) {
    multishot_[rx.datagram ? 1 : 0] = rx_support::no;  // a kernel without it (before 6.0)
    plain = rx.waiting;
  } else if (res == -ENOBUFS) {
    plain = rx.waiting;  // every ring buffer holds unread data: read this one directly
  } else if (res != -ECANCELED) {
    rx.error = -res;
  }
  if (plain != nullptr) {
    rx.waiting = nullptr;
    submit_plain(*plain);
  }
  detail::operation* done = nullptr;  // delivered last: its callback may close the socket
  if (rx.waiting != nullptr && (!rx.queue.empty() || rx.eof || rx.error != 0)) {
    done = rx.waiting;
    rx.waiting = nullptr;
    serve_recv(rx, *done);
  } else if (!rx.armed && rx.waiting != nullptr && multishot_[rx.datagram ? 1 : 0] == rx_support::yes) {
    arm_recv(rx);
  }
  if (done != nullptr) {
    ++out.completions;
    detail::complete(*done);
  }
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
        posix_fs::from_statx(*reinterpret_cast<const struct statx*>(op->buf.base), *static_cast<fs::stat_info*>(op->out));
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
