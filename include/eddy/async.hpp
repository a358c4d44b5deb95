// eddy::async: wakes a loop from another thread (libuv's uv_async_t).
//
// send() is the one call in eddy that any thread may make. Repeated sends before the loop
// notices are coalesced into one callback. The callback runs on the loop thread in the poll
// phase. The handle is active (keeps the loop alive) from construction until close(),
// unless unref()'d.
//
// Threads: send() may run concurrently with the loop and with close(); close() waits for
// sends already in progress. A send that *starts* after close() returned is a use after free
// in waiting: stop your senders (e.g. join them) before closing.
#pragma once

#include <functional>

#include "eddy/handle.hpp"

namespace eddy {

class EDDY_API async final : public handle {
 public:
  async(eddy::loop& owner, std::function<void()> cb);
  // Thread-safe, never blocks, never allocates.
  void send() noexcept;
};

}  // namespace eddy
