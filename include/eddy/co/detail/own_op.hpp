// eddy::co internals: own_op, the base of the awaiters that own their handle or register
// their own address (sleep, yield, signal, accept, read, receive), and oneshot_op, the one
// shape co::read and co::receive share. Not user API.
// Ownership: the awaiter lives in the awaiting coroutine's frame and is the operation; its
// handle (or registration) goes with it. Borrowed handles and buffers must outlive it.
// Threads: loop thread only.
#pragma once

#include <coroutine>
#include <utility>

#include "eddy/co/detail/outcome.hpp"
#include "eddy/stream.hpp"  // mutable_buffer

namespace eddy {
namespace co {
namespace detail {

// Base of the awaiters that own their handle or register their own address (the callback
// API calls them back only while they exist, or they stop it synchronously).
template <class T, bool Throw>
struct own_op {
  outcome<T> out;
  std::coroutine_handle<> waiter;
  own_op() = default;
  own_op(own_op&&) noexcept {}  // before the start: nothing to move
  own_op& operator=(const own_op&) = delete;
  bool await_ready() const noexcept { return false; }
  auto await_resume() { return deliver<T, Throw>(out); }
  // Resumes the waiter (call it last: the coroutine may destroy this awaiter).
  void finish() { std::exchange(waiter, {}).resume(); }
};

// A one-shot request on a borrowed handle whose callback holds the awaiter's address
// (stream::read_some for co::read, udp::recv_once for co::receive): the awaiter starts it at
// co_await, and an awaiter that goes first stops it, after which no callback runs (the stop
// is synchronous). Kind names the rest:
//   using handle = ...; using value = ...;     // the borrowed handle, the awaited value
//   template <class Op> static std::error_code start(handle&, mutable_buffer, Op* op);
//                      // starts the request; its callback fills op->out and calls op->finish()
//   static void stop(handle&);                 // stops it synchronously
template <class Kind, bool Throw>
class oneshot_op : public own_op<typename Kind::value, Throw> {
 public:
  using handle_type = typename Kind::handle;
  oneshot_op(handle_type& h, mutable_buffer buf) : h_(h), buf_(buf) {}
  oneshot_op(oneshot_op&& o) noexcept : own_op<typename Kind::value, Throw>(std::move(o)), h_(o.h_), buf_(o.buf_) {}
  ~oneshot_op() {
    if (this->waiter) Kind::stop(h_);
  }
  bool await_suspend(std::coroutine_handle<> h) {
    auto ec = Kind::start(h_, buf_, this);
    this->out.res.error = ec;
    if (!ec) this->waiter = h;
    return !ec;
  }

 private:
  handle_type& h_;
  mutable_buffer buf_;
};

}  // namespace detail

}  // namespace co
}  // namespace eddy
