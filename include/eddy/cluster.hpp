// eddy::cluster: worker processes that share a server, with health monitoring and restarts
// built in (Node's cluster module, plus what Node leaves to each application: heartbeats,
// a stuck-worker detector, RSS limits and crash-loop throttling).
//
// A program calls cluster::run(); in the primary it spawns `workers` copies of the same
// executable (or options.exec), each marked by its environment, and in a worker it runs
// worker_main. A worker serves with worker::listen / worker::accept; the listen goes
// through the primary:
// - round_robin: the primary owns the listening socket, accepts, and hands each connection
//   to the workers in turn over the IPC channel. A worker holding max_unacked connections it
//   has not taken yet gets no more until it catches up (the kernel backlog holds the rest).
// - shared: the primary binds the socket and hands it to every worker, which listen and
//   accept on it themselves (on Windows through WSADuplicateSocketW; such a socket cannot
//   join the worker's port and gets emulated completions, see docs/windows.md).
// The policy comes from options.policy, else EDDY_CLUSTER_SCHED=rr|shared, else round_robin
// (shared on Windows, where passing every connection costs a duplication each).
//
// The IPC channel: an ipc pipe the worker connects to by name (the name and a secret are in
// its environment; the primary drops a connection that does not present the secret). Frames
// are length-prefixed; a malformed frame, or one longer than max_message, closes that
// channel with an error event and never crashes either side. Handles travel beside the
// bytes (pipe::write2).
//
// Health: every heartbeat_interval each worker reports its resident set size, its loop lag
// (how late its heartbeat timer fired), its event-loop utilisation and its open handle count.
// A worker silent for stuck_timeout (one that never came online included) is killed (SIGKILL
// / TerminateProcess) and replaced. Above rss_warn a worker is reported; above rss_recycle it
// is asked to leave (disconnect) and replaced. A worker that exits unexpectedly is replaced,
// after an exponentially growing delay while it keeps dying young; five deaths in a row
// within min_uptime (a second by default) of starting stop that slot's respawning with an error event.
//
// Threads: loop thread only. The primary and worker objects belong to the caller and must
// outlive the loop's run (cluster::run arranges both).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "eddy/address.hpp"
#include "eddy/export.hpp"
#include "eddy/stream.hpp"

namespace eddy {
class loop;
class tcp;
}  // namespace eddy

namespace eddy::cluster {

enum class scheduling { round_robin, shared };

struct options {
  // How many workers; 0: os::available_parallelism().
  unsigned workers = 0;
  // Unset: EDDY_CLUSTER_SCHED (rr | shared), else round_robin (shared on Windows).
  std::optional<scheduling> policy;
  // The worker program; empty: this executable. args is its argv (args[0] its name); empty:
  // the primary's own arguments when run through cluster::run(argc, argv, ...), else {exec}.
  std::string exec;
  std::vector<std::string> args;
  // Extra "NAME=value" entries for the workers' environment (on top of the primary's).
  std::vector<std::string> env;
  std::chrono::milliseconds heartbeat_interval{1000};
  std::chrono::milliseconds stuck_timeout{5000};
  // How long a worker asked to leave (shutdown, restart, recycle) may take before it is killed.
  std::chrono::milliseconds shutdown_timeout{5000};
  std::uint64_t rss_warn = 0;     // bytes; 0: off
  std::uint64_t rss_recycle = 0;  // bytes; 0: off
  std::size_t max_message = 16u << 20;
  unsigned max_unacked = 32;  // round_robin's overload guard
  bool respawn = true;        // replace workers that exit unexpectedly
  // A worker that exits unexpectedly within this time of its start "died young": it is
  // respawned after a growing delay, and five young deaths in a row stop its slot (crash_loop).
  std::chrono::milliseconds min_uptime{1000};
};

// What a worker's heartbeat said.
struct health_report {
  std::uint64_t rss = 0;                    // resident set size, bytes
  std::chrono::microseconds loop_lag{0};    // worst loop delay of the interval beyond the
                                            // delay monitor's resolution (eddy/metrics.hpp)
  double utilization = 0;                   // loop::utilization over the interval, 0..1
  // The worker's loop_delay_monitor over the interval (Node's semantics: about its
  // resolution, 1 to 10 ms, when nothing blocks).
  std::chrono::microseconds loop_delay_p50{0};
  std::chrono::microseconds loop_delay_p99{0};
  std::chrono::microseconds loop_delay_max{0};
  std::uint32_t handles = 0;                // open handles in the worker's loop
  std::chrono::steady_clock::time_point received{};  // when the primary got it
};

// Why the primary reports an error about a worker (on_error).
enum class worker_problem {
  channel,     // its channel failed or sent a malformed frame (it was closed)
  stuck,       // silent for stuck_timeout: killed and replaced
  rss_high,    // above rss_warn
  recycled,    // above rss_recycle: asked to leave, replaced
  crash_loop,  // died young five times in a row: its slot is not respawned
  spawn,       // it could not be started
};

namespace detail {
class primary_impl;
class worker_impl;
}  // namespace detail

// The primary process's side. Events name workers by id (unique for the primary's life; a
// replacement gets a new id).
class EDDY_API primary {
 public:
  primary(eddy::loop& loop, options opts);
  ~primary();
  primary(const primary&) = delete;
  primary& operator=(const primary&) = delete;

