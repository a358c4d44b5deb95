// Unit tests for the core's data structures: the timer heap, the callback ring queue and
// the intrusive list; and the observer's tick counter.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "callback_queue.hpp"
#include "intrusive_list.hpp"
#include "loop/ticks.hpp"
#include "loop/timer_heap.hpp"

namespace {

struct entry {
  std::uint64_t deadline = 0;
  std::uint64_t seq = 0;
  std::size_t heap_index = eddy::detail::timer_heap<entry>::npos;
};

// The tick counter (the CPU's time-stamp counter on x86-64 with an invariant one, else the
// clock) converts to the clock's nanoseconds: over 20 ms of the clock, the ticks counted
// convert to within 1% of it. Each end is read between two clock reads that lie close
// together (retaken when the thread was preempted in between), so a slow machine widens
// neither end.
TEST(TicksTest, TicksConvertToTheClocksNanoseconds) {
  namespace d = eddy::detail;
  const d::ticks_per_ns& rate = d::tick_rate();
  ASSERT_GT(rate.per_ns, 0.0);
  struct both {
    std::uint64_t ns, ticks, gap;
  };
  auto read = [&rate] {
    both best{0, 0, ~std::uint64_t{0}};
    for (int i = 0; i < 1000 && best.gap > 20'000; ++i) {
      const std::uint64_t a = d::monotonic_ns();
      const std::uint64_t t = d::read_ticks(rate);
      const std::uint64_t b = d::monotonic_ns();
      if (b - a < best.gap) best = {a + (b - a) / 2, t, b - a};
    }
    return best;
  };
  const both first = read();
  while (d::monotonic_ns() - first.ns < 20'000'000) {
  }
  const both last = read();
  ASSERT_LT(first.gap, 20'000u);
  ASSERT_LT(last.gap, 20'000u);
  ASSERT_GT(last.ticks, first.ticks);
  const double clock_ns = static_cast<double>(last.ns - first.ns);
  const double ticks_ns = static_cast<double>(rate.to_ns(last.ticks - first.ticks));
  EXPECT_NEAR(ticks_ns / clock_ns, 1.0, 0.01) << "tsc=" << rate.tsc << " ticks/ns=" << rate.per_ns;
  // The observer's thresholds go to ticks and reports back to nanoseconds.
  EXPECT_NEAR(static_cast<double>(rate.to_ns(rate.from_ns(50'000'000))), 50e6, 2.0);
}

TEST(TimerHeapTest, PopsInDeadlineThenSequenceOrder) {
  std::vector<entry> items(1000);
  std::mt19937 rng(42);
  eddy::detail::timer_heap<entry> heap;
  for (std::size_t i = 0; i < items.size(); ++i) {
    items[i].deadline = rng() % 50;  // many equal deadlines
    items[i].seq = i;
    heap.push(&items[i]);
  }
  EXPECT_EQ(heap.size(), items.size());
  const entry* prev = nullptr;
  while (!heap.empty()) {
    entry* e = heap.pop();
    EXPECT_FALSE(heap.contains(*e));
    if (prev != nullptr) {
      ASSERT_TRUE(prev->deadline < e->deadline || (prev->deadline == e->deadline && prev->seq < e->seq));
    }
    prev = e;
  }
}

TEST(TimerHeapTest, EraseFromTheMiddleKeepsOrder) {
  std::vector<entry> items(200);
  eddy::detail::timer_heap<entry> heap;
  for (std::size_t i = 0; i < items.size(); ++i) {
    items[i].deadline = (i * 7919) % 101;
    items[i].seq = i;
    heap.push(&items[i]);
  }
  for (std::size_t i = 0; i < items.size(); i += 3) heap.erase(&items[i]);
  std::vector<const entry*> out;
  while (!heap.empty()) out.push_back(heap.pop());
  EXPECT_EQ(out.size(), items.size() - (items.size() + 2) / 3);
  EXPECT_TRUE(std::is_sorted(out.begin(), out.end(), [](const entry* a, const entry* b) {
    return a->deadline != b->deadline ? a->deadline < b->deadline : a->seq < b->seq;
  }));
  for (std::size_t i = 0; i < items.size(); i += 3) EXPECT_FALSE(heap.contains(items[i]));
}

TEST(TimerHeapTest, TopIsTheMinimum) {
  entry a{5, 0}, b{3, 1}, c{3, 2};
  eddy::detail::timer_heap<entry> heap;
  EXPECT_EQ(heap.top(), nullptr);
  heap.push(&a);
  heap.push(&c);
  heap.push(&b);
  EXPECT_EQ(heap.top(), &b);
  heap.erase(&b);
  EXPECT_EQ(heap.top(), &c);
}

TEST(TimerHeapTest, RandomPushEraseAndPopAgreeWithASortedSet) {
  // Mixed operations against a reference ordered set: every top is the set's minimum, and
  // every index an entry records is where it is.
  std::vector<entry> items(3000);
  std::set<std::pair<std::uint64_t, std::uint64_t>> ref;  // (deadline, seq)
  eddy::detail::timer_heap<entry> heap;
  std::mt19937 rng(7);
  std::uint64_t seq = 0;
  for (int step = 0; step < 30000; ++step) {
    entry& e = items[rng() % items.size()];
    const unsigned op = rng() % 3;
    if (op == 0 && !heap.contains(e)) {
      e.deadline = rng() % 200;
      e.seq = seq++;
      heap.push(&e);
      ref.emplace(e.deadline, e.seq);
    } else if (op == 1 && heap.contains(e)) {
      heap.erase(&e);
      ref.erase({e.deadline, e.seq});
    } else if (op == 2 && !heap.empty()) {
      entry* top = heap.pop();
      ASSERT_EQ(std::make_pair(top->deadline, top->seq), *ref.begin());
      ref.erase(ref.begin());
    }
    ASSERT_EQ(heap.size(), ref.size());
    if (!ref.empty()) {
      ASSERT_EQ(std::make_pair(heap.top()->deadline, heap.top()->seq), *ref.begin());
    }
  }
}

TEST(RingQueueTest, FifoAcrossGrowth) {
  eddy::detail::ring_queue<int> q;
  int next_in = 0, next_out = 0;
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < round * 3; ++i) q.push(next_in++);
    for (int i = 0; i < round * 2; ++i) ASSERT_EQ(q.pop(), next_out++);
  }
  while (!q.empty()) ASSERT_EQ(q.pop(), next_out++);
  EXPECT_EQ(next_in, next_out);
}

struct tag {};
struct node : eddy::detail::list_node<tag> {
  int value = 0;
};

TEST(IntrusiveListTest, PushEraseAndVisit) {
  eddy::detail::intrusive_list<node, tag> list;
  node n[5];
  for (int i = 0; i < 5; ++i) {
    n[i].value = i;
    list.push_back(n[i]);
  }
  list.erase(n[2]);
  EXPECT_FALSE(n[2].linked());
  std::vector<int> seen;
  list.for_each([&](node& x) {
    seen.push_back(x.value);
    if (x.value == 3) list.erase(x);  // erasing the visited element is allowed
  });
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 3, 4}));
  eddy::detail::intrusive_list<node, tag> other;
  list.splice_all(other);
  EXPECT_TRUE(list.empty());
  EXPECT_EQ(other.front()->value, 0);
}

}  // namespace
