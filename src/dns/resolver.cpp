// dns::resolver: a DNS channel (src/dns/dns_channel.hpp; c-ares) driven by the loop.
//
// How c-ares is driven — readiness, not c-ares' socket functions. c-ares does its own
// nonblocking socket I/O and says, through ARES_OPT_SOCK_STATE_CB, which sockets it wants to
// hear about; the resolver turns each wish into a poll operation (op_kind::poll: a one-shot
// IORING_OP_POLL_ADD on io_uring, a place in the fd's epoll queue on epoll) and calls
// ares_process_fd when it completes. The alternative, ares_set_socket_functions with eddy's
// udp/tcp handles underneath, would have to turn completions back into the nonblocking
// recvfrom() c-ares expects (buffering datagrams and stream bytes between the two), so more
// code and a copy per answer for no gain: DNS traffic is a few small datagrams. The price
// of readiness is one op kind that every port must know (iocp completes it with
// not_supported; the Windows build has no c-ares here) and one contract note: c-ares closes
// a socket itself right after saying so, so the resolver cancels the socket's poll
// operations and detaches it then; the record is reused once the cancellations are back.
//
// Timeouts: after every call into c-ares the resolver asks it for its next deadline
// (ares_timeout) and keeps one unreferenced loop timer on it; the timer calls process().
//
// Query callbacks: c-ares finishes queries inside query(), process(), cancel and destroy.
// Results are collected in done_ and handed to the user from a loop callback (a poll or
// timer completion directly, otherwise a nop operation that completes in a later poll), so a
// user callback never runs inside resolve(), cancel() or close().
#include <memory>
#include <vector>

#include "dns/dns_channel.hpp"
#include "eddy/dns.hpp"
#include "loop/loop_impl.hpp"

namespace eddy {
namespace detail {

class resolver_impl final : public handle_base {
 public:
  resolver_impl(loop_impl& loop, const dns::resolver_options& options) : handle_base(loop, handle_type::resolver) {
    timer_ = new timer_impl(loop);
    timer_->type_ = handle_type::internal;  // the resolver's part, not a user's timer (dump_handles)
    timer_->set_ref(false);                  // the resolver itself is what keeps the loop alive
    timer_->cb.set([this] { on_timer(); });
    deferred_.owner = this;
    deferred_.kind = op_kind::nop;
    deferred_.complete = &on_deferred;
    init_error_ = dns_channel::open(ch_, options, &on_socket, this);
  }

  ~resolver_impl() override {
    dns_channel::destroy(ch_);  // only if on_close never ran (it always does)
    for (watch* w : watches_) delete w;
  }

  [[nodiscard]] bool busy() const noexcept override { return ops_in_flight_ != 0; }

  void on_close() noexcept override {
    dns_channel::channel* ch = ch_;
    ch_ = nullptr;
    dns_channel::destroy(ch);  // queries end as canceled; every socket is let go
    pending_ = 0;
    if (timer_ != nullptr) {
      timer_->start_close({});
      timer_ = nullptr;
    }
    schedule_done();
  }

  void on_release() noexcept override {
    for (watch* w : watches_) delete w;  // all gone (destroy let every socket go), nothing in flight
    watches_.clear();
  }

  std::error_code set_servers(std::string_view servers) {
    if (closing_) return make_error_code(errc::closed);
    if (init_error_) return init_error_;
    return dns_channel::set_servers(*ch_, servers);
  }

  std::string servers() const { return ch_ != nullptr ? dns_channel::servers(*ch_) : std::string(); }

  std::error_code resolve(std::string_view name, dns::record_type type, dns::resolve_callback cb) {
    if (closing_) return make_error_code(errc::closed);
    if (init_error_ || fatal_) {
      done_.push_back({std::move(cb), init_error_ ? init_error_ : fatal_, empty_answer(type)});
    } else {
      auto* q = new query{this, std::move(cb)};
      ++pending_;
      update_active();
      dns_channel::query(*ch_, std::string(name), type, &on_answer, q);
      update_timer();
    }
    schedule_done();
    return {};
  }

  void cancel() noexcept {
    if (ch_ == nullptr) return;
    dns_channel::cancel_all(*ch_);
    update_timer();
    schedule_done();
  }