  // Spawns the workers. Set the callbacks first.
  std::error_code start();
  // Stops respawning and accepting (round_robin: the primary's listeners close), asks every
  // worker to leave (disconnect: it closes its server, finishes what it has and exits), kills
  // those still there after shutdown_timeout, closes the channel, then calls done.
  void shutdown(std::function<void()> done = {});
  // Rolling restart: replaces the workers one at a time, each by a new one that is online
  // (and listening, if the old one was) before the old one is asked to leave, so no
  // connection is refused. done runs when the last old worker has gone. already_started if a
  // restart is under way.
  std::error_code restart(std::function<void()> done = {});

  // Sends bytes to a worker (errc::not_connected if it is not online, message_too_long
  // above max_message). The bytes are copied.
  std::error_code send(int id, std::span<const std::byte> bytes);
  // Ids of the workers alive now, and facts about one.
  [[nodiscard]] std::vector<int> workers() const;
  [[nodiscard]] int pid(int id) const;  // 0 if unknown
  [[nodiscard]] std::optional<health_report> health(int id) const;
  // Appends every live worker's metrics from its last heartbeat (those of write_metrics in
  // eddy/metrics.hpp, as the worker's loop saw them) in the Prometheus text format, each
  // series labelled worker="ID". Loop thread only.
  void write_metrics(std::string& out) const;
  [[nodiscard]] scheduling policy() const noexcept;
  [[nodiscard]] eddy::loop& get_loop() const noexcept;

  std::function<void(int id)> on_fork;    // spawned
  std::function<void(int id)> on_online;  // its loop is running and its channel is up
  std::function<void(int id, const socket_address& address)> on_listening;
  std::function<void(int id, std::span<const std::byte> bytes)> on_message;
  std::function<void(int id, const health_report& report)> on_health;
  std::function<void(int id)> on_disconnect;  // its channel closed
  std::function<void(int id, std::int64_t exit_status, int term_signal)> on_exit;
  std::function<void(int id, worker_problem what, std::error_code ec)> on_error;

 private:
  std::unique_ptr<detail::primary_impl> impl_;
};

// A worker process's side.
class EDDY_API worker {
 public:
  explicit worker(eddy::loop& loop);
  ~worker();
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;

  // Connects to the primary (from the environment) and starts the heartbeats.
  // errc::invalid_argument if this process is not a cluster worker.
  std::error_code start();
  [[nodiscard]] int id() const noexcept;
  [[nodiscard]] eddy::loop& get_loop() const noexcept;

  // Listens through the primary (see the policies above); on_connection runs once per
  // connection ready for accept(), or with an error (the primary could not bind, say).
  std::error_code listen(const socket_address& address, int backlog, completion_callback on_connection);
  // Takes a ready connection into an unused tcp of this loop.
  std::error_code accept(tcp& client);
  // Sends bytes to the primary (copied).
  std::error_code send(std::span<const std::byte> bytes);
  // Leaves: closes the listener, stops the heartbeats and closes the channel.
  void disconnect();

  std::function<void(std::span<const std::byte> bytes)> on_message;
  // The channel closed (the primary asked this worker to leave, or went away). The worker's
  // own listener and heartbeats are closed already; close your connections and let the
  // loop end. Unset: nothing else happens.
  std::function<void()> on_disconnect;

 private:
  std::unique_ptr<detail::worker_impl> impl_;
};

// Whether this process was started as a cluster worker.
EDDY_API bool is_worker();
inline bool is_primary() { return !is_worker(); }

// Runs a whole cluster program on a new loop: in the primary, primary_main(p) then p.start()
// and the loop; in a worker, w.start(), worker_main(w) and the loop. argv becomes the
// workers' arguments when options.args is empty. Signals: in the primary SIGINT and SIGTERM
// (Ctrl-C on Windows) shut the cluster down gracefully, and SIGHUP (POSIX) restarts the
// workers one at a time; in a worker SIGINT and SIGTERM make it leave (disconnect), so a
// Ctrl-C that reaches the whole process group still ends gracefully. Returns the process's
// exit status: 0, or 1 with the reason on stderr if the loop or the cluster could not start.
EDDY_API int run(int argc, char** argv, options opts, std::function<void(primary&)> primary_main,
                 std::function<void(worker&)> worker_main);

}  // namespace eddy::cluster
