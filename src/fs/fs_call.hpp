// What the file-system core's two halves share (fs.cpp: callback forms, fs_sync.cpp:
// synchronous forms): the services contract (platform/contract/fs.hpp) and the conversions between
// the public file/dir values and its native ones. Loop thread or pool thread alike.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "eddy/fs.hpp"
#include "platform/contract/fs.hpp"

namespace eddy::fs::internal {

namespace sys = eddy::contract::fs;

// The error a synchronous form returns: empty when ec is, else ec with the call and path(s).
inline error fail(std::error_code ec, const char* call, std::string_view path = {}, std::string_view dest = {}) {
  if (!ec) return {};
  return error(ec, call, std::string(path), std::string(dest));
}

inline sys::native_file native(file f) noexcept { return static_cast<sys::native_file>(f); }

inline void* native(dir d) noexcept { return reinterpret_cast<void*>(static_cast<std::uintptr_t>(d)); }

// A gather/scatter list over bufs; it points into the caller's buffers, which must outlive it.
template <class Buffer>
std::vector<eddy::detail::io_vec> to_vecs(std::span<const Buffer> bufs) {
  std::vector<eddy::detail::io_vec> v;
  v.reserve(bufs.size());
  for (const auto& b : bufs) v.push_back({const_cast<std::byte*>(b.data()), b.size()});
  return v;
}

}  // namespace eddy::fs::internal
