// Linux only: when the kernel refuses io_uring (seccomp, as in many containers, or
// kernel.io_uring_disabled), backend_kind::automatic falls back to epoll and an explicit
// io_uring request fails with a clear error. A forked child installs a seccomp filter that
// makes io_uring_setup fail with EPERM, then reports what it got through its exit status.
//
// Also the io_uring port's single-issuer ring: a loop that moves to another thread after it
// ran ends with a clear message (the kernel would refuse every call from there), unless
// EDDY_URING_SINGLE_ISSUER=0 turned the mode off.
#include <gtest/gtest.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <thread>

#include "eddy/eddy.hpp"

namespace {

int child_with_io_uring_refused() {
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog prog{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return 10;
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) return 11;

  std::error_code ec;
  auto automatic = eddy::loop::create({}, ec);
  if (!automatic) return 2;
  if (automatic->backend() != eddy::backend_kind::epoll) return 3;
  auto uring = eddy::loop::create(eddy::loop_options{eddy::backend_kind::io_uring}, ec);
  if (uring) return 4;
  if (ec != eddy::errc::backend_unavailable) return 5;
  // The fallback loop works.
  eddy::timer t(*automatic);
  bool fired = false;
  t.start(std::chrono::milliseconds(1), [&] { fired = true; });
  automatic->run();
  return fired ? 0 : 6;
}

TEST(PortFallbackTest, AutomaticFallsBackToEpollWhenIoUringIsRefused) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) _exit(child_with_io_uring_refused());
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1x: seccomp setup failed, 2: no loop, 3: not epoll, "
                                       "4/5: io_uring not refused clearly, 6: timer did not fire";
}

// Runs a 1 ms timer on l from a new thread.
bool run_a_timer_on_a_thread(eddy::loop& l) {
  bool fired = false;
  std::thread([&] {
    eddy::timer t(l);
    t.start(std::chrono::milliseconds(1), [&] {
      fired = true;
      t.close();
    });
    l.run();
  }).join();
  return fired;
}

TEST(UringSingleIssuerDeathTest, ALoopMovedToAnotherThreadEndsWithAMessage) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  {
    std::error_code ec;
    if (!eddy::loop::create(eddy::loop_options{eddy::backend_kind::io_uring}, ec)) GTEST_SKIP() << ec.message();
  }
  EXPECT_DEATH(
      {
        std::error_code ec;
        auto l = eddy::loop::create(eddy::loop_options{eddy::backend_kind::io_uring}, ec);
        if (!run_a_timer_on_a_thread(*l)) std::_Exit(3);
        run_a_timer_on_a_thread(*l);  // a second thread: the ring belongs to the first
      },
      "io_uring loop ran on a thread other than the one that first ran it");
}

TEST(UringSingleIssuerTest, WithTheModeOffALoopMovesBetweenThreads) {
  ::setenv("EDDY_URING_SINGLE_ISSUER", "0", 1);
  std::error_code ec;
  auto l = eddy::loop::create(eddy::loop_options{eddy::backend_kind::io_uring}, ec);
  ::unsetenv("EDDY_URING_SINGLE_ISSUER");
  if (!l) GTEST_SKIP() << ec.message();
  EXPECT_TRUE(run_a_timer_on_a_thread(*l));
  EXPECT_TRUE(run_a_timer_on_a_thread(*l));
  EXPECT_TRUE(run_a_timer_on_a_thread(*l));
}

}  // namespace
