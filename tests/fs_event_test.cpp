// fs_event on every port (iocp under Wine too). Changes are made with std::filesystem and
// fstream, each test in a fresh temporary directory. The watch exists once start() has
// returned, so the test makes its change right after it and runs the loop until the
// expected event arrives; a 10 s guard timer fails the test if it never does.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "port_fixture.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using eddy_test::PortTest;

struct seen {
  std::string name;
  unsigned events;
};

class FsEventTest : public PortTest {
 protected:
  void SetUp() override {
    PortTest::SetUp();
    if (IsSkipped()) return;
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("eddy-fs-event-" + std::to_string(rd()) + "-" + std::to_string(rd()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    PortTest::TearDown();
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  static void write(const fs::path& p, const std::string& text, bool append = false) {
    std::ofstream f(p, append ? std::ios::app : std::ios::trunc);
    f << text;
  }

  // Starts w on path, calls act(), then runs the loop until done(events so far) is true
  // (the watcher and the guard are closed then) or the guard fires.
  template <class Act, class Done>
  std::vector<seen> watch(const fs::path& path, Act act, Done done) {
    std::vector<seen> got;
    eddy::fs_event w(loop());
    eddy::timer guard(loop());
    bool finished = false;
    auto finish = [&] {
      finished = true;
      w.close();
      guard.close();
    };
    auto ec = w.start(path.string(), [&](std::error_code e, std::string_view name, unsigned events) {
      EXPECT_FALSE(e) << e.message();
      got.push_back({std::string(name), events});
      if (!finished && done(got)) finish();
    });
    EXPECT_FALSE(ec) << ec.message();
    if (ec) return got;
    EXPECT_TRUE(w.is_active());
    EXPECT_EQ(w.path(), path.string());
    guard.start(10s, [&] {
      ADD_FAILURE() << "the expected event did not come";
      finish();
    });
    act();
    loop().run();
    return got;
  }

  static bool has(const std::vector<seen>& got, const std::string& name, unsigned bit) {
    for (const auto& s : got) {
      if (s.name == name && (s.events & bit) != 0) return true;
    }
    return false;
  }

  fs::path dir_;
};
EDDY_INSTANTIATE_PORTS(FsEventTest);

TEST_P(FsEventTest, CreatingAFileInAWatchedDirectoryIsARename) {
  auto got = watch(
      dir_, [&] { write(dir_ / "new.txt", "x"); },
      [](const std::vector<seen>& g) { return has(g, "new.txt", eddy::fs_event::rename); });
  EXPECT_TRUE(has(got, "new.txt", eddy::fs_event::rename));
}

TEST_P(FsEventTest, AChangeMadeWhileTheLoopWaitsIsReported) {
  // The read is in the kernel (or the port's queue) when the change happens.
  eddy::timer later(loop());
  auto got = watch(
      dir_,
      [&] {
        later.start(5ms, [&] {
          write(dir_ / "late.txt", "x");
          later.close();
        });
      },
      [](const std::vector<seen>& g) { return has(g, "late.txt", eddy::fs_event::rename); });
  EXPECT_TRUE(has(got, "late.txt", eddy::fs_event::rename));
}

TEST_P(FsEventTest, ModifyingAFileInAWatchedDirectoryIsAChange) {
  write(dir_ / "data.txt", "one");
  auto got = watch(
      dir_, [&] { write(dir_ / "data.txt", "two", true); },
      [](const std::vector<seen>& g) { return has(g, "data.txt", eddy::fs_event::change); });
  EXPECT_TRUE(has(got, "data.txt", eddy::fs_event::change));
}

TEST_P(FsEventTest, RenamingInAWatchedDirectoryNamesBothNames) {
  write(dir_ / "old.txt", "x");
  auto got = watch(
      dir_, [&] { fs::rename(dir_ / "old.txt", dir_ / "renamed.txt"); },
      [](const std::vector<seen>& g) {
        return has(g, "old.txt", eddy::fs_event::rename) && has(g, "renamed.txt", eddy::fs_event::rename);
      });
  EXPECT_TRUE(has(got, "old.txt", eddy::fs_event::rename));
  EXPECT_TRUE(has(got, "renamed.txt", eddy::fs_event::rename));
}

TEST_P(FsEventTest, AWatchedFileReportsItsOwnChangesOnly) {
  write(dir_ / "watched.txt", "one");
  auto got = watch(
      dir_ / "watched.txt",
      [&] {
        write(dir_ / "sibling.txt", "not watched");  // first: it would arrive first
        write(dir_ / "watched.txt", "two", true);
      },
      [](const std::vector<seen>& g) { return has(g, "watched.txt", eddy::fs_event::change); });
  EXPECT_TRUE(has(got, "watched.txt", eddy::fs_event::change));
  for (const auto& s : got) EXPECT_EQ(s.name, "watched.txt");
}

TEST_P(FsEventTest, RenamingAWatchedFileIsARename) {
  write(dir_ / "watched.txt", "one");
  auto got = watch(
      dir_ / "watched.txt", [&] { fs::rename(dir_ / "watched.txt", dir_ / "moved.txt"); },
      [](const std::vector<seen>& g) { return has(g, "watched.txt", eddy::fs_event::rename); });
  EXPECT_TRUE(has(got, "watched.txt", eddy::fs_event::rename));
}

TEST_P(FsEventTest, StopWhileWaitingEndsTheWatchAndItCanStartAgain) {
  eddy::fs_event w(loop());
  int calls = 0;
  ASSERT_FALSE(w.start(dir_.string(), [&](std::error_code, std::string_view, unsigned) { ++calls; }));
  EXPECT_EQ(w.start(dir_.string(), [](std::error_code, std::string_view, unsigned) {}), eddy::errc::already_started);
  w.stop();
  EXPECT_FALSE(w.is_active());
  EXPECT_EQ(w.path(), "");
  write(dir_ / "after-stop.txt", "x");
  loop().run();  // returns: nothing is active; the stopped read comes back and its watch closes
  EXPECT_EQ(calls, 0);

  // Started again, it reports new changes (and nothing from while it was stopped).
  std::vector<std::string> names;
  eddy::timer guard(loop());
  ASSERT_FALSE(w.start(dir_.string(), [&](std::error_code ec, std::string_view name, unsigned) {
    EXPECT_FALSE(ec) << ec.message();
    names.emplace_back(name);
    if (name == "again.txt") {
      w.stop();
      guard.close();
    }
  }));
  guard.start(10s, [&] {
    ADD_FAILURE() << "no event after restarting";
    w.stop();
    guard.close();
  });
  write(dir_ / "again.txt", "x");
  loop().run();
  ASSERT_FALSE(names.empty());
  EXPECT_EQ(names.back(), "again.txt");
  for (const auto& n : names) EXPECT_NE(n, "after-stop.txt");
  w.close();
  loop().run();
}

TEST_P(FsEventTest, CloseWhileWaitingRunsOnlyTheCloseCallback) {
  auto w = std::make_unique<eddy::fs_event>(loop());
  int calls = 0;
  bool closed = false;
  ASSERT_FALSE(w->start(dir_.string(), [&](std::error_code, std::string_view, unsigned) { ++calls; }));
  eddy::timer t(loop());
  t.start(1ms, [&] {
    w->close([&] { closed = true; });
    write(dir_ / "after-close.txt", "x");
    t.close();
  });
  loop().run();
  EXPECT_TRUE(closed);
  EXPECT_EQ(calls, 0);
}

TEST_P(FsEventTest, StoppingInsideTheCallbackEndsDelivery) {
  eddy::fs_event w(loop());
  int calls = 0;
  ASSERT_FALSE(w.start(dir_.string(), [&](std::error_code, std::string_view, unsigned) {
    ++calls;
    w.stop();
  }));
  // (std::string("f").append(...), not "f" + ...: GCC 12 at -O3 reports a false -Wrestrict there.)
  for (int i = 0; i < 5; ++i) write(dir_ / std::string("f").append(std::to_string(i)), "x");
  eddy::timer guard(loop());
  guard.start(10s, [&] {
    w.stop();
    guard.close();
  });
  while (calls == 0 && guard.is_active()) loop().run(eddy::run_mode::once);
  guard.close();
  loop().run();
  EXPECT_EQ(calls, 1);
  w.close();
}

TEST_P(FsEventTest, BadPaths) {
  eddy::fs_event w(loop());
  auto noop = [](std::error_code, std::string_view, unsigned) {};
  EXPECT_EQ(w.start((dir_ / "missing").string(), noop), eddy::errc::no_such_file);
  EXPECT_EQ(w.start("", noop), eddy::errc::invalid_argument);
  EXPECT_FALSE(w.is_active());
  w.close();
  EXPECT_EQ(w.start(dir_.string(), noop), eddy::errc::closed);
}

}  // namespace
