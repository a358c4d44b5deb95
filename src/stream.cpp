#include <algorithm>
#include <cstring>

#include "stream_impl.hpp"

namespace eddy {
namespace detail {

namespace {
constexpr std::size_t own_buffer_size = 64 * 1024;
constexpr std::size_t max_iov = 64;  // buffers handed to one send; the rest follow
}  // namespace

stream_impl::stream_impl(loop_impl& loop, handle_type type) noexcept : io_handle(loop, type) {
  prepare(read_op_, op_kind::recv, &on_read_complete);
  read_op_.acquire = &acquire_read_buffer;
  prepare(write_op_, op_kind::send, &on_write_complete);
  prepare(shutdown_op_, op_kind::nop, &on_shutdown_complete);
  prepare(unread_op_, op_kind::nop, &on_unread_complete);
  prepare(accept_op_, op_kind::accept, &on_accept_complete);
  prepare(connect_op_, op_kind::connect, &on_connect_complete);
}

stream_impl::~stream_impl() {
  while (write_request* r = free_requests_) {
    free_requests_ = r->next;
    delete r;
  }
}

void stream_impl::cancel_all() noexcept {
  for (operation* op : {&read_op_, &write_op_, &accept_op_, &connect_op_}) cancel(*op);
}

void stream_impl::on_close() noexcept {
  read_closed_ = reading_ && read_once_;
  reading_ = false;
  read_once_ = false;
  listening_ = false;
  cancel_all();
}

void stream_impl::on_release() noexcept {
  // Everything has completed; what never started fails now, before the close callback.
  fail_writes(make_error_code(errc::operation_canceled));
  if (shutdown_cb_) {
    auto cb = std::move(shutdown_cb_);
    loop_.invoke(this, [&] { cb(make_error_code(errc::operation_canceled)); });
  }
  // A read_some is a request too (unless the handle is gone: then no callback of it runs).
  if (read_closed_ && owner_ != nullptr) {
    read_closed_ = false;
    deliver(make_error_code(errc::operation_canceled), {});
  }
  while (!accepted_.empty()) net::close(accepted_.pop());
  while (!pending_handles_.empty()) net::close(pending_handles_.pop());
  close_socket();
  if (!bound_name_.empty()) net::unlink_local(bound_name_);  // as libuv: a bound path goes with its pipe
}

// ---------------------------------------------------------------- reading

std::error_code stream_impl::read_start(alloc_callback alloc, read_callback on_read) {
  if (closing_) return make_error_code(errc::closed);
  if (!connected_) return make_error_code(errc::not_connected);
  if (reading_) return make_error_code(errc::already_started);
  alloc_ = std::move(alloc);
  on_read_ = std::move(on_read);
  reading_ = true;
  set_active(true);
  start_read();
  return {};
}

std::error_code stream_impl::read_some(mutable_buffer buf, read_callback on_read) {
  if (closing_) return make_error_code(errc::closed);
  if (!connected_) return make_error_code(errc::not_connected);
  if (reading_) return make_error_code(errc::already_started);
  if (buf.empty()) return make_error_code(errc::invalid_argument);
  alloc_ = nullptr;
  on_read_ = std::move(on_read);
  once_buf_ = buf;
  read_once_ = true;
  reading_ = true;
  set_active(true);
  start_read();
  return {};
}

void stream_impl::read_stop() noexcept {
  if (!reading_) return;
  reading_ = false;
  read_once_ = false;
  cancel(read_op_);
  if (!listening_ && write_head_ == nullptr && !connect_op_.in_flight) set_active(false);
}

void stream_impl::start_read() noexcept {
  if (!reading_ || read_op_.in_flight || closing_) return;
  if (!unread_.empty() || unread_end_) {
    // What arrived after read_stop() goes first, from the loop (never from read_start()).
    if (!unread_op_.in_flight) submit(unread_op_);
    return;
  }
  read_buf_ = {nullptr, 0};
  read_op_.kind = io_.kind == io_kind::socket ? op_kind::recv : op_kind::read;
  submit(read_op_);
}

// The buffer the next delivery fills: read_some's, the alloc callback's, or the stream's own.
mutable_buffer stream_impl::next_read_buffer(std::size_t suggested) {
  if (read_once_) return once_buf_;
  mutable_buffer buf;
  if (alloc_) {
    loop_.invoke(this, [&] { buf = alloc_(suggested); });
  } else {
    if (!own_buffer_) own_buffer_ = std::make_unique_for_overwrite<std::byte[]>(own_buffer_size);
    buf = mutable_buffer(own_buffer_.get(), own_buffer_size);
  }
  return buf;
}

io_vec stream_impl::acquire_read_buffer(operation* op) {
  stream_impl& s = owner_of(op);
  if (s.read_buf_.len != 0) return s.read_buf_;  // acquired for an earlier attempt
  const mutable_buffer buf = s.next_read_buffer(own_buffer_size);
  s.read_buf_ = {buf.data(), buf.size()};
  return s.read_buf_;
}

// Hands one delivery to on_read_. Reading stops after it on any error, and after the one
// delivery of a read_some.
void stream_impl::deliver(std::error_code ec, std::span<std::byte> data) {
  if (ec == errc::eof) eof_ = true;
  if (ec || read_once_) {
    reading_ = false;
    read_once_ = false;
    if (!listening_ && write_head_ == nullptr) set_active(false);
  }
  // The callback may start the next read (read_some, read_start), which replaces on_read_:
  // it runs from a local so that it is not destroyed while it runs.
  read_callback cb = std::move(on_read_);
  on_read_ = nullptr;
  loop_.invoke(this, [&] { cb(ec, data); });
  if (!on_read_) on_read_ = std::move(cb);
}

void stream_impl::on_read_complete(operation* op) {
  stream_impl& s = owner_of(op);
  s.op_done();
  io_vec buf = s.read_buf_;
  s.read_buf_ = {nullptr, 0};
  if (op->accepted >= 0) {
    // A handle passed over an ipc pipe: it waits for accept_pending() (or is closed with
    // the pipe if nobody takes it).
    s.pending_handles_.push(op->accepted);
    op->accepted = -1;
  }
  if (s.closing_) return;
  std::error_code ec = op->error;
  std::size_t n = 0;
  if (!ec) {
    n = static_cast<std::size_t>(op->result);
    if (n == 0) ec = make_error_code(errc::eof);
  }
  if (ec == errc::operation_canceled) {
    s.start_read();  // read_stop() cancelled it; read_start() may have come since
    return;
  }
  if (!s.reading_) {
    // read_stop() came while the read was in flight and the data won the race: keep it
    // (or the end of stream) for the next read_start(), nothing is lost.
    if (ec) {
      s.unread_end_ = ec;
    } else {
      const auto* p = static_cast<const std::byte*>(buf.base);
      s.unread_.insert(s.unread_.end(), p, p + n);
    }
    return;
  }
  s.deliver(ec, std::span<std::byte>(static_cast<std::byte*>(buf.base), n));
  s.start_read();
}

void stream_impl::on_unread_complete(operation* op) {
  stream_impl& s = owner_of(op);
  s.op_done();
  if (s.closing_ || !s.reading_) return;
  if (!s.unread_.empty()) {
    const mutable_buffer buf = s.next_read_buffer(s.unread_.size());
    const std::size_t n = std::min(buf.size(), s.unread_.size());
    if (n == 0) {
      s.deliver(make_error_code(errc::no_memory), {});
      return;
    }
    std::copy_n(s.unread_.begin(), n, buf.begin());
    s.unread_.erase(s.unread_.begin(), s.unread_.begin() + static_cast<std::ptrdiff_t>(n));
    s.deliver({}, std::span<std::byte>(buf.data(), n));
  } else {
    std::error_code ec = s.unread_end_;
    s.unread_end_ = {};
    s.deliver(ec, {});
  }
  s.start_read();
}

// ---------------------------------------------------------------- writing

write_request* stream_impl::new_request() {
  if (write_request* r = free_requests_) {
    free_requests_ = r->next;
    r->next = nullptr;
    return r;
  }
  return new write_request;
}

void stream_impl::recycle(write_request* r) noexcept {
  r->bufs.clear();
  r->first = 0;
  r->bytes_left = 0;
  r->cb = nullptr;
  r->send_handle = -1;
  r->next = free_requests_;
  free_requests_ = r;
}

std::error_code stream_impl::write(std::span<const const_buffer> bufs, completion_callback cb,
                                   std::intptr_t send_handle) {
  if (closing_) return make_error_code(errc::closed);
  if (!connected_) return make_error_code(errc::not_connected);
  if (write_shut_ || shutdown_cb_) return make_error_code(errc::broken_pipe);
  write_request* r = new_request();
  for (const auto& b : bufs) {
    if (b.empty()) continue;
    r->bufs.push_back({const_cast<std::byte*>(b.data()), b.size()});
    r->bytes_left += b.size();
  }
  r->cb = std::move(cb);
  r->send_handle = send_handle;
  if (write_tail_ != nullptr) {
    write_tail_->next = r;
  } else {
    write_head_ = r;
  }
  write_tail_ = r;
  write_queue_bytes_ += r->bytes_left;
  set_active(true);
  start_write();
  return {};
}

void stream_impl::start_write() noexcept {
  if (write_op_.in_flight || closing_) return;
  write_request* r = write_head_;
  if (r == nullptr) return;
  if (r->bytes_left == 0) {
    // An empty write still completes through the port, in order.
    write_op_.kind = op_kind::nop;
  } else {
    write_op_.kind = io_.kind == io_kind::socket ? op_kind::send : op_kind::write;
    write_op_.bufs = r->bufs.data() + r->first;
    std::size_t n = r->bufs.size() - r->first;
    write_op_.nbufs = static_cast<std::uint32_t>(n < max_iov ? n : max_iov);
  }
  write_op_.send_handle = r->send_handle;
  submit(write_op_);
}

void stream_impl::on_write_complete(operation* op) {
  stream_impl& s = owner_of(op);
  s.op_done();
  write_request* r = s.write_head_;
  if (op->error) {
    // The stream is broken for writing: fail this and every queued write, in order.
    s.fail_writes(op->error);
    return;
  }
  std::size_t n = static_cast<std::size_t>(op->result);
  if (n > 0) r->send_handle = -1;  // it went with the first bytes
  s.write_queue_bytes_ -= n;
  r->bytes_left -= n;
  while (n > 0) {
    io_vec& b = r->bufs[r->first];
    if (n >= b.len) {
      n -= b.len;
      ++r->first;
    } else {
      b.base = static_cast<std::byte*>(b.base) + n;
      b.len -= n;
      n = 0;
    }
  }
  if (r->bytes_left == 0) {
    s.write_head_ = r->next;
    if (s.write_head_ == nullptr) s.write_tail_ = nullptr;
    auto cb = std::move(r->cb);
    s.recycle(r);
    if (cb) s.loop_.invoke(&s, [&] { cb({}); });
    if (s.write_head_ == nullptr && !s.closing_) {
      if (!s.reading_ && !s.listening_) s.set_active(false);
      if (s.on_drain_) s.loop_.invoke(&s, [&] { s.on_drain_(); });
      s.finish_shutdown_if_ready();
    }
  }
  s.start_write();
}

void stream_impl::fail_writes(std::error_code ec) noexcept {
  while (write_request* r = write_head_) {
    write_head_ = r->next;
    if (write_head_ == nullptr) write_tail_ = nullptr;
    write_queue_bytes_ -= r->bytes_left;
    auto cb = std::move(r->cb);
    recycle(r);
    if (cb) loop_.invoke(this, [&] { cb(ec); });
  }
  write_queue_bytes_ = 0;
}

std::size_t stream_impl::try_write(std::span<const const_buffer> bufs, std::error_code& ec) {
  if (closing_) {
    ec = make_error_code(errc::closed);
    return 0;
  }
  if (!connected_ || write_shut_) {
    ec = make_error_code(connected_ ? errc::broken_pipe : errc::not_connected);
    return 0;
  }
  if (write_head_ != nullptr) {
    ec = make_error_code(errc::would_block);  // keep the byte order
    return 0;
  }
  io_vec vecs[max_iov];
  std::size_t n = 0;
  for (const auto& b : bufs) {
    if (n == max_iov) break;
    if (!b.empty()) vecs[n++] = {const_cast<std::byte*>(b.data()), b.size()};
  }
  if (n == 0) {
    ec.clear();
    return 0;
  }
  return io_.kind == io_kind::socket ? net::try_send(io_.native, vecs, n, ec) : net::try_write(io_.native, vecs, n, ec);
}

std::error_code stream_impl::shutdown(completion_callback cb) {
  if (closing_) return make_error_code(errc::closed);
  if (!connected_) return make_error_code(errc::not_connected);
  if (write_shut_ || shutdown_cb_) return make_error_code(errc::already_started);
  shutdown_cb_ = std::move(cb);
  shutdown_pending_ = true;
  finish_shutdown_if_ready();
  return {};
}

void stream_impl::finish_shutdown_if_ready() noexcept {
  if (!shutdown_pending_ || write_head_ != nullptr || shutdown_op_.in_flight) return;
  shutdown_pending_ = false;
  write_shut_ = true;
  shutdown_result_ = net::shutdown_write(io_.native);
  // The callback comes from poll, never from inside shutdown() itself.
  submit(shutdown_op_);
}

void stream_impl::on_shutdown_complete(operation* op) {
  stream_impl& s = owner_of(op);
  // The stream stays active while a shutdown is pending; afterwards only reads, writes or
  // listening keep it so.
  s.op_done();
  auto cb = std::move(s.shutdown_cb_);
  s.shutdown_cb_ = nullptr;
  if (cb) s.loop_.invoke(&s, [&] { cb(s.closing_ ? make_error_code(errc::operation_canceled) : s.shutdown_result_); });
}

}  // namespace detail

// ---------------------------------------------------------------- public stream

namespace {
detail::stream_impl* as_stream(detail::handle_base* h) noexcept { return static_cast<detail::stream_impl*>(h); }
std::error_code closed_error() { return make_error_code(errc::closed); }
}  // namespace

std::error_code stream::read_start(alloc_callback alloc, read_callback on_read) {
  auto* s = as_stream(impl_);
  return s ? s->read_start(std::move(alloc), std::move(on_read)) : closed_error();
}
std::error_code stream::read_start(read_callback on_read) {
  auto* s = as_stream(impl_);
  return s ? s->read_start(nullptr, std::move(on_read)) : closed_error();
}
std::error_code stream::read_some(mutable_buffer buf, read_callback on_read) {
  auto* s = as_stream(impl_);
  return s ? s->read_some(buf, std::move(on_read)) : closed_error();
}
void stream::read_stop() noexcept {
  if (auto* s = as_stream(impl_)) s->read_stop();
}
bool stream::is_reading() const noexcept {
  auto* s = as_stream(impl_);
  return s != nullptr && s->reading_;
}
std::error_code stream::write(std::span<const const_buffer> bufs, completion_callback on_done) {
  auto* s = as_stream(impl_);
  return s ? s->write(bufs, std::move(on_done)) : closed_error();
}
std::error_code stream::write(const_buffer buf, completion_callback on_done) {
  return write(std::span<const const_buffer>(&buf, 1), std::move(on_done));
}
std::size_t stream::try_write(std::span<const const_buffer> bufs, std::error_code& ec) {
  auto* s = as_stream(impl_);
  if (s == nullptr) {
    ec = closed_error();
    return 0;
  }
  return s->try_write(bufs, ec);
}
std::size_t stream::write_queue_size() const noexcept {
  auto* s = as_stream(impl_);
  return s ? s->write_queue_bytes_ : 0;
}
void stream::on_drain(std::function<void()> cb) {
  if (auto* s = as_stream(impl_)) s->on_drain_ = std::move(cb);
}
std::error_code stream::shutdown(completion_callback on_done) {
  auto* s = as_stream(impl_);
  return s ? s->shutdown(std::move(on_done)) : closed_error();
}
bool stream::is_readable() const noexcept {
  auto* s = as_stream(impl_);
  return s != nullptr && !s->closing_ && s->connected_ && !s->eof_;
}
bool stream::is_writable() const noexcept {
  auto* s = as_stream(impl_);
  return s != nullptr && !s->closing_ && s->connected_ && !s->write_shut_ && !s->shutdown_cb_;
}

}  // namespace eddy
