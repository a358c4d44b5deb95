// The fixture every loop-level test uses: one instance per port compiled into this build.
// A port the machine refuses (io_uring under seccomp, say) is skipped with the reason.
// Each test must leave its loop closable with zero handles open; TearDown asserts it.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "eddy/eddy.hpp"

namespace eddy {
// Names the port in test names and messages ("io_uring", not "4-byte object <01-00 00-00>").
inline void PrintTo(backend_kind kind, std::ostream* os) { *os << to_string(kind); }
}  // namespace eddy

namespace eddy_test {

inline std::vector<eddy::backend_kind> compiled_backends() {
  std::vector<eddy::backend_kind> out;
  for (auto k : {eddy::backend_kind::io_uring, eddy::backend_kind::epoll, eddy::backend_kind::iocp}) {
    if (eddy::backend_compiled(k)) out.push_back(k);
  }
  return out;
}

inline std::string backend_name(const ::testing::TestParamInfo<eddy::backend_kind>& info) {
  return std::string(eddy::to_string(info.param));
}

class PortTest : public ::testing::TestWithParam<eddy::backend_kind> {
 protected:
  void SetUp() override {
    std::error_code ec;
    loop_ = eddy::loop::create(eddy::loop_options{GetParam()}, ec);
    if (!loop_) GTEST_SKIP() << eddy::to_string(GetParam()) << " is not available here: " << ec.message();
    ASSERT_EQ(loop_->backend(), GetParam());
  }

  void TearDown() override {
    if (!loop_) return;
    // Let pending close callbacks run, then the loop must close cleanly.
    for (int i = 0; i < 16 && loop_->handle_count() != 0; ++i) loop_->run(eddy::run_mode::nowait);
    EXPECT_EQ(loop_->handle_count(), 0u) << loop_->dump_handles();
    EXPECT_FALSE(loop_->close());
  }

  eddy::loop& loop() { return *loop_; }

  std::unique_ptr<eddy::loop> loop_;
};

// How many threads the process's pool has (starting it, on a loop of its own, if it has not
// started yet): tests that occupy every thread to keep a request queued need the number.
inline std::size_t pool_threads() {
  std::error_code ec;
  auto probe_loop = eddy::loop::create({}, ec);
  eddy::queue_work(*probe_loop, [] {}, [](std::error_code) {});
  probe_loop->run();
  return eddy::threadpool_stats().threads;
}

// Occupies every pool thread with a job that waits until release(), so that the next request
// stays queued. after_each runs on the loop thread as each job completes. Call release()
// (from any thread) and run the loop before the blocker goes: its jobs use it until then.
class pool_blocker {
 public:
  explicit pool_blocker(eddy::loop& loop, std::function<void(std::error_code)> after_each = [](std::error_code) {})
      : threads_(pool_threads()) {
    for (std::size_t i = 0; i < threads_; ++i) {
      eddy::queue_work(
          loop,
          [this] {
            std::unique_lock lock(m_);
            cv_.wait(lock, [this] { return released_; });
          },
          after_each);
    }
  }
  void release() {
    {
      std::lock_guard lock(m_);
      released_ = true;
    }
    cv_.notify_all();
  }
  [[nodiscard]] std::size_t threads() const noexcept { return threads_; }

 private:
  const std::size_t threads_;
  std::mutex m_;
  std::condition_variable cv_;
  bool released_ = false;
};

// A local pipe name nobody else uses, per process and per call: a path under /tmp on Linux,
// \\.\pipe\NAME on Windows.
inline std::string unique_pipe_name(std::string_view what = "test") {
  static std::atomic<int> n{0};
  const std::string base = "eddy-" + std::string(what) + "-" + std::to_string(eddy::os::pid()) + "-" + std::to_string(n++);
  return eddy::backend_compiled(eddy::backend_kind::iocp) ? "\\\\.\\pipe\\" + base : "/tmp/" + base + ".sock";
}

// Every PortTest-derived suite is instantiated once per compiled port.
#define EDDY_INSTANTIATE_PORTS(suite) \
  INSTANTIATE_TEST_SUITE_P(Ports, suite, ::testing::ValuesIn(eddy_test::compiled_backends()), eddy_test::backend_name)

}  // namespace eddy_test
