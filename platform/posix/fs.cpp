// The file-system calls on Linux (both the io_uring and the epoll port use these on the
// thread pool). stat goes through statx for the birth time; the io_uring port's native statx
// fills stat_info through the same platform::posix::from_statx.
#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "platform/contract/fs.hpp"
#include "platform/contract/fault.hpp"
#include "platform/posix/fs_posix.hpp"

namespace eddy::platform::posix {

int to_open_flags(eddy::fs::open_flags f) noexcept {
  int o = O_CLOEXEC;
  const bool r = any(f, eddy::fs::open_flags::read), w = any(f, eddy::fs::open_flags::write);
  o |= r && w ? O_RDWR : w ? O_WRONLY : O_RDONLY;
  if (any(f, eddy::fs::open_flags::create)) o |= O_CREAT;
  if (any(f, eddy::fs::open_flags::exclusive)) o |= O_EXCL;
  if (any(f, eddy::fs::open_flags::truncate)) o |= O_TRUNC;
  if (any(f, eddy::fs::open_flags::append)) o |= O_APPEND;
  if (any(f, eddy::fs::open_flags::sync)) o |= O_SYNC;
  return o;
}

eddy::fs::file_type type_of_mode(unsigned mode) noexcept {
  switch (mode & S_IFMT) {
    case S_IFREG: return eddy::fs::file_type::regular;
    case S_IFDIR: return eddy::fs::file_type::directory;
    case S_IFLNK: return eddy::fs::file_type::symlink;
    case S_IFIFO: return eddy::fs::file_type::fifo;
    case S_IFSOCK: return eddy::fs::file_type::socket;
    case S_IFCHR: return eddy::fs::file_type::character;
    case S_IFBLK: return eddy::fs::file_type::block;
    default: return eddy::fs::file_type::unknown;
  }
}

void from_statx(const struct statx& x, eddy::fs::stat_info& out) noexcept {
  auto ns = [](const statx_timestamp& t) {
    return static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 + static_cast<std::int64_t>(t.tv_nsec);
  };
  out.type = type_of_mode(x.stx_mode);
  out.mode = x.stx_mode & 07777u;
  out.dev = makedev(x.stx_dev_major, x.stx_dev_minor);
  out.ino = x.stx_ino;
  out.nlink = x.stx_nlink;
  out.uid = x.stx_uid;
  out.gid = x.stx_gid;
  out.rdev = makedev(x.stx_rdev_major, x.stx_rdev_minor);
  out.size = x.stx_size;
  out.blksize = x.stx_blksize;
  out.blocks = x.stx_blocks;
  out.atime_ns = ns(x.stx_atime);
  out.mtime_ns = ns(x.stx_mtime);
  out.ctime_ns = ns(x.stx_ctime);
  // No birth time on this file system: the change time, as libuv reports it.
  out.birthtime_ns = (x.stx_mask & STATX_BTIME) != 0 ? ns(x.stx_btime) : out.ctime_ns;
}

}  // namespace eddy::platform::posix

