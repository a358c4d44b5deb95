// eddy::cluster on every port: the test is the primary, eddy_test_helper's `cluster-worker`
// modes are the workers (tests/helper/cluster_modes.cpp).
#include <map>
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
          done(*got);
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
  p.on_health = [&](int id, const cluster::health_report& h) {
    last = h;
    if (++reports == 3) {
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
  cluster::primary p(loop(), worker_options("crash", 1));
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

TEST_P(ClusterTest, WorkerStartOutsideAClusterFails) {
  cluster::worker w(loop());
  EXPECT_FALSE(cluster::is_worker());
  EXPECT_EQ(w.start(), eddy::errc::invalid_argument);
}

}  // namespace
