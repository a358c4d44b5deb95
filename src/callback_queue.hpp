// A FIFO of callbacks (next ticks, microtasks, immediates). Backed by a ring buffer that
// grows geometrically and is reused, so a steady flow of callbacks allocates nothing beyond
// what each std::function needs for its captures.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace eddy::detail {

template <class T>
class ring_queue {
 public:
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

  void push(T value) {
    if (size_ == buf_.size()) grow();
    buf_[(head_ + size_) & (buf_.size() - 1)] = std::move(value);
    ++size_;
  }

  T pop() {
    T value = std::move(buf_[head_]);
    buf_[head_] = T{};
    head_ = (head_ + 1) & (buf_.size() - 1);
    --size_;
    return value;
  }

  T& front() noexcept { return buf_[head_]; }

  void clear() {
    while (!empty()) pop();
  }

 private:
  void grow() {
    std::vector<T> next(buf_.empty() ? 16 : buf_.size() * 2);
    for (std::size_t i = 0; i < size_; ++i) next[i] = std::move(buf_[(head_ + i) & (buf_.size() - 1)]);
    buf_ = std::move(next);
    head_ = 0;
  }

  std::vector<T> buf_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace eddy::detail
