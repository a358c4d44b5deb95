// eddy::cluster on every port: the test is the primary, eddy_test_helper's `cluster-worker`
// modes are the workers (tests/helper/cluster_modes.cpp).
#include <cstdio>
#include <cstdlib>
#include <map>
#include <utility>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "eddy/cluster.hpp"
#include "helper_path.hpp"
#include "port_fixture.hpp"

namespace {

using eddy_test::PortTest;
using namespace std::chrono_literals;
namespace cluster = eddy::cluster;

std::string text(std::span<const std::byte> d) { return {reinterpret_cast<const char*>(d.data()), d.size()}; }

class ClusterTest : public PortTest {
 public:
  // Options for workers running `cluster-worker what` on this test's port.
  cluster::options worker_options(const std::string& what, unsigned n) {
    cluster::options o;
    o.workers = n;
    o.exec = eddy_test::helper_path();
    o.args = {o.exec, "cluster-worker", what};
    o.env = {"EDDY_BACKEND=" + std::string(eddy::to_string(GetParam()))};
    return o;
  }

  // Connects to addr and returns what the server says before closing.
  void ask(const eddy::socket_address& addr, std::function<void(std::string)> done) {
    auto c = std::make_shared<eddy::tcp>(loop());
    auto got = std::make_shared<std::string>();
    ASSERT_FALSE(c->connect(addr, [c, got, done](std::error_code ec) {
      if (ec) {
        c->close();
        done("connect: " + ec.message());
        return;
      }
      c->read_start([c, got, done](std::error_code rec, std::span<std::byte> d) {
        if (rec) {
          c->close();
          done(got->empty() ? "read: " + rec.message() : *got);
          return;
        }
        *got += text(d);
      });
    }));
  }

