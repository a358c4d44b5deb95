// The file system (Node's fs / libuv's uv_fs_*): every operation in a callback form and a
// synchronous form.
//
// - Callback forms run the blocking call on the thread pool (work_kind::fast_io) and call
//   back on the loop thread; on the io_uring port open, close, read, write, fstat/stat and
//   fsync go through the ring itself when the kernel supports the opcode. They may be called
//   from the loop thread only. Pending requests keep the loop alive. Strings (paths, data
//   given to write_file) and the span listing read's and write's buffers are copied; the
//   bytes of those buffers are borrowed: they must stay valid (and, for write, unmodified)
//   until the callback runs.
// - Synchronous forms block the calling thread; any thread may call them.
// - Paths are UTF-8 everywhere (converted to UTF-16 on Windows).
// - Errors are fs::error: the portable std::error_code (eddy::errc) plus the name of the
//   call and the path(s) it was given, so message() reads like Node's
//   "no such file or directory: open '/tmp/x'". Compare with `err == errc::no_such_file`
//   or `err.code()`; an empty fs::error is success.
// - A file is fs::file: an opaque integer (a descriptor on POSIX, a HANDLE on Windows);
//   close it with fs::close. Nothing closes it for you.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "eddy/error.hpp"
#include "eddy/export.hpp"
#include "eddy/stream.hpp"  // const_buffer, mutable_buffer

namespace eddy {
class loop;
}  // namespace eddy

namespace eddy::fs {

// An open file. `invalid` is no file; other values are the OS's (see the top comment).
enum class file : std::intptr_t { invalid = -1 };

// An open directory stream from opendir; release it with closedir (nothing else does).
// One readdir at a time per stream.
enum class dir : std::uintptr_t { invalid = 0 };

enum class open_flags : std::uint32_t {
  read = 0x1,        // open for reading
  write = 0x2,       // open for writing
  read_write = 0x3,  // both
  create = 0x4,      // create if missing (with the mode given)
  exclusive = 0x8,   // with create: fail with file_exists if it exists
  truncate = 0x10,   // truncate to zero length
  append = 0x20,     // every write goes to the end
  sync = 0x40,       // writes reach the device before returning (O_SYNC / write-through)
};
constexpr open_flags operator|(open_flags a, open_flags b) noexcept {
  return static_cast<open_flags>(static_cast<std::uint32_t>(a) | static_cast<std::uint32_t>(b));
}
constexpr bool any(open_flags set, open_flags bit) noexcept {
  return (static_cast<std::uint32_t>(set) & static_cast<std::uint32_t>(bit)) != 0;
}

enum class file_type : std::uint8_t { unknown, regular, directory, symlink, fifo, socket, character, block };

// What stat, lstat and fstat report. Times are nanoseconds since the Unix epoch. On Windows
// dev/ino come from the volume serial number and file index, mode is made from the
// attributes (read-only files lose the write bits), uid/gid are 0.
struct stat_info {
  file_type type = file_type::unknown;
  std::uint32_t mode = 0;  // permission bits (07777)
  std::uint64_t dev = 0, ino = 0, nlink = 0, uid = 0, gid = 0, rdev = 0;
  std::uint64_t size = 0, blksize = 0, blocks = 0;
  std::int64_t atime_ns = 0, mtime_ns = 0, ctime_ns = 0, birthtime_ns = 0;
  friend bool operator==(const stat_info&, const stat_info&) = default;
};

struct statfs_info {
  std::uint64_t type = 0, bsize = 0, blocks = 0, bfree = 0, bavail = 0, files = 0, ffree = 0;
};

struct dir_entry {
  std::string name;  // no "." or ".."
  file_type type = file_type::unknown;
};

enum class copy_flags : std::uint32_t {
  none = 0,
  exclusive = 0x1,      // fail with file_exists if the destination exists
  clone = 0x2,          // try a copy-on-write clone, fall back to copying
  clone_force = 0x4,    // clone or fail with not_supported
};
constexpr copy_flags operator|(copy_flags a, copy_flags b) noexcept {
  return static_cast<copy_flags>(static_cast<std::uint32_t>(a) | static_cast<std::uint32_t>(b));
}

enum class symlink_flags : std::uint32_t {
  none = 0,
  directory = 0x1,  // Windows: the target is a directory (ignored elsewhere)
  junction = 0x2,   // Windows: make a junction instead (ignored elsewhere)
};

// access(): exists is 0; the others may be combined with |.
enum class access_mode : std::uint32_t { exists = 0, execute = 1, write = 2, read = 4 };
constexpr access_mode operator|(access_mode a, access_mode b) noexcept {
  return static_cast<access_mode>(static_cast<std::uint32_t>(a) | static_cast<std::uint32_t>(b));
}

// A failed file operation: the code, the call ("open", "rename", ...) and the path(s).
// (Members are exported one by one: a DLL-exported class with std::string members would
// make MSVC warn C4251.)
class error {
 public:
  error() = default;
  error(std::error_code code, const char* syscall, std::string path = {}, std::string dest = {})
      : code_(code), syscall_(syscall), path_(std::move(path)), dest_(std::move(dest)) {}

