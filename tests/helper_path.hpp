// Where the tests find eddy_test_helper: built next to the test executable
// (EDDY_TEST_HELPER_NAME, see tests/CMakeLists.txt).
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "eddy/os.hpp"

namespace eddy_test {

inline std::string helper_path() {
  std::error_code ec;
  std::string exe = eddy::os::executable_path(ec);
  EXPECT_FALSE(ec) << ec.message();
  return exe.substr(0, exe.find_last_of("/\\") + 1) + EDDY_TEST_HELPER_NAME;
}

}  // namespace eddy_test
