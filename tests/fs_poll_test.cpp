// fs_poll on every port: it sees a file appear, change and disappear, stays quiet while
// nothing changes and stops, and closes safely with a stat out. Every test works in its own
// temporary directory.
#include <algorithm>
#include <array>
#include <cstdio>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "eddy/fs_poll.hpp"
#include "fs_fixture.hpp"

namespace {

namespace fs = eddy::fs;
using eddy::errc;
using eddy_test::FsTest;

class FsPollTest : public FsTest {};
EDDY_INSTANTIATE_PORTS(FsPollTest);

TEST_P(FsPollTest, FsPollSeesAppearChangeAndDisappear) {
  // Each step is taken in the callback of the previous one, so no timing is assumed.
  eddy::fs_poll poll(loop());
  int step = 0;
  std::vector<std::string> seen;
  ASSERT_FALSE(poll.start(path("watched"), std::chrono::milliseconds(5),
                          [&](const fs::error& err, const fs::stat_info& prev, const fs::stat_info& curr) {
                            switch (step++) {
                              case 0:  // the baseline fails: no such file yet
                                EXPECT_EQ(err, errc::no_such_file);
                                EXPECT_EQ(err.path(), path("watched"));
                                EXPECT_EQ(curr.size, 0u);
                                put("watched", "abc");
                                break;
                              case 1:  // it appeared
                                EXPECT_FALSE(err) << err.message();
                                EXPECT_EQ(prev, fs::stat_info{});
                                EXPECT_EQ(curr.size, 3u);
                                EXPECT_EQ(curr.type, fs::file_type::regular);
                                put("watched", "abcdef");
                                break;
                              case 2:  // it changed
                                EXPECT_FALSE(err) << err.message();
                                EXPECT_EQ(prev.size, 3u);
                                EXPECT_EQ(curr.size, 6u);
                                ASSERT_FALSE(fs::unlink(path("watched")));
                                break;
                              case 3:  // it went away
                                EXPECT_EQ(err, errc::no_such_file);
                                EXPECT_EQ(prev.size, 6u);
                                EXPECT_EQ(curr, fs::stat_info{});
                                poll.close();
                                break;
                              default:
                                ADD_FAILURE() << "unexpected callback " << step;
                            }
                          }));
  EXPECT_EQ(poll.path(), path("watched"));
  EXPECT_TRUE(poll.is_active());
  loop().run();
  EXPECT_EQ(step, 4);
}

TEST_P(FsPollTest, FsPollIsQuietWhileNothingChangesAndStops) {
  put("still", "x");
  eddy::fs_poll poll(loop());
  int calls = 0;
  ASSERT_FALSE(poll.start(path("still"), std::chrono::milliseconds(1),
                          [&](const fs::error&, const fs::stat_info&, const fs::stat_info&) { ++calls; }));
  // Let it poll a number of times: a timer that fires after many intervals.
  eddy::timer t(loop());
  t.start(std::chrono::milliseconds(30), [&] {
    poll.stop();
    EXPECT_FALSE(poll.is_active());
    EXPECT_EQ(poll.path(), "");
    t.close();
  });
  loop().run();
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(poll.start("", std::chrono::milliseconds(1), [](auto&&...) {}), errc::invalid_argument);
  EXPECT_EQ(poll.start(path("still"), std::chrono::milliseconds(0), [](auto&&...) {}), errc::invalid_argument);
  poll.close();
  EXPECT_EQ(poll.start(path("still"), std::chrono::milliseconds(1), [](auto&&...) {}), errc::closed);
}

TEST_P(FsPollTest, ClosingAnFsPollWithAStatOutIsSafe) {
  put("f", "x");
  bool closed = false;
  {
    auto* poll = new eddy::fs_poll(loop());
    ASSERT_FALSE(poll->start(path("f"), std::chrono::milliseconds(1), [](auto&&...) {}));
    poll->close([&] { closed = true; });  // the baseline stat is still out
    delete poll;                          // the runtime keeps its state until the stat is back
  }
  loop().run();
  EXPECT_TRUE(closed);
  EXPECT_EQ(loop().handle_count(), 0u);
}

}  // namespace
