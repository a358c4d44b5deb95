// eddy::fs_poll: watches a path by stat()ing it on a timer and calls back when what stat
// reports changes (libuv's uv_fs_poll_t; Node's fs.watchFile). It works on every file
// system, network ones included, at the cost of a stat per interval; fs_event is the
// notification-based watcher.
//
// - start() stats the path at once; that first result is the baseline and calls back only
//   if it fails. Then every interval: a successful stat that differs from the previous one
//   (anything but the access time), or one that succeeds after failures, calls back with the
//   previous and the current stat; a failure calls back once (again only when the error
//   changes), with the last good stat as `prev` and an empty `curr`. After a failure `prev`
//   is empty. So a file that disappears reports errc::no_such_file, and one that (re)appears
//   reports success with an empty prev.
// - The stats run as fs::stat requests (the pool, or the ring on io_uring). A tick that comes
//   while the previous stat is still running is skipped.
// - Loop thread only. The callback runs on the loop thread; prev and curr are valid during
//   the call.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <system_error>

#include "eddy/fs.hpp"
#include "eddy/handle.hpp"

namespace eddy {

class EDDY_API fs_poll final : public handle {
 public:
  using callback = std::function<void(const fs::error& err, const fs::stat_info& prev, const fs::stat_info& curr)>;

  explicit fs_poll(eddy::loop& owner);
  // Starts (or restarts, forgetting the old baseline) watching path (copied) every interval.
  // errc::invalid_argument for an empty path or an interval below 1 ms; errc::closed after
  // close().
  std::error_code start(std::string_view path, std::chrono::milliseconds interval, callback on_change);
  // Stops watching; a stat still running is cancelled or its result ignored.
  void stop() noexcept;
  // The path being watched ("" when stopped).
  [[nodiscard]] std::string path() const;
};

}  // namespace eddy
