// The state behind eddy::stream and the streams built on it (tcp, pipe, tty): a reader, a
// writer, a listener and a connector part, none of which knows a derived stream type.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "eddy/stream.hpp"
#include "io/io_handle.hpp"

namespace eddy::detail {

// One write(): its gather list (copied), progress, and callback. Recycled through the
// stream's free list, so steady writing does not allocate.
struct write_request {
  std::vector<io_vec> bufs;
  std::size_t first = 0;  // index of the first buffer not fully written
  std::size_t bytes_left = 0;
  completion_callback cb;
  std::intptr_t send_handle = -1;  // ipc: passed with the first bytes of this write
  write_request* next = nullptr;
};

// The stream's parts, one per direction of work. The reader and writer are embedded by value
// in stream_impl (no allocation, no indirection on a read or write); the listener and the
// connector are made on first use (most streams are accepted connections, which need
// neither). Loop thread only; the operations belong to the part and are in flight between
// submit and their completion function.

// Reading: read_start() until read_stop(), or one read_some() (once).
struct stream_reader {
  bool reading = false;
  bool once = false;
  bool closed = false;          // close() ended a read_some: its callback runs at release
  mutable_buffer once_buf;      // read_some()'s buffer
  alloc_callback alloc;
  read_callback on_read;
  operation op;
  io_vec buf{nullptr, 0};       // the buffer acquired for the read in flight
  // Without an allocator: a buffer borrowed from the loop's read_buffer_pool, from acquire()
  // until the delivery returns (or the port releases it to wait for readiness).
  std::unique_ptr<std::byte[]> own_buffer;
  bool eof = false;
  // Data (or the end of the stream) that a read in flight brought after read_stop():
  // delivered first by the next read_start(), through unread_op (a nop) from the loop.
  std::vector<std::byte> unread;
  std::error_code unread_end;
  operation unread_op;
  // ipc pipes: handles received with the bytes, waiting for accept_pending().
  ring_queue<std::intptr_t> pending_handles;
};

// Writing: the queue of write() requests (and its free list), then shutdown.
struct stream_writer {
  write_request* head = nullptr;
  write_request* tail = nullptr;
  write_request* free_requests = nullptr;
  operation op;
  std::size_t queue_bytes = 0;
  std::function<void()> on_drain;
  std::uint32_t drain_generation = 0;  // counts on_drain() calls (see on_write_complete)
  bool shut = false;
  completion_callback shutdown_cb;
  bool shutdown_pending = false;
  std::error_code shutdown_result;
  operation shutdown_op;  // a nop that delivers the shutdown callback from poll
};

// Listening and accepting (tcp and pipe servers).
struct stream_listener {
  operation op;
  completion_callback on_connection;
  ring_queue<contract::net::native_socket> accepted;
  std::error_code error;
  bool listening = false;
  std::string bound_name;  // pipe: the name bound, removed again when a listener closes
};

// Connecting (tcp and pipe clients): the address is set before start_connect().
struct stream_connector {
  operation op;
  completion_callback on_connect;
  contract::net::native_address addr;
};

class stream_impl : public io_handle {
 public:
  stream_impl(loop_impl& loop, handle_type type) noexcept;
  ~stream_impl() override;

  void on_close() noexcept override;
  void on_release() noexcept override;

  // Reading.
  std::error_code read_start(alloc_callback alloc, read_callback on_read);
  std::error_code read_some(mutable_buffer buf, read_callback on_read);
  void read_stop() noexcept;
  // Writing.
  std::error_code write(std::span<const const_buffer> bufs, completion_callback cb, std::intptr_t send_handle = -1);
  std::size_t try_write(std::span<const const_buffer> bufs, std::error_code& ec);
  std::error_code shutdown(completion_callback cb);

  void cancel_all() noexcept;

  bool connected_ = false;  // a connection (accepted, connected or adopted), not a listener

  stream_reader reader_;
  stream_writer writer_;
  // Made by the first bind (pipes), listen or connect, and kept until the handle goes: an
  // accepted connection, what a server holds thousands of, carries neither (two operations
  // and their callbacks less, issue 14). Null until then.
  std::unique_ptr<stream_listener> listener_;
  std::unique_ptr<stream_connector> connector_;

  // The parts, made on first use; nullptr when memory ran out.
  stream_listener* listener_part() noexcept;
  stream_connector* connector_part() noexcept;
  [[nodiscard]] bool listening() const noexcept { return listener_ && listener_->listening; }
  [[nodiscard]] bool connecting() const noexcept { return connector_ && connector_->op.in_flight; }
  [[nodiscard]] const std::string* bound_name() const noexcept {
    return listener_ && !listener_->bound_name.empty() ? &listener_->bound_name : nullptr;
  }

  // Shared by tcp and pipe.
  std::error_code start_listen(int backlog, completion_callback on_connection);
  std::error_code accept_into(stream_impl& client);
  void start_connect(completion_callback on_connect);  // connector_ made, its addr set
  std::error_code adopt(std::intptr_t native);

  void start_read() noexcept;
  void start_write() noexcept;
  void start_accept() noexcept;
  void finish_shutdown_if_ready() noexcept;
  void fail_writes(std::error_code ec) noexcept;
  write_request* new_request();
  void recycle(write_request* r) noexcept;

  static stream_impl& owner_of(operation* op) noexcept { return io_handle::owner_of<stream_impl>(op); }
  static void on_read_complete(operation* op);
  mutable_buffer next_read_buffer(std::size_t suggested);
  void notify(std::error_code ec, std::span<std::byte> data);
  static void on_unread_complete(operation* op);
  static void on_write_complete(operation* op);
  static void on_shutdown_complete(operation* op);
  static void on_accept_complete(operation* op);
  static void on_connect_complete(operation* op);
  static io_vec acquire_read_buffer(operation* op);
  static void release_read_buffer(operation* op) noexcept;
  template <class Part>
  Part* part(std::unique_ptr<Part>& p, op_kind kind, void (*complete)(operation*)) noexcept;
  // Gives the borrowed buffer back to the loop unless a read in flight holds it.
  void give_back_read_buffer() noexcept;
};

}  // namespace eddy::detail
