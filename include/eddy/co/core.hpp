// eddy::co core: eddy::result (what the nothrow forms return) and co::nothrow (what selects
// them). The overview of eddy::co (the two forms, cells, lifetimes) is in eddy/co.hpp.
// Ownership: plain values. Threads: as the operation that produced them (loop thread).
#pragma once

#include <system_error>

namespace eddy {

// An expected-style outcome: error is empty on success, value is meaningful only then.
template <class T>
struct result {
  std::error_code error;
  T value{};
  explicit operator bool() const noexcept { return !error; }
};
template <>
struct result<void> {
  std::error_code error;
  explicit operator bool() const noexcept { return !error; }
};

namespace co {

// Selects the non-throwing form of an operation.
struct nothrow_t {
  explicit nothrow_t() = default;
};
inline constexpr nothrow_t nothrow{};

}  // namespace co
}  // namespace eddy
