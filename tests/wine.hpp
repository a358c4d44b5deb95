// Windows tests only: whether this process runs under Wine, for the few places where Wine
// behaves differently from Windows (each caller says how).
#pragma once

#include "platform/win32/win32.hpp"

inline bool running_under_wine() {
  HMODULE ntdll = ::GetModuleHandleW(L"ntdll.dll");
  return ntdll != nullptr && ::GetProcAddress(ntdll, "wine_get_version") != nullptr;
}
