// One end of the cluster's IPC channel: an ipc pipe that reads and writes frames (wire.hpp).
//
// Ownership: the channel owns its pipe. Payloads given to send() are copied; the spans given
// to the frame callback point into the channel's own copy of the frame and are valid only
// during the callback. Callbacks may send, close, replace the callbacks (on()) or destroy the
// channel. Loop thread only, like the pipe.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <system_error>
#include <vector>

#include "cluster/wire.hpp"
#include "eddy/handle.hpp"
#include "eddy/loop.hpp"
#include "eddy/pipe.hpp"

namespace eddy::cluster::detail {

class channel {
 public:
  using frame_fn = std::function<void(frame_type, std::span<const std::byte>)>;
  using end_fn = std::function<void(std::error_code)>;

  // Frames whose payload exceeds max_payload (plus the protocol's own fields) end the channel.
  channel(eddy::loop& loop, std::size_t max_payload) : pipe_(loop, true), max_(max_payload + protocol_overhead) {}
  ~channel() { *alive_ = false; }
  channel(const channel&) = delete;
  channel& operator=(const channel&) = delete;

  eddy::pipe& pipe() noexcept { return pipe_; }
  [[nodiscard]] bool is_open() const noexcept { return !ended_; }

  // Reads frames until the channel ends; on_end runs once (errc::eof for a clean end,
  // protocol_error for a malformed or oversized frame, or the read error), after which the
  // channel is closed.
  std::error_code start(frame_fn on_frame, end_fn on_end);
  // Replaces the callbacks (safe from inside them).
  void on(frame_fn on_frame, end_fn on_end) {
    on_frame_ = std::make_shared<frame_fn>(std::move(on_frame));
    on_end_ = std::move(on_end);
  }

  // Sends one frame (the payload is copied), with a socket beside it if `with` is given.
  std::error_code send(frame_type type, std::span<const std::byte> payload, handle* with = nullptr,
                       std::function<void(std::error_code)> on_sent = {});
  std::error_code send(frame_type type, const std::vector<std::byte>& payload, handle* with = nullptr) {
    return send(type, std::span<const std::byte>(payload), with);
  }

  // Ends the channel once the frames already given to send() are written (no on_end), then
  // closes it: a worker that leaves never cuts its last frame (a heartbeat, a reply) in half,
  // which the primary would take for a malformed stream. `self` keeps the channel alive until
  // it is closed; the last reference is dropped from an immediate, never inside a callback.
  static void finish(std::shared_ptr<channel> self, eddy::loop& loop);

  // Closes `c` now (no on_end) and destroys it from an immediate: the caller may be inside
  // one of its callbacks.
  static void discard(std::unique_ptr<channel> c, eddy::loop& loop);

  // Ends the channel now (no on_end).
  void close() {
    ended_ = true;
    pipe_.close();
  }

 private:
  void end(std::error_code ec);
  void on_read(std::error_code ec, std::span<std::byte> data);

  eddy::pipe pipe_;
  std::size_t max_;
  std::vector<std::byte> in_;
  std::shared_ptr<frame_fn> on_frame_;
  end_fn on_end_;
  bool ended_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace eddy::cluster::detail
