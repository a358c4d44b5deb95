// eddy::co file system: every fs callback form (eddy/fs.hpp) as an awaitable with the same
// arguments (open, read, write, close, stat, mkdir, scandir, read_file, ...).
// Ownership: paths (string_view) and buffer lists are read when the operation starts (at
// co_await); buffers' bytes are borrowed until it completes. The result travels in a cell
// (detail/cell.hpp); a request not yet started is cancelled when the awaiter goes.
// Threads: loop thread only; the task resumes on the loop thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "eddy/co/core.hpp"
#include "eddy/co/detail/fs_op.hpp"
#include "eddy/fs.hpp"
#include "eddy/loop.hpp"

namespace eddy {
namespace co {

// Every fs callback form (fs.hpp) as an awaitable with the same arguments; the value is
// what the callback receives. Errors' messages name the call and the path(s) ("no such file
// or directory: open '/tmp/x'"). Paths (string_view) and buffer lists are read when the
// operation starts (at the co_await); buffers' bytes are borrowed until it completes.

// What mkstemp gives: the open file and its path.
struct temp_file {
  fs::file file = fs::file::invalid;
  std::string path;
};

template <class... Form>
auto open(eddy::loop& l, std::string_view path, fs::open_flags flags, int mode, Form...) {
  return detail::fs_op<fs::file, Form...>(
      [&l, path, flags, mode](auto cb) { return fs::open(l, path, flags, mode, cb); });
}
template <class... Form>
auto close(eddy::loop& l, fs::file f, Form...) {
  return detail::fs_op<void, Form...>([&l, f](auto cb) { return fs::close(l, f, cb); });
}
// Bytes read (0 at the end of the file); offset -1: at the file's position.
template <class... Form>
auto read(eddy::loop& l, fs::file f, std::span<const mutable_buffer> bufs, std::int64_t offset, Form...) {
  return detail::fs_op<std::size_t, Form...>(
      [&l, f, bufs, offset](auto cb) { return fs::read(l, f, bufs, offset, cb); });
}
template <class... Form>
auto read(eddy::loop& l, fs::file f, mutable_buffer buf, std::int64_t offset, Form...) {
  return detail::fs_op<std::size_t, Form...>(
      [&l, f, buf, offset](auto cb) { return fs::read(l, f, std::span(&buf, 1), offset, cb); });
}
// Bytes written; offset -1: at the file's position.
template <class... Form>
auto write(eddy::loop& l, fs::file f, std::span<const const_buffer> bufs, std::int64_t offset, Form...) {
  return detail::fs_op<std::size_t, Form...>(
      [&l, f, bufs, offset](auto cb) { return fs::write(l, f, bufs, offset, cb); });
}
template <class... Form>
auto write(eddy::loop& l, fs::file f, const_buffer buf, std::int64_t offset, Form...) {
  return detail::fs_op<std::size_t, Form...>(
      [&l, f, buf, offset](auto cb) { return fs::write(l, f, std::span(&buf, 1), offset, cb); });
}
template <class... Form>
auto stat(eddy::loop& l, std::string_view path, Form...) {
  return detail::fs_op<fs::stat_info, Form...>([&l, path](auto cb) { return fs::stat(l, path, cb); });
}
template <class... Form>
auto lstat(eddy::loop& l, std::string_view path, Form...) {
  return detail::fs_op<fs::stat_info, Form...>([&l, path](auto cb) { return fs::lstat(l, path, cb); });
}
template <class... Form>
auto fstat(eddy::loop& l, fs::file f, Form...) {
  return detail::fs_op<fs::stat_info, Form...>([&l, f](auto cb) { return fs::fstat(l, f, cb); });
}
template <class... Form>
auto statfs(eddy::loop& l, std::string_view path, Form...) {
  return detail::fs_op<fs::statfs_info, Form...>([&l, path](auto cb) { return fs::statfs(l, path, cb); });
}
template <class... Form>
auto rename(eddy::loop& l, std::string_view from, std::string_view to, Form...) {
  return detail::fs_op<void, Form...>([&l, from, to](auto cb) { return fs::rename(l, from, to, cb); });
}
template <class... Form>
auto unlink(eddy::loop& l, std::string_view path, Form...) {
  return detail::fs_op<void, Form...>([&l, path](auto cb) { return fs::unlink(l, path, cb); });
}
template <class... Form>
auto mkdir(eddy::loop& l, std::string_view path, int mode, Form...) {
  return detail::fs_op<void, Form...>([&l, path, mode](auto cb) { return fs::mkdir(l, path, mode, cb); });
}
// The new directory's path.
template <class... Form>
auto mkdtemp(eddy::loop& l, std::string_view tmpl, Form...) {
  return detail::fs_op<std::string, Form...>([&l, tmpl](auto cb) { return fs::mkdtemp(l, tmpl, cb); });
}
template <class... Form>
auto mkstemp(eddy::loop& l, std::string_view tmpl, Form...) {
  return detail::fs_op<temp_file, Form...>([&l, tmpl](auto cb) { return fs::mkstemp(l, tmpl, cb); });
}
template <class... Form>
auto rmdir(eddy::loop& l, std::string_view path, Form...) {
  return detail::fs_op<void, Form...>([&l, path](auto cb) { return fs::rmdir(l, path, cb); });
}
template <class... Form>
auto scandir(eddy::loop& l, std::string_view path, Form...) {
  return detail::fs_op<std::vector<fs::dir_entry>, Form...>([&l, path](auto cb) { return fs::scandir(l, path, cb); });
}
template <class... Form>
auto opendir(eddy::loop& l, std::string_view path, Form...) {
  return detail::fs_op<fs::dir, Form...>([&l, path](auto cb) { return fs::opendir(l, path, cb); });
}
template <class... Form>
auto readdir(eddy::loop& l, fs::dir d, std::size_t max_entries, Form...) {
  return detail::fs_op<std::vector<fs::dir_entry>, Form...>(
      [&l, d, max_entries](auto cb) { return fs::readdir(l, d, max_entries, cb); });
}
template <class... Form>
auto closedir(eddy::loop& l, fs::dir d, Form...) {
  return detail::fs_op<void, Form...>([&l, d](auto cb) { return fs::closedir(l, d, cb); });
}
template <class... Form>
auto fsync(eddy::loop& l, fs::file f, Form...) {
  return detail::fs_op<void, Form...>([&l, f](auto cb) { return fs::fsync(l, f, cb); });
}
template <class... Form>
auto fdatasync(eddy::loop& l, fs::file f, Form...) {
  return detail::fs_op<void, Form...>([&l, f](auto cb) { return fs::fdatasync(l, f, cb); });
}
template <class... Form>
auto ftruncate(eddy::loop& l, fs::file f, std::int64_t length, Form...) {
  return detail::fs_op<void, Form...>([&l, f, length](auto cb) { return fs::ftruncate(l, f, length, cb); });
}
template <class... Form>
auto copyfile(eddy::loop& l, std::string_view from, std::string_view to, fs::copy_flags flags, Form...) {
  return detail::fs_op<void, Form...>([&l, from, to, flags](auto cb) { return fs::copyfile(l, from, to, flags, cb); });
}
// Bytes copied.
template <class... Form>
auto sendfile(eddy::loop& l, fs::file out, fs::file in, std::int64_t in_offset, std::size_t length, Form...) {
  return detail::fs_op<std::size_t, Form...>(
      [&l, out, in, in_offset, length](auto cb) { return fs::sendfile(l, out, in, in_offset, length, cb); });
}
template <class... Form>
auto access(eddy::loop& l, std::string_view path, fs::access_mode mode, Form...) {
  return detail::fs_op<void, Form...>([&l, path, mode](auto cb) { return fs::access(l, path, mode, cb); });
}
template <class... Form>
auto chmod(eddy::loop& l, std::string_view path, int mode, Form...) {
  return detail::fs_op<void, Form...>([&l, path, mode](auto cb) { return fs::chmod(l, path, mode, cb); });
}
template <class... Form>
auto fchmod(eddy::loop& l, fs::file f, int mode, Form...) {
  return detail::fs_op<void, Form...>([&l, f, mode](auto cb) { return fs::fchmod(l, f, mode, cb); });
}
template <class... Form>
auto chown(eddy::loop& l, std::string_view path, std::uint32_t uid, std::uint32_t gid, Form...) {
  return detail::fs_op<void, Form...>([&l, path, uid, gid](auto cb) { return fs::chown(l, path, uid, gid, cb); });
}
template <class... Form>
auto fchown(eddy::loop& l, fs::file f, std::uint32_t uid, std::uint32_t gid, Form...) {
  return detail::fs_op<void, Form...>([&l, f, uid, gid](auto cb) { return fs::fchown(l, f, uid, gid, cb); });
}
template <class... Form>
auto utime(eddy::loop& l, std::string_view path, std::int64_t atime_ns, std::int64_t mtime_ns, Form...) {
  return detail::fs_op<void, Form...>(
      [&l, path, atime_ns, mtime_ns](auto cb) { return fs::utime(l, path, atime_ns, mtime_ns, cb); });
}
template <class... Form>
auto futime(eddy::loop& l, fs::file f, std::int64_t atime_ns, std::int64_t mtime_ns, Form...) {
  return detail::fs_op<void, Form...>(
      [&l, f, atime_ns, mtime_ns](auto cb) { return fs::futime(l, f, atime_ns, mtime_ns, cb); });
}
template <class... Form>
auto link(eddy::loop& l, std::string_view existing, std::string_view new_path, Form...) {
  return detail::fs_op<void, Form...>(
      [&l, existing, new_path](auto cb) { return fs::link(l, existing, new_path, cb); });
}
template <class... Form>
auto symlink(eddy::loop& l, std::string_view target, std::string_view path, fs::symlink_flags flags, Form...) {
  return detail::fs_op<void, Form...>(
      [&l, target, path, flags](auto cb) { return fs::symlink(l, target, path, flags, cb); });
}
template <class... Form>
auto readlink(eddy::loop& l, std::string_view path, Form...) {
  return detail::fs_op<std::string, Form...>([&l, path](auto cb) { return fs::readlink(l, path, cb); });
}
template <class... Form>
auto realpath(eddy::loop& l, std::string_view path, Form...) {
  return detail::fs_op<std::string, Form...>([&l, path](auto cb) { return fs::realpath(l, path, cb); });
}
// The whole content of the file at path.
template <class... Form>
auto read_file(eddy::loop& l, std::string_view path, Form...) {
  return detail::fs_op<std::string, Form...>([&l, path](auto cb) { return fs::read_file(l, path, cb); });
}
// Creates or replaces the file at path with data (copied when the operation starts).
template <class... Form>
auto write_file(eddy::loop& l, std::string_view path, std::string_view data, Form...) {
  return detail::fs_op<void, Form...>([&l, path, data](auto cb) { return fs::write_file(l, path, data, cb); });
}

}  // namespace co
}  // namespace eddy
