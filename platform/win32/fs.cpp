// The file-system calls on Windows, run on the thread pool (or the caller's thread for the
// synchronous forms). Paths arrive as UTF-8 and go to the W functions as UTF-16.
//
// Files are synchronous HANDLEs (no FILE_FLAG_OVERLAPPED): a read or write at an offset
// passes the offset in an OVERLAPPED, which on such a handle also moves the file pointer, so
// the position is put back afterwards (POSIX pread/pwrite leave it alone). fchmod and futime
// on a file opened for reading reopen it with FILE_WRITE_ATTRIBUTES (ReOpenFile), as POSIX
// lets the owner change attributes whatever the descriptor's mode.
#include "platform/win32/fs_win32.hpp"
#include "platform/contract/fault.hpp"

#include <winioctl.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <random>

namespace eddy::contract::fs {
namespace {

using namespace ::eddy::platform::win32;

std::error_code stat_handle(HANDLE h, eddy::fs::stat_info& out) {
  BY_HANDLE_FILE_INFORMATION info{};
  FILE_BASIC_INFO basic{};
  FILE_STANDARD_INFO standard{};
  if (!::GetFileInformationByHandle(h, &info) ||
      !::GetFileInformationByHandleEx(h, FileBasicInfo, &basic, sizeof basic) ||
      !::GetFileInformationByHandleEx(h, FileStandardInfo, &standard, sizeof standard)) {
    return win32_error();
  }
  const DWORD a = basic.FileAttributes;
  bool is_link = false;
  if ((a & FILE_ATTRIBUTE_REPARSE_POINT) != 0) {
    FILE_ATTRIBUTE_TAG_INFO tag{};
    if (::GetFileInformationByHandleEx(h, FileAttributeTagInfo, &tag, sizeof tag)) {
      is_link = tag.ReparseTag == IO_REPARSE_TAG_SYMLINK || tag.ReparseTag == IO_REPARSE_TAG_MOUNT_POINT;
    }
  }
  const bool directory = (a & FILE_ATTRIBUTE_DIRECTORY) != 0;
  out = {};
  out.type = is_link ? eddy::fs::file_type::symlink : directory ? eddy::fs::file_type::directory : eddy::fs::file_type::regular;
  if (::GetFileType(h) == FILE_TYPE_CHAR) out.type = eddy::fs::file_type::character;
  if (::GetFileType(h) == FILE_TYPE_PIPE) out.type = eddy::fs::file_type::fifo;
  // Windows has only the read-only attribute: everyone may read, write unless read-only.
  out.mode = (directory ? 0777u : 0666u) & ((a & FILE_ATTRIBUTE_READONLY) != 0 ? ~0222u : ~0u);
  out.dev = info.dwVolumeSerialNumber;
  out.ino = (static_cast<std::uint64_t>(info.nFileIndexHigh) << 32) | info.nFileIndexLow;
  out.nlink = info.nNumberOfLinks;
  out.size = is_link ? 0 : static_cast<std::uint64_t>(standard.EndOfFile.QuadPart);
  out.blksize = 4096;
  out.blocks = static_cast<std::uint64_t>(standard.AllocationSize.QuadPart) / 512;
  out.atime_ns = to_ns(basic.LastAccessTime);
  out.mtime_ns = to_ns(basic.LastWriteTime);
  out.ctime_ns = to_ns(basic.ChangeTime);
  out.birthtime_ns = to_ns(basic.CreationTime);
  return {};
}

std::error_code stat_path(const std::string& path, eddy::fs::stat_info& out, bool no_follow) {
  std::wstring w;
  if (auto ec = widen(path, w)) return ec;
  HANDLE h = open_meta(w, FILE_READ_ATTRIBUTES, no_follow);
  if (h == INVALID_HANDLE_VALUE) return path_error(w);
  auto ec = stat_handle(h, out);
  ::CloseHandle(h);
  return ec;
}

// Reads or writes one buffer, at offset (>= 0) or the file pointer (< 0). A read past the end
// is 0 bytes.
std::error_code transfer(HANDLE h, bool writing, void* base, std::size_t len, std::int64_t offset,
                         std::size_t& done) noexcept {
  const DWORD n = static_cast<DWORD>(std::min<std::size_t>(len, 1u << 30));
  OVERLAPPED ov{};
  if (offset >= 0) {
    ov.Offset = static_cast<DWORD>(offset);
    ov.OffsetHigh = static_cast<DWORD>(static_cast<std::uint64_t>(offset) >> 32);
  }
  DWORD got = 0;
  const BOOL ok = writing ? ::WriteFile(h, base, n, &got, offset >= 0 ? &ov : nullptr)
                          : ::ReadFile(h, base, n, &got, offset >= 0 ? &ov : nullptr);
  done = got;
  if (ok) return {};
  const DWORD e = ::GetLastError();
  if (!writing && (e == ERROR_HANDLE_EOF || e == ERROR_BROKEN_PIPE)) return {};
  return win32_error(e);
}

std::error_code transfer_all(native_file f, bool writing, const io_vec* bufs, std::size_t nbufs, std::int64_t offset,
                             std::size_t& bytes) {
  bytes = 0;
  HANDLE h = handle_of(f);
  if (h == nullptr) return bad_handle();
  LARGE_INTEGER saved{};
  const bool positional = offset >= 0;
  if (positional) {
    const LARGE_INTEGER zero{};
    if (!::SetFilePointerEx(h, zero, &saved, FILE_CURRENT)) return win32_error();
  }
  std::error_code ec;
  for (std::size_t i = 0; i < nbufs && !ec; ++i) {
    std::size_t n = 0;
    ec = transfer(h, writing, bufs[i].base, bufs[i].len, positional ? offset + static_cast<std::int64_t>(bytes) : -1, n);
    bytes += n;
    if (n < bufs[i].len) break;  // short: the end of the file, or the disk is full
  }
  if (positional) ::SetFilePointerEx(h, saved, nullptr, FILE_BEGIN);
  if (ec && bytes > 0) ec.clear();  // report what was done; the next call sees the error
  return ec;
}

// Six random characters for mkdtemp / mkstemp.
void fill_template(std::string& tmpl) {
  static constexpr char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  thread_local std::mt19937_64 rng{std::random_device{}() ^ (static_cast<std::uint64_t>(::GetCurrentThreadId()) << 32)};
  for (std::size_t i = tmpl.size() - 6; i < tmpl.size(); ++i) tmpl[i] = chars[rng() % (sizeof chars - 1)];
}

bool valid_template(const std::string& tmpl) noexcept {
  return tmpl.size() >= 6 && tmpl.compare(tmpl.size() - 6, 6, "XXXXXX") == 0;
}

template <class Create>
std::error_code make_temp(std::string& tmpl, Create create) {
  if (!valid_template(tmpl)) return make_error_code(errc::invalid_argument);
  for (int attempt = 0; attempt < 100; ++attempt) {
    fill_template(tmpl);
    const std::error_code ec = create(tmpl);
    if (ec != errc::file_exists) return ec;
  }
  return make_error_code(errc::file_exists);
}

// The directory stream behind eddy::fs::dir.
struct find_dir {
  HANDLE find = INVALID_HANDLE_VALUE;
  WIN32_FIND_DATAW data{};
  bool have = false;  // data holds an entry not yet returned
};

eddy::fs::file_type entry_type(const WIN32_FIND_DATAW& d) noexcept {
  if ((d.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) != 0 &&
      (d.dwReserved0 == IO_REPARSE_TAG_SYMLINK || d.dwReserved0 == IO_REPARSE_TAG_MOUNT_POINT)) {
    return eddy::fs::file_type::symlink;
  }
  return (d.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) != 0 ? eddy::fs::file_type::directory : eddy::fs::file_type::regular;
}

}  // namespace

std::error_code open(const std::string& path, eddy::fs::open_flags flags, int mode, native_file& out) {
  if (int e = EDDY_FAULT(file_open)) return from_errno(e);
  std::wstring w;
  if (auto ec = widen(path, w)) return ec;
  DWORD access = FILE_READ_ATTRIBUTES;
  if (any(flags, eddy::fs::open_flags::read)) access |= GENERIC_READ;
  if (any(flags, eddy::fs::open_flags::write)) access |= any(flags, eddy::fs::open_flags::append) ? FILE_APPEND_DATA : GENERIC_WRITE;
  const bool create = any(flags, eddy::fs::open_flags::create), truncate = any(flags, eddy::fs::open_flags::truncate);
  DWORD disposition = OPEN_EXISTING;
  if (create && any(flags, eddy::fs::open_flags::exclusive)) {
    disposition = CREATE_NEW;
  } else if (create) {
    disposition = truncate ? CREATE_ALWAYS : OPEN_ALWAYS;
  } else if (truncate) {
    disposition = TRUNCATE_EXISTING;
  }
  DWORD attrs = FILE_ATTRIBUTE_NORMAL;
  if (create && (mode & 0200) == 0) attrs = FILE_ATTRIBUTE_READONLY;
  if (any(flags, eddy::fs::open_flags::sync)) attrs |= FILE_FLAG_WRITE_THROUGH;
  HANDLE h = ::CreateFileW(w.c_str(), access, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                           disposition, attrs, nullptr);
  if (h == INVALID_HANDLE_VALUE) {
    const DWORD e = ::GetLastError();
    // A directory cannot be opened as a file: POSIX says EISDIR.
    if (e == ERROR_ACCESS_DENIED) {
      const DWORD a = attributes(w);
      if (a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_DIRECTORY) != 0) {
        return make_error_code(errc::is_a_directory);
      }
    }
    return path_error(w, e);
  }
  out = reinterpret_cast<native_file>(h);
  return {};
}

