// eddy::cluster's worker side (cluster.hpp), and cluster::run, which becomes the primary or a
// worker. The worker connects to the channel named in its environment (environment.hpp),
// says hello, sends heartbeats and asks the primary for its listening socket or connections.
#include "eddy/cluster.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "cluster/channel.hpp"
#include "cluster/environment.hpp"
#include "cluster/loop_report.hpp"
#include "cluster/wire.hpp"
#include "eddy/error.hpp"
#include "eddy/loop.hpp"
#include "eddy/metrics.hpp"
#include "eddy/os.hpp"
#include "eddy/pipe.hpp"
#include "eddy/signal.hpp"
#include "eddy/tcp.hpp"
#include "eddy/timer.hpp"
#include "platform/contract/signal.hpp"  // hangup_means_exit

namespace eddy::cluster {
namespace detail {

class worker_impl {
 public:
  explicit worker_impl(worker& api, eddy::loop& loop) : api_(api), loop_(loop), heartbeat_(loop) {}

  std::error_code start() {
    auto id = os::getenv(env_id);
    auto name = os::getenv(env_channel);
    auto secret = os::getenv(env_secret);
    if (!id || !name || !secret) return make_error_code(errc::invalid_argument);
    id_ = std::atoi(id->c_str());
    secret_ = *secret;
    if (auto v = os::getenv(env_heartbeat)) interval_ = std::chrono::milliseconds(std::max(1, std::atoi(v->c_str())));
    if (auto v = os::getenv(env_max_message)) max_message_ = static_cast<std::size_t>(std::strtoull(v->c_str(), nullptr, 10));
    chan_ = std::make_unique<channel>(loop_, max_message_);
    return chan_->pipe().connect(to_bind_name(*name), [this](std::error_code ec) { on_connected(ec); });
  }

  int id() const noexcept { return id_; }
  eddy::loop& get_loop() const noexcept { return loop_; }

  std::error_code listen(const socket_address& addr, int backlog, completion_callback cb) {
    if (!chan_) return make_error_code(errc::not_connected);
    if (on_connection_) return make_error_code(errc::already_started);
    on_connection_ = std::move(cb);
    listen_addr_ = addr;
    backlog_ = backlog;
    if (connected_) send_listen();
    return {};
  }

  std::error_code accept(tcp& client) {
    if (listener_) return listener_->accept(client);
    if (ready_ == 0 || !chan_) return make_error_code(errc::would_block);
    if (auto ec = chan_->pipe().accept_pending(client)) return ec;
    --ready_;
    chan_->send(frame_type::ack, encode(ack_msg{1}));
    return {};
  }

  std::error_code send(std::span<const std::byte> bytes) {
    if (!chan_ || !connected_) return make_error_code(errc::not_connected);
    if (bytes.size() > max_message_) return make_error_code(errc::message_too_long);
    return chan_->send(frame_type::message, bytes);
  }

  void disconnect() {
    if (disconnected_) return;
    disconnected_ = true;
    heartbeat_.close();
    delay_.reset();  // closes its timer
    if (listener_) listener_->close();
    if (chan_) channel::finish(std::shared_ptr<channel>(std::move(chan_)), loop_);
    if (api_.on_disconnect) api_.on_disconnect();
  }

 private:
  void on_connected(std::error_code ec) {
    if (ec) {
      std::fprintf(stderr, "eddy cluster worker %d: cannot reach the primary: %s\n", id_, ec.message().c_str());
      return disconnect();
    }
    connected_ = true;
    chan_->send(frame_type::hello, encode(hello_msg{static_cast<std::uint32_t>(id_), secret_}));
    chan_->start([this](frame_type t, std::span<const std::byte> p) { on_frame(t, p); },
                 [this](std::error_code) { disconnect(); });
    // The loop's delay, sampled 20 times a heartbeat (at most every 10 ms, at least every 1 ms).
    delay_ = std::make_unique<loop_delay_monitor>(
        loop_, std::clamp<std::chrono::nanoseconds>(interval_ / 20, std::chrono::milliseconds(1), std::chrono::milliseconds(10)));
    delay_->enable();
    last_util_ = loop_.utilization();
    heartbeat_.start(interval_, interval_, [this] { beat(); });
    if (on_connection_) send_listen();
  }

  void send_listen() {
    chan_->send(frame_type::listen, encode(listen_msg{static_cast<std::uint32_t>(backlog_), listen_addr_}));
  }

  // The heartbeat: the loop's delay and utilisation over the interval, from the observability
  // API (eddy/metrics.hpp, loop::utilization), and the rest of its metrics for the primary's
  // /metrics (loop_report.hpp).
  void beat() {
    const loop_utilization util = loop_.utilization(last_util_);
    last_util_ = loop_.utilization();
    std::error_code ec;
    heartbeat_msg beat;
    beat.rss = os::resident_set_size(ec);
    // The lag: how much later than its resolution the monitor's worst interval was.
    const auto worst = delay_->max();
    beat.lag_us = worst > delay_->resolution() ? static_cast<std::uint64_t>((worst - delay_->resolution()).count() / 1000) : 0;
    beat.utilization_ppm = static_cast<std::uint32_t>(std::clamp(util.utilization, 0.0, 1.0) * 1e6);
    beat.handles = static_cast<std::uint32_t>(loop_.handle_count());
    beat.loop = make_loop_report(loop_, *delay_, delay_totals_);
    delay_->reset();  // the next heartbeat's percentiles are its own interval's
    chan_->send(frame_type::heartbeat, encode(beat));
  }

