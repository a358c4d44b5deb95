// eddy::os (eddy/os.hpp): the facts about this process and machine are sane, the environment
// and the working directory change and read back.
#include <algorithm>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "eddy/os.hpp"
#include "eddy/error.hpp"
#include "helper_path.hpp"

namespace {

using eddy_test::same_directory;

TEST(OsUtilities, ReturnSaneValues) {
  std::error_code ec;
  const std::string exe = eddy::os::executable_path(ec);
  EXPECT_FALSE(ec);
  EXPECT_NE(exe.find("eddy_tests"), std::string::npos) << exe;
  EXPECT_TRUE(std::filesystem::exists(exe)) << exe;

  const std::string here = eddy::os::cwd(ec);
  EXPECT_FALSE(ec);
  EXPECT_FALSE(here.empty());
  const auto tmp = std::filesystem::temp_directory_path();
  ASSERT_FALSE(eddy::os::chdir(tmp.string()));
  EXPECT_TRUE(same_directory(eddy::os::cwd(ec), tmp));
  ASSERT_FALSE(eddy::os::chdir(here));
  EXPECT_EQ(eddy::os::cwd(ec), here);
  EXPECT_EQ(eddy::os::chdir(""), eddy::errc::invalid_argument);
  EXPECT_EQ(eddy::os::chdir((tmp / "eddy-no-such-directory").string()), eddy::errc::no_such_file);

  EXPECT_GT(eddy::os::pid(), 0);
  // Under Wine a process started from Linux has no Windows parent (0); the child's view
  // of its parent is checked by ProcessTest.TheChildSeesItsPidAndParent.
  EXPECT_GE(eddy::os::parent_pid(), 0);
  EXPECT_NE(eddy::os::pid(), eddy::os::parent_pid());

  ASSERT_FALSE(eddy::os::setenv("EDDY_OS_TEST", "v 1"));
  EXPECT_EQ(eddy::os::getenv("EDDY_OS_TEST"), "v 1");
  const auto env = eddy::os::environment();
  EXPECT_NE(std::find(env.begin(), env.end(), std::pair<std::string, std::string>("EDDY_OS_TEST", "v 1")), env.end());
  ASSERT_FALSE(eddy::os::unsetenv("EDDY_OS_TEST"));
  EXPECT_EQ(eddy::os::getenv("EDDY_OS_TEST"), std::nullopt);
  EXPECT_EQ(eddy::os::setenv("A=B", "x"), eddy::errc::invalid_argument);
  EXPECT_EQ(eddy::os::setenv("", "x"), eddy::errc::invalid_argument);

  EXPECT_FALSE(eddy::os::hostname(ec).empty());
  EXPECT_FALSE(ec);
  EXPECT_GE(eddy::os::available_parallelism(), 1u);
  const std::uint64_t total = eddy::os::total_memory();
  const std::uint64_t free = eddy::os::free_memory();
  EXPECT_GT(total, 16u << 20);
  EXPECT_GT(free, 0u);
  EXPECT_LE(free, total);
  const std::uint64_t rss = eddy::os::resident_set_size(ec);
  EXPECT_FALSE(ec);
  EXPECT_GT(rss, 1u << 20);
  EXPECT_LT(rss, total);
}

TEST(OsUtilities, SetenvReplacesAValueAndTheEnvironmentHoldsOneEntry) {
  ASSERT_FALSE(eddy::os::setenv("EDDY_OS_TEST_REPLACE", "one"));
  ASSERT_FALSE(eddy::os::setenv("EDDY_OS_TEST_REPLACE", "two"));
  EXPECT_EQ(eddy::os::getenv("EDDY_OS_TEST_REPLACE"), "two");
  const auto env = eddy::os::environment();
  const auto entries = std::count_if(env.begin(), env.end(), [](const auto& kv) { return kv.first == "EDDY_OS_TEST_REPLACE"; });
  EXPECT_EQ(entries, 1);
  const auto it = std::find_if(env.begin(), env.end(), [](const auto& kv) { return kv.first == "EDDY_OS_TEST_REPLACE"; });
  ASSERT_NE(it, env.end());
  EXPECT_EQ(it->second, "two");
  ASSERT_FALSE(eddy::os::unsetenv("EDDY_OS_TEST_REPLACE"));
  EXPECT_EQ(eddy::os::getenv("EDDY_OS_TEST_REPLACE"), std::nullopt);
  const auto after = eddy::os::environment();
  EXPECT_EQ(std::find_if(after.begin(), after.end(), [](const auto& kv) { return kv.first == "EDDY_OS_TEST_REPLACE"; }),
            after.end());
}

TEST(OsUtilities, AFailedChdirLeavesTheWorkingDirectory) {
  std::error_code ec;
  const std::string here = eddy::os::cwd(ec);
  ASSERT_FALSE(ec);
  const auto missing = std::filesystem::temp_directory_path() / "eddy-os-no-such-directory";
  EXPECT_EQ(eddy::os::chdir(missing.string()), eddy::errc::no_such_file);
  EXPECT_EQ(eddy::os::chdir(""), eddy::errc::invalid_argument);
  const std::string still = eddy::os::cwd(ec);
  EXPECT_FALSE(ec);
  EXPECT_EQ(still, here);
  EXPECT_TRUE(same_directory(still, here));
}

}  // namespace