std::error_code close(native_file f) {
  HANDLE h = handle_of(f);
  if (h == nullptr) return bad_handle();
  if (!::CloseHandle(h)) return win32_error();
  return {};
}

std::error_code read(native_file f, const io_vec* bufs, std::size_t nbufs, std::int64_t offset, std::size_t& bytes) {
  return transfer_all(f, false, bufs, nbufs, offset, bytes);
}

std::error_code write(native_file f, const io_vec* bufs, std::size_t nbufs, std::int64_t offset, std::size_t& bytes) {
  return transfer_all(f, true, bufs, nbufs, offset, bytes);
}

std::error_code stat(const std::string& path, eddy::fs::stat_info& out) { return stat_path(path, out, false); }
std::error_code lstat(const std::string& path, eddy::fs::stat_info& out) { return stat_path(path, out, true); }

std::error_code fstat(native_file f, eddy::fs::stat_info& out) {
  HANDLE h = handle_of(f);
  if (h == nullptr) return bad_handle();
  return stat_handle(h, out);
}

std::error_code statfs(const std::string& path, eddy::fs::statfs_info& out) {
  std::wstring w;
  if (auto ec = widen(path, w)) return ec;
  if (attributes(w) == INVALID_FILE_ATTRIBUTES) return path_error(w);
  wchar_t root[MAX_PATH + 1];
  if (!::GetVolumePathNameW(w.c_str(), root, MAX_PATH + 1)) return win32_error();
  DWORD sectors = 0, bytes_per_sector = 0, free_clusters = 0, clusters = 0;
  if (!::GetDiskFreeSpaceW(root, &sectors, &bytes_per_sector, &free_clusters, &clusters)) return win32_error();
  ULARGE_INTEGER avail{};
  if (!::GetDiskFreeSpaceExW(root, &avail, nullptr, nullptr)) return win32_error();
  const std::uint64_t bsize = static_cast<std::uint64_t>(sectors) * bytes_per_sector;
  out = {0, bsize, clusters, free_clusters, bsize != 0 ? avail.QuadPart / bsize : 0, 0, 0};
  return {};
}

