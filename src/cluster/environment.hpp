// What the primary and its workers share besides the wire format: the environment that
// tells a process it is a worker and where its channel is. Internal to src/cluster.
#pragma once

#include <string>

#include "eddy/cluster.hpp"

namespace eddy::cluster::detail {

// The worker's environment.
inline constexpr const char* env_id = "EDDY_CLUSTER_WORKER";
inline constexpr const char* env_channel = "EDDY_CLUSTER_CHANNEL";
inline constexpr const char* env_secret = "EDDY_CLUSTER_SECRET";
inline constexpr const char* env_heartbeat = "EDDY_CLUSTER_HEARTBEAT_MS";
inline constexpr const char* env_max_message = "EDDY_CLUSTER_MAX_MESSAGE";

// The channel's name as the pipe takes it: '@' (which stands for the leading NUL of an
// abstract Unix socket in the environment) becomes that NUL.
inline std::string to_bind_name(const std::string& name) {
  std::string out = name;
  if (!out.empty() && out[0] == '@') out[0] = '\0';
  return out;
}

// The primary's side (environment.cpp): a random secret for the channel, the channel's private
// local name for that token, and the policy when options::policy is unset
// (EDDY_CLUSTER_SCHED, else what the services contract prefers).
std::string random_token();
std::string channel_name(const std::string& token);
scheduling default_policy();

}  // namespace eddy::cluster::detail
