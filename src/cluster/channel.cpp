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
