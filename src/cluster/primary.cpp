// eddy::cluster's primary (cluster.hpp): starts the workers, talks to them over the channel
// (channel.hpp, wire.hpp), hands out listening sockets or connections, watches their health
// and replaces them. Built on the public API (process, pipe, tcp, timer); what differs between
// systems (the channel's name, the default policy) it asks the services contract.
//
// A socket rides beside a frame's bytes (pipe::write2) for `listening` in the shared policy
// and for every `connection`.
#include "eddy/cluster.hpp"

#include <algorithm>
#include <map>

#include "cluster/channel.hpp"
#include "cluster/environment.hpp"
#include "cluster/loop_report.hpp"
#include "cluster/wire.hpp"
#include "eddy/error.hpp"
#include "eddy/loop.hpp"
#include "eddy/os.hpp"
#include "eddy/pipe.hpp"
#include "eddy/process.hpp"
#include "eddy/signal.hpp"
#include "eddy/tcp.hpp"
#include "eddy/timer.hpp"
#include "platform/contract/net.hpp"  // private_local_name, prefer_shared_accept

namespace eddy::cluster {
namespace {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;
using namespace detail;

std::uint32_t error_value(std::error_code ec) {
  if (!ec) return 0;
  return ec.category() == eddy::category() ? static_cast<std::uint32_t>(ec.value())
                                           : static_cast<std::uint32_t>(errc::unknown);
}

}  // namespace

// ================================================================ the primary

namespace detail {

class primary_impl {
 public:
  primary_impl(primary& api, eddy::loop& loop, options opts)
      : api_(api), loop_(loop), opts_(std::move(opts)), server_(loop, true), watchdog_(loop) {
    policy_ = opts_.policy ? *opts_.policy : default_policy();
    if (opts_.workers == 0) opts_.workers = os::available_parallelism();
    secret_ = random_token();
    name_ = channel_name(random_token());
  }

  ~primary_impl() {
    for (auto& [id, w] : workers_) {
      if (w->proc && !w->exited) w->proc->kill(signals::sigkill);
    }
  }

  struct worker_rec {
    int id = 0;
    std::size_t slot = 0;
    std::unique_ptr<eddy::process> proc;
    std::unique_ptr<channel> chan;
    int pid = 0;
    clock::time_point started;
    clock::time_point last_heard;
    std::optional<health_report> health;
    std::optional<eddy::detail::metrics_snapshot> metrics;  // from the last heartbeat
    bool online = false;
    bool exited = false;
    bool leaving = false;  // asked to leave (shutdown, recycle) or killed: no respawn for it
    bool retired = false;  // replaced already (recycled)
    bool rss_warned = false;
    bool listening = false;  // it said listening_ok
    clock::time_point leave_deadline;
    unsigned unacked = 0;
    std::string listen_key;
  };
  struct slot_rec {
    unsigned quick_deaths = 0;
    bool stopped = false;  // crash loop: not respawned
    std::unique_ptr<eddy::timer> respawn;
  };
  struct listener_rec {
    std::unique_ptr<eddy::tcp> sock;
    socket_address bound;
    std::vector<int> ids;  // round_robin: the workers served, in turn
    std::size_t next = 0;
    unsigned waiting = 0;  // connections announced and not accepted yet
  };
  // A channel connection that has not said hello yet.
  struct stranger {
    std::unique_ptr<channel> chan;
    clock::time_point since;
  };

  std::error_code start() {
    if (started_) return make_error_code(errc::already_started);
    if (auto ec = server_.bind(to_bind_name(name_))) return ec;
    if (auto ec = server_.listen(64, [this](std::error_code cec) { on_channel_connection(cec); })) return ec;
    server_.unref();  // the workers (their processes and channels) keep the loop alive
    started_ = true;
    slots_.resize(opts_.workers);
    for (std::size_t i = 0; i < slots_.size(); ++i) spawn_into(i);
    const auto tick = std::max<std::chrono::milliseconds>(10ms, std::min(opts_.heartbeat_interval, opts_.stuck_timeout) / 4);
    watchdog_.start(tick, tick, [this] { check_health(); });
    watchdog_.unref();  // the workers keep the loop alive, not the watchdog
    return {};
  }