  explicit operator bool() const noexcept { return static_cast<bool>(code_); }
  [[nodiscard]] const std::error_code& code() const noexcept { return code_; }
  // The call's name; empty on success.
  [[nodiscard]] const char* syscall() const noexcept { return syscall_; }
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  // The second path (rename, link, symlink, copyfile), else empty.
  [[nodiscard]] const std::string& dest() const noexcept { return dest_; }
  // "no such file or directory: open '/tmp/x'" (with " -> '/tmp/y'" for two paths).
  [[nodiscard]] EDDY_API std::string message() const;

  friend bool operator==(const error& e, errc c) noexcept { return e.code_ == c; }
  friend bool operator==(const error& e, const std::error_code& c) noexcept { return e.code_ == c; }

 private:
  std::error_code code_;
  const char* syscall_ = "";
  std::string path_, dest_;
};

namespace detail {
struct request_state;
}

// A pending callback-form request. Copyable; cancel() works until the request has started
// (it is still queued for the pool): its callback then runs with errc::operation_canceled.
// Requests the io_uring port runs in the ring are in the kernel at once: not cancellable.
class request {
 public:
  request() = default;
  // Returns false when the request already started or finished, or runs in the ring. Loop
  // thread only.
  EDDY_API bool cancel() noexcept;

  explicit request(std::shared_ptr<detail::request_state> s) noexcept : state_(std::move(s)) {}

