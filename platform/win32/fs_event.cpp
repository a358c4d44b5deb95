// fs_event on Windows (platform/contract/fs_event.hpp): ReadDirectoryChangesW on a directory HANDLE
// opened for overlapped I/O, read through the completion port (io_kind::directory). A
// single file is watched through its directory, with the records filtered to its name.
#include "platform/win32/win32.hpp"

#include <cstring>

#include "eddy/fs_event.hpp"
#include "platform/contract/fs_event.hpp"

namespace eddy::contract::fs_event {
namespace {

std::wstring widen(const std::string& s) {
  if (s.empty()) return {};
  const int n = ::MultiByteToWideChar(CP_UTF8, 0, s.data(), static_cast<int>(s.size()), nullptr, 0);
  std::wstring out(static_cast<std::size_t>(n > 0 ? n : 0), L'\0');
  if (n > 0) ::MultiByteToWideChar(CP_UTF8, 0, s.data(), static_cast<int>(s.size()), out.data(), n);
  return out;
}

std::string narrow(const wchar_t* s, int len) {
  if (len <= 0) return {};
  const int n = ::WideCharToMultiByte(CP_UTF8, 0, s, len, nullptr, 0, nullptr, nullptr);
  std::string out(static_cast<std::size_t>(n > 0 ? n : 0), '\0');
  if (n > 0) ::WideCharToMultiByte(CP_UTF8, 0, s, len, out.data(), n, nullptr, nullptr);
  return out;
}

bool is_separator(wchar_t c) noexcept { return c == L'\\' || c == L'/'; }

}  // namespace

std::error_code open(const std::string& path, target& out) {
  out = target{};
  if (path.empty()) return make_error_code(errc::invalid_argument);
  std::wstring wide = widen(path);
  if (wide.empty()) return make_error_code(errc::invalid_argument);  // not UTF-8
  const DWORD attrs = ::GetFileAttributesW(wide.c_str());
  if (attrs == INVALID_FILE_ATTRIBUTES) return from_win32(::GetLastError());
  while (wide.size() > 1 && is_separator(wide.back()) && wide[wide.size() - 2] != L':') wide.pop_back();
  const std::size_t sep = wide.find_last_of(L"\\/");
  const std::wstring base = sep == std::wstring::npos ? wide : wide.substr(sep + 1);
  std::wstring dir = wide;
  out.is_file = (attrs & FILE_ATTRIBUTE_DIRECTORY) == 0;
  if (out.is_file) dir = sep == std::wstring::npos ? std::wstring(L".") : wide.substr(0, sep + 1);
  // FILE_FLAG_BACKUP_SEMANTICS opens a directory; the sharing flags let others rename and
  // delete what is inside (and the directory itself) while it is watched.
  const HANDLE h = ::CreateFileW(dir.c_str(), FILE_LIST_DIRECTORY, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                                 nullptr, OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OVERLAPPED, nullptr);
  if (h == INVALID_HANDLE_VALUE) return from_win32(::GetLastError());
  out.native = reinterpret_cast<std::intptr_t>(h);
  out.kind = io_kind::directory;
  out.name = narrow(base.data(), static_cast<int>(base.size()));
  return {};
}

void close(target& t) noexcept {
  if (t.native != -1) ::CloseHandle(reinterpret_cast<HANDLE>(t.native));
  t.native = -1;
}

void parse(const target& t, const std::byte* buf, std::size_t len, std::vector<change>& out) {
  if (len == 0) {
    // More changed than the system kept between two reads: the records were dropped.
    out.push_back({t.is_file ? t.name : std::string(), eddy::fs_event::change});
    return;
  }
  const std::wstring wanted = t.is_file ? widen(t.name) : std::wstring();
  std::size_t pos = 0;
  for (;;) {
    if (pos + offsetof(FILE_NOTIFY_INFORMATION, FileName) > len) break;
    FILE_NOTIFY_INFORMATION info;
    std::memcpy(&info, buf + pos, offsetof(FILE_NOTIFY_INFORMATION, FileName));
    const std::size_t name_at = pos + offsetof(FILE_NOTIFY_INFORMATION, FileName);
    if (name_at + info.FileNameLength > len) break;
    const auto* name = reinterpret_cast<const wchar_t*>(buf + name_at);  // DWORD-aligned by the system
    const int chars = static_cast<int>(info.FileNameLength / sizeof(wchar_t));
    // Windows names compare without case: a watched "a.txt" is also "A.TXT".
    const bool wanted_name =
        !t.is_file || ::CompareStringOrdinal(name, chars, wanted.data(), static_cast<int>(wanted.size()), TRUE) ==
                          CSTR_EQUAL;
    if (wanted_name) {
      change c;
      c.events = info.Action == FILE_ACTION_MODIFIED ? eddy::fs_event::change : eddy::fs_event::rename;
      c.filename = t.is_file ? t.name : narrow(name, chars);
      out.push_back(std::move(c));
    }
    if (info.NextEntryOffset == 0) break;
    pos += info.NextEntryOffset;
  }
}

}  // namespace eddy::contract::fs_event
