// Where the tests find eddy_test_helper: built next to the test executable
// (EDDY_TEST_HELPER_NAME, see tests/CMakeLists.txt); and same_directory, for the tests that
// compare working directories (process_test.cpp, os_test.cpp).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string>

#include "eddy/os.hpp"

namespace eddy_test {

inline std::string helper_path() {
  std::error_code ec;
  std::string exe = eddy::os::executable_path(ec);
  EXPECT_FALSE(ec) << ec.message();
  return exe.substr(0, exe.find_last_of("/\\") + 1) + EDDY_TEST_HELPER_NAME;
}

// The same directory? Wine's std::filesystem::equivalent cannot tell (no file ids), so on
// Windows the normalised names are compared, case-insensitively.
inline bool same_directory(const std::filesystem::path& a, const std::filesystem::path& b) {
#if defined(_WIN32)
  auto norm = [](const std::filesystem::path& p) {
    std::string s = std::filesystem::absolute(p).lexically_normal().string();
    while (s.size() > 3 && (s.back() == '\\' || s.back() == '/')) s.pop_back();
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
  };
  return norm(a) == norm(b);
#else
  return std::filesystem::equivalent(a, b);
#endif
}

}  // namespace eddy_test
