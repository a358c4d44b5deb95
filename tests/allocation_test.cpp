// Counts heap allocations to check the loop's promise: starting, firing and closing timers
// allocate nothing per timer once the timer objects exist (the heap's storage is reused).
#include <array>
#include <atomic>
#include <cstdlib>
#include <new>

#include "port_fixture.hpp"

namespace {
std::atomic<std::size_t> allocations{0};
}  // namespace

void* operator new(std::size_t n) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n == 0 ? 1 : n);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

using namespace std::chrono_literals;
using eddy_test::PortTest;

class AllocationTest : public PortTest {};
EDDY_INSTANTIATE_PORTS(AllocationTest);

TEST_P(AllocationTest, FiringTimersAllocatesNothing) {
  constexpr int n = 10000;
  std::vector<std::unique_ptr<eddy::timer>> timers;
  timers.reserve(n);
  int fired = 0;
  for (int i = 0; i < n; ++i) timers.push_back(std::make_unique<eddy::timer>(loop()));
  // A warm-up round grows the heap's storage once.
  for (auto& t : timers) t->start(0ms, [&fired] { ++fired; });
  loop().run();
  ASSERT_EQ(fired, n);

  std::size_t before = allocations.load();
  for (auto& t : timers) t->start(std::chrono::microseconds(fired % 300), [&fired] { ++fired; });
  loop().run();
  EXPECT_EQ(fired, 2 * n);
  EXPECT_EQ(allocations.load() - before, 0u) << "start + fire allocated";

  // A repeating timer re-arms without allocating, and stopping one does not either.
  eddy::timer rep(loop());
  int reps = 0;
  rep.start(0ms, 1ms, [&] {
    if (++reps == 5) rep.stop();
  });
  before = allocations.load();
  loop().run();
  EXPECT_EQ(reps, 5);
  EXPECT_EQ(allocations.load() - before, 0u) << "repeat allocated";
}

TEST_P(AllocationTest, IdleCallbacksWithLargeCapturesAreNotCopied) {
  eddy::idle i(loop());
  int runs = 0;
  std::array<char, 256> big{};  // far beyond std::function's small buffer
  i.start([&runs, big] {
    (void)big;
    ++runs;
  });
  loop().run(eddy::run_mode::nowait);  // first run
  std::size_t before = allocations.load();
  for (int k = 0; k < 100; ++k) loop().run(eddy::run_mode::nowait);
  EXPECT_EQ(runs, 101);
  EXPECT_EQ(allocations.load() - before, 0u);
  i.close();
}

}  // namespace
