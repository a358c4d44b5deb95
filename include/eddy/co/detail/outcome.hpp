// eddy::co internals: the form an operation was asked in (throwing or co::nothrow), what an
// operation completes with (outcome) and the common await_resume (deliver). Not user API.
// Ownership: an outcome is held by its awaiter (or by a cell, detail/cell.hpp). Loop thread.
#pragma once

#include <exception>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

#include "eddy/co/core.hpp"

namespace eddy {
namespace co {
namespace detail {

// The form an operation was asked for: nothing (throws) or co::nothrow (returns a result).
template <class... Form>
concept form = sizeof...(Form) == 0 || (sizeof...(Form) == 1 && (std::is_same_v<Form, nothrow_t> && ...));
template <class... Form>
inline constexpr bool throws = sizeof...(Form) == 0;

[[noreturn]] inline void throw_error(std::error_code ec, const std::string& what) {
  if (what.empty()) throw std::system_error(ec);
  throw std::system_error(ec, what);
}

// What an operation completes with: the result, a message for the exception (fs errors
// name the path), or an exception of the user's own (queue_work).
template <class T>
struct outcome {
  result<T> res;
  std::string what;
  std::exception_ptr exception;
};

// The common await_resume: returns the value or throws (Throw), or returns the result.
template <class T, bool Throw>
auto deliver(outcome<T>& o) {
  if (o.exception) std::rethrow_exception(o.exception);
  if constexpr (Throw) {
    if (o.res.error) throw_error(o.res.error, o.what);
    if constexpr (!std::is_void_v<T>) return std::move(o.res.value);
  } else {
    return std::move(o.res);
  }
}

}  // namespace detail

}  // namespace co
}  // namespace eddy