std::error_code rename(const std::string& from, const std::string& to) {
  std::wstring a, b;
  if (auto ec = widen(from, a)) return ec;
  if (auto ec = widen(to, b)) return ec;
  if (!::MoveFileExW(a.c_str(), b.c_str(), MOVEFILE_REPLACE_EXISTING)) return path_error(a);
  return {};
}

std::error_code unlink(const std::string& path) {
  std::wstring w;
  if (auto ec = widen(path, w)) return ec;
  if (::DeleteFileW(w.c_str())) return {};
  const DWORD e = ::GetLastError();
  const DWORD a = attributes(w);
  if (e == ERROR_ACCESS_DENIED && a != INVALID_FILE_ATTRIBUTES) {
    if ((a & FILE_ATTRIBUTE_DIRECTORY) != 0) return make_error_code(errc::is_a_directory);
    // POSIX removes a read-only file (the directory's permissions decide): so do we.
    if ((a & FILE_ATTRIBUTE_READONLY) != 0 && ::SetFileAttributesW(w.c_str(), a & ~FILE_ATTRIBUTE_READONLY)) {
      if (::DeleteFileW(w.c_str())) return {};
      const DWORD e2 = ::GetLastError();
      ::SetFileAttributesW(w.c_str(), a);
      return win32_error(e2);
    }
  }
  return path_error(w, e);
}

