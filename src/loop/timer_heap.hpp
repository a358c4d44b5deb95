// A 4-ary min-heap of intrusive entries keyed on (deadline_ns, seq).
//
// T must have members `std::uint64_t deadline`, `std::uint64_t seq` and `std::size_t heap_index`;
// deadline and seq must not change while the entry is in the heap (erase it first).
// The heap keeps each entry's key beside its pointer, so sifting compares keys in one array
// and never reads the entries themselves (with a million timers, reading them was a cache
// miss per comparison); it writes only the moved entries' heap_index. Four children per node
// halve the depth of a binary heap. The array grows geometrically and never shrinks, so in
// steady state push, pop and erase allocate nothing. heap_index lets erase() find an entry
// in O(1) and remove it in O(log n).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace eddy::detail {

template <class T>
class timer_heap {
 public:
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  [[nodiscard]] bool empty() const noexcept { return items_.empty(); }
  [[nodiscard]] std::size_t size() const noexcept { return items_.size(); }
  [[nodiscard]] T* top() const noexcept { return items_.empty() ? nullptr : items_.front().item; }
  [[nodiscard]] static bool contains(const T& t) noexcept { return t.heap_index != npos; }
  void reserve(std::size_t n) { items_.reserve(n); }

  void push(T* t) {
    items_.push_back({t->deadline, t->seq, t});
    sift_up(items_.size() - 1);
  }

  T* pop() noexcept {
    T* t = items_.front().item;
    erase(t);
    return t;
  }

  void erase(T* t) noexcept {
    const std::size_t i = t->heap_index;
    const std::size_t last = items_.size() - 1;
    t->heap_index = npos;
    if (i == last) {
      items_.pop_back();
      return;
    }
    items_[i] = items_[last];
    items_.pop_back();
    if (i > 0 && less(items_[i], items_[(i - 1) / arity])) {
      sift_up(i);
    } else {
      sift_down(i);
    }
  }

 private:
  static constexpr std::size_t arity = 4;

  struct entry {
    std::uint64_t deadline;
    std::uint64_t seq;
    T* item;
  };

  static bool less(const entry& a, const entry& b) noexcept {
    return a.deadline != b.deadline ? a.deadline < b.deadline : a.seq < b.seq;
  }

  void place(std::size_t i, const entry& e) noexcept {
    items_[i] = e;
    e.item->heap_index = i;
  }

  void sift_up(std::size_t i) noexcept {
    const entry e = items_[i];
    while (i > 0) {
      const std::size_t parent = (i - 1) / arity;
      if (!less(e, items_[parent])) break;
      place(i, items_[parent]);
      i = parent;
    }
    place(i, e);
  }

  void sift_down(std::size_t i) noexcept {
    const entry e = items_[i];
    const std::size_t n = items_.size();
    for (;;) {
      const std::size_t first = arity * i + 1;
      if (first >= n) break;
      std::size_t best = first;
      const std::size_t end = first + arity < n ? first + arity : n;
      for (std::size_t c = first + 1; c < end; ++c) {
        if (less(items_[c], items_[best])) best = c;
      }
      if (!less(items_[best], e)) break;
      place(i, items_[best]);
      i = best;
    }
    place(i, e);
  }

  std::vector<entry> items_;
};

}  // namespace eddy::detail
