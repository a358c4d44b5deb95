// A binary min-heap of intrusive entries keyed on (deadline_ns, seq).
//
// T must have members `std::uint64_t deadline`, `std::uint64_t seq` and `std::size_t heap_index`.
// The heap stores pointers in one vector that grows geometrically and never shrinks, so in
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
  [[nodiscard]] T* top() const noexcept { return items_.empty() ? nullptr : items_.front(); }
  [[nodiscard]] static bool contains(const T& t) noexcept { return t.heap_index != npos; }
  void reserve(std::size_t n) { items_.reserve(n); }

  void push(T* t) {
    t->heap_index = items_.size();
    items_.push_back(t);
    sift_up(t->heap_index);
  }

  T* pop() noexcept {
    T* t = items_.front();
    erase(t);
    return t;
  }

  void erase(T* t) noexcept {
    std::size_t i = t->heap_index;
    std::size_t last = items_.size() - 1;
    t->heap_index = npos;
    if (i != last) {
      items_[i] = items_[last];
      items_[i]->heap_index = i;
      items_.pop_back();
      if (i > 0 && less(items_[i], items_[(i - 1) / 2])) {
        sift_up(i);
      } else {
        sift_down(i);
      }
    } else {
      items_.pop_back();
    }
  }

 private:
  static bool less(const T* a, const T* b) noexcept {
    return a->deadline != b->deadline ? a->deadline < b->deadline : a->seq < b->seq;
  }

  void place(std::size_t i, T* t) noexcept {
    items_[i] = t;
    t->heap_index = i;
  }

  void sift_up(std::size_t i) noexcept {
    T* t = items_[i];
    while (i > 0) {
      std::size_t parent = (i - 1) / 2;
      if (!less(t, items_[parent])) break;
      place(i, items_[parent]);
      i = parent;
    }
    place(i, t);
  }

  void sift_down(std::size_t i) noexcept {
    T* t = items_[i];
    std::size_t n = items_.size();
    for (;;) {
      std::size_t child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && less(items_[child + 1], items_[child])) ++child;
      if (!less(items_[child], t)) break;
      place(i, items_[child]);
      i = child;
    }
    place(i, t);
  }

  std::vector<T*> items_;
};

}  // namespace eddy::detail
