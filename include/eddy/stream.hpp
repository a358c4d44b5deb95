// eddy::stream: the base of byte streams (tcp; pipe and tty to come), libuv's uv_stream_t.
//
// Reading: read_start() delivers data until read_stop(), end of stream (errc::eof) or an
// error. Each delivery first asks the alloc callback for a buffer (suggested size given);
// the read callback then receives that buffer's filled part. The buffer belongs to the
// caller; eddy borrows it from alloc until the read callback for it returns.
//
// Writing: write() queues buffers; they are borrowed (must stay valid and unmodified)
// until the write's callback runs. Writes complete in order. write_queue_size() is the
// number of bytes accepted but not yet written; on_drain() fires when it drops to zero,
// so a producer can pause while it is large (backpressure).
//
// Threads: loop thread only. Callbacks run on the loop thread. Closing a stream cancels
// its pending operations: their callbacks run with errc::operation_canceled before the
// close callback.
#pragma once

#include <cstddef>
#include <functional>
#include <span>
#include <string_view>
#include <system_error>

#include "eddy/handle.hpp"

namespace eddy {

// A view of caller-owned bytes to send.
using const_buffer = std::span<const std::byte>;
// A view of caller-owned bytes to fill.
using mutable_buffer = std::span<std::byte>;

inline const_buffer buffer(std::string_view s) noexcept { return std::as_bytes(std::span<const char>(s.data(), s.size())); }

// Returns the buffer the next read fills; an empty span makes the read fail with no_memory.
using alloc_callback = std::function<mutable_buffer(std::size_t suggested_size)>;
// data: the filled part of the allocated buffer (empty on error). ec: errc::eof at the end
// of the stream, other codes for errors; reading stops on any error.
using read_callback = std::function<void(std::error_code ec, std::span<std::byte> data)>;
using completion_callback = std::function<void(std::error_code ec)>;

class EDDY_API stream : public handle {
 public:
  // Starts reading. errc::already_started if reading; errc::closed if closing.
  std::error_code read_start(alloc_callback alloc, read_callback on_read);
  // Starts reading into a buffer the stream owns (64 KiB); data is valid during on_read only.
  std::error_code read_start(read_callback on_read);
  // Reads once (Asio's async_read_some): on_read runs exactly once, with some bytes in buf,
  // errc::eof, an error, or errc::operation_canceled when the stream is closed first (before
  // the close callback; not when the handle is destroyed); then reading is stopped again.
  // buf is borrowed until then. read_stop() ends it without calling on_read (after close()
  // it changes nothing: the close ends it with operation_canceled). Cheaper than
  // read_start() + read_stop() per read: no cancel, and data that arrives between two
  // read_some() calls waits in the kernel or the port. errc::invalid_argument for an empty
  // buf, otherwise the errors of read_start().
  std::error_code read_some(mutable_buffer buf, read_callback on_read);
  // Stops reading; a read already handed to the kernel is cancelled. Idempotent.
  void read_stop() noexcept;
  [[nodiscard]] bool is_reading() const noexcept;

  // Queues bufs for writing. The span of buffers is copied; the bytes are borrowed until
  // on_done runs (with the error if any, errc::operation_canceled if the stream closed first).
  std::error_code write(std::span<const const_buffer> bufs, completion_callback on_done);
  std::error_code write(const_buffer buf, completion_callback on_done);
  // Writes what the kernel takes right now without queueing. Returns bytes written (possibly
  // fewer than asked; 0 with errc::would_block if nothing fit). Fails with would_block while
  // earlier writes are still queued, to keep the byte order.
  std::size_t try_write(std::span<const const_buffer> bufs, std::error_code& ec);
  [[nodiscard]] std::size_t write_queue_size() const noexcept;
  // Called each time the write queue becomes empty after writes were queued.
  void on_drain(std::function<void()> cb);

  // Half-close: after queued writes finish, the write side is shut down (the peer sees end
  // of stream); reading continues. on_done gets the result.
  std::error_code shutdown(completion_callback on_done);

  [[nodiscard]] bool is_readable() const noexcept;
  [[nodiscard]] bool is_writable() const noexcept;

 protected:
  using handle::handle;
};

}  // namespace eddy
