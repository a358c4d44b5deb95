// What the primary derives from its environment: the channel's secret token and name, and the
// default scheduling policy (environment.hpp).
#include "cluster/environment.hpp"

#include <random>

#include "eddy/os.hpp"
#include "platform/contract/net.hpp"  // private_local_name, prefer_shared_accept

namespace eddy::cluster::detail {

std::string random_token() {
  std::random_device rd;
  std::string out;
  static constexpr char hex[] = "0123456789abcdef";
  for (int i = 0; i < 32; ++i) out += hex[rd() % 16];
  return out;
}

// The channel's name: a private local name the services contract makes (an abstract Unix
// socket on Linux, '@' standing for the leading NUL in the environment; a named pipe on
// Windows).
std::string channel_name(const std::string& token) {
  const std::string base = "eddy-cluster-" + std::to_string(os::pid()) + "-" + token.substr(0, 12);
  return ::eddy::contract::net::private_local_name(base);
}
scheduling default_policy() {
  if (auto v = os::getenv("EDDY_CLUSTER_SCHED")) {
    if (*v == "rr") return scheduling::round_robin;
    if (*v == "shared") return scheduling::shared;
  }
  return ::eddy::contract::net::prefer_shared_accept() ? scheduling::shared : scheduling::round_robin;
}

}  // namespace eddy::cluster::detail
