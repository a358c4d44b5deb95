// The links and names of eddy::fs on Windows (platform/contract/fs.hpp): hard and symbolic
// links, reading a link (its reparse point), the canonical path. Run on the thread pool or
// the caller's thread, like the rest of platform/win32/fs.cpp.
#include "platform/win32/fs_win32.hpp"

#include <winioctl.h>

#include <cstring>

namespace eddy::contract::fs {
namespace {

using namespace ::eddy::platform::win32;

// REPARSE_DATA_BUFFER (ntifs.h, which mingw's user-mode headers do not ship).
struct reparse_data {
  ULONG tag;
  USHORT data_length;
  USHORT reserved;
  USHORT substitute_offset, substitute_length, print_offset, print_length;
  // Symbolic links have ULONG flags here before the names; mount points do not.
};

}  // namespace

std::error_code link(const std::string& existing, const std::string& new_path) {
  std::wstring a, b;
  if (auto ec = widen(existing, a)) return ec;
  if (auto ec = widen(new_path, b)) return ec;
  if (!::CreateHardLinkW(b.c_str(), a.c_str(), nullptr)) return path_error(a);
  return {};
}

std::error_code symlink(const std::string& target, const std::string& path, eddy::fs::symlink_flags flags) {
  const auto bits = static_cast<std::uint32_t>(flags);
  if ((bits & static_cast<std::uint32_t>(eddy::fs::symlink_flags::junction)) != 0) return make_error_code(errc::not_supported);
  std::wstring t, p;
  if (auto ec = widen(target, t)) return ec;
  if (auto ec = widen(path, p)) return ec;
  // Developer mode lets unprivileged users make links; older systems refuse the flag.
  DWORD f = (bits & static_cast<std::uint32_t>(eddy::fs::symlink_flags::directory)) != 0 ? SYMBOLIC_LINK_FLAG_DIRECTORY : 0;
  BOOL ok = ::CreateSymbolicLinkW(p.c_str(), t.c_str(), f | 0x2 /* SYMBOLIC_LINK_FLAG_ALLOW_UNPRIVILEGED_CREATE */);
  DWORD e = ::GetLastError();
  if (!ok && e == ERROR_INVALID_PARAMETER) {
    ok = ::CreateSymbolicLinkW(p.c_str(), t.c_str(), f);
    e = ::GetLastError();
  }
  if (!ok) return path_error(p, e);
  // Wine 8's CreateSymbolicLinkW is a stub that reports success and makes nothing.
  const DWORD a = attributes(p);
  if (a == INVALID_FILE_ATTRIBUTES || (a & FILE_ATTRIBUTE_REPARSE_POINT) == 0) return make_error_code(errc::not_supported);
  return {};
}

std::error_code readlink(const std::string& path, std::string& out) {
  std::wstring w;
  if (auto ec = widen(path, w)) return ec;
  HANDLE h = open_meta(w, 0, true);
  if (h == INVALID_HANDLE_VALUE) return path_error(w);
  alignas(8) char buf[16 * 1024];
  DWORD got = 0;
  const BOOL ok = ::DeviceIoControl(h, FSCTL_GET_REPARSE_POINT, nullptr, 0, buf, sizeof buf, &got, nullptr);
  const DWORD e = ::GetLastError();
  ::CloseHandle(h);
  if (!ok) return win32_error(e);
  reparse_data r;
  std::memcpy(&r, buf, sizeof r);
  const char* names = buf + sizeof r;
  if (r.tag == IO_REPARSE_TAG_SYMLINK) {
    names += sizeof(ULONG);
  } else if (r.tag != IO_REPARSE_TAG_MOUNT_POINT) {
    return make_error_code(errc::invalid_argument);  // another kind of reparse point: not a link
  }
  const bool use_print = r.print_length != 0;
  const std::size_t off = use_print ? r.print_offset : r.substitute_offset;
  const std::size_t len = (use_print ? r.print_length : r.substitute_length) / sizeof(wchar_t);
  if (names + off + len * sizeof(wchar_t) > buf + got) return make_error_code(errc::invalid_argument);
  std::wstring name(len, L'\0');
  std::memcpy(name.data(), names + off, len * sizeof(wchar_t));
  if (!use_print && name.rfind(L"\\??\\", 0) == 0) name.erase(0, 4);
  return to_utf8(name.data(), static_cast<int>(name.size()), out);
}

std::error_code realpath(const std::string& path, std::string& out) {
  std::wstring w;
  if (auto ec = widen(path, w)) return ec;
  HANDLE h = open_meta(w, FILE_READ_ATTRIBUTES, false);
  if (h == INVALID_HANDLE_VALUE) return path_error(w);
  std::wstring full(MAX_PATH, L'\0');
  DWORD n = ::GetFinalPathNameByHandleW(h, full.data(), static_cast<DWORD>(full.size()), VOLUME_NAME_DOS);
  if (n >= full.size()) {
    full.resize(n + 1);
    n = ::GetFinalPathNameByHandleW(h, full.data(), static_cast<DWORD>(full.size()), VOLUME_NAME_DOS);
  }
  const DWORD e = ::GetLastError();
  ::CloseHandle(h);
  if (n == 0 || n >= full.size()) return win32_error(e);
  full.resize(n);
  if (full.rfind(L"\\\\?\\UNC\\", 0) == 0) {
    full.replace(0, 8, L"\\\\");
  } else if (full.rfind(L"\\\\?\\", 0) == 0) {
    full.erase(0, 4);
  }
  return to_utf8(full.data(), static_cast<int>(full.size()), out);
}

}  // namespace eddy::contract::fs
