// The file system's synchronous forms: each calls the services contract (platform/fs.hpp)
// on the calling thread and names the call and path in a failure. The callback forms
// (fs.cpp) run these on the thread pool.
#include <string>
#include <utility>
#include <vector>

#include "eddy/fs.hpp"
#include "fs/fs_call.hpp"

namespace eddy::fs {

using eddy::detail::io_vec;
using internal::fail;
using internal::native;
using internal::to_vecs;
namespace sys = internal::sys;

// ---------------------------------------------------------------- synchronous forms

error open(std::string_view path, open_flags flags, int mode, file& out) {
  const std::string p(path);
  sys::native_file f = -1;
  if (auto ec = sys::open(p, flags, mode, f)) return fail(ec, "open", p);
  out = static_cast<file>(f);
  return {};
}

error close(file f) { return fail(sys::close(native(f)), "close"); }

error read(file f, std::span<const mutable_buffer> bufs, std::int64_t offset, std::size_t& bytes) {
  const auto v = to_vecs(bufs);
  return fail(sys::read(native(f), v.data(), v.size(), offset, bytes), "read");
}

error write(file f, std::span<const const_buffer> bufs, std::int64_t offset, std::size_t& bytes) {
  const auto v = to_vecs(bufs);
  return fail(sys::write(native(f), v.data(), v.size(), offset, bytes), "write");
}

error stat(std::string_view path, stat_info& out) {
  const std::string p(path);
  return fail(sys::stat(p, out), "stat", p);
}

error lstat(std::string_view path, stat_info& out) {
  const std::string p(path);
  return fail(sys::lstat(p, out), "lstat", p);
}

error fstat(file f, stat_info& out) { return fail(sys::fstat(native(f), out), "fstat"); }

error statfs(std::string_view path, statfs_info& out) {
  const std::string p(path);
  return fail(sys::statfs(p, out), "statfs", p);
}

error rename(std::string_view from, std::string_view to) {
  const std::string a(from), b(to);
  return fail(sys::rename(a, b), "rename", a, b);
}

error unlink(std::string_view path) {
  const std::string p(path);
  return fail(sys::unlink(p), "unlink", p);
}

error mkdir(std::string_view path, int mode) {
  const std::string p(path);
  return fail(sys::mkdir(p, mode), "mkdir", p);
}

error mkdtemp(std::string_view tmpl, std::string& out) {
  std::string p(tmpl);
  if (auto ec = sys::mkdtemp(p)) return fail(ec, "mkdtemp", tmpl);
  out = std::move(p);
  return {};
}

error mkstemp(std::string_view tmpl, file& f, std::string& out) {
  std::string p(tmpl);
  sys::native_file nf = -1;
  if (auto ec = sys::mkstemp(p, nf)) return fail(ec, "mkstemp", tmpl);
  f = static_cast<file>(nf);
  out = std::move(p);
  return {};
}

error rmdir(std::string_view path) {
  const std::string p(path);
  return fail(sys::rmdir(p), "rmdir", p);
}

error scandir(std::string_view path, std::vector<dir_entry>& out) {
  const std::string p(path);
  void* d = nullptr;
  if (auto ec = sys::opendir(p, d)) return fail(ec, "scandir", p);
  std::vector<dir_entry> entries;
  std::error_code ec;
  for (;;) {
    const std::size_t before = entries.size();
    ec = sys::readdir(d, 256, entries);
    if (ec || entries.size() == before) break;
  }
  sys::closedir(d);
  if (ec) return fail(ec, "scandir", p);
  out = std::move(entries);
  return {};
}

error opendir(std::string_view path, dir& out) {
  const std::string p(path);
  void* d = nullptr;
  if (auto ec = sys::opendir(p, d)) return fail(ec, "opendir", p);
  out = static_cast<dir>(reinterpret_cast<std::uintptr_t>(d));
  return {};
}

error readdir(dir d, std::size_t max_entries, std::vector<dir_entry>& out) {
  if (d == dir::invalid || max_entries == 0) return fail(make_error_code(errc::invalid_argument), "readdir");
  out.clear();
  return fail(sys::readdir(native(d), max_entries, out), "readdir");
}

error closedir(dir d) {
  if (d == dir::invalid) return fail(make_error_code(errc::invalid_argument), "closedir");
  return fail(sys::closedir(native(d)), "closedir");
}

error fsync(file f) { return fail(sys::fsync(native(f)), "fsync"); }
error fdatasync(file f) { return fail(sys::fdatasync(native(f)), "fdatasync"); }
error ftruncate(file f, std::int64_t length) {
  if (length < 0) return fail(make_error_code(errc::invalid_argument), "ftruncate");
  return fail(sys::ftruncate(native(f), length), "ftruncate");
}

error copyfile(std::string_view from, std::string_view to, copy_flags flags) {
  const std::string a(from), b(to);
  return fail(sys::copyfile(a, b, flags), "copyfile", a, b);
}

error sendfile(file out, file in, std::int64_t in_offset, std::size_t length, std::size_t& bytes) {
  return fail(sys::sendfile(native(out), native(in), in_offset, length, bytes), "sendfile");
}

error access(std::string_view path, access_mode mode) {
  const std::string p(path);
  return fail(sys::access(p, mode), "access", p);
}

error chmod(std::string_view path, int mode) {
  const std::string p(path);
  return fail(sys::chmod(p, mode), "chmod", p);
}

error fchmod(file f, int mode) { return fail(sys::fchmod(native(f), mode), "fchmod"); }

error chown(std::string_view path, std::uint32_t uid, std::uint32_t gid) {
  const std::string p(path);
  return fail(sys::chown(p, uid, gid), "chown", p);
}

error fchown(file f, std::uint32_t uid, std::uint32_t gid) { return fail(sys::fchown(native(f), uid, gid), "fchown"); }

error utime(std::string_view path, std::int64_t atime_ns, std::int64_t mtime_ns) {
  const std::string p(path);
  return fail(sys::utime(p, atime_ns, mtime_ns), "utime", p);
}

error futime(file f, std::int64_t atime_ns, std::int64_t mtime_ns) {
  return fail(sys::futime(native(f), atime_ns, mtime_ns), "futime");
}

error link(std::string_view existing, std::string_view new_path) {
  const std::string a(existing), b(new_path);
  return fail(sys::link(a, b), "link", a, b);
}

error symlink(std::string_view target, std::string_view path, symlink_flags flags) {
  const std::string a(target), b(path);
  return fail(sys::symlink(a, b, flags), "symlink", a, b);
}

error readlink(std::string_view path, std::string& out) {
  const std::string p(path);
  return fail(sys::readlink(p, out), "readlink", p);
}

error realpath(std::string_view path, std::string& out) {
  const std::string p(path);
  return fail(sys::realpath(p, out), "realpath", p);
}

error read_file(std::string_view path, std::string& out) {
  const std::string p(path);
  sys::native_file f = -1;
  if (auto ec = sys::open(p, open_flags::read, 0, f)) return fail(ec, "open", p);
  stat_info st;
  std::error_code ec = sys::fstat(f, st);
  std::string data;
  std::size_t filled = 0;
  if (!ec) data.resize(st.size > 0 ? static_cast<std::size_t>(st.size) : 64 * 1024);
  while (!ec) {
    if (filled == data.size()) data.resize(data.size() * 2);  // grew, or a file without a size (/proc)
    io_vec v{data.data() + filled, data.size() - filled};
    std::size_t n = 0;
    ec = sys::read(f, &v, 1, -1, n);
    if (ec || n == 0) break;
    filled += n;
  }
  sys::close(f);
  if (ec) return fail(ec, "read", p);
  data.resize(filled);
  out = std::move(data);
  return {};
}

error write_file(std::string_view path, std::string_view data) {
  const std::string p(path);
  sys::native_file f = -1;
  if (auto ec = sys::open(p, open_flags::write | open_flags::create | open_flags::truncate, 0666, f)) {
    return fail(ec, "open", p);
  }
  std::error_code ec;
  std::size_t done = 0;
  while (!ec && done < data.size()) {
    io_vec v{const_cast<char*>(data.data()) + done, data.size() - done};
    std::size_t n = 0;
    ec = sys::write(f, &v, 1, -1, n);
    done += n;
  }
  const std::error_code close_ec = sys::close(f);
  if (!ec) ec = close_ec;
  return fail(ec, "write", p);
}

}  // namespace eddy::fs
