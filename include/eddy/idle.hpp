// Loop watchers (libuv's idle, prepare and check handles).
// - idle: runs once per iteration before prepare; while one is active, poll does not block.
// - prepare: runs right before the loop polls.
// - check: runs right after the poll phase (set_immediate is built on it).
// Callbacks run on the loop thread. start() on a started handle replaces its callback.
#pragma once

#include <functional>

#include "eddy/handle.hpp"

namespace eddy {

class EDDY_API idle final : public handle {
 public:
  explicit idle(eddy::loop& owner);
  void start(std::function<void()> cb);
  void stop() noexcept;
};

class EDDY_API prepare final : public handle {
 public:
  explicit prepare(eddy::loop& owner);
  void start(std::function<void()> cb);
  void stop() noexcept;
};

class EDDY_API check final : public handle {
 public:
  explicit check(eddy::loop& owner);
  void start(std::function<void()> cb);
  void stop() noexcept;
};

}  // namespace eddy