  void shutdown(std::function<void()> done) {
    if (shutting_down_) return;
    shutting_down_ = true;
    shutdown_done_ = std::move(done);
    for (auto& s : slots_) s.respawn.reset();
    listeners_.clear();  // stop accepting (round_robin); workers close their own (shared)
    restart_queue_.clear();
    const auto now = clock::now();
    for (auto& [id, w] : workers_) {
      if (w->exited) continue;
      ask_to_leave(*w, now);
    }
    finish_shutdown_if_done();
  }

  std::error_code send(int id, std::span<const std::byte> bytes) {
    if (bytes.size() > opts_.max_message) return make_error_code(errc::message_too_long);
    worker_rec* w = find(id);
    if (w == nullptr || !w->online || !w->chan || !w->chan->is_open()) return make_error_code(errc::not_connected);
    return w->chan->send(frame_type::message, bytes);
  }

  std::vector<int> ids() const {
    std::vector<int> out;
    for (auto& [id, w] : workers_) {
      if (!w->exited) out.push_back(id);
    }
    return out;
  }
  int pid(int id) const {
    auto it = workers_.find(id);
    return it == workers_.end() ? 0 : it->second->pid;
  }
  void write_metrics(std::string& out) const {
    std::vector<std::pair<std::string, eddy::detail::metrics_snapshot>> all;
    for (const auto& [id, w] : workers_) {
      if (w->metrics && !w->exited) all.emplace_back("worker=\"" + std::to_string(id) + "\"", *w->metrics);
    }
    eddy::detail::format_metrics(all, out);
  }

  std::optional<health_report> health(int id) const {
    auto it = workers_.find(id);
    return it == workers_.end() ? std::nullopt : it->second->health;
  }
  scheduling policy() const noexcept { return policy_; }
  eddy::loop& get_loop() const noexcept { return loop_; }

 private:
  worker_rec* find(int id) {
    auto it = workers_.find(id);
    return it == workers_.end() ? nullptr : it->second.get();
  }

  template <class F, class... A>
  void emit(F& fn, A&&... args) {
    if (fn) fn(std::forward<A>(args)...);
  }

  // Starts a worker in `slot`; its id, or 0 if none was started.
  int spawn_into(std::size_t slot) {
    if (shutting_down_ || slots_[slot].stopped) return 0;
    const int id = next_id_++;
    auto w = std::make_unique<worker_rec>();
    w->id = id;
    w->slot = slot;
    w->proc = std::make_unique<eddy::process>(loop_);
    process_options po;
    std::error_code ec;
    po.file = opts_.exec.empty() ? os::executable_path(ec) : opts_.exec;
    po.args = opts_.args;
    if (po.args.empty()) po.args = {po.file};
    po.env_how = env_mode::add;
    po.env = opts_.env;
    po.env.push_back(std::string(env_id) + "=" + std::to_string(id));
    po.env.push_back(std::string(env_channel) + "=" + name_);
    po.env.push_back(std::string(env_secret) + "=" + secret_);
    po.env.push_back(std::string(env_heartbeat) + "=" + std::to_string(opts_.heartbeat_interval.count()));
    po.env.push_back(std::string(env_max_message) + "=" + std::to_string(opts_.max_message));
    po.stdio = {stdio_option::inherited(), stdio_option::inherited(), stdio_option::inherited()};
    w->started = w->last_heard = clock::now();
    if (!ec) {
      ec = w->proc->spawn(po, [this, id](std::int64_t status, int sig) { on_worker_exit(id, status, sig); });
    }
    if (ec) {
      emit(api_.on_error, id, worker_problem::spawn, ec);
      // Counts as dying young: retried with the growing delay, then given up.
      w->proc.reset();
      after_death(slot, /*young=*/true, id);
      return 0;
    }
    w->pid = w->proc->pid();
    workers_.emplace(id, std::move(w));
    emit(api_.on_fork, id);
    return id;
  }

