// UTF-8 <-> UTF-16 for the Windows API calls (names, paths, command lines, environments).
// Private to platform/win32/ and platform/iocp/; includes <windows.h>.
#pragma once

#include "platform/win32/win32.hpp"

#include <string>
#include <string_view>
#include <system_error>

#include "eddy/error.hpp"

namespace eddy::platform::win32 {

// invalid_argument for text that is not UTF-8; an empty input gives an empty output.
inline std::error_code to_wide(std::string_view in, std::wstring& out) noexcept {
  out.clear();
  if (in.empty()) return {};
  const int n = ::MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, in.data(), static_cast<int>(in.size()), nullptr, 0);
  if (n <= 0) return make_error_code(errc::invalid_argument);
  try {
    out.assign(static_cast<std::size_t>(n), L'\0');
  } catch (...) {
    return make_error_code(errc::no_memory);
  }
  ::MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, in.data(), static_cast<int>(in.size()), out.data(), n);
  return {};
}

// len: the number of UTF-16 units, or -1 for a NUL-terminated string (the NUL is then
// part of the output, as WideCharToMultiByte counts it).
inline std::error_code to_utf8(const wchar_t* in, int len, std::string& out) noexcept {
  const int n = ::WideCharToMultiByte(CP_UTF8, 0, in, len, nullptr, 0, nullptr, nullptr);
  if (n < 0) return make_error_code(errc::invalid_argument);
  try {
    out.assign(static_cast<std::size_t>(n), '\0');
  } catch (...) {
    return make_error_code(errc::no_memory);
  }
  if (n > 0) ::WideCharToMultiByte(CP_UTF8, 0, in, len, out.data(), n, nullptr, nullptr);
  return {};
}

}  // namespace eddy::platform::win32
