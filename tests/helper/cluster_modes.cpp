// eddy_test_helper's cluster modes: `cluster-worker BEHAVIOUR`, a worker of a cluster whose
// primary is the test (options.exec = this helper).
//   serve      listens through the primary on 127.0.0.1:$EDDY_TEST_PORT (0: any), answers each
//              connection with "worker <id>\n"; echoes messages back as "echo:<bytes>";
//              leaves when asked (exit status 0).
//   stuck      comes online, then blocks its loop for good (no more heartbeats).
//   crash      exits with status 3 at once.
//   garbage    says hello properly, then sends a frame of an unknown type.
//   oversized  says hello properly, then a header announcing a 1 GiB frame.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "eddy/eddy.hpp"
#include "eddy/cluster.hpp"

namespace {

int serve() {
  std::error_code ec;
  auto loop = eddy::loop::create({}, ec);
  if (!loop) return 10;
  eddy::cluster::worker w(*loop);
  if (w.start()) return 11;
  std::vector<std::unique_ptr<eddy::tcp>> conns;
  const auto port = static_cast<std::uint16_t>(std::atoi(eddy::os::getenv("EDDY_TEST_PORT").value_or("0").c_str()));
  const std::string greeting = "worker " + std::to_string(w.id()) + "\n";
  w.listen(eddy::socket_address::loopback_v4(port), 128, [&](std::error_code lec) {
    if (lec) {
      std::fprintf(stderr, "cluster-worker: listen: %s\n", lec.message().c_str());
      w.disconnect();
      return;
    }
    auto& c = *conns.emplace_back(std::make_unique<eddy::tcp>(*loop));
    if (w.accept(c)) {
      c.close();
      return;
    }
    c.write(eddy::buffer(greeting), [&c](std::error_code) { c.close(); });
  });
  std::string echo;
  w.on_message = [&](std::span<const std::byte> m) {
    echo = "echo:" + std::string(reinterpret_cast<const char*>(m.data()), m.size());
    w.send(eddy::buffer(echo));
  };
  w.on_disconnect = [&] {
    for (auto& c : conns) c->close();
  };
  loop->run();
  return 0;
}

int stuck() {
  eddy::loop loop;
  eddy::cluster::worker w(loop);
  if (w.start()) return 11;
  eddy::timer t(loop);
  // Online first (the hello goes out once connected), then the loop stops turning.
  t.start(std::chrono::milliseconds(100), [] {
    for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
  });
  loop.run();
  return 0;
}

// A raw channel client speaking just enough of the protocol (see src/cluster.cpp).
int bad_frames(bool oversized) {
  eddy::loop loop;
  auto name = eddy::os::getenv("EDDY_CLUSTER_CHANNEL");
  auto id = eddy::os::getenv("EDDY_CLUSTER_WORKER");
  auto secret = eddy::os::getenv("EDDY_CLUSTER_SECRET");
  if (!name || !id || !secret) return 12;
  std::string target = *name;
  if (!target.empty() && target[0] == '@') target[0] = '\0';
  eddy::pipe chan(loop, true);
  auto frame = [](std::uint8_t type, std::uint32_t len, const std::string& payload) {
    std::string f(8, '\0');
    for (int i = 0; i < 4; ++i) f[static_cast<std::size_t>(i)] = static_cast<char>(len >> (8 * i));
    f[4] = static_cast<char>(type);
    return f + payload;
  };
  std::string hello_payload(4, '\0');
  const auto n = static_cast<std::uint32_t>(std::atoi(id->c_str()));
  for (int i = 0; i < 4; ++i) hello_payload[static_cast<std::size_t>(i)] = static_cast<char>(n >> (8 * i));
  hello_payload += *secret;
  const std::string bytes = frame(1, static_cast<std::uint32_t>(hello_payload.size()), hello_payload) +
                            (oversized ? frame(3, 1u << 30, "xxxx") : frame(200, 3, "bad"));
  chan.connect(target, [&](std::error_code ec) {
    if (ec) return chan.close();
    chan.write(eddy::buffer(bytes), [](std::error_code) {});
    chan.read_start([&](std::error_code rec, std::span<std::byte>) {
      if (rec) chan.close();  // the primary hung up on us
    });
  });
  loop.run();
  return 0;
}

}  // namespace

int mode_cluster_worker(const std::vector<std::string>& a) {
  const std::string what = a.empty() ? "serve" : a[0];
  if (what == "serve") return serve();
  if (what == "stuck") return stuck();
  if (what == "crash") return 3;
  if (what == "garbage") return bad_frames(false);
  if (what == "oversized") return bad_frames(true);
  return 2;
}
