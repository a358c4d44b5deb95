// eddy::co internals: fs_done, the callback every awaitable fs operation gives the fs
// callback form, and fs_op, which makes the awaiter. Not user API.
// Ownership: the callback holds the cell's callback share (detail/cell.hpp); the fs API runs
// it exactly once. Threads: loop thread only.
#pragma once

#include <utility>

#include "eddy/co/detail/cell.hpp"
#include "eddy/fs.hpp"

namespace eddy {
namespace co {
namespace detail {
// The callback of every fs operation: stores the error (and its message), then the value
// (one argument) or the values (several: T is built from them).
template <class T>
struct fs_done {
  cell<T>* c;
  template <class... V>
  void operator()(const fs::error& err, V&&... v) const {
    c->res.error = err.code();
    if (err) c->what = err.message();
    if constexpr (sizeof...(V) == 1) {
      ((c->res.value = std::forward<V>(v)), ...);
    } else if constexpr (sizeof...(V) > 1) {
      c->res.value = T{std::forward<V>(v)...};
    }
    complete(c);
  }
};
// call(fs_done<T>) starts the operation and returns its fs::request.
template <class T, class... Form, class Call>
auto fs_op(Call call) {
  static_assert(form<Form...>, "the last argument may only be co::nothrow");
  return make_op<T, throws<Form...>>([call](cell<T>* c) { return call(fs_done<T>{c}); });
}
}  // namespace detail

}  // namespace co
}  // namespace eddy