std::error_code mkdir(const std::string& path, int) {
  std::wstring w;
  if (auto ec = widen(path, w)) return ec;
  if (!::CreateDirectoryW(w.c_str(), nullptr)) return path_error(w);
  return {};
}

std::error_code mkdtemp(std::string& tmpl) {
  return make_temp(tmpl, [](const std::string& p) { return mkdir(p, 0700); });
}

std::error_code mkstemp(std::string& tmpl, native_file& out) {
  return make_temp(tmpl, [&out](const std::string& p) {
    return open(p, eddy::fs::open_flags::read_write | eddy::fs::open_flags::create | eddy::fs::open_flags::exclusive, 0600, out);
  });
}

std::error_code rmdir(const std::string& path) {
  std::wstring w;
  if (auto ec = widen(path, w)) return ec;
  if (::RemoveDirectoryW(w.c_str())) return {};
  const DWORD e = ::GetLastError();
  const DWORD a = attributes(w);
  if (a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_DIRECTORY) == 0) return make_error_code(errc::not_a_directory);
  return path_error(w, e);
}

std::error_code opendir(const std::string& path, void*& out) {
  std::wstring w;
  if (auto ec = widen(path, w)) return ec;
  const DWORD a = attributes(w);
  if (a == INVALID_FILE_ATTRIBUTES) return path_error(w);
  if ((a & FILE_ATTRIBUTE_DIRECTORY) == 0) return make_error_code(errc::not_a_directory);
  auto d = std::make_unique<find_dir>();
  if (w.back() != L'/' && w.back() != L'\\') w += L'\\';
  w += L'*';
  d->find = ::FindFirstFileExW(w.c_str(), FindExInfoBasic, &d->data, FindExSearchNameMatch, nullptr,
                               FIND_FIRST_EX_LARGE_FETCH);
  if (d->find == INVALID_HANDLE_VALUE) {
    if (::GetLastError() != ERROR_FILE_NOT_FOUND) return path_error(w);
  } else {
    d->have = true;
  }
  out = d.release();
  return {};
}

