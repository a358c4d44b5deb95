// eddy::co file system (eddy/co/fs.hpp) on every port: operations and their errors in both
// forms, a round trip through files and directories.
#include <string>
#include <vector>

#include "co_fixture.hpp"

namespace {

using namespace std::chrono_literals;
using eddy::errc;
using eddy::task;
using eddy_test::CoTest;
namespace co = eddy::co;

class CoFsTest : public CoTest {};
EDDY_INSTANTIATE_PORTS(CoFsTest);

TEST_P(CoFsTest, FileOperationsAndTheirErrors) {
  const std::string path = "eddy_co_test_" + std::string(eddy::to_string(GetParam())) + ".txt";
  auto t = [&]() -> task<std::string> {
    co_await co::write_file(loop(), path, "some content");
    auto st = co_await co::stat(loop(), path);
    EXPECT_EQ(st.size, 12u);
    std::string data = co_await co::read_file(loop(), path);
    co_await co::unlink(loop(), path);
    auto gone = co_await co::read_file(loop(), path, co::nothrow);
    EXPECT_EQ(gone.error, errc::no_such_file);
    co_return data;
  };
  EXPECT_EQ(run(t()), "some content");
  auto missing = [&]() -> task<std::string> { co_return co_await co::read_file(loop(), "no/such/dir/file"); };
  try {
    run(missing());
    ADD_FAILURE() << "no exception";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), errc::no_such_file);
    EXPECT_NE(std::string(e.what()).find("no/such/dir/file"), std::string::npos) << e.what();
  }
}

TEST_P(CoFsTest, FileRoundTripDirectoriesAndErrors) {
  using eddy::fs::open_flags;
  auto t = [&]() -> task<> {
    const std::string dir = co_await co::mkdtemp(loop(), "eddy_co_fs_XXXXXX");
    const std::string path = dir + "/data.txt";
    auto f = co_await co::open(loop(), path, open_flags::write | open_flags::create | open_flags::truncate, 0644);
    EXPECT_EQ(co_await co::write(loop(), f, eddy::buffer("hello, "), -1), 7u);
    const eddy::const_buffer more[] = {eddy::buffer("file"), eddy::buffer("s")};
    EXPECT_EQ(co_await co::write(loop(), f, more, -1), 5u);
    co_await co::fsync(loop(), f);
    EXPECT_EQ((co_await co::fstat(loop(), f)).size, 12u);
    co_await co::ftruncate(loop(), f, 11);
    co_await co::close(loop(), f);

    f = co_await co::open(loop(), path, open_flags::read, 0);
    char buf[32] = {};
    auto n = co_await co::read(loop(), f, std::as_writable_bytes(std::span(buf)), 0);
    EXPECT_EQ(std::string(buf, n), "hello, file");
    auto at_end = co_await co::read(loop(), f, std::as_writable_bytes(std::span(buf)), 11, co::nothrow);
    EXPECT_TRUE(at_end && at_end.value == 0u);
    co_await co::close(loop(), f);

    co_await co::mkdir(loop(), dir + "/sub", 0755);
    co_await co::copyfile(loop(), path, dir + "/sub/copy.txt", eddy::fs::copy_flags::none);
    co_await co::rename(loop(), dir + "/sub/copy.txt", dir + "/sub/moved.txt");
    co_await co::access(loop(), dir + "/sub/moved.txt", eddy::fs::access_mode::read);
    EXPECT_EQ(co_await co::read_file(loop(), dir + "/sub/moved.txt"), "hello, file");
    auto entries = co_await co::scandir(loop(), dir + "/sub");
    EXPECT_TRUE(entries.size() == 1 && entries[0].name == "moved.txt" &&
                entries[0].type == eddy::fs::file_type::regular);
    EXPECT_EQ((co_await co::lstat(loop(), dir + "/sub")).type, eddy::fs::file_type::directory);
    auto not_empty = co_await co::rmdir(loop(), dir + "/sub", co::nothrow);
    EXPECT_TRUE(not_empty.error == errc::directory_not_empty || not_empty.error == errc::file_exists)
        << not_empty.error.message();
    co_await co::unlink(loop(), dir + "/sub/moved.txt");
    co_await co::rmdir(loop(), dir + "/sub");
    auto gone = co_await co::scandir(loop(), dir + "/sub", co::nothrow);
    EXPECT_EQ(gone.error, errc::no_such_file);
    co_await co::unlink(loop(), path);
    co_await co::rmdir(loop(), dir);
    // The thrown error names the call and the path.
    co_await co::open(loop(), dir + "/missing", open_flags::read, 0);
  };
  try {
    run(t());
    ADD_FAILURE() << "no exception";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), errc::no_such_file);
    const std::string what = e.what();
    EXPECT_NE(what.find("open"), std::string::npos) << what;
    EXPECT_NE(what.find("eddy_co_fs_"), std::string::npos) << what;
    EXPECT_NE(what.find("/missing"), std::string::npos) << what;
  }
}

}  // namespace
