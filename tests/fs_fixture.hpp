// The fixture of the file system tests (fs_test.cpp, fs_request_test.cpp, fs_poll_test.cpp):
// a port's loop (PortTest) and a temporary directory of the test's own, removed at TearDown,
// with helpers to name, write and read files in it and to run one callback-form request.
#pragma once

#include <filesystem>
#include <ostream>
#include <string>
#include <string_view>

#include "port_fixture.hpp"

namespace eddy::fs {
// Shows the message ("no such file or directory: open '/tmp/x'") in failed expectations.
inline void PrintTo(const error& e, std::ostream* os) { *os << (e ? e.message() : std::string("success")); }
}  // namespace eddy::fs

namespace eddy_test {

namespace fs = eddy::fs;
using eddy::errc;

class FsTest : public eddy_test::PortTest {
 protected:
  void SetUp() override {
    PortTest::SetUp();
    if (IsSkipped()) return;
    std::string base = std::filesystem::temp_directory_path().generic_string();
    if (base.size() > 1 && base.back() == '/') base.pop_back();
    ASSERT_FALSE(fs::mkdtemp(base + "/eddy-fs-XXXXXX", dir_)) << base;
  }

  void TearDown() override {
    if (!dir_.empty()) {
      std::error_code ec;
      // Read-only files cannot be removed on Windows: make everything writable first.
      for (auto& e : std::filesystem::recursive_directory_iterator(dir_, ec)) {
        std::filesystem::permissions(e.path(), std::filesystem::perms::owner_all, std::filesystem::perm_options::add,
                                     ec);
      }
      std::filesystem::remove_all(dir_, ec);
      EXPECT_FALSE(ec) << ec.message();
    }
    PortTest::TearDown();
  }

  std::string path(std::string_view name) const { return dir_ + "/" + std::string(name); }

  void put(std::string_view name, std::string_view data) { ASSERT_FALSE(fs::write_file(path(name), data)); }

  std::string get(std::string_view name) {
    std::string out;
    EXPECT_FALSE(fs::read_file(path(name), out));
    return out;
  }

  // Runs one callback-form request to completion and returns its error.
  template <class Start>
  fs::error finish(Start start) {
    fs::error result(eddy::make_error_code(errc::unknown), "never called back");
    start([&](const fs::error& err, auto&&...) { result = err; });
    loop().run();
    return result;
  }

  std::string dir_;
};

}  // namespace eddy_test