  void on_frame(frame_type t, std::span<const std::byte> p) {
    switch (t) {
      case frame_type::message:
        if (api_.on_message) api_.on_message(p);
        return;
      case frame_type::listening: {
        const auto m = decode_listening(p);
        if (!m) return disconnect();
        const auto err = static_cast<int>(m->error);
        const bool with_socket = m->with_socket;
        if (err != 0) return notify(make_error_code(static_cast<errc>(err)));
        if (with_socket) {
          listener_ = std::make_unique<eddy::tcp>(loop_);
          std::error_code ec = chan_->pipe().accept_pending(*listener_);
          if (!ec) ec = listener_->listen(backlog_ > 0 ? backlog_ : 511, [this](std::error_code aec) { notify(aec); });
          if (ec) return notify(ec);
          auto local = listener_->local_address(ec);
          if (!ec) send_listening_ok(local);
        } else {
          send_listening_ok(m->address);
        }
        return;
      }
      case frame_type::connection:
        ++ready_;
        return notify({});
      case frame_type::disconnect:
        return disconnect();
      default:
        return disconnect();  // a frame only workers send: not our primary
    }
  }

  void send_listening_ok(const socket_address& addr) {
    chan_->send(frame_type::listening_ok, encode(listening_ok_msg{addr}));
  }

  void notify(std::error_code ec) {
    if (on_connection_) on_connection_(ec);
  }

  worker& api_;
  eddy::loop& loop_;
  int id_ = 0;
  std::string secret_;
  std::chrono::milliseconds interval_{1000};
  std::size_t max_message_ = 16u << 20;
  std::unique_ptr<channel> chan_;
  bool connected_ = false;
  bool disconnected_ = false;
  eddy::timer heartbeat_;
  std::unique_ptr<loop_delay_monitor> delay_;
  loop_utilization last_util_{};
  delay_totals delay_totals_;
  completion_callback on_connection_;
  socket_address listen_addr_;
  int backlog_ = 511;
  std::unique_ptr<eddy::tcp> listener_;  // shared
  unsigned ready_ = 0;                   // round_robin: connections announced, not taken
};

}  // namespace detail

worker::worker(eddy::loop& loop) : impl_(std::make_unique<detail::worker_impl>(*this, loop)) {}
worker::~worker() = default;
std::error_code worker::start() { return impl_->start(); }
int worker::id() const noexcept { return impl_->id(); }
eddy::loop& worker::get_loop() const noexcept { return impl_->get_loop(); }
std::error_code worker::listen(const socket_address& address, int backlog, completion_callback on_connection) {
  return impl_->listen(address, backlog, std::move(on_connection));
}
std::error_code worker::accept(tcp& client) { return impl_->accept(client); }
std::error_code worker::send(std::span<const std::byte> bytes) { return impl_->send(bytes); }
void worker::disconnect() { impl_->disconnect(); }

bool is_worker() { return os::getenv(detail::env_id).has_value(); }

int run(int argc, char** argv, options opts, std::function<void(primary&)> primary_main,
        std::function<void(worker&)> worker_main) {
  std::error_code ec;
  auto loop = loop::create(loop_options{}, ec);
  if (!loop) {
    std::fprintf(stderr, "eddy cluster: cannot create a loop: %s\n", ec.message().c_str());
    return 1;
  }
  // Watches sig (where the platform can) without keeping the loop alive.
  auto watch = [&](eddy::signal& s, int sig, std::function<void(int)> fn) {
    if (!s.start(sig, std::move(fn))) s.unref();
  };
  eddy::signal sigint(*loop), sigterm(*loop), sighup(*loop);
  if (is_worker()) {
    worker w(*loop);
    if ((ec = w.start())) {
      std::fprintf(stderr, "eddy cluster worker: %s\n", ec.message().c_str());
      return 1;
    }
    auto leave = [&](int) { w.disconnect(); };
    watch(sigint, signals::sigint, leave);
    watch(sigterm, signals::sigterm, leave);
    if (worker_main) worker_main(w);
    loop->run();
    return 0;
  }
  if (opts.args.empty() && argc > 0) opts.args.assign(argv, argv + argc);
  primary p(*loop, std::move(opts));
  if (primary_main) primary_main(p);
  if ((ec = p.start())) {
    std::fprintf(stderr, "eddy cluster: cannot start: %s\n", ec.message().c_str());
    return 1;
  }
  auto stop = [&](int) {
    p.shutdown([&] {
      sigint.close();
      sigterm.close();
      sighup.close();
    });
  };
  watch(sigint, signals::sigint, stop);
  watch(sigterm, signals::sigterm, stop);
  // A hang-up restarts the workers where it means "reload" (SIGHUP on POSIX), and shuts down
  // where it means the process is about to end (CTRL_CLOSE on Windows).
  if (::eddy::contract::signal::hangup_means_exit()) {
    watch(sighup, signals::sighup, stop);
  } else {
    watch(sighup, signals::sighup, [&](int) { (void)p.restart(); });
  }
  loop->run();
  return 0;
}

}  // namespace eddy::cluster