namespace eddy::contract::fs {
namespace {

std::error_code last_error() noexcept { return from_errno(errno); }

// Retries a call interrupted by a signal; returns the error of a failed call.
template <class Fn>
std::error_code retry(Fn fn) noexcept {
  for (;;) {
    if (fn() != -1) return {};
    if (errno != EINTR) return last_error();
  }
}

std::error_code do_statx(int dirfd, const char* path, int flags, eddy::fs::stat_info& out) noexcept {
  struct statx x {};
  if (::statx(dirfd, path, flags, STATX_BASIC_STATS | STATX_BTIME, &x) != 0) return last_error();
  platform::posix::from_statx(x, out);
  return {};
}

timespec to_timespec(std::int64_t ns) noexcept {
  timespec t{};
  t.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
  t.tv_nsec = static_cast<long>(ns % 1'000'000'000);
  if (t.tv_nsec < 0) {
    t.tv_nsec += 1'000'000'000;
    --t.tv_sec;
  }
  return t;
}

int fd_of(native_file f) noexcept { return static_cast<int>(f); }

}  // namespace

std::error_code open(const std::string& path, eddy::fs::open_flags flags, int mode, native_file& out) {
  if (int e = EDDY_FAULT(file_open)) return from_errno(e);
  int fd = -1;
  auto ec = retry([&] { return fd = ::open(path.c_str(), platform::posix::to_open_flags(flags), mode); });
  if (!ec) out = fd;
  return ec;
}

std::error_code close(native_file f) {
  // Linux closes the descriptor even when close() reports EINTR: never retry.
  if (::close(fd_of(f)) != 0 && errno != EINTR) return last_error();
  return {};
}

std::error_code read(native_file f, const io_vec* bufs, std::size_t nbufs, std::int64_t offset, std::size_t& bytes) {
  const auto* iov = reinterpret_cast<const iovec*>(bufs);
  const int n = static_cast<int>(std::min<std::size_t>(nbufs, IOV_MAX));
  ssize_t r = -1;
  auto ec = retry([&] { return r = offset < 0 ? ::readv(fd_of(f), iov, n) : ::preadv(fd_of(f), iov, n, offset); });
  bytes = ec ? 0 : static_cast<std::size_t>(r);
  return ec;
}

std::error_code write(native_file f, const io_vec* bufs, std::size_t nbufs, std::int64_t offset, std::size_t& bytes) {
  const auto* iov = reinterpret_cast<const iovec*>(bufs);
  const int n = static_cast<int>(std::min<std::size_t>(nbufs, IOV_MAX));
  ssize_t r = -1;
  auto ec = retry([&] { return r = offset < 0 ? ::writev(fd_of(f), iov, n) : ::pwritev(fd_of(f), iov, n, offset); });
  bytes = ec ? 0 : static_cast<std::size_t>(r);
  return ec;
}

std::error_code stat(const std::string& path, eddy::fs::stat_info& out) { return do_statx(AT_FDCWD, path.c_str(), 0, out); }

std::error_code lstat(const std::string& path, eddy::fs::stat_info& out) {
  return do_statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW, out);
}

std::error_code fstat(native_file f, eddy::fs::stat_info& out) { return do_statx(fd_of(f), "", AT_EMPTY_PATH, out); }

std::error_code statfs(const std::string& path, eddy::fs::statfs_info& out) {
  struct statfs s {};
  if (::statfs(path.c_str(), &s) != 0) return last_error();
  out = {static_cast<std::uint64_t>(s.f_type), static_cast<std::uint64_t>(s.f_bsize), s.f_blocks, s.f_bfree,
         s.f_bavail, s.f_files, s.f_ffree};
  return {};
}

std::error_code rename(const std::string& from, const std::string& to) {
  return retry([&] { return ::rename(from.c_str(), to.c_str()); });
}

std::error_code unlink(const std::string& path) { return retry([&] { return ::unlink(path.c_str()); }); }

std::error_code mkdir(const std::string& path, int mode) {
  return retry([&] { return ::mkdir(path.c_str(), static_cast<mode_t>(mode)); });
}

std::error_code mkdtemp(std::string& tmpl) {
  if (::mkdtemp(tmpl.data()) == nullptr) return last_error();
  return {};
}

std::error_code mkstemp(std::string& tmpl, native_file& out) {
  const int fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
  if (fd < 0) return last_error();
  out = fd;
  return {};
}

std::error_code rmdir(const std::string& path) { return retry([&] { return ::rmdir(path.c_str()); }); }

std::error_code opendir(const std::string& path, void*& out) {
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) return last_error();
  out = d;
  return {};
}

std::error_code readdir(void* d, std::size_t max, std::vector<eddy::fs::dir_entry>& out) {
  auto* dir = static_cast<DIR*>(d);
  while (max > 0) {
    errno = 0;
    const dirent* e = ::readdir(dir);
    if (e == nullptr) return errno != 0 ? last_error() : std::error_code{};
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    eddy::fs::file_type t = eddy::fs::file_type::unknown;
    switch (e->d_type) {
      case DT_REG: t = eddy::fs::file_type::regular; break;
      case DT_DIR: t = eddy::fs::file_type::directory; break;
      case DT_LNK: t = eddy::fs::file_type::symlink; break;
      case DT_FIFO: t = eddy::fs::file_type::fifo; break;
      case DT_SOCK: t = eddy::fs::file_type::socket; break;
      case DT_CHR: t = eddy::fs::file_type::character; break;
      case DT_BLK: t = eddy::fs::file_type::block; break;
      default: break;
    }
    out.push_back({e->d_name, t});
    --max;
  }
  return {};
}

std::error_code closedir(void* d) {
  if (::closedir(static_cast<DIR*>(d)) != 0) return last_error();
  return {};
}

std::error_code fsync(native_file f) { return retry([&] { return ::fsync(fd_of(f)); }); }
std::error_code fdatasync(native_file f) { return retry([&] { return ::fdatasync(fd_of(f)); }); }

std::error_code ftruncate(native_file f, std::int64_t length) {
  return retry([&] { return ::ftruncate(fd_of(f), length); });
}

