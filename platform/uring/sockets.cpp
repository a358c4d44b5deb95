// The io_uring port's sockets (see port_state.hpp for how the port is split): a listener's
// multishot accept and its stash, and the multishot receive of a connected or datagram
// socket into a provided-buffer ring, served to the core's recv operations. Loop thread only.
#include "platform/uring/port_state.hpp"
#include "platform/contract/fault.hpp"

namespace eddy::platform::uring {

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

}  // namespace eddy::platform::uring
