// What platform/win32/fs.cpp and fs_link.cpp share: the UTF-16 paths, the error mapping of a
// failed call on a path, times, handles. Private to platform/win32/ (includes <windows.h>).
// The Windows twin of platform/posix/fs_posix.hpp.
#pragma once

#include "platform/win32/win32.hpp"
#include "platform/win32/utf16.hpp"

#include <cstdint>
#include <string>
#include <system_error>

#include "platform/contract/fs.hpp"

namespace eddy::platform::win32 {

using contract::fs::native_file;

constexpr std::int64_t epoch_diff_100ns = 116444736000000000LL;  // 1601-01-01 to 1970-01-01

inline std::error_code win32_error(DWORD e = ::GetLastError()) noexcept { return from_win32(e); }

// A handle value from the core, or nullptr for file::invalid: INVALID_HANDLE_VALUE is
// refused here because the same bits are GetCurrentProcess()'s pseudo-handle, which some
// calls would accept.
inline HANDLE handle_of(native_file f) noexcept {
  HANDLE h = reinterpret_cast<HANDLE>(f);
  return h == INVALID_HANDLE_VALUE ? nullptr : h;
}

inline std::error_code bad_handle() noexcept { return make_error_code(errc::bad_descriptor); }

inline DWORD attributes(const std::wstring& w) noexcept { return ::GetFileAttributesW(w.c_str()); }

// The error for a failed call on a path. Windows says "path not found" where POSIX says
// ENOTDIR (a parent is a file): look up the parents to tell the two apart.
inline std::error_code path_error(const std::wstring& w, DWORD e = ::GetLastError()) {
  if (e == ERROR_PATH_NOT_FOUND) {
    std::wstring p = w;
    for (;;) {
      const auto slash = p.find_last_of(L"/\\");
      if (slash == std::wstring::npos || slash == 0) break;
      p.resize(slash);
      const DWORD a = attributes(p);
      if (a != INVALID_FILE_ATTRIBUTES) {
        if ((a & FILE_ATTRIBUTE_DIRECTORY) == 0) return make_error_code(errc::not_a_directory);
        break;
      }
    }
  }
  return from_win32(e);
}

inline std::error_code widen(const std::string& path, std::wstring& w) {
  if (path.empty()) return make_error_code(errc::no_such_file);
  return to_wide(path, w);
}

inline std::int64_t to_ns(const LARGE_INTEGER& t) noexcept { return (t.QuadPart - epoch_diff_100ns) * 100; }

inline FILETIME to_filetime(std::int64_t ns) noexcept {
  const std::uint64_t v = static_cast<std::uint64_t>(ns / 100 + epoch_diff_100ns);
  return {static_cast<DWORD>(v), static_cast<DWORD>(v >> 32)};
}

// Opens a path for metadata only (directories too); for lstat/readlink the link itself.
inline HANDLE open_meta(const std::wstring& w, DWORD access, bool no_follow) noexcept {
  return ::CreateFileW(w.c_str(), access, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                       OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS | (no_follow ? FILE_FLAG_OPEN_REPARSE_POINT : 0),
                       nullptr);
}

}  // namespace eddy::platform::win32
