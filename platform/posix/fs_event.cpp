// fs_event on Linux: one inotify instance per watch (platform/contract/fs_event.hpp). The fd is
// nonblocking and read by the ports like a pipe; parse() turns inotify_event records into
// changes.
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "eddy/fs_event.hpp"
#include "platform/contract/fs_event.hpp"

namespace eddy::contract::fs_event {
namespace {

constexpr std::uint32_t change_bits = IN_ATTRIB | IN_MODIFY;
constexpr std::uint32_t rename_bits =
    IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_MOVED_FROM | IN_MOVED_TO;

std::string base_name(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  const auto slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

std::error_code watch_error(int err) {
  // ENOSPC from inotify_add_watch is the per-user watch limit, not a full disk.
  return err == ENOSPC ? make_error_code(errc::too_many_open_files) : from_errno(err);
}

}  // namespace

std::error_code open(const std::string& path, target& out) {
  out = target{};
  if (path.empty()) return make_error_code(errc::invalid_argument);
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return from_errno(errno);
  const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return watch_error(errno);
  if (::inotify_add_watch(fd, path.c_str(), change_bits | rename_bits) < 0) {
    const int err = errno;
    ::close(fd);
    return watch_error(err);
  }
  out.native = fd;
  out.kind = io_kind::stream;
  out.name = base_name(path);
  out.is_file = !S_ISDIR(st.st_mode);
  return {};
}

void close(target& t) noexcept {
  if (t.native >= 0) ::close(static_cast<int>(t.native));
  t.native = -1;
}

void parse(const target& t, const std::byte* buf, std::size_t len, std::vector<change>& out) {
  std::size_t pos = 0;
  while (pos + sizeof(inotify_event) <= len) {
    inotify_event ev;
    std::memcpy(&ev, buf + pos, sizeof ev);  // the records are packed: copy, do not cast
    const char* name = reinterpret_cast<const char*>(buf + pos + sizeof ev);
    pos += sizeof ev + ev.len;
    if (pos > len) break;
    change c;
    if ((ev.mask & IN_Q_OVERFLOW) != 0) {
      c.events = eddy::fs_event::change;  // events were lost: "something changed"
      c.filename = t.is_file ? t.name : std::string();
      out.push_back(std::move(c));
      continue;
    }
    if ((ev.mask & change_bits) != 0) c.events |= eddy::fs_event::change;
    if ((ev.mask & rename_bits) != 0) c.events |= eddy::fs_event::rename;
    if (c.events == 0) continue;                      // IN_IGNORED and the like
    c.filename = ev.len != 0 ? std::string(name, ::strnlen(name, ev.len)) : t.name;
    out.push_back(std::move(c));
  }
}

}  // namespace eddy::contract::fs_event
