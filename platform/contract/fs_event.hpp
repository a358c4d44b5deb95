// How eddy::fs_event watches the file system: the OS-specific piece of src/fs_event.cpp.
// platform/posix/fs_event.cpp uses inotify (one inotify fd per watch, read as a plain
// stream by both Linux ports); platform/win32/fs_event.cpp opens the directory for
// ReadDirectoryChangesW (io_kind::directory, read through the iocp port). Either way the
// core reads the watch like any io object with op_kind::read into its own buffer and hands
// what arrived to parse(). Loop thread only; nothing here blocks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

#include "platform/contract/port.hpp"

namespace eddy::contract::fs_event {

using detail::io_kind;  // the port contract's kinds (platform/contract/port.hpp)

// What open() set up.
struct target {
  std::intptr_t native = -1;        // the inotify fd, or the directory HANDLE
  io_kind kind = io_kind::stream;   // how the ports read it
  // The base name of the watched path: names the events about the watched object itself.
  std::string name;
  // A single file is watched (on Windows through its directory, with the records filtered
  // to this name).
  bool is_file = false;
};

// One change: a name relative to the watched directory (the file's own name when a file is
// watched; empty when the system lost track) and fs_event::rename / fs_event::change bits.
struct change {
  std::string filename;
  unsigned events = 0;
};

// The size of the read buffer the core gives the port (aligned to 8).
inline constexpr std::size_t buffer_size = 16 * 1024;

// Starts watching path (UTF-8): a file or a directory. Errors: no_such_file,
// not_a_directory, permission_denied, too_many_open_files, ...
std::error_code open(const std::string& path, target& out);
// Ends the watch; the core calls it once every operation on the target has completed.
void close(target& t) noexcept;
// Appends the changes in buf (len bytes, what one read returned) to out.
void parse(const target& t, const std::byte* buf, std::size_t len, std::vector<change>& out);

}  // namespace eddy::contract::fs_event