  // A worker of `slot` died (or could not start): schedules its replacement.
  void after_death(std::size_t slot, bool young, int id) {
    slot_rec& s = slots_[slot];
    if (shutting_down_ || !opts_.respawn || s.stopped) return;
    s.quick_deaths = young ? s.quick_deaths + 1 : 0;
    if (s.quick_deaths >= 5) {
      s.stopped = true;
      emit(api_.on_error, id, worker_problem::crash_loop, make_error_code(errc::interrupted));
      return;
    }
    const auto delay = s.quick_deaths == 0 ? 0ms : 100ms * (1 << (s.quick_deaths - 1));
    if (!s.respawn) s.respawn = std::make_unique<eddy::timer>(loop_);
    s.respawn->start(delay, [this, slot] { spawn_into(slot); });
  }

  void on_worker_exit(int id, std::int64_t status, int sig) {
    worker_rec* w = find(id);
    if (w == nullptr) return;
    w->exited = true;
    const bool young = clock::now() - w->started < opts_.min_uptime;
    const bool expected = w->leaving || shutting_down_;
    end_channel(*w, {});
    emit(api_.on_exit, id, status, sig);
    if (!expected && !w->retired) after_death(w->slot, young, id);
    if (restarting_ && id == restart_new_) {
      // The replacement died before it was ready: the old one stays, and is looked after.
      if (worker_rec* old = find(restart_old_)) old->retired = false;
    }
    if (restarting_ && (id == restart_old_ || id == restart_new_)) next_restart();
    // The process handle is inside its own callback: let it go on the next iteration.
    loop_.set_immediate([this, id] {
      workers_.erase(id);
      finish_shutdown_if_done();
    });
  }

  // ---- rolling restart

 public:
  std::error_code restart(std::function<void()> done) {
    if (!started_ || shutting_down_) return make_error_code(errc::closed);
    if (restarting_) return make_error_code(errc::already_started);
    restarting_ = true;
    restart_done_ = std::move(done);
    restart_queue_.clear();
    for (auto& [id, w] : workers_) {
      if (!w->exited && !w->leaving) restart_queue_.push_back(id);
    }
    next_restart();
    return {};
  }

 private:
  void next_restart() {
    restart_old_ = restart_new_ = 0;
    while (!restart_queue_.empty()) {
      const int old_id = restart_queue_.front();
      restart_queue_.erase(restart_queue_.begin());
      worker_rec* old = find(old_id);
      if (old == nullptr || old->exited || old->leaving) continue;
      old->retired = true;  // its exit is expected: its replacement is already there
      restart_old_ = old_id;
      restart_new_ = spawn_into(old->slot);
      if (restart_new_ == 0) break;  // could not start one: leave the old one serving
      return;
    }
    restarting_ = false;
    restart_old_ = restart_new_ = 0;
    auto done = std::move(restart_done_);
    if (done) done();
  }

  // The replacement under way is ready (online, and listening if the old one was).
  void replacement_ready(int id, bool listening) {
    if (id == 0 || id != restart_new_) return;
    worker_rec* old = find(restart_old_);
    if (old != nullptr && old->listening && !listening) return;  // wait for its listening
    restart_new_ = 0;
    if (old != nullptr && !old->exited) {
      ask_to_leave(*old, clock::now());  // its exit moves the restart on
    } else {
      next_restart();
    }
  }

  void ask_to_leave(worker_rec& w, clock::time_point now) {
    if (w.leaving) return;
    w.leaving = true;
    w.leave_deadline = now + opts_.shutdown_timeout;
    if (w.chan && w.chan->is_open() && w.online) {
      w.chan->send(frame_type::disconnect, std::span<const std::byte>());
    } else if (w.proc) {
      w.proc->kill(signals::sigkill);  // not online yet: nothing to ask
    }
  }

  void finish_shutdown_if_done() {
    if (!shutting_down_ || shutdown_finished_) return;
    for (auto& [id, w] : workers_) {
      if (!w->exited) return;
    }
    shutdown_finished_ = true;
    listeners_.clear();
    strangers_.clear();
    server_.close();
    watchdog_.close();
    slots_.clear();
    auto done = std::move(shutdown_done_);
    if (done) done();
  }