  // Asks `count` times, one after the other; then calls done with the answers.
  void ask_in_turn(const eddy::socket_address& addr, int count, std::vector<std::string>& answers,
                   std::function<void()> done) {
    if (count == 0) return done();
    ask(addr, [this, addr, count, &answers, done](std::string a) {
      answers.push_back(std::move(a));
      ask_in_turn(addr, count - 1, answers, done);
    });
  }
};
EDDY_INSTANTIATE_PORTS(ClusterTest);

void serve_and_ask(ClusterTest& t, eddy::loop& loop, cluster::primary& p, int workers, int asks,
                   std::vector<std::string>& answers, std::set<int>& listening, std::vector<int>& exits,
                   std::function<void(cluster::primary&)> once_served = {}) {
  eddy::socket_address addr;
  p.on_listening = [&, workers, asks](int id, const eddy::socket_address& a) {
    listening.insert(id);
    addr = a;
    if (static_cast<int>(listening.size()) != workers) return;
    t.ask_in_turn(addr, asks, answers, [&] {
      if (once_served) once_served(p);
      p.shutdown();
    });
  };
  p.on_exit = [&](int, std::int64_t status, int sig) { exits.push_back(sig != 0 ? -sig : static_cast<int>(status)); };
  ASSERT_FALSE(p.start());
  loop.run();
}

TEST_P(ClusterTest, RoundRobinHandsConnectionsToWorkersInTurn) {
  auto o = worker_options("serve", 2);
  o.policy = cluster::scheduling::round_robin;
  cluster::primary p(loop(), o);
  EXPECT_EQ(p.policy(), cluster::scheduling::round_robin);
  std::vector<std::string> answers;
  std::set<int> listening;
  std::vector<int> exits;
  int forks = 0;
  int online = 0;
  p.on_fork = [&](int) { ++forks; };
  p.on_online = [&](int) { ++online; };
  serve_and_ask(*this, loop(), p, 2, 6, answers, listening, exits);
  EXPECT_EQ(forks, 2);
  EXPECT_EQ(online, 2);
  ASSERT_EQ(answers.size(), 6u);
  // In turn: the two workers alternate.
  for (std::size_t i = 0; i < answers.size(); ++i) {
    EXPECT_EQ(answers[i].rfind("worker ", 0), 0u) << answers[i];
    if (i >= 2) {
      EXPECT_EQ(answers[i], answers[i - 2]);
    }
  }
  EXPECT_NE(answers[0], answers[1]);
  EXPECT_EQ(exits, (std::vector<int>{0, 0}));  // they left when asked
  EXPECT_TRUE(p.workers().empty());
}

TEST_P(ClusterTest, ASharedListenerIsServedByTheWorkersThemselves) {
  auto o = worker_options("serve", 2);
  o.policy = cluster::scheduling::shared;
  cluster::primary p(loop(), o);
  std::vector<std::string> answers;
  std::set<int> listening;
  std::vector<int> exits;
  serve_and_ask(*this, loop(), p, 2, 6, answers, listening, exits);
  ASSERT_EQ(answers.size(), 6u);
  for (const auto& a : answers) EXPECT_EQ(a.rfind("worker ", 0), 0u) << a;
  EXPECT_EQ(exits, (std::vector<int>{0, 0}));
}

TEST_P(ClusterTest, MessagesGoBothWays) {
  cluster::primary p(loop(), worker_options("serve", 1));
  std::string got;
  p.on_online = [&](int id) {
    const std::string m = "ping from the primary";
    EXPECT_FALSE(p.send(id, eddy::buffer(m)));
    EXPECT_EQ(p.send(id + 100, eddy::buffer(m)), eddy::errc::not_connected);
  };
  p.on_message = [&](int, std::span<const std::byte> m) {
    got = text(m);
    p.shutdown();
  };
  ASSERT_FALSE(p.start());
  loop().run();
  EXPECT_EQ(got, "echo:ping from the primary");
}

TEST_P(ClusterTest, HeartbeatsReportHealth) {
  auto o = worker_options("serve", 1);
  o.heartbeat_interval = 20ms;
  cluster::primary p(loop(), o);
  int reports = 0;
  cluster::health_report last;
  std::string running_metrics;
  int worker_id = 0;
  p.on_health = [&](int id, const cluster::health_report& h) {
    last = h;
    if (++reports == 3) {
      worker_id = id;
      p.write_metrics(running_metrics);
      ASSERT_TRUE(p.health(id).has_value());
      EXPECT_EQ(p.health(id)->rss, h.rss);
      EXPECT_GT(p.pid(id), 0);
      p.shutdown();
    }
  };
  ASSERT_FALSE(p.start());
  loop().run();
  EXPECT_EQ(reports, 3);
  EXPECT_GT(last.rss, 1024u * 1024u);  // a running process has more than 1 MiB resident
  EXPECT_GE(last.handles, 2u);         // at least its channel and heartbeat timer
  EXPECT_GE(last.utilization, 0.0);
  EXPECT_LE(last.utilization, 1.0);
  // The worker's loop-delay monitor (1 ms resolution at a 20 ms heartbeat): its intervals are
  // about the resolution, in order, and the primary's metrics name the worker.
  EXPECT_GT(last.loop_delay_p50.count(), 0);
  EXPECT_LE(last.loop_delay_p50, last.loop_delay_p99);
  EXPECT_LE(last.loop_delay_p99, last.loop_delay_max);
  EXPECT_NE(running_metrics.find("eddy_loop_iterations_total{worker=\"" + std::to_string(worker_id) + "\"} "),
            std::string::npos)
      << running_metrics;
  std::string after;
  p.write_metrics(after);
  EXPECT_EQ(after.find("{worker=\""), std::string::npos) << "workers that have exited are left out:\n" << after;
}

TEST_P(ClusterTest, AStuckWorkerIsKilledAndReplaced) {
  auto o = worker_options("stuck", 1);
  o.heartbeat_interval = 20ms;
  o.stuck_timeout = 400ms;
  cluster::primary p(loop(), o);
  std::vector<int> forks;
  std::vector<std::pair<int, cluster::worker_problem>> problems;
  std::vector<int> signals;
  p.on_fork = [&](int id) {
    forks.push_back(id);
    if (forks.size() == 2) p.shutdown();  // the replacement came: done (it is stuck too)
  };
  p.on_error = [&](int id, cluster::worker_problem what, std::error_code) { problems.emplace_back(id, what); };
  p.on_exit = [&](int, std::int64_t, int sig) { signals.push_back(sig); };
  ASSERT_FALSE(p.start());
  loop().run();
  ASSERT_EQ(forks.size(), 2u);
  ASSERT_GE(problems.size(), 1u);
  EXPECT_EQ(problems[0], std::make_pair(forks[0], cluster::worker_problem::stuck));
  ASSERT_EQ(signals.size(), 2u);
  EXPECT_EQ(signals[0], eddy::signals::sigkill);
}

TEST_P(ClusterTest, ACrashLoopStopsRespawning) {
  auto o = worker_options("crash", 1);
  // Every death counts as young, however slowly the worker starts (Wine under load takes
  // more than the default second to start a process).
  o.min_uptime = std::chrono::hours(1);
  cluster::primary p(loop(), o);
  std::vector<std::int64_t> statuses;
  int forks = 0;
  std::vector<cluster::worker_problem> problems;
  p.on_fork = [&](int) { ++forks; };
  p.on_exit = [&](int, std::int64_t status, int) { statuses.push_back(status); };
  p.on_error = [&](int, cluster::worker_problem what, std::error_code) { problems.push_back(what); };
  ASSERT_FALSE(p.start());
  loop().run();  // ends by itself: no worker left, nothing respawned
  EXPECT_EQ(forks, 5);
  EXPECT_EQ(statuses, std::vector<std::int64_t>(5, 3));
  EXPECT_EQ(problems, std::vector<cluster::worker_problem>{cluster::worker_problem::crash_loop});
  p.shutdown();
  loop().run();
}

TEST_P(ClusterTest, AMalformedOrOversizedFrameClosesThatChannelOnly) {
  for (const char* what : {"garbage", "oversized"}) {
    auto o = worker_options(what, 1);
    o.respawn = false;
    o.max_message = 1 << 20;
    cluster::primary p(loop(), o);
    std::vector<cluster::worker_problem> problems;
    std::error_code channel_error;
    int exits = 0;
    p.on_error = [&](int, cluster::worker_problem w, std::error_code ec) {
      problems.push_back(w);
      if (w == cluster::worker_problem::channel) channel_error = ec;
    };
    p.on_exit = [&](int, std::int64_t, int) { ++exits; };
    ASSERT_FALSE(p.start());
    loop().run();
    EXPECT_EQ(problems, std::vector<cluster::worker_problem>{cluster::worker_problem::channel}) << what;
    EXPECT_EQ(channel_error, eddy::errc::protocol_error) << what;
    EXPECT_EQ(exits, 1) << what;
    p.shutdown();
    loop().run();
  }
}

TEST_P(ClusterTest, AWorkerAboveTheRssLimitIsRecycled) {
  auto o = worker_options("serve", 1);
  o.heartbeat_interval = 20ms;
  o.rss_recycle = 1;  // every worker is above it
  cluster::primary p(loop(), o);
  std::vector<int> forks;
  std::map<int, std::int64_t> exits;
  bool recycled = false;
  p.on_fork = [&](int id) { forks.push_back(id); };
  p.on_error = [&](int id, cluster::worker_problem w, std::error_code) {
    if (w == cluster::worker_problem::recycled && !recycled) {
      recycled = true;
      EXPECT_EQ(id, forks.front());
    }
  };
  p.on_exit = [&](int id, std::int64_t status, int) {
    exits[id] = status;
    if (id == forks.front()) p.shutdown();
  };
  ASSERT_FALSE(p.start());
  loop().run();
  EXPECT_TRUE(recycled);
  ASSERT_GE(forks.size(), 2u);  // the replacement was started
  EXPECT_EQ(exits[forks.front()], 0);  // the recycled worker left by itself
}

TEST_P(ClusterTest, RoundRobinSpreadsAThousandConnectionsEvenly) {
  constexpr int kConns = 1000;
  auto o = worker_options("serve", 4);
  o.policy = cluster::scheduling::round_robin;
  // The overload guard would skip a worker that is slow to take its connections (and skew
  // the spread on a busy machine); here every worker keeps its turn.
  o.max_unacked = kConns;
  cluster::primary p(loop(), o);
  std::map<std::string, int> per_worker;
  int done = 0;
  int failed = 0;
  std::string failures;  // the first few answers that were not a worker's
  std::set<int> listening;
  p.on_listening = [&](int id, const eddy::socket_address& addr) {
    listening.insert(id);
    if (listening.size() != 4) return;
    for (int i = 0; i < kConns; ++i) {
      ask(addr, [&](std::string a) {
        if (a.rfind("worker ", 0) == 0) {
          ++per_worker[a];
        } else if (++failed <= 3) {
          failures += a + "; ";
        }
        if (++done == kConns) p.shutdown();
      });
    }
  };
  // A connection that never gets its answer would hang the test until ctest's timeout: after
  // 60 s it fails with what it saw instead.
  eddy::timer watchdog(loop());
  watchdog.start(60s, 0ms, [&] {
    std::string seen;
    for (const auto& [who, n] : per_worker) seen += who + ": " + std::to_string(n) + "; ";
    ADD_FAILURE() << "after 60 s, " << done << " of " << kConns << " answered (" << failed << " failed: " << failures
                  << ") " << seen << listening.size() << " workers listening";
    std::fflush(nullptr);
    std::_Exit(1);  // open connections and workers: nothing to close in order
  });
  watchdog.unref();
  ASSERT_FALSE(p.start());
  loop().run();
  EXPECT_EQ(failed, 0) << failures;
  ASSERT_EQ(per_worker.size(), 4u);
  for (const auto& [who, n] : per_worker) {
    EXPECT_GE(n, 200) << who;  // 250 each, within 20%
    EXPECT_LE(n, 300) << who;
  }
}

TEST_P(ClusterTest, MebibyteMessagesGoBothWays) {
  cluster::primary p(loop(), worker_options("serve", 1));
  std::string big(1 << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + (i * 7) % 26);
  std::string got;
  p.on_online = [&](int id) { EXPECT_FALSE(p.send(id, eddy::buffer(big))); };
  p.on_message = [&](int, std::span<const std::byte> m) {
    got = text(m);
    p.shutdown();
  };
  ASSERT_FALSE(p.start());
  loop().run();
  EXPECT_EQ(got.size(), big.size() + 5);
  EXPECT_TRUE(got == "echo:" + big);
}

TEST_P(ClusterTest, AKilledWorkerIsReplaced) {
  cluster::primary p(loop(), worker_options("serve", 1));
  std::vector<int> online;
  std::vector<std::pair<int, int>> exits;  // id, signal
  p.on_online = [&](int id) {
    online.push_back(id);
    if (online.size() == 1) {
      EXPECT_FALSE(eddy::kill(p.pid(id), eddy::signals::sigkill));
    } else {
      p.shutdown();
    }
  };
  p.on_exit = [&](int id, std::int64_t, int sig) { exits.emplace_back(id, sig); };
  ASSERT_FALSE(p.start());
  loop().run();
  ASSERT_EQ(online.size(), 2u);
  ASSERT_EQ(exits.size(), 2u);
  EXPECT_EQ(exits[0].first, online[0]);
  // POSIX reports the signal; on Windows a process ended from outside its handle reports 0.
  if (!eddy::backend_compiled(eddy::backend_kind::iocp)) {
    EXPECT_EQ(exits[0].second, eddy::signals::sigkill);
  }
  EXPECT_EQ(exits[1], std::make_pair(online[1], 0));
}

// Load that keeps `lanes` connections going one after the other until told to stop;
// counts answers by who gave them and anything that is not a whole answer.
struct load {
  explicit load(ClusterTest& test) : t(test) {}
  ClusterTest& t;
  eddy::socket_address addr;
  bool stop = false;
  int answers = 0;
  std::vector<std::string> bad;
  std::set<std::string> who;
  std::function<void()> on_answer;
  int in_flight = 0;
  std::function<void()> on_drained;  // after stop, once nothing is in flight
  void lane() {
    if (stop) {
      if (in_flight == 0 && on_drained) std::exchange(on_drained, nullptr)();
      return;
    }
    ++in_flight;
    t.ask(addr, [this](std::string a) {
      --in_flight;
      if (a.rfind("worker ", 0) == 0 && a.back() == '\n') {
        ++answers;
        who.insert(a);
      } else {
        bad.push_back(a);
      }
      if (on_answer) on_answer();
      lane();
    });
  }
};

TEST_P(ClusterTest, ARollingRestartUnderLoadRefusesNothing) {
  auto o = worker_options("serve", 2);
  o.policy = cluster::scheduling::round_robin;
  cluster::primary p(loop(), o);
  load l(*this);
  int forks = 0;
  bool restarted = false;
  std::set<int> listening;
  p.on_fork = [&](int) { ++forks; };
  p.on_listening = [&](int id, const eddy::socket_address& addr) {
    listening.insert(id);
    if (listening.size() != 2) return;
    l.addr = addr;
    l.on_answer = [&] {
      if (l.answers != 20) return;
      ASSERT_FALSE(p.restart([&] { restarted = true; }));
      EXPECT_EQ(p.restart(), eddy::errc::already_started);
    };
    for (int i = 0; i < 4; ++i) l.lane();
  };
  // Once the restart is done, a little more load, then stop.
  eddy::timer check(loop());
  check.start(std::chrono::milliseconds(20), std::chrono::milliseconds(20), [&] {
    if (restarted && l.answers > 60) {
      check.close();
      l.on_drained = [&] { p.shutdown(); };  // no connection is left to the shutdown
      l.stop = true;
    }
  });
  ASSERT_FALSE(p.start());
  loop().run();
  EXPECT_TRUE(restarted);
  EXPECT_EQ(forks, 4);
  EXPECT_TRUE(l.bad.empty()) << l.bad.size() << " failed, first: " << l.bad.front();
  EXPECT_GE(l.who.size(), 3u);  // old and new workers both answered
}

TEST_P(ClusterTest, AGracefulShutdownUnderLoadCutsNoAnswer) {
  auto o = worker_options("serve", 2);
  cluster::primary p(loop(), o);
  load l(*this);
  std::vector<std::pair<std::int64_t, int>> exits;
  bool done = false;
  std::set<int> listening;
  p.on_listening = [&](int id, const eddy::socket_address& addr) {
    listening.insert(id);
    if (listening.size() != 2) return;
    l.addr = addr;
    l.on_answer = [&] {
      if (l.answers == 30) p.shutdown([&] { done = true; });
      if (done) l.stop = true;
    };
    for (int i = 0; i < 4; ++i) l.lane();
  };
  p.on_exit = [&](int, std::int64_t status, int sig) { exits.emplace_back(status, sig); };
  ASSERT_FALSE(p.start());
  loop().run();
  EXPECT_TRUE(done);
  EXPECT_GE(l.answers, 30);
  // After the shutdown began, new connections may fail (nobody listens any more, and what
  // waited in the closed listener's backlog is reset), but no connection gets part of an
  // answer, and every worker left by itself.
  for (const auto& b : l.bad) EXPECT_TRUE(b.rfind("connect: ", 0) == 0 || b.rfind("read: ", 0) == 0) << b;
  EXPECT_EQ(exits, (std::vector<std::pair<std::int64_t, int>>{{0, 0}, {0, 0}}));
}

TEST_P(ClusterTest, WorkerStartOutsideAClusterFails) {
  cluster::worker w(loop());
  EXPECT_FALSE(cluster::is_worker());
  EXPECT_EQ(w.start(), eddy::errc::invalid_argument);
}

}  // namespace
