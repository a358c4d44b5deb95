// eddy::co streams, TCP and pipes: co::read (into the caller's buffer or a lent one), co::write, co::shutdown, co::connect (tcp and
// pipe) and basic_acceptor (co::acceptor for tcp, co::pipe_acceptor).
// Ownership: streams, sockets and buffers are borrowed: they must outlive the operation, and
// a buffer stays borrowed until the operation's callback would have run (close the handle to
// end it). A read registers the awaiter's address and is stopped when the awaiter goes;
// write, shutdown and connect complete through a cell (detail/cell.hpp), since their
// callbacks may outlive the awaiter. An acceptor owns its server socket.
// Threads: loop thread only; the task resumes on the loop thread.
#pragma once

#include <coroutine>
#include <cstddef>
#include <span>
#include <string_view>
#include <system_error>
#include <utility>

#include "eddy/address.hpp"
#include "eddy/co/core.hpp"
#include "eddy/co/detail/cell.hpp"
#include "eddy/co/detail/own_op.hpp"
#include "eddy/error.hpp"
#include "eddy/loop.hpp"
#include "eddy/pipe.hpp"
#include "eddy/stream.hpp"
#include "eddy/tcp.hpp"

namespace eddy {
namespace co {

namespace detail {
// Reads once into a borrowed buffer (stream::read_some). The read callback holds the
// awaiter's address: an awaiter that goes first stops the read, after which no callback
// runs (read_stop is synchronous). The shape is oneshot_op's (detail/own_op.hpp).
struct read_kind {
  using handle = stream;
  using value = std::size_t;
  template <class Op>
  static std::error_code start(stream& s, mutable_buffer buf, Op* op) {
    return s.read_some(buf, [op](std::error_code e, std::span<std::byte> data) {
      if (e != errc::eof) op->out.res.error = e;
      op->out.res.value = data.size();
      op->finish();
    });
  }
  static void stop(stream& s) { s.read_stop(); }
};
template <bool Throw>
using read_op = oneshot_op<read_kind, Throw>;

// Reads once into one of the loop's read buffers (stream::read_start without an allocator,
// stopped after the first delivery). The task resumes inside the read callback, so the bytes
// stay valid until it next suspends; then the buffer goes back to the loop.
struct borrowed_read_kind {
  using handle = stream;
  using value = std::span<const std::byte>;
  template <class Op>
  static std::error_code start(stream& s, mutable_buffer, Op* op) {
    return s.read_start([&s, op](std::error_code e, std::span<std::byte> data) {
      s.read_stop();  // one delivery
      if (e != errc::eof) op->out.res.error = e;
      op->out.res.value = data;
      op->finish();
    });
  }
  static void stop(stream& s) { s.read_stop(); }
};
template <bool Throw>
using borrowed_read_op = oneshot_op<borrowed_read_kind, Throw>;
}  // namespace detail

// Reads some bytes into buf (borrowed until the read completes or the stream closes).
// Returns how many; 0 at the end of the stream. Closing the stream while a task waits here
// resumes it with errc::operation_canceled.
inline detail::read_op<true> read(stream& s, mutable_buffer buf) { return {s, buf}; }
inline detail::read_op<false> read(stream& s, mutable_buffer buf, nothrow_t) { return {s, buf}; }

// Reads some bytes without a buffer of the caller's: they are lent from the loop's read
// buffers and valid only until the task's next co_await (copy what must be kept). Empty at the
// end of the stream. A task waiting here holds no buffer, so ten thousand connections waiting
// for requests cost no read memory (what co::read(s, buf) costs is buf).
inline detail::borrowed_read_op<true> read(stream& s) { return {s, mutable_buffer()}; }
inline detail::borrowed_read_op<false> read(stream& s, nothrow_t) { return {s, mutable_buffer()}; }

// Writes all of buf (borrowed until the write completes; see stream::write).
template <bool Throw = true>
auto write(stream& s, const_buffer buf) {
  return detail::void_op<Throw>([&s, buf](completion_callback cb) { return s.write(buf, std::move(cb)); });
}
inline auto write(stream& s, const_buffer buf, nothrow_t) { return write<false>(s, buf); }

// Shuts the write side down after queued writes (stream::shutdown).
template <bool Throw = true>
auto shutdown(stream& s) {
  return detail::void_op<Throw>([&s](completion_callback cb) { return s.shutdown(std::move(cb)); });
}
inline auto shutdown(stream& s, nothrow_t) { return shutdown<false>(s); }

// Connects a fresh tcp to addr. Errors: errc::connection_refused, ...
template <bool Throw = true>
auto connect(tcp& socket, const socket_address& addr) {
  return detail::void_op<Throw>(
      [&socket, addr](completion_callback cb) { return socket.connect(addr, std::move(cb)); });
}
inline auto connect(tcp& socket, const socket_address& addr, nothrow_t) { return connect<false>(socket, addr); }

// Connects a fresh pipe to the pipe server called name (see pipe::connect).
template <class... Form>
requires detail::form<Form...>
auto connect(pipe& p, std::string_view name, Form...) {
  return detail::void_op<detail::throws<Form...>>(
      [&p, name](completion_callback cb) { return p.connect(name, std::move(cb)); });
}

// A listening socket (tcp or pipe) whose connections are awaited: co_await a.accept(client).
// Owns the server socket; destroy it only when no task awaits accept() on it.
// One accept() may be awaited at a time (a second one fails with errc::already_started).
template <class Socket>
class basic_acceptor {
  template <bool Throw>
  struct accept_op;

