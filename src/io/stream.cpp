#include <algorithm>
#include <cstring>
#include <new>

#include "io/stream_impl.hpp"
#include "platform/contract/fault.hpp"

namespace eddy {
namespace detail {

namespace {
constexpr std::size_t own_buffer_size = read_buffer_pool::buffer_size;
constexpr std::size_t max_iov = 64;  // buffers handed to one send; the rest follow
}  // namespace

stream_impl::stream_impl(loop_impl& loop, handle_type type) noexcept : io_handle(loop, type) {
  prepare(reader_.op, op_kind::recv, &on_read_complete);
  reader_.op.acquire = &acquire_read_buffer;
  reader_.op.release = &release_read_buffer;
  prepare(writer_.op, op_kind::send, &on_write_complete);
  prepare(writer_.shutdown_op, op_kind::nop, &on_shutdown_complete);
  prepare(reader_.unread_op, op_kind::nop, &on_unread_complete);
}

// Makes a part on first use, with its operation readied; nullptr when memory ran out.
template <class Part>
Part* stream_impl::part(std::unique_ptr<Part>& p, op_kind kind, void (*complete)(operation*)) noexcept {
  if (!p) {
    p.reset(new (std::nothrow) Part);
    if (p) prepare(p->op, kind, complete);
  }
  return p.get();
}

stream_listener* stream_impl::listener_part() noexcept { return part(listener_, op_kind::accept, &on_accept_complete); }
stream_connector* stream_impl::connector_part() noexcept { return part(connector_, op_kind::connect, &on_connect_complete); }

stream_impl::~stream_impl() {
  while (write_request* r = writer_.free_requests) {
    writer_.free_requests = r->next;
    delete r;
  }
}

void stream_impl::cancel_all() noexcept {
  cancel(reader_.op);
  cancel(writer_.op);
  if (listener_) cancel(listener_->op);
  if (connector_) cancel(connector_->op);
}

void stream_impl::on_close() noexcept {
  reader_.closed = reader_.reading && reader_.once;
  reader_.reading = false;
  reader_.once = false;
  if (listener_) listener_->listening = false;
  cancel_all();
}

void stream_impl::on_release() noexcept {
  // Everything has completed; what never started fails now, before the close callback.
  fail_writes(make_error_code(errc::operation_canceled));
  if (writer_.shutdown_cb) {
    auto cb = std::move(writer_.shutdown_cb);
    loop_.invoke(this, [&] { cb(make_error_code(errc::operation_canceled)); });
  }
  // A read_some is a request too (unless the handle is gone: then no callback of it runs).
  if (reader_.closed && owner_ != nullptr) {
    reader_.closed = false;
    notify(make_error_code(errc::operation_canceled), {});
  }
  if (listener_) {
    while (!listener_->accepted.empty()) contract::net::close(listener_->accepted.pop());
  }
  while (!reader_.pending_handles.empty()) contract::net::close(reader_.pending_handles.pop());
  give_back_read_buffer();
  close_socket();
  if (const std::string* name = bound_name()) contract::net::unlink_local(*name);  // as libuv: a bound path goes with its pipe
}

// ---------------------------------------------------------------- reading

std::error_code stream_impl::read_start(alloc_callback alloc, read_callback on_read) {
  if (closing_) return make_error_code(errc::closed);
  if (!connected_) return make_error_code(errc::not_connected);
  if (reader_.reading) return make_error_code(errc::already_started);
  reader_.alloc = std::move(alloc);
  reader_.on_read = std::move(on_read);
  reader_.reading = true;
  set_active(true);
  start_read();
  return {};
}

std::error_code stream_impl::read_some(mutable_buffer buf, read_callback on_read) {
  if (closing_) return make_error_code(errc::closed);
  if (!connected_) return make_error_code(errc::not_connected);
  if (reader_.reading) return make_error_code(errc::already_started);
  if (buf.empty()) return make_error_code(errc::invalid_argument);
  reader_.alloc = nullptr;
  reader_.on_read = std::move(on_read);
  reader_.once_buf = buf;
  reader_.once = true;
  reader_.reading = true;
  set_active(true);
  start_read();
  return {};
}

void stream_impl::read_stop() noexcept {
  if (!reader_.reading) return;
  reader_.reading = false;
  reader_.once = false;
  cancel(reader_.op);
  if (!listening() && writer_.head == nullptr && !connecting()) set_active(false);
}

void stream_impl::start_read() noexcept {
  if (!reader_.reading || reader_.op.in_flight || closing_) return;
  if (!reader_.unread.empty() || reader_.unread_end) {
    // What arrived after read_stop() goes first, from the loop (never from read_start()).
    if (!reader_.unread_op.in_flight) submit(reader_.unread_op);
    return;
  }
  reader_.buf = {nullptr, 0};
  reader_.op.kind = io_.kind == io_kind::socket ? op_kind::recv : op_kind::read;
  submit(reader_.op);
}

// The buffer the next delivery fills: read_some's, the alloc callback's, or the stream's own.
mutable_buffer stream_impl::next_read_buffer(std::size_t suggested) {
  if (reader_.once) return reader_.once_buf;
  mutable_buffer buf;
  if (reader_.alloc) {
    loop_.invoke(this, [&] { buf = reader_.alloc(suggested); });
  } else {
    if (!reader_.own_buffer) reader_.own_buffer = loop_.read_buffers_.take();
    buf = mutable_buffer(reader_.own_buffer.get(), own_buffer_size);
  }
  return buf;
}

io_vec stream_impl::acquire_read_buffer(operation* op) {
  stream_impl& s = owner_of(op);
  if (s.reader_.buf.len != 0) return s.reader_.buf;  // acquired for an earlier attempt
  const mutable_buffer buf = s.next_read_buffer(own_buffer_size);
  s.reader_.buf = {buf.data(), buf.size()};
  return s.reader_.buf;
}

void stream_impl::release_read_buffer(operation* op) noexcept {
  stream_impl& s = owner_of(op);
  // A buffer from the alloc callback stays: it is borrowed until a read callback hands it back.
  if (s.reader_.own_buffer == nullptr || s.reader_.buf.base != s.reader_.own_buffer.get()) return;
  s.reader_.buf = {nullptr, 0};
  s.give_back_read_buffer();
}

void stream_impl::give_back_read_buffer() noexcept {
  if (reader_.own_buffer == nullptr || reader_.buf.base == reader_.own_buffer.get()) return;
  loop_.read_buffers_.give(std::move(reader_.own_buffer));
}

// Hands one delivery to reader_.on_read. Reading stops after it on any error, and after the one
// delivery of a read_some.
void stream_impl::notify(std::error_code ec, std::span<std::byte> data) {
  if (ec == errc::eof) reader_.eof = true;
  if (ec || reader_.once) {
    reader_.reading = false;
    reader_.once = false;
    if (!listening() && writer_.head == nullptr) set_active(false);
  }
  // The callback may start the next read (read_some, read_start), which replaces reader_.on_read:
  // it runs from a local so that it is not destroyed while it runs.
  read_callback cb = std::move(reader_.on_read);
  reader_.on_read = nullptr;
  loop_.invoke(this, [&] { cb(ec, data); });
  if (!reader_.on_read) reader_.on_read = std::move(cb);
}

void stream_impl::on_read_complete(operation* op) {
  stream_impl& s = owner_of(op);
  s.op_done();
  io_vec buf = s.reader_.buf;
  s.reader_.buf = {nullptr, 0};
  if (op->accepted >= 0) {
    // A handle passed over an ipc pipe: it waits for accept_pending() (or is closed with
    // the pipe if nobody takes it).
    s.reader_.pending_handles.push(op->accepted);
    op->accepted = -1;
  }
  if (s.closing_) return s.give_back_read_buffer();
  std::error_code ec = op->error;
  std::size_t n = 0;
  if (!ec) {
    n = static_cast<std::size_t>(op->result);
    if (n == 0) ec = make_error_code(errc::eof);
  }
  if (ec == errc::operation_canceled || ec == errc::would_block) {
    // read_stop() cancelled it (read_start() may have come since), or nothing was read:
    // io_uring can hand EAGAIN back for a non-blocking socket (see on_write_complete).
    s.give_back_read_buffer();
    s.start_read();
    return;
  }
  if (!s.reader_.reading) {
    // read_stop() came while the read was in flight and the data won the race: keep it
    // (or the end of stream) for the next read_start(), nothing is lost.
    if (ec) {
      s.reader_.unread_end = ec;
    } else {
      const auto* p = static_cast<const std::byte*>(buf.base);
      s.reader_.unread.insert(s.reader_.unread.end(), p, p + n);
    }
    s.give_back_read_buffer();
    return;
  }
  s.notify(ec, std::span<std::byte>(static_cast<std::byte*>(buf.base), n));
  s.give_back_read_buffer();  // the callback has returned (unless it started a read that holds it)
  s.start_read();
}

void stream_impl::on_unread_complete(operation* op) {
  stream_impl& s = owner_of(op);
  s.op_done();
  if (s.closing_ || !s.reader_.reading) return;
  if (!s.reader_.unread.empty()) {
    const mutable_buffer buf = s.next_read_buffer(s.reader_.unread.size());
    const std::size_t n = std::min(buf.size(), s.reader_.unread.size());
    if (n == 0) {
      s.notify(make_error_code(errc::no_memory), {});
      return;
    }
    std::copy_n(s.reader_.unread.begin(), n, buf.begin());
    s.reader_.unread.erase(s.reader_.unread.begin(), s.reader_.unread.begin() + static_cast<std::ptrdiff_t>(n));
    s.notify({}, std::span<std::byte>(buf.data(), n));
    s.give_back_read_buffer();
  } else {
    std::error_code ec = s.reader_.unread_end;
    s.reader_.unread_end = {};
    s.notify(ec, {});
  }
  s.start_read();
}

// ---------------------------------------------------------------- writing

write_request* stream_impl::new_request() {
  if (write_request* r = writer_.free_requests) {
    writer_.free_requests = r->next;
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
  r->next = writer_.free_requests;
  writer_.free_requests = r;
}

std::error_code stream_impl::write(std::span<const const_buffer> bufs, completion_callback cb,
                                   std::intptr_t send_handle) {
  if (closing_) return make_error_code(errc::closed);
  if (!connected_) return make_error_code(errc::not_connected);
  if (writer_.shut || writer_.shutdown_cb) return make_error_code(errc::broken_pipe);
  if (EDDY_FAULT(memory) != 0) return make_error_code(errc::no_memory);  // fault injection: no request
  write_request* r = new_request();
  for (const auto& b : bufs) {
    if (b.empty()) continue;
    r->bufs.push_back({const_cast<std::byte*>(b.data()), b.size()});
    r->bytes_left += b.size();
  }
  r->cb = std::move(cb);
  r->send_handle = send_handle;
  if (writer_.tail != nullptr) {
    writer_.tail->next = r;
  } else {
    writer_.head = r;
  }
  writer_.tail = r;
  writer_.queue_bytes += r->bytes_left;
  set_active(true);
  start_write();
  return {};
}

void stream_impl::start_write() noexcept {
  if (writer_.op.in_flight || closing_) return;
  write_request* r = writer_.head;
  if (r == nullptr) return;
  if (r->bytes_left == 0) {
    // An empty write still completes through the port, in order.
    writer_.op.kind = op_kind::nop;
  } else {
    writer_.op.kind = io_.kind == io_kind::socket ? op_kind::send : op_kind::write;
    writer_.op.bufs = r->bufs.data() + r->first;
    std::size_t n = r->bufs.size() - r->first;
    writer_.op.nbufs = static_cast<std::uint32_t>(n < max_iov ? n : max_iov);
  }
  writer_.op.send_handle = r->send_handle;
  submit(writer_.op);
}

void stream_impl::on_write_complete(operation* op) {
  stream_impl& s = owner_of(op);
  s.op_done();
  write_request* r = s.writer_.head;
  if (op->error == errc::would_block && !s.closing_) {
    // Nothing was sent: io_uring hands EAGAIN back for a non-blocking socket when a send it
    // already waited for once finds no room again. Send again (a new request waits afresh).
    s.start_write();
    return;
  }
  if (op->error) {
    // The stream is broken for writing: fail this and every queued write, in order; a
    // shutdown waiting for them then completes (with shutdown's own result).
    s.fail_writes(op->error);
    if (!s.closing_) s.finish_shutdown_if_ready();
    return;
  }
  std::size_t n = static_cast<std::size_t>(op->result);
  if (n > 0) r->send_handle = -1;  // it went with the first bytes
  s.writer_.queue_bytes -= n;
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
    s.writer_.head = r->next;
    if (s.writer_.head == nullptr) s.writer_.tail = nullptr;
    auto cb = std::move(r->cb);
    s.recycle(r);
    if (cb) s.loop_.invoke(&s, [&] { cb({}); });
    if (s.writer_.head == nullptr && !s.closing_) {
      if (!s.reader_.reading && !s.listening()) s.set_active(false);
      if (s.writer_.on_drain) {
        // The callback may set another one (on_drain() from inside): it runs from a local,
        // so that it is not destroyed while it runs.
        const std::uint32_t generation = s.writer_.drain_generation;
        std::function<void()> fn = std::move(s.writer_.on_drain);
        s.loop_.invoke(&s, [&] { fn(); });
        if (s.writer_.drain_generation == generation) s.writer_.on_drain = std::move(fn);
      }
      s.finish_shutdown_if_ready();
    }
  }
  s.start_write();
}

void stream_impl::fail_writes(std::error_code ec) noexcept {
  while (write_request* r = writer_.head) {
    writer_.head = r->next;
    if (writer_.head == nullptr) writer_.tail = nullptr;
    writer_.queue_bytes -= r->bytes_left;
    auto cb = std::move(r->cb);
    recycle(r);
    if (cb) loop_.invoke(this, [&] { cb(ec); });
  }
  writer_.queue_bytes = 0;
}

std::size_t stream_impl::try_write(std::span<const const_buffer> bufs, std::error_code& ec) {
  if (closing_) {
    ec = make_error_code(errc::closed);
    return 0;
  }
  if (!connected_ || writer_.shut) {
    ec = make_error_code(connected_ ? errc::broken_pipe : errc::not_connected);
    return 0;
  }
  if (writer_.head != nullptr) {
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
  return io_.kind == io_kind::socket ? contract::net::try_send(io_.native, vecs, n, ec) : contract::net::try_write(io_.native, vecs, n, ec);
}

std::error_code stream_impl::shutdown(completion_callback cb) {
  if (closing_) return make_error_code(errc::closed);
  if (!connected_) return make_error_code(errc::not_connected);
  if (writer_.shut || writer_.shutdown_cb) return make_error_code(errc::already_started);
  writer_.shutdown_cb = std::move(cb);
  writer_.shutdown_pending = true;
  finish_shutdown_if_ready();
  return {};
}

void stream_impl::finish_shutdown_if_ready() noexcept {
  if (!writer_.shutdown_pending || writer_.head != nullptr || writer_.shutdown_op.in_flight) return;
  writer_.shutdown_pending = false;
  writer_.shut = true;
  writer_.shutdown_result = contract::net::shutdown_write(io_.native);
  // The callback comes from poll, never from inside shutdown() itself.
  submit(writer_.shutdown_op);
}

void stream_impl::on_shutdown_complete(operation* op) {
  stream_impl& s = owner_of(op);
  // The stream stays active while a shutdown is pending; afterwards only reads, writes or
  // listening keep it so.
  s.op_done();
  auto cb = std::move(s.writer_.shutdown_cb);
  s.writer_.shutdown_cb = nullptr;
  if (cb) s.loop_.invoke(&s, [&] { cb(s.closing_ ? make_error_code(errc::operation_canceled) : s.writer_.shutdown_result); });
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
  return s != nullptr && s->reader_.reading;
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
  return s ? s->writer_.queue_bytes : 0;
}
void stream::on_drain(std::function<void()> cb) {
  if (auto* s = as_stream(impl_)) {
    s->writer_.on_drain = std::move(cb);
    ++s->writer_.drain_generation;
  }
}
std::error_code stream::shutdown(completion_callback on_done) {
  auto* s = as_stream(impl_);
  return s ? s->shutdown(std::move(on_done)) : closed_error();
}
bool stream::is_readable() const noexcept {
  auto* s = as_stream(impl_);
  return s != nullptr && !s->closing_ && s->connected_ && !s->reader_.eof;
}
bool stream::is_writable() const noexcept {
  auto* s = as_stream(impl_);
  return s != nullptr && !s->closing_ && s->connected_ && !s->writer_.shut && !s->writer_.shutdown_cb;
}

}  // namespace eddy