  // ---- the channel

  void on_channel_connection(std::error_code ec) {
    if (ec) return;
    auto s = std::make_unique<stranger>();
    s->chan = std::make_unique<channel>(loop_, opts_.max_message);
    s->since = clock::now();
    if (server_.accept(s->chan->pipe())) return;
    channel* c = s->chan.get();
    strangers_.push_back(std::move(s));
    c->start([this, c](frame_type t, std::span<const std::byte> p) { on_stranger_frame(c, t, p); },
             [this, c](std::error_code) { drop_stranger(c); });
  }

  std::unique_ptr<channel> take_stranger(channel* c) {
    for (auto it = strangers_.begin(); it != strangers_.end(); ++it) {
      if ((*it)->chan.get() == c) {
        auto out = std::move((*it)->chan);
        strangers_.erase(it);
        return out;
      }
    }
    return nullptr;
  }
  void drop_stranger(channel* c) { channel::discard(take_stranger(c), loop_); }

  void on_stranger_frame(channel* c, frame_type t, std::span<const std::byte> p) {
    const auto hello = t == frame_type::hello ? decode_hello(p) : std::nullopt;
    const int id = hello ? static_cast<int>(hello->id) : 0;
    worker_rec* w = hello ? find(id) : nullptr;
    if (w == nullptr || hello->secret != secret_ || w->chan || w->exited) {
      drop_stranger(c);  // not one of ours
      return;
    }
    w->chan = take_stranger(c);
    w->online = true;
    w->last_heard = clock::now();
    channel* ch = w->chan.get();
    // The channel's callbacks now belong to the worker.
    ch->on([this, id](frame_type ft, std::span<const std::byte> fp) { on_frame(id, ft, fp); },
              [this, id](std::error_code ec) {
                if (worker_rec* wr = find(id)) end_channel(*wr, ec);
              });
    emit(api_.on_online, id);
    if (w->leaving) ch->send(frame_type::disconnect, std::span<const std::byte>());
    replacement_ready(id, false);
  }

  void end_channel(worker_rec& w, std::error_code ec) {
    if (!w.chan) return;
    const bool was_online = w.online;
    w.online = false;
    leave_listener(w);
    channel::discard(std::move(w.chan), loop_);
    // A worker asked to leave may exit with frames unread: its channel then ends with a reset
    // before its exit is seen. That is its leaving, not a channel failure.
    const bool left = w.leaving && ec == errc::connection_reset;
    if (ec && ec != errc::eof && !w.exited && !left) {
      emit(api_.on_error, w.id, worker_problem::channel, ec);
      // A worker whose channel broke cannot be reached or monitored: replace it.
      if (!w.leaving && w.proc) {
        w.proc->kill(signals::sigkill);
      }
    }
    if (was_online) emit(api_.on_disconnect, w.id);
  }

