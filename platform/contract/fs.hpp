// The blocking file-system calls, one function per operation, run by src/fs.cpp on pool
// threads (callback forms) or the caller's thread (synchronous forms). POSIX calls in
// platform/posix/fs.cpp; Win32 calls (UTF-16 paths) in platform/win32/fs.cpp.
//
// A file is the OS value in an intptr_t (a descriptor, or a synchronous HANDLE on Windows);
// a dir is a pointer to the port's own directory record. Paths are UTF-8.
// Every function is thread-safe and returns the mapped eddy code (empty on success).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

#include "eddy/fs.hpp"
#include "platform/contract/port.hpp"  // io_vec

namespace eddy::contract::fs {

using detail::io_vec;  // the port contract's buffer (platform/contract/port.hpp)

using native_file = std::intptr_t;

std::error_code open(const std::string& path, eddy::fs::open_flags flags, int mode, native_file& out);
std::error_code close(native_file f);
// offset < 0: at the file's position (and advance it).
std::error_code read(native_file f, const io_vec* bufs, std::size_t nbufs, std::int64_t offset, std::size_t& bytes);
std::error_code write(native_file f, const io_vec* bufs, std::size_t nbufs, std::int64_t offset, std::size_t& bytes);
std::error_code stat(const std::string& path, eddy::fs::stat_info& out);
std::error_code lstat(const std::string& path, eddy::fs::stat_info& out);
std::error_code fstat(native_file f, eddy::fs::stat_info& out);
std::error_code statfs(const std::string& path, eddy::fs::statfs_info& out);
std::error_code rename(const std::string& from, const std::string& to);
std::error_code unlink(const std::string& path);
std::error_code mkdir(const std::string& path, int mode);
// tmpl is rewritten in place (its trailing XXXXXX replaced).
std::error_code mkdtemp(std::string& tmpl);
std::error_code mkstemp(std::string& tmpl, native_file& out);
std::error_code rmdir(const std::string& path);
std::error_code opendir(const std::string& path, void*& out);
// Appends up to max entries; none at the end.
std::error_code readdir(void* d, std::size_t max, std::vector<eddy::fs::dir_entry>& out);
std::error_code closedir(void* d);
std::error_code fsync(native_file f);
std::error_code fdatasync(native_file f);
std::error_code ftruncate(native_file f, std::int64_t length);
std::error_code copyfile(const std::string& from, const std::string& to, eddy::fs::copy_flags flags);
std::error_code sendfile(native_file out, native_file in, std::int64_t in_offset, std::size_t length,
                         std::size_t& bytes);
std::error_code access(const std::string& path, eddy::fs::access_mode mode);
std::error_code chmod(const std::string& path, int mode);
std::error_code fchmod(native_file f, int mode);
std::error_code chown(const std::string& path, std::uint32_t uid, std::uint32_t gid);
std::error_code fchown(native_file f, std::uint32_t uid, std::uint32_t gid);
std::error_code utime(const std::string& path, std::int64_t atime_ns, std::int64_t mtime_ns);
std::error_code futime(native_file f, std::int64_t atime_ns, std::int64_t mtime_ns);
std::error_code link(const std::string& existing, const std::string& new_path);
std::error_code symlink(const std::string& target, const std::string& path, eddy::fs::symlink_flags flags);
std::error_code readlink(const std::string& path, std::string& out);
std::error_code realpath(const std::string& path, std::string& out);

}  // namespace eddy::contract::fs