 private:
  std::shared_ptr<detail::request_state> state_;
};

// Callbacks run on the loop thread.
using done_callback = std::function<void(const error& err)>;
using open_callback = std::function<void(const error& err, file f)>;
using size_callback = std::function<void(const error& err, std::size_t bytes)>;
using stat_callback = std::function<void(const error& err, const stat_info& st)>;
using statfs_callback = std::function<void(const error& err, const statfs_info& st)>;
using path_callback = std::function<void(const error& err, std::string path)>;
using entries_callback = std::function<void(const error& err, std::vector<dir_entry> entries)>;
using dir_callback = std::function<void(const error& err, dir d)>;
using mkstemp_callback = std::function<void(const error& err, file f, std::string path)>;
using data_callback = std::function<void(const error& err, std::string data)>;

// ---- synchronous forms: block the calling thread; any thread.

// mode: the permission bits of a created file (before the umask; ignored on Windows except
// for the read-only bit).
EDDY_API error open(std::string_view path, open_flags flags, int mode, file& out);
EDDY_API error close(file f);
// Reads into bufs in order (a scatter list); offset -1 reads at the file's position and
// advances it. bytes is 0 at the end of the file.
EDDY_API error read(file f, std::span<const mutable_buffer> bufs, std::int64_t offset, std::size_t& bytes);
// Writes bufs in order (a gather list); offset -1 writes at the file's position (or the end
// with open_flags::append).
EDDY_API error write(file f, std::span<const const_buffer> bufs, std::int64_t offset, std::size_t& bytes);
EDDY_API error stat(std::string_view path, stat_info& out);
EDDY_API error lstat(std::string_view path, stat_info& out);  // the link itself, not its target
EDDY_API error fstat(file f, stat_info& out);
EDDY_API error statfs(std::string_view path, statfs_info& out);
EDDY_API error rename(std::string_view from, std::string_view to);  // replaces an existing `to`
EDDY_API error unlink(std::string_view path);
EDDY_API error mkdir(std::string_view path, int mode);
// tmpl ends in "XXXXXX", which is replaced to make a new directory or file; out is its path.
EDDY_API error mkdtemp(std::string_view tmpl, std::string& out);
EDDY_API error mkstemp(std::string_view tmpl, file& f, std::string& out);
EDDY_API error rmdir(std::string_view path);
// The entries of a directory (no "." and ".."), in the order the OS gives them.
EDDY_API error scandir(std::string_view path, std::vector<dir_entry>& out);
EDDY_API error opendir(std::string_view path, dir& out);
// Up to max_entries entries (at least 1); empty at the end of the directory.
EDDY_API error readdir(dir d, std::size_t max_entries, std::vector<dir_entry>& out);
EDDY_API error closedir(dir d);
EDDY_API error fsync(file f);
EDDY_API error fdatasync(file f);
EDDY_API error ftruncate(file f, std::int64_t length);
EDDY_API error copyfile(std::string_view from, std::string_view to, copy_flags flags = copy_flags::none);
// Copies up to length bytes from in (at in_offset; the position is not used or moved) to
// out (at its position). bytes: how many were copied (0 at the end of in).
EDDY_API error sendfile(file out, file in, std::int64_t in_offset, std::size_t length, std::size_t& bytes);
EDDY_API error access(std::string_view path, access_mode mode);
EDDY_API error chmod(std::string_view path, int mode);
EDDY_API error fchmod(file f, int mode);
// Windows has no owners in this sense: chown/fchown succeed there and do nothing (as libuv).
EDDY_API error chown(std::string_view path, std::uint32_t uid, std::uint32_t gid);
EDDY_API error fchown(file f, std::uint32_t uid, std::uint32_t gid);
// Times in nanoseconds since the Unix epoch.
EDDY_API error utime(std::string_view path, std::int64_t atime_ns, std::int64_t mtime_ns);
EDDY_API error futime(file f, std::int64_t atime_ns, std::int64_t mtime_ns);
EDDY_API error link(std::string_view existing, std::string_view new_path);
EDDY_API error symlink(std::string_view target, std::string_view path, symlink_flags flags = symlink_flags::none);
EDDY_API error readlink(std::string_view path, std::string& out);
EDDY_API error realpath(std::string_view path, std::string& out);
// The whole file into out / data into a file created or truncated (mode 0666).
EDDY_API error read_file(std::string_view path, std::string& out);
EDDY_API error write_file(std::string_view path, std::string_view data);

// ---- callback forms: loop thread only; the callback runs on the loop thread.

EDDY_API request open(eddy::loop& loop, std::string_view path, open_flags flags, int mode, open_callback cb);
EDDY_API request close(eddy::loop& loop, file f, done_callback cb);
EDDY_API request read(eddy::loop& loop, file f, std::span<const mutable_buffer> bufs, std::int64_t offset,
                      size_callback cb);
EDDY_API request write(eddy::loop& loop, file f, std::span<const const_buffer> bufs, std::int64_t offset,
                       size_callback cb);
EDDY_API request stat(eddy::loop& loop, std::string_view path, stat_callback cb);
EDDY_API request lstat(eddy::loop& loop, std::string_view path, stat_callback cb);
EDDY_API request fstat(eddy::loop& loop, file f, stat_callback cb);
EDDY_API request statfs(eddy::loop& loop, std::string_view path, statfs_callback cb);
EDDY_API request rename(eddy::loop& loop, std::string_view from, std::string_view to, done_callback cb);
EDDY_API request unlink(eddy::loop& loop, std::string_view path, done_callback cb);
EDDY_API request mkdir(eddy::loop& loop, std::string_view path, int mode, done_callback cb);
EDDY_API request mkdtemp(eddy::loop& loop, std::string_view tmpl, path_callback cb);
EDDY_API request mkstemp(eddy::loop& loop, std::string_view tmpl, mkstemp_callback cb);
EDDY_API request rmdir(eddy::loop& loop, std::string_view path, done_callback cb);
EDDY_API request scandir(eddy::loop& loop, std::string_view path, entries_callback cb);
EDDY_API request opendir(eddy::loop& loop, std::string_view path, dir_callback cb);
EDDY_API request readdir(eddy::loop& loop, dir d, std::size_t max_entries, entries_callback cb);
EDDY_API request closedir(eddy::loop& loop, dir d, done_callback cb);
EDDY_API request fsync(eddy::loop& loop, file f, done_callback cb);
EDDY_API request fdatasync(eddy::loop& loop, file f, done_callback cb);
EDDY_API request ftruncate(eddy::loop& loop, file f, std::int64_t length, done_callback cb);
EDDY_API request copyfile(eddy::loop& loop, std::string_view from, std::string_view to, copy_flags flags,
                          done_callback cb);
EDDY_API request sendfile(eddy::loop& loop, file out, file in, std::int64_t in_offset, std::size_t length,
                          size_callback cb);
EDDY_API request access(eddy::loop& loop, std::string_view path, access_mode mode, done_callback cb);
EDDY_API request chmod(eddy::loop& loop, std::string_view path, int mode, done_callback cb);
EDDY_API request fchmod(eddy::loop& loop, file f, int mode, done_callback cb);
EDDY_API request chown(eddy::loop& loop, std::string_view path, std::uint32_t uid, std::uint32_t gid, done_callback cb);
EDDY_API request fchown(eddy::loop& loop, file f, std::uint32_t uid, std::uint32_t gid, done_callback cb);
EDDY_API request utime(eddy::loop& loop, std::string_view path, std::int64_t atime_ns, std::int64_t mtime_ns,
                       done_callback cb);
EDDY_API request futime(eddy::loop& loop, file f, std::int64_t atime_ns, std::int64_t mtime_ns, done_callback cb);
EDDY_API request link(eddy::loop& loop, std::string_view existing, std::string_view new_path, done_callback cb);
EDDY_API request symlink(eddy::loop& loop, std::string_view target, std::string_view path, symlink_flags flags,
                         done_callback cb);
EDDY_API request readlink(eddy::loop& loop, std::string_view path, path_callback cb);
EDDY_API request realpath(eddy::loop& loop, std::string_view path, path_callback cb);
// Node's fs.readFile / fs.writeFile: open, read everything (or write data, which is
// copied), close, all on one pool job.
EDDY_API request read_file(eddy::loop& loop, std::string_view path, data_callback cb);
EDDY_API request write_file(eddy::loop& loop, std::string_view path, std::string_view data, done_callback cb);

}  // namespace eddy::fs
