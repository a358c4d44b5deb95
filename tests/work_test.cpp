// The thread pool on every port: work runs off the loop thread, after_work on it; cancel;
// exceptions; slow I/O limits; pending work keeps the loop alive.
#include <atomic>
#include <chrono>
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
  int blockers_done = 0;
  eddy_test::pool_blocker blocker(loop(), [&](std::error_code) { ++blockers_done; });  // the next job stays queued
  bool ran = false;
  std::error_code result;
  auto req = eddy::queue_work(loop(), [&] { ran = true; }, [&](std::error_code ec) { result = ec; });
  EXPECT_TRUE(req.cancel());
  EXPECT_FALSE(req.cancel());  // only once
  blocker.release();
  loop().run();
  EXPECT_FALSE(ran);
  EXPECT_EQ(result, eddy::errc::operation_canceled);
  EXPECT_EQ(blockers_done, static_cast<int>(blocker.threads()));
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

// How long the tests below let pool jobs wait for each other: a guard, so that a broken pool
// fails the test instead of hanging it. One deadline per test, however many waits.
std::chrono::steady_clock::time_point wait_deadline() { return std::chrono::steady_clock::now() + std::chrono::seconds(30); }

// A gate the pool's jobs wait at until the test opens it.
class gate {
 public:
  // Returns false if the gate stayed shut past the deadline.
  bool wait(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(m_);
    return cv_.wait_until(lock, deadline, [&] { return open_; });
  }
  void open() {
    {
      std::lock_guard lock(m_);
      open_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  bool open_ = false;
};

// Counts up from pool threads; the test thread waits for a count.
class counter {
 public:
  void add() {
    {
      std::lock_guard lock(m_);
      ++n_;
    }
    cv_.notify_all();
  }
  // Returns false if the count was not reached by the deadline.
  bool wait_for(std::size_t n, std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(m_);
    return cv_.wait_until(lock, deadline, [&] { return n_ >= n; });
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  std::size_t n_ = 0;
};

TEST_P(WorkTest, AJobQueuedBehindABlockedJobStillRuns) {
  // A deep queue of pairs where the first job of each pair waits for the second. Workers take
  // several jobs at a time from a deep queue; a waiting job must not keep its partner (queued
  // right behind it, likely in the same batch) from running on another thread, and jobs must
  // start in queue order (or two threads could each wait for a partner nobody runs).
  const std::size_t threads = eddy_test::pool_threads();
  const auto deadline = wait_deadline();
  if (threads < 2) GTEST_SKIP() << "needs two pool threads";
  // Hold every thread first so that the pairs are all queued before any is taken.
  gate hold;
  counter held;
  for (std::size_t i = 0; i < threads; ++i) {
    eddy::queue_work(loop(), [&] {
      held.add();
      EXPECT_TRUE(hold.wait(deadline));
    }, [](std::error_code ec) { EXPECT_FALSE(ec); });
  }
  ASSERT_TRUE(held.wait_for(threads, deadline));
  constexpr int pairs = 300;
  std::vector<gate> partner_ran(pairs);
  std::vector<int> after(pairs * 2, 0);
  std::atomic<int> timed_out{0};
  for (int i = 0; i < pairs; ++i) {
    eddy::queue_work(loop(), [&, i] {
      if (!partner_ran[i].wait(deadline)) timed_out.fetch_add(1);
    }, [&, i](std::error_code ec) {
      EXPECT_FALSE(ec);
      ++after[2 * i];
    });
    eddy::queue_work(loop(), [&, i] { partner_ran[i].open(); }, [&, i](std::error_code ec) {
      EXPECT_FALSE(ec);
      ++after[2 * i + 1];
    });
  }
  hold.open();
  loop().run();
  EXPECT_EQ(timed_out.load(), 0);
  for (std::size_t i = 0; i < after.size(); ++i) ASSERT_EQ(after[i], 1) << "job " << i;
}

TEST_P(WorkTest, CancelAJobThatAWorkerTookButHasNotStarted) {
  // A deep queue whose first jobs hold every thread; the job queued right after them is next
  // to start, taken from the queue in a worker's batch (or still queued, with more threads
  // than a batch holds). Cancelling it works wherever it is, it never runs, and everything
  // else runs once.
  const std::size_t threads = eddy_test::pool_threads();
  const auto deadline = wait_deadline();
  gate hold, release;
  counter held, blocked;
  for (std::size_t i = 0; i < threads; ++i) {
    eddy::queue_work(loop(), [&] {
      held.add();
      EXPECT_TRUE(hold.wait(deadline));
    }, [](std::error_code) {});
  }
  ASSERT_TRUE(held.wait_for(threads, deadline));
  const std::size_t jobs = threads * 8;
  std::atomic<std::size_t> ran{0};
  std::size_t after = 0;
  bool target_ran = false;
  std::error_code target_result;
  eddy::work_request target;
  for (std::size_t i = 0; i < jobs; ++i) {
    eddy::queue_work(loop(), [&] {
      blocked.add();
      EXPECT_TRUE(release.wait(deadline));
      ran.fetch_add(1);
    }, [&](std::error_code ec) {
      EXPECT_FALSE(ec);
      ++after;
    });
    if (i + 1 == threads) target = eddy::queue_work(loop(), [&] { target_ran = true; }, [&](std::error_code ec) { target_result = ec; });
  }
  hold.open();
  ASSERT_TRUE(blocked.wait_for(threads, deadline));  // every thread is in a blocking job
  auto stats = eddy::threadpool_stats();
  EXPECT_EQ(stats.busy, threads);
  EXPECT_EQ(stats.queued, jobs + 1 - threads);
  EXPECT_TRUE(target.cancel());
  EXPECT_FALSE(target.cancel());
  EXPECT_EQ(eddy::threadpool_stats().queued, jobs - threads);  // the cancelled job is not waiting
  release.open();
  loop().run();
  EXPECT_FALSE(target_ran);
  EXPECT_EQ(target_result, eddy::errc::operation_canceled);
  EXPECT_EQ(ran.load(), jobs);
  EXPECT_EQ(after, jobs);
  EXPECT_FALSE(target.cancel());
  stats = eddy::threadpool_stats();
  EXPECT_EQ(stats.busy, 0u);
  EXPECT_EQ(stats.queued, 0u);
}

TEST_P(WorkTest, AWorkRequestMayOutliveItsLoop) {
  eddy::work_request kept;
  bool after = false;
  {
    std::error_code ec;
    auto l = eddy::loop::create(eddy::loop_options{GetParam()}, ec);
    ASSERT_TRUE(l) << ec.message();
    kept = eddy::queue_work(*l, [] {}, [&](std::error_code e) { after = !e; });
    eddy::work_request copy = kept;  // copies share the request
    l->run();
    EXPECT_FALSE(copy.cancel());  // finished
  }
  EXPECT_TRUE(after);
  EXPECT_FALSE(kept.cancel());  // its loop is gone; the request still answers
}

TEST_P(WorkTest, ManyLoopsOnManyThreadsGetEachCompletionOnce) {
  // Loops on several threads share the pool; every after_work runs once, on its own loop's
  // thread, and a cancel() that succeeds means the work never ran.
  constexpr int loops = 6;
  constexpr int per_loop = 3000;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < loops; ++t) {
    threads.emplace_back([&, kind = GetParam()] {
      std::error_code ec;
      auto l = eddy::loop::create(eddy::loop_options{kind}, ec);
      if (!l) {
        failures.fetch_add(1);
        return;
      }
      const auto me = std::this_thread::get_id();
      std::vector<std::atomic<int>> ran(per_loop);
      std::vector<int> after(per_loop, 0);
      std::vector<bool> canceled(per_loop, false);
      for (int i = 0; i < per_loop; ++i) {
        auto req = eddy::queue_work(*l, [&ran, i] { ran[i].fetch_add(1); }, [&, i](std::error_code e) {
          if (std::this_thread::get_id() != me) failures.fetch_add(1);
          if (canceled[i] ? e != eddy::errc::operation_canceled : static_cast<bool>(e)) failures.fetch_add(1);
          ++after[i];
        });
        if (i % 7 == 0) canceled[i] = req.cancel();
        if (i % 500 == 0) l->run(eddy::run_mode::nowait);  // completions arrive while queueing goes on
      }
      l->run();
      for (int i = 0; i < per_loop; ++i) {
        if (after[i] != 1 || ran[i].load() != (canceled[i] ? 0 : 1)) failures.fetch_add(1);
      }
      if (l->close()) failures.fetch_add(1);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
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