std::error_code copyfile(const std::string& from, const std::string& to, eddy::fs::copy_flags flags) {
  const auto has = [flags](eddy::fs::copy_flags b) { return (static_cast<std::uint32_t>(flags) & static_cast<std::uint32_t>(b)) != 0; };
  native_file in = -1;
  if (auto ec = open(from, eddy::fs::open_flags::read, 0, in)) return ec;
  eddy::fs::stat_info st;
  std::error_code ec = fstat(in, st);
  if (!ec && st.type == eddy::fs::file_type::directory) ec = from_errno(EISDIR);
  native_file out = -1;
  if (!ec) {
    // Not O_TRUNC: copying a file onto itself must not empty it first.
    eddy::fs::open_flags of = eddy::fs::open_flags::write | eddy::fs::open_flags::create;
    if (has(eddy::fs::copy_flags::exclusive)) of = of | eddy::fs::open_flags::exclusive;
    ec = open(to, of, static_cast<int>(st.mode), out);
  }
  if (!ec) {
    eddy::fs::stat_info dst;
    ec = fstat(out, dst);
    if (!ec && dst.dev == st.dev && dst.ino == st.ino) {  // the same file: nothing to do
      close(out);
      close(in);
      return {};
    }
    if (!ec) ec = ftruncate(out, 0);
  }
  if (!ec) {
    bool cloned = false;
    if (has(eddy::fs::copy_flags::clone) || has(eddy::fs::copy_flags::clone_force)) {
      cloned = ::ioctl(fd_of(out), FICLONE, fd_of(in)) == 0;
      if (!cloned && has(eddy::fs::copy_flags::clone_force)) ec = from_errno(errno == EINVAL || errno == EXDEV ? ENOTSUP : errno);
    }
    std::int64_t off = 0;
    while (!ec && !cloned && off < static_cast<std::int64_t>(st.size)) {
      std::size_t n = 0;
      ec = sendfile(out, in, off, static_cast<std::size_t>(st.size) - static_cast<std::size_t>(off), n);
      if (n == 0) break;  // the source shrank meanwhile
      off += static_cast<std::int64_t>(n);
    }
    if (!ec) ec = fchmod(out, static_cast<int>(st.mode));
    close(out);
    if (ec) ::unlink(to.c_str());
  }
  close(in);
  return ec;
}

std::error_code sendfile(native_file out, native_file in, std::int64_t in_offset, std::size_t length,
                         std::size_t& bytes) {
  off_t off = in_offset;
  ssize_t r = -1;
  auto ec = retry([&] { return r = ::sendfile(fd_of(out), fd_of(in), &off, length); });
  bytes = ec ? 0 : static_cast<std::size_t>(r);
  return ec;
}

std::error_code access(const std::string& path, eddy::fs::access_mode mode) {
  return retry([&] { return ::access(path.c_str(), static_cast<int>(mode)); });
}

std::error_code chmod(const std::string& path, int mode) {
  return retry([&] { return ::chmod(path.c_str(), static_cast<mode_t>(mode)); });
}

std::error_code fchmod(native_file f, int mode) {
  return retry([&] { return ::fchmod(fd_of(f), static_cast<mode_t>(mode)); });
}

std::error_code chown(const std::string& path, std::uint32_t uid, std::uint32_t gid) {
  return retry([&] { return ::chown(path.c_str(), uid, gid); });
}

std::error_code fchown(native_file f, std::uint32_t uid, std::uint32_t gid) {
  return retry([&] { return ::fchown(fd_of(f), uid, gid); });
}

std::error_code utime(const std::string& path, std::int64_t atime_ns, std::int64_t mtime_ns) {
  const timespec ts[2] = {to_timespec(atime_ns), to_timespec(mtime_ns)};
  return retry([&] { return ::utimensat(AT_FDCWD, path.c_str(), ts, 0); });
}

std::error_code futime(native_file f, std::int64_t atime_ns, std::int64_t mtime_ns) {
  const timespec ts[2] = {to_timespec(atime_ns), to_timespec(mtime_ns)};
  return retry([&] { return ::futimens(fd_of(f), ts); });
}

std::error_code link(const std::string& existing, const std::string& new_path) {
  return retry([&] { return ::link(existing.c_str(), new_path.c_str()); });
}

std::error_code symlink(const std::string& target, const std::string& path, eddy::fs::symlink_flags) {
  return retry([&] { return ::symlink(target.c_str(), path.c_str()); });
}

std::error_code readlink(const std::string& path, std::string& out) {
  std::string buf(256, '\0');
  for (;;) {
    const ssize_t r = ::readlink(path.c_str(), buf.data(), buf.size());
    if (r < 0) return last_error();
    if (static_cast<std::size_t>(r) < buf.size()) {
      buf.resize(static_cast<std::size_t>(r));
      out = std::move(buf);
      return {};
    }
    buf.resize(buf.size() * 2);  // may have been cut: try again with more room
  }
}

std::error_code realpath(const std::string& path, std::string& out) {
  char* p = ::realpath(path.c_str(), nullptr);
  if (p == nullptr) return last_error();
  out = p;
  std::free(p);
  return {};
}

}  // namespace eddy::contract::fs