 public:
  explicit basic_acceptor(eddy::loop& loop) : server_(loop) {}
  basic_acceptor(const basic_acceptor&) = delete;
  basic_acceptor& operator=(const basic_acceptor&) = delete;

  // Binds to where (a socket_address for tcp, a name for pipe) and listens.
  template <class Where>
  std::error_code listen(const Where& where, int backlog = 128) {
    if (auto ec = server_.bind(where)) return ec;
    return server_.listen(backlog, [this](std::error_code ec) { on_connection(ec); });
  }
  Socket& socket() noexcept { return server_; }

  // Moves the next connection into client (a fresh socket of the same kind on the same loop).
  accept_op<true> accept(Socket& client) { return {*this, client}; }
  accept_op<false> accept(Socket& client, nothrow_t) { return {*this, client}; }

 private:
  struct waiter_base {
    virtual void ready() = 0;
    virtual ~waiter_base() = default;
  };
  template <bool Throw>
  struct accept_op : detail::own_op<void, Throw>, waiter_base {
    accept_op(basic_acceptor& a, Socket& c) : owner(a), client(c) {}
    accept_op(accept_op&& o) noexcept : owner(o.owner), client(o.client) {}
    ~accept_op() {
      if (owner.waiter_ == this) owner.waiter_ = nullptr;
    }
    bool await_ready() noexcept {
      if (owner.waiter_ != nullptr) {
        this->out.res.error = errc::already_started;
        return true;
      }
      if (!owner.has_connection()) return false;
      this->out.res.error = owner.take(client);
      return true;
    }
    void await_suspend(std::coroutine_handle<> h) {
      this->waiter = h;
      owner.waiter_ = this;
    }
    void ready() override {
      owner.waiter_ = nullptr;
      this->out.res.error = owner.take(client);
      this->finish();
    }
    basic_acceptor& owner;
    Socket& client;
  };

  bool has_connection() const noexcept { return ready_ != 0 || error_; }
  std::error_code take(Socket& client) {
    if (error_) return std::exchange(error_, {});
    --ready_;
    return server_.accept(client);
  }
  void on_connection(std::error_code ec) {
    if (ec) {
      error_ = ec;
    } else {
      ++ready_;
    }
    if (waiter_ != nullptr) waiter_->ready();
  }

  Socket server_;
  std::size_t ready_ = 0;
  std::error_code error_;
  waiter_base* waiter_ = nullptr;
};
using acceptor = basic_acceptor<tcp>;
using pipe_acceptor = basic_acceptor<pipe>;

}  // namespace co
}  // namespace eddy
