// eddy::fs_event: watches a file or a directory for changes (libuv's uv_fs_event_t, Node's
// fs.watch). Linux: inotify; Windows: ReadDirectoryChangesW through the completion port.
//
// Events (bits of `events`):
// - fs_event::rename: a name appeared or went away in the watched directory (created,
//   deleted, renamed from or to it), or the watched file itself was renamed or deleted;
// - fs_event::change: contents or attributes changed.
// The filename is relative to the watched directory (for a watched file: the file's own
// name); empty when the system dropped events (Windows: too many at once). What exactly
// one action produces varies by system (a write may give several change events; Windows
// reports a rename of a watched file as one event per name): callers should treat events as
// hints and look again, as with Node's fs.watch. Not recursive.
//
// Cost: on Linux each started fs_event is one inotify instance (an fd; at most
// fs.inotify.max_user_instances per user, 128 by default: too_many_open_files beyond);
// on Windows one directory handle.
//
// Threads: loop thread only. The filename view is valid only during the callback.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <system_error>

#include "eddy/handle.hpp"

namespace eddy {

using fs_event_callback = std::function<void(std::error_code ec, std::string_view filename, unsigned events)>;

class EDDY_API fs_event final : public handle {
 public:
  static constexpr unsigned rename = 1;
  static constexpr unsigned change = 2;

  explicit fs_event(eddy::loop& owner);

  // Starts watching path (UTF-8; a file or a directory). The watch exists when start()
  // returns: later changes are reported. Errors: no_such_file, not_a_directory,
  // permission_denied, too_many_open_files (inotify's watch limit too), already_started,
  // closed. An error after a successful start (the watch broke) is reported once through
  // the callback with an empty filename, and the handle stops.
  std::error_code start(std::string_view path, fs_event_callback cb);
  // Stops watching; no callback runs after it. Idempotent.
  void stop() noexcept;
  // The path given to start() (empty when not started).
  [[nodiscard]] std::string path() const;
};

}  // namespace eddy
