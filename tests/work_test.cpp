// The thread pool on every port: work runs off the loop thread, after_work on it; cancel;
// exceptions; slow I/O limits; pending work keeps the loop alive.
#include <atomic>
#include <cstdlib>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "port_fixture.hpp"

#if !defined(_WIN32)
#include <sys/wait.h>
#include <unistd.h>
#endif

namespace {

using eddy_test::PortTest;

class WorkTest : public PortTest {};
EDDY_INSTANTIATE_PORTS(WorkTest);

TEST_P(WorkTest, WorkRunsOnThePoolAndAfterWorkOnTheLoop) {
  const auto loop_thread = std::this_thread::get_id();
  std::thread::id work_thread, after_thread;
  int result = 0;
  bool after_ran = false;
  eddy::queue_work(
      loop(),
      [&] {
        work_thread = std::this_thread::get_id();
        result = 6 * 7;
      },
      [&](std::error_code ec) {
        EXPECT_FALSE(ec);
        after_thread = std::this_thread::get_id();
        after_ran = true;
      });
  EXPECT_TRUE(loop().alive());  // pending work keeps the loop alive
  loop().run();
  EXPECT_TRUE(after_ran);
  EXPECT_EQ(result, 42);
  EXPECT_NE(work_thread, loop_thread);
  EXPECT_EQ(after_thread, loop_thread);
  EXPECT_GE(eddy::threadpool_stats().threads, 1u);
}

TEST_P(WorkTest, ManyCompletionsArriveAndAllRun) {
  constexpr int n = 2000;
  std::atomic<int> ran{0};
  int after = 0;
  for (int i = 0; i < n; ++i) {
    eddy::queue_work(loop(), [&] { ran.fetch_add(1); }, [&](std::error_code ec) {
      EXPECT_FALSE(ec);
      ++after;
    });
  }
  auto before = loop().metrics();
  loop().run();
  EXPECT_EQ(ran.load(), n);
  EXPECT_EQ(after, n);
  // Many completions per wake: far fewer iterations than requests.
  EXPECT_LT(loop().metrics().iterations - before.iterations, static_cast<std::uint64_t>(n));
}

TEST_P(WorkTest, CancelBeforeItStarts) {
  // Occupy every pool thread so the next request stays queued.
  const std::size_t threads = eddy_test::pool_threads();
  std::mutex m;
  std::condition_variable cv;
  bool release = false;
  int blockers_done = 0;
  std::atomic<std::size_t> started{0};
  for (std::size_t i = 0; i < threads; ++i) {
    eddy::queue_work(
        loop(),
        [&] {
          started.fetch_add(1);
          std::unique_lock lock(m);
          cv.wait(lock, [&] { return release; });
        },
        [&](std::error_code) { ++blockers_done; });
  }
  bool ran = false;
  std::error_code result;
  auto req = eddy::queue_work(loop(), [&] { ran = true; }, [&](std::error_code ec) { result = ec; });
  EXPECT_TRUE(req.cancel());
  EXPECT_FALSE(req.cancel());  // only once
  {
    std::lock_guard lock(m);
    release = true;
  }
  cv.notify_all();
  loop().run();
  EXPECT_FALSE(ran);
  EXPECT_EQ(result, eddy::errc::operation_canceled);
  EXPECT_EQ(blockers_done, static_cast<int>(threads));
  EXPECT_FALSE(eddy::work_request{}.cancel());
}

TEST_P(WorkTest, AnExceptionInWorkReachesTheHandler) {
  std::string caught;
  loop().set_uncaught_exception_handler([&](std::exception_ptr e) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      caught = ex.what();
    }
  });
  std::error_code result;
  eddy::queue_work(loop(), [] { throw std::runtime_error("work failed"); }, [&](std::error_code ec) { result = ec; });
  loop().run();
  EXPECT_EQ(caught, "work failed");
  EXPECT_EQ(result, eddy::errc::unknown);
}

TEST_P(WorkTest, SlowIoUsesAtMostHalfTheThreads) {
  std::mutex m;
  std::condition_variable cv;
  std::size_t running_slow = 0, max_slow = 0;
  bool release = false;
  const std::size_t threads = eddy::threadpool_stats().threads > 0 ? eddy::threadpool_stats().threads : 4;
  std::atomic<int> fast_done{0};
  int after = 0;
  const int slow_count = static_cast<int>(threads) * 2;
  for (int i = 0; i < slow_count; ++i) {
    eddy::queue_work(
        loop(),
        [&] {
          std::unique_lock lock(m);
          ++running_slow;
          max_slow = std::max(max_slow, running_slow);
          cv.notify_all();
          cv.wait(lock, [&] { return release; });
          --running_slow;
        },
        [&](std::error_code) { ++after; }, eddy::work_kind::slow_io);
  }
  // Fast work still gets through while slow work holds its half of the pool.
  eddy::queue_work(loop(), [&] { fast_done.fetch_add(1); }, [&](std::error_code) {
    ++after;
    {
      std::lock_guard lock(m);
      release = true;
    }
    cv.notify_all();
  }, eddy::work_kind::fast_io);
  loop().run();
  EXPECT_EQ(fast_done.load(), 1);
  EXPECT_EQ(after, slow_count + 1);
  EXPECT_LE(max_slow, std::max<std::size_t>(1, eddy::threadpool_stats().threads / 2));
  EXPECT_GE(max_slow, 1u);
}

TEST(ThreadpoolTest, SizeCanOnlyBeSetBeforeFirstUseAndWithinLimits) {
  EXPECT_EQ(eddy::set_threadpool_size(0), eddy::errc::invalid_argument);
  EXPECT_EQ(eddy::set_threadpool_size(1025), eddy::errc::invalid_argument);
  eddy::loop l;
  eddy::queue_work(l, [] {}, [](std::error_code) {});
  l.run();
  EXPECT_EQ(eddy::set_threadpool_size(8), eddy::errc::already_started);
  auto s = eddy::threadpool_stats();
  EXPECT_GE(s.threads, 1u);
  EXPECT_EQ(s.busy, 0u);
}

TEST(ThreadpoolTest, ALoopWithPendingWorkIsBusyAndItsDestructorWaits) {
  std::atomic<bool> done{false};
  bool after = false;
  {
    eddy::loop l;
    eddy::queue_work(l, [&] { done = true; }, [&](std::error_code) { after = true; });
    EXPECT_EQ(l.close(), eddy::errc::busy);
  }  // the destructor runs the loop until the work has come back
  EXPECT_TRUE(done.load());
  EXPECT_TRUE(after);
}

#if !defined(_WIN32)
TEST(ThreadpoolTest, ABadEnvironmentSizeIsAClearError) {
  // In a child process, because the pool starts once per process; and only if this process
  // has not started it (a forked copy of a running pool has no threads).
  if (eddy::threadpool_stats().threads != 0) GTEST_SKIP() << "the pool already runs in this process";
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::setenv("EDDY_THREADPOOL_SIZE", "lots", 1);
    eddy::loop l;
    std::error_code result;
    bool ran = false;
    eddy::queue_work(l, [&] { ran = true; }, [&](std::error_code ec) { result = ec; });
    l.run();
    _exit(!ran && result == eddy::errc::invalid_argument && eddy::threadpool_stats().threads == 0 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}
#endif

}  // namespace
