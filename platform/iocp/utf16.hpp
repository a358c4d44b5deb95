// UTF-8 <-> UTF-16 for the Win32 calls (named pipes, file paths). eddy's strings are UTF-8.
#pragma once

#include <string>
#include <string_view>
#include <system_error>

#include "eddy/error.hpp"
#include "platform/iocp/win32.hpp"

namespace eddy::platform::iocp {

// An empty or malformed UTF-8 string is invalid_argument.
inline std::error_code to_wide(std::string_view in, std::wstring& out) noexcept {
  if (in.empty()) return make_error_code(errc::invalid_argument);
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

}  // namespace eddy::platform::iocp
