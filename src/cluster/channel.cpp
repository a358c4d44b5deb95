// The cluster's IPC channel (channel.hpp).
#include "cluster/channel.hpp"

#include "eddy/error.hpp"

namespace eddy::cluster::detail {

std::error_code channel::start(frame_fn on_frame, end_fn on_end) {
  on(std::move(on_frame), std::move(on_end));
  return pipe_.read_start([this](std::error_code ec, std::span<std::byte> data) { on_read(ec, data); });
}

std::error_code channel::send(frame_type type, std::span<const std::byte> payload, handle* with,
                              std::function<void(std::error_code)> on_sent) {
  if (ended_) return make_error_code(errc::not_connected);
  if (payload.size() > max_) return make_error_code(errc::message_too_long);
  auto bytes = std::make_shared<std::vector<std::byte>>(encode_frame(type, payload));
  const_buffer buf(bytes->data(), bytes->size());
  auto done = [bytes, on_sent = std::move(on_sent)](std::error_code ec) {
    if (on_sent) on_sent(ec);
  };
  if (with != nullptr) return pipe_.write2(std::span<const const_buffer>(&buf, 1), *with, std::move(done));
  return pipe_.write(buf, std::move(done));
}

void channel::finish(std::shared_ptr<channel> self, eddy::loop& loop) {
  channel& c = *self;
  c.ended_ = true;
  c.pipe_.read_stop();
  auto closed = [self, &loop](std::error_code) mutable {
    self->pipe_.close();
    loop.set_immediate([self = std::move(self)] {});
  };
  // shutdown() waits for the queued writes. Its own result does not matter (a pipe may have
  // no write side to shut down); an error starting it means the pipe is already done.
  if (c.pipe_.shutdown(closed)) closed({});
}

void channel::discard(std::unique_ptr<channel> c, eddy::loop& loop) {
  if (!c) return;
  c->close();
  loop.set_immediate([p = std::shared_ptr<channel>(std::move(c))] {});
}

void channel::end(std::error_code ec) {
  if (ended_) return;
  ended_ = true;
  pipe_.close();
  auto fn = std::move(on_end_);
  if (fn) fn(ec);  // may destroy this channel
}

void channel::on_read(std::error_code ec, std::span<std::byte> data) {
  if (ec) return end(ec);
  in_.insert(in_.end(), data.begin(), data.end());
  std::size_t pos = 0;
  auto alive = alive_;
  for (;;) {
    const decoded_frame f = decode_frame(std::span<const std::byte>(in_).subspan(pos), max_);
    if (f.status == decode_status::malformed) return end(make_error_code(errc::protocol_error));
    if (f.status == decode_status::incomplete) break;
    // The frame is copied out: the callback may send, close or destroy this channel.
    std::vector<std::byte> payload(f.payload.begin(), f.payload.end());
    pos += f.size;
    auto fn = on_frame_;  // the callback may replace itself
    (*fn)(f.type, payload);
    if (!*alive || ended_) return;
  }
  in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(pos));
}

}  // namespace eddy::cluster::detail