 private:
  // One socket of c-ares' and its two poll operations (0: readable, 1: writable).
  struct watch {
    resolver_impl* owner = nullptr;
    io_object io;
    operation ops[2];
    bool want[2] = {false, false};
    bool attached = false;
    bool gone = false;     // c-ares closed the socket
    bool running = false;  // its completion is on the stack

    // A gone record is reused for the next socket once both operations are back. Records
    // are freed only when the resolver is released: a port may still look at an io object
    // for the rest of the poll that delivered its last operation (epoll does).
    [[nodiscard]] bool spare() const noexcept { return gone && !running && !ops[0].in_flight && !ops[1].in_flight; }
  };
  struct query {
    resolver_impl* owner;
    dns::resolve_callback cb;
  };
  struct finished {
    dns::resolve_callback cb;
    std::error_code ec;
    dns::records answer;
  };

  static dns::records empty_answer(dns::record_type type) {
    dns::records r;
    r.type = type;
    return r;
  }

  void update_active() noexcept {
    if (!closing_) set_active(pending_ != 0);
  }

  static void on_answer(void* arg, std::error_code ec, dns::records answer) {
    std::unique_ptr<query> q(static_cast<query*>(arg));
    resolver_impl& r = *q->owner;
    if (r.fatal_ && ec) ec = r.fatal_;
    r.done_.push_back({std::move(q->cb), ec, std::move(answer)});
    if (r.pending_ != 0) --r.pending_;
    r.update_active();
  }

  static void on_socket(void* ctx, std::intptr_t sock, bool readable, bool writable) {
    auto& r = *static_cast<resolver_impl*>(ctx);
    watch* w = nullptr;
    watch* spare = nullptr;
    for (watch* c : r.watches_) {
      if (!c->gone && c->io.native == sock) w = c;
      if (c->spare()) spare = c;
    }
    if (!readable && !writable) {
      if (w != nullptr) r.let_go(*w);
      return;
    }
    if (w == nullptr) {
      if (spare != nullptr) {
        w = spare;
      } else {
        w = new watch;
        r.watches_.push_back(w);
      }
      w->owner = &r;
      w->io = io_object{};
      w->io.native = sock;
      w->io.kind = io_kind::socket;
      w->gone = false;
      for (int side = 0; side < 2; ++side) {
        operation& op = w->ops[side];
        op.owner = w;
        op.io = &w->io;
        op.kind = op_kind::poll;
        op.flags = side == 0 ? poll_readable : poll_writable;
        op.complete = &on_ready;
      }
      if (auto ec = r.loop_.port_attach(w->io)) {
        // Nothing will tell c-ares about this socket: its queries run into their timeouts.
        w->gone = true;
        return;
      }
      w->attached = true;
    }
    w->want[0] = readable;
    w->want[1] = writable;
    r.arm(*w);
  }

  // Starts the poll operations c-ares wants and cancels those it no longer wants.
  void arm(watch& w) noexcept {
    for (int side = 0; side < 2; ++side) {
      operation& op = w.ops[side];
      if (w.want[side] && !op.in_flight) {
        ++ops_in_flight_;
        loop_.submit(op);
      } else if (!w.want[side] && op.in_flight) {
        loop_.cancel(op);
      }
    }
  }

  // c-ares is about to close w's socket: stop watching it while the descriptor is still open.
  void let_go(watch& w) noexcept {
    w.want[0] = w.want[1] = false;
    arm(w);
    if (w.attached) loop_.port_detach(w.io);
    w.attached = false;
    w.gone = true;
  }

  void op_done() noexcept {
    --ops_in_flight_;
    if (closing_ && ops_in_flight_ == 0) queue_for_close();
  }