  void on_frame(int id, frame_type t, std::span<const std::byte> p) {
    worker_rec* w = find(id);
    if (w == nullptr) return;
    w->last_heard = clock::now();
    switch (t) {
      case frame_type::heartbeat: {
        const auto beat = decode_heartbeat(p);
        if (!beat) return end_channel(*w, make_error_code(errc::protocol_error));
        health_report h;
        h.rss = beat->rss;
        h.loop_lag = std::chrono::microseconds(beat->lag_us);
        if (beat->loop) {
          h.loop_delay_p50 = std::chrono::microseconds(beat->loop->delay_p50_us);
          h.loop_delay_p99 = std::chrono::microseconds(beat->loop->delay_p99_us);
          h.loop_delay_max = std::chrono::microseconds(beat->loop->delay_max_us);
        }
        h.utilization = static_cast<double>(beat->utilization_ppm) / 1e6;
        w->metrics = snapshot_of(*beat);
        h.handles = beat->handles;
        h.received = w->last_heard;
        w->health = h;
        emit(api_.on_health, id, h);
        if (opts_.rss_recycle != 0 && h.rss > opts_.rss_recycle && !w->leaving) {
          emit(api_.on_error, id, worker_problem::recycled, make_error_code(errc::no_memory));
          w->retired = true;
          const std::size_t slot = w->slot;
          ask_to_leave(*w, clock::now());
          spawn_into(slot);
        } else if (opts_.rss_warn != 0 && h.rss > opts_.rss_warn && !w->rss_warned) {
          w->rss_warned = true;
          emit(api_.on_error, id, worker_problem::rss_high, make_error_code(errc::no_memory));
        }
        return;
      }
      case frame_type::message:
        emit(api_.on_message, id, p);
        return;
      case frame_type::listen: {
        const auto m = decode_listen(p);
        if (!m) return end_channel(*w, make_error_code(errc::protocol_error));
        return serve_listen(*w, m->address, static_cast<int>(m->backlog));
      }
      case frame_type::listening_ok: {
        const auto m = decode_listening_ok(p);
        if (!m) return end_channel(*w, make_error_code(errc::protocol_error));
        w->listening = true;
        emit(api_.on_listening, id, m->address);
        replacement_ready(id, true);
        return;
      }
      case frame_type::ack: {
        const auto m = decode_ack(p);
        if (!m) return end_channel(*w, make_error_code(errc::protocol_error));
        w->unacked -= std::min(static_cast<unsigned>(m->count), w->unacked);
        if (!w->listen_key.empty()) pump(w->listen_key);
        return;
      }
      default:
        // hello twice, or a frame only the primary sends.
        return end_channel(*w, make_error_code(errc::protocol_error));
    }
  }

  // ---- listening

  void reply_listening(worker_rec& w, std::error_code ec, const socket_address& addr, handle* sock) {
    w.chan->send(frame_type::listening, encode(listening_msg{error_value(ec), sock != nullptr, addr}), sock);
  }

  void serve_listen(worker_rec& w, const socket_address& addr, int backlog) {
    const std::string key = addr.to_string() + (policy_ == scheduling::shared ? "/shared" : "/rr");
    auto it = listeners_.find(key);
    if (it == listeners_.end()) {
      listener_rec l;
      l.sock = std::make_unique<eddy::tcp>(loop_);
      std::error_code ec = l.sock->bind(addr);
      if (!ec && policy_ == scheduling::round_robin) {
        ec = l.sock->listen(backlog > 0 ? backlog : 511, [this, key](std::error_code aec) {
          auto lit = listeners_.find(key);
          if (aec || lit == listeners_.end()) return;
          ++lit->second.waiting;
          pump(key);
        });
      }
      if (!ec) l.bound = l.sock->local_address(ec);
      if (ec) return reply_listening(w, ec, addr, nullptr);
      it = listeners_.emplace(key, std::move(l)).first;
    }
    listener_rec& l = it->second;
    if (policy_ == scheduling::shared) return reply_listening(w, {}, l.bound, l.sock.get());
    if (std::find(l.ids.begin(), l.ids.end(), w.id) == l.ids.end()) l.ids.push_back(w.id);
    w.listen_key = key;
    reply_listening(w, {}, l.bound, nullptr);
    pump(key);
  }

  void leave_listener(worker_rec& w) {
    if (w.listen_key.empty()) return;
    auto it = listeners_.find(w.listen_key);
    w.listen_key.clear();
    w.unacked = 0;
    if (it == listeners_.end()) return;
    auto& ids = it->second.ids;
    ids.erase(std::remove(ids.begin(), ids.end(), w.id), ids.end());
  }