std::error_code readdir(void* dp, std::size_t max, std::vector<eddy::fs::dir_entry>& out) {
  auto* d = static_cast<find_dir*>(dp);
  while (max > 0 && d->have) {
    const wchar_t* name = d->data.cFileName;
    if (std::wcscmp(name, L".") != 0 && std::wcscmp(name, L"..") != 0) {
      eddy::fs::dir_entry e;
      if (auto ec = to_utf8(name, static_cast<int>(std::wcslen(name)), e.name)) return ec;
      e.type = entry_type(d->data);
      out.push_back(std::move(e));
      --max;
    }
    if (!::FindNextFileW(d->find, &d->data)) {
      d->have = false;
      if (::GetLastError() != ERROR_NO_MORE_FILES) return win32_error();
    }
  }
  return {};
}

std::error_code closedir(void* dp) {
  auto* d = static_cast<find_dir*>(dp);
  const bool ok = d->find == INVALID_HANDLE_VALUE || ::FindClose(d->find);
  delete d;
  return ok ? std::error_code{} : win32_error();
}

std::error_code fsync(native_file f) {
  HANDLE h = handle_of(f);
  if (h == nullptr) return bad_handle();
  if (!::FlushFileBuffers(h)) return win32_error();
  return {};
}

std::error_code fdatasync(native_file f) { return fsync(f); }

std::error_code ftruncate(native_file f, std::int64_t length) {
  HANDLE h = handle_of(f);
  if (h == nullptr) return bad_handle();
  FILE_END_OF_FILE_INFO info{};
  info.EndOfFile.QuadPart = length;
  if (!::SetFileInformationByHandle(h, FileEndOfFileInfo, &info, sizeof info)) return win32_error();
  return {};
}

std::error_code copyfile(const std::string& from, const std::string& to, eddy::fs::copy_flags flags) {
  const auto bits = static_cast<std::uint32_t>(flags);
  // No copy-on-write clone through this API: clone falls back to copying, clone_force fails.
  if ((bits & static_cast<std::uint32_t>(eddy::fs::copy_flags::clone_force)) != 0) return make_error_code(errc::not_supported);
  std::wstring a, b;
  if (auto ec = widen(from, a)) return ec;
  if (auto ec = widen(to, b)) return ec;
  const BOOL fail_if_exists = (bits & static_cast<std::uint32_t>(eddy::fs::copy_flags::exclusive)) != 0;
  if (::CopyFileW(a.c_str(), b.c_str(), fail_if_exists)) return {};
  const DWORD e = ::GetLastError();
  if (attributes(a) == INVALID_FILE_ATTRIBUTES) return path_error(a);  // the source is the problem
  // Copying a file onto itself fails (a sharing violation); POSIX treats it as done.
  eddy::fs::stat_info sa, sb;
  if (!fail_if_exists && !stat(from, sa) && !stat(to, sb) && sa.dev == sb.dev && sa.ino == sb.ino) return {};
  return path_error(b, e);
}

// Windows has no sendfile for files: read at the offset, write at out's position.
std::error_code sendfile(native_file out, native_file in, std::int64_t in_offset, std::size_t length,
                         std::size_t& bytes) {
  bytes = 0;
  if (handle_of(out) == nullptr || handle_of(in) == nullptr) return bad_handle();
  std::unique_ptr<char[]> buf(new char[64 * 1024]);
  while (bytes < length) {
    io_vec v{buf.get(), std::min<std::size_t>(length - bytes, 64 * 1024)};
    std::size_t got = 0;
    if (auto ec = transfer_all(in, false, &v, 1, in_offset + static_cast<std::int64_t>(bytes), got)) {
      return bytes > 0 ? std::error_code{} : ec;
    }
    if (got == 0) break;
    v.len = got;
    std::size_t put = 0;
    if (auto ec = transfer_all(out, true, &v, 1, -1, put)) return bytes > 0 ? std::error_code{} : ec;
    bytes += put;
    if (put < got) break;
  }
  return {};
}