  static void on_ready(operation* op) {
    watch& w = *static_cast<watch*>(op->owner);
    resolver_impl& r = *w.owner;
    const int side = op == &w.ops[0] ? 0 : 1;
    if (w.gone || r.ch_ == nullptr) {
      r.op_done();
      return;
    }
    if (op->error == errc::not_supported) {
      // The port cannot watch this socket: end every query with that, once.
      r.fatal_ = op->error;
      w.want[0] = w.want[1] = false;
      dns_channel::cancel_all(*r.ch_);
    } else if (op->error != errc::operation_canceled) {
      // Ready, or an error on the socket: c-ares' own read or write finds out which.
      const std::intptr_t fd = w.io.native;
      w.running = true;  // process() may let the socket go
      dns_channel::process(*r.ch_, side == 0 ? fd : dns_channel::no_socket, side == 1 ? fd : dns_channel::no_socket);
      w.running = false;
    }
    if (!w.gone && r.ch_ != nullptr && !r.fatal_) r.arm(w);
    r.update_timer();
    r.op_done();
    r.deliver_done();
  }

  void update_timer() noexcept {
    if (timer_ == nullptr) return;
    const std::int64_t ns = ch_ != nullptr ? dns_channel::next_timeout_ns(*ch_) : -1;
    if (ns < 0) {
      loop_.timer_stop(*timer_);
    } else {
      loop_.timer_start(*timer_, static_cast<std::uint64_t>(ns));
    }
  }

  void on_timer() {
    if (ch_ == nullptr) return;
    dns_channel::process(*ch_, dns_channel::no_socket, dns_channel::no_socket);
    update_timer();
    deliver_done();
  }

  void schedule_done() noexcept {
    if (done_.empty() || deferred_.in_flight) return;
    ++ops_in_flight_;
    loop_.submit(deferred_);
  }

  static void on_deferred(operation* op) {
    auto& r = *static_cast<resolver_impl*>(op->owner);
    r.deliver_done();
    r.op_done();
  }

  // Runs the callbacks of finished queries (none once the public object is gone).
  void deliver_done() {
    if (done_.empty()) return;
    std::vector<finished> batch;
    batch.swap(done_);
    for (finished& f : batch) {
      if (owner_ == nullptr || !f.cb) continue;
      loop_.invoke(this, [&] { f.cb(f.ec, std::move(f.answer)); });
    }
  }

  dns_channel::channel* ch_ = nullptr;
  std::error_code init_error_;
  std::error_code fatal_;
  timer_impl* timer_ = nullptr;
  std::vector<watch*> watches_;
  std::vector<finished> done_;
  operation deferred_;
  std::size_t pending_ = 0;
  std::uint32_t ops_in_flight_ = 0;
};

}  // namespace detail

namespace dns {
namespace {
detail::resolver_impl* as_resolver(detail::handle_base* h) noexcept { return static_cast<detail::resolver_impl*>(h); }
}  // namespace

const char* to_string(record_type type) noexcept {
  switch (type) {
    case record_type::a: return "A";
    case record_type::aaaa: return "AAAA";
    case record_type::cname: return "CNAME";
    case record_type::mx: return "MX";
    case record_type::ns: return "NS";
    case record_type::txt: return "TXT";
    case record_type::srv: return "SRV";
    case record_type::ptr: return "PTR";
    case record_type::soa: return "SOA";
  }
  return "?";
}

resolver::resolver(eddy::loop& owner, resolver_options options)
    : handle(owner, new detail::resolver_impl(owner.impl(), options), handle_type::resolver) {}

std::error_code resolver::set_servers(std::string_view servers) {
  auto* r = as_resolver(impl_);
  return r == nullptr ? make_error_code(errc::closed) : r->set_servers(servers);
}

std::string resolver::servers() const {
  auto* r = as_resolver(impl_);
  return r == nullptr ? std::string() : r->servers();
}

std::error_code resolver::resolve(std::string_view name, record_type type, resolve_callback on_done) {
  auto* r = as_resolver(impl_);
  return r == nullptr ? make_error_code(errc::closed) : r->resolve(name, type, std::move(on_done));
}

void resolver::cancel() noexcept {
  if (auto* r = as_resolver(impl_)) r->cancel();
}

void resolve(eddy::loop& loop, std::string_view name, record_type type, resolve_callback on_done) {
  // The query holds its resolver; the resolver closes as the answer is delivered.
  auto r = std::make_shared<resolver>(loop);
  (void)r->resolve(name, type, [r, cb = std::move(on_done)](std::error_code ec, records answer) {
    r->close();
    cb(ec, std::move(answer));
  });
}

}  // namespace dns
}  // namespace eddy