  // round_robin: hands the waiting connections of listener `key` to its workers in turn,
  // skipping workers at their max_unacked.
  void pump(const std::string& key) {
    auto it = listeners_.find(key);
    if (it == listeners_.end()) return;
    listener_rec& l = it->second;
    while (l.waiting > 0) {
      worker_rec* target = next_ready(l);
      if (target == nullptr) return;  // everyone is busy: the rest wait in the backlog
      auto conn = std::make_shared<eddy::tcp>(loop_);
      --l.waiting;
      if (l.sock->accept(*conn)) continue;
      // A handoff that fails at once (the socket could not be duplicated for that worker, its
      // channel just ended) goes to the next worker; with nobody left the connection is
      // closed, so that its client sees the end instead of waiting for an answer forever.
      const std::byte one{1};
      for (std::size_t tries = 0; target != nullptr && tries < l.ids.size(); ++tries, target = next_ready(l)) {
        // Our copy closes once the worker's is on its way.
        if (!target->chan->send(frame_type::connection, std::span<const std::byte>(&one, 1), conn.get(),
                                [conn](std::error_code) { conn->close(); })) {
          ++target->unacked;
          conn.reset();
          break;
        }
      }
      if (conn) conn->close();
    }
  }

  // round_robin: the next of l's workers that can take a connection, nullptr if none can.
  worker_rec* next_ready(listener_rec& l) {
    for (std::size_t tries = 0; tries < l.ids.size(); ++tries) {
      worker_rec* w = find(l.ids[l.next % l.ids.size()]);
      l.next = (l.next + 1) % l.ids.size();
      if (w != nullptr && w->online && !w->leaving && w->chan && w->unacked < opts_.max_unacked) return w;
    }
    return nullptr;
  }

  // ---- health

  void check_health() {
    const auto now = clock::now();
    for (auto& [id, w] : workers_) {
      if (w->exited || !w->proc) continue;
      if (w->leaving) {
        if (now > w->leave_deadline) w->proc->kill(signals::sigkill);
        continue;
      }
      if (now - w->last_heard > opts_.stuck_timeout) {
        emit(api_.on_error, id, worker_problem::stuck, make_error_code(errc::timed_out));
        // Killed, and replaced when its exit is seen (not counted as leaving).
        w->last_heard = now;
        w->proc->kill(signals::sigkill);
      }
    }
    // Connections that never said hello.
    std::erase_if(strangers_, [&](std::unique_ptr<stranger>& s) {
      if (now - s->since <= opts_.stuck_timeout) return false;
      channel::discard(std::move(s->chan), loop_);
      return true;
    });
  }

  primary& api_;
  eddy::loop& loop_;
  options opts_;
  scheduling policy_;
  std::string secret_;
  std::string name_;
  eddy::pipe server_;
  eddy::timer watchdog_;
  bool started_ = false;
  bool shutting_down_ = false;
  bool shutdown_finished_ = false;
  std::function<void()> shutdown_done_;
  bool restarting_ = false;
  std::vector<int> restart_queue_;  // old workers still to replace
  int restart_old_ = 0;             // the one being replaced
  int restart_new_ = 0;             // its replacement, until it is ready
  std::function<void()> restart_done_;
  int next_id_ = 1;
  std::map<int, std::unique_ptr<worker_rec>> workers_;
  std::vector<slot_rec> slots_;
  std::map<std::string, listener_rec> listeners_;
  std::vector<std::unique_ptr<stranger>> strangers_;
};

}  // namespace detail

primary::primary(eddy::loop& loop, options opts) : impl_(std::make_unique<detail::primary_impl>(*this, loop, std::move(opts))) {}
primary::~primary() = default;
std::error_code primary::start() { return impl_->start(); }
void primary::shutdown(std::function<void()> done) { impl_->shutdown(std::move(done)); }
std::error_code primary::restart(std::function<void()> done) { return impl_->restart(std::move(done)); }
std::error_code primary::send(int id, std::span<const std::byte> bytes) { return impl_->send(id, bytes); }
void primary::write_metrics(std::string& out) const { impl_->write_metrics(out); }
std::vector<int> primary::workers() const { return impl_->ids(); }
int primary::pid(int id) const { return impl_->pid(id); }
std::optional<health_report> primary::health(int id) const { return impl_->health(id); }
scheduling primary::policy() const noexcept { return impl_->policy(); }
eddy::loop& primary::get_loop() const noexcept { return impl_->get_loop(); }

}  // namespace eddy::cluster
