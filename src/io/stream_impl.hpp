// The state behind eddy::stream and eddy::tcp.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "eddy/stream.hpp"
#include "eddy/tcp.hpp"
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

  // Reading: read_start() until read_stop(), or one read_some() (read_once_).
  bool reading_ = false;
  bool read_once_ = false;
  bool read_closed_ = false;     // close() ended a read_some: its callback runs at release
  mutable_buffer once_buf_;      // read_some()'s buffer
  alloc_callback alloc_;
  read_callback on_read_;
  operation read_op_;
  io_vec read_buf_{nullptr, 0};  // the buffer acquired for the read in flight
  std::unique_ptr<std::byte[]> own_buffer_;
  bool eof_ = false;
  // Data (or the end of the stream) that a read in flight brought after read_stop():
  // delivered first by the next read_start(), through unread_op_ (a nop) from the loop.
  std::vector<std::byte> unread_;
  std::error_code unread_end_;
  operation unread_op_;

  // Writing.
  write_request* write_head_ = nullptr;
  write_request* write_tail_ = nullptr;
  write_request* free_requests_ = nullptr;
  operation write_op_;
  std::size_t write_queue_bytes_ = 0;
  std::function<void()> on_drain_;
  bool write_shut_ = false;
  completion_callback shutdown_cb_;
  bool shutdown_pending_ = false;
  std::error_code shutdown_result_;
  operation shutdown_op_;  // a nop that delivers the shutdown callback from poll

  // Listening and connecting (tcp).
  operation accept_op_;
  completion_callback on_connection_;
  ring_queue<net::native_socket> accepted_;
  std::error_code accept_error_;
  bool listening_ = false;
  std::string bound_name_;
  // ipc pipes: handles received with the bytes, waiting for accept_pending().
  ring_queue<std::intptr_t> pending_handles_;  // pipe: the name bound, removed again when a listener closes
  operation connect_op_;
  completion_callback on_connect_;
  net::native_address connect_addr_;

  // Shared by tcp and pipe.
  std::error_code start_listen(int backlog, completion_callback on_connection);
  std::error_code accept_into(stream_impl& client);
  void start_connect(completion_callback on_connect);  // connect_addr_ is set
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
};

}  // namespace eddy::detail
