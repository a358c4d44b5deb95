// A doubly linked intrusive list. T derives from list_node<Tag> once per list it can be
// in; linking and unlinking never allocate, and unlinking works from the node alone.
#pragma once

#include <cstddef>

namespace eddy::detail {

template <class Tag>
struct list_node {
  list_node* prev = nullptr;
  list_node* next = nullptr;
  [[nodiscard]] bool linked() const noexcept { return next != nullptr; }
};

template <class T, class Tag>
class intrusive_list {
  using node = list_node<Tag>;

 public:
  intrusive_list() noexcept { head_.prev = head_.next = &head_; }
  intrusive_list(const intrusive_list&) = delete;
  intrusive_list& operator=(const intrusive_list&) = delete;

  [[nodiscard]] bool empty() const noexcept { return head_.next == &head_; }

  void push_back(T& t) noexcept {
    node& n = t;
    n.prev = head_.prev;
    n.next = &head_;
    head_.prev->next = &n;
    head_.prev = &n;
  }

  static void unlink_node(node& n) noexcept {
    n.prev->next = n.next;
    n.next->prev = n.prev;
    n.prev = n.next = nullptr;
  }

  void erase(T& t) noexcept {
    unlink_node(static_cast<node&>(t));
  }

  T* front() noexcept { return empty() ? nullptr : static_cast<T*>(head_.next); }

  // Moves every element to `to` (appending), leaving this list empty.
  void splice_all(intrusive_list& to) noexcept {
    while (T* t = front()) {
      erase(*t);
      to.push_back(*t);
    }
  }

  // Visits the elements; fn may unlink the element it is given (and only that one).
  template <class Fn>
  void for_each(Fn&& fn) {
    for (node* n = head_.next; n != &head_;) {
      node* next = n->next;
      fn(*static_cast<T*>(n));
      n = next;
    }
  }

 private:
  node head_;
};

}  // namespace eddy::detail