std::error_code access(const std::string& path, eddy::fs::access_mode mode) {
  std::wstring w;
  if (auto ec = widen(path, w)) return ec;
  const DWORD a = attributes(w);
  if (a == INVALID_FILE_ATTRIBUTES) return path_error(w);
  // Only the read-only attribute says no (to writing a file), as in libuv.
  const bool want_write = (static_cast<std::uint32_t>(mode) & static_cast<std::uint32_t>(eddy::fs::access_mode::write)) != 0;
  if (want_write && (a & FILE_ATTRIBUTE_READONLY) != 0 && (a & FILE_ATTRIBUTE_DIRECTORY) == 0) {
    return make_error_code(errc::permission_denied);
  }
  return {};
}

std::error_code chmod(const std::string& path, int mode) {
  std::wstring w;
  if (auto ec = widen(path, w)) return ec;
  const DWORD a = attributes(w);
  if (a == INVALID_FILE_ATTRIBUTES) return path_error(w);
  const DWORD want = (mode & 0200) != 0 ? a & ~FILE_ATTRIBUTE_READONLY : a | FILE_ATTRIBUTE_READONLY;
  if (want != a && !::SetFileAttributesW(w.c_str(), want)) return win32_error();
  return {};
}

// Runs set(handle) -> BOOL on h, or on a reopened handle with FILE_WRITE_ATTRIBUTES when h
// lacks the access (a file opened for reading).
template <class Set>
std::error_code with_write_attributes(HANDLE h, Set set) {
  if (set(h)) return {};
  const DWORD e = ::GetLastError();
  if (e != ERROR_ACCESS_DENIED) return win32_error(e);
  HANDLE again = ::ReOpenFile(h, FILE_WRITE_ATTRIBUTES, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, 0);
  if (again == INVALID_HANDLE_VALUE) return win32_error(e);
  const BOOL ok = set(again);
  const DWORD e2 = ::GetLastError();
  ::CloseHandle(again);
  return ok ? std::error_code{} : win32_error(e2);
}

std::error_code fchmod(native_file f, int mode) {
  HANDLE h = handle_of(f);
  if (h == nullptr) return bad_handle();
  FILE_BASIC_INFO basic{};
  if (!::GetFileInformationByHandleEx(h, FileBasicInfo, &basic, sizeof basic)) return win32_error();
  DWORD a = basic.FileAttributes;
  a = (mode & 0200) != 0 ? a & ~FILE_ATTRIBUTE_READONLY : a | FILE_ATTRIBUTE_READONLY;
  if (a == basic.FileAttributes) return {};
  FILE_BASIC_INFO change{};  // zero times mean "leave as is"
  change.FileAttributes = a != 0 ? a : FILE_ATTRIBUTE_NORMAL;
  return with_write_attributes(
      h, [&](HANDLE target) { return ::SetFileInformationByHandle(target, FileBasicInfo, &change, sizeof change); });
}

// Windows files have no POSIX owner: like libuv, succeed without doing anything.
std::error_code chown(const std::string&, std::uint32_t, std::uint32_t) { return {}; }
std::error_code fchown(native_file, std::uint32_t, std::uint32_t) { return {}; }

std::error_code futime(native_file f, std::int64_t atime_ns, std::int64_t mtime_ns) {
  HANDLE h = handle_of(f);
  if (h == nullptr) return bad_handle();
  const FILETIME a = to_filetime(atime_ns), m = to_filetime(mtime_ns);
  return with_write_attributes(h, [&](HANDLE target) { return ::SetFileTime(target, nullptr, &a, &m); });
}

std::error_code utime(const std::string& path, std::int64_t atime_ns, std::int64_t mtime_ns) {
  std::wstring w;
  if (auto ec = widen(path, w)) return ec;
  HANDLE h = open_meta(w, FILE_WRITE_ATTRIBUTES, false);
  if (h == INVALID_HANDLE_VALUE) return path_error(w);
  auto ec = futime(reinterpret_cast<native_file>(h), atime_ns, mtime_ns);
  ::CloseHandle(h);
  return ec;
}

}  // namespace eddy::contract::fs
