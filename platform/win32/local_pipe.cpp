// eddy::pipe's names on Windows: the local half of platform/contract/net.hpp (open_local,
// local_target, bind_local, local_name, ...) over named pipes, and the pipe instances the
// IOCP port keeps listening (local_pipe.hpp). The port does the accepts and connects
// (platform/iocp/pipes.cpp). Loop thread only.
#include "platform/win32/local_pipe.hpp"

#include <cstring>
#include <new>
#include <string>

#include "platform/contract/net.hpp"
#include "platform/win32/utf16.hpp"

namespace eddy::platform::win32 {

HANDLE create_pipe_instance(const local_pipe& p, bool first) noexcept {
  DWORD open_mode = PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED;
  if (first) open_mode |= FILE_FLAG_FIRST_PIPE_INSTANCE;
  // 64 KiB buffers each way (advisory); a default security descriptor; not inheritable.
  return ::CreateNamedPipeW(p.wide_name.c_str(), open_mode,
                            PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS,
                            PIPE_UNLIMITED_INSTANCES, 65536, 65536, 0, nullptr);
}

void free_pipe_instance(pipe_instance* inst) noexcept {
  if (inst->handle != INVALID_HANDLE_VALUE) ::CloseHandle(inst->handle);
  delete inst;
}

}  // namespace eddy::platform::win32

namespace eddy::contract::net {
namespace win32 = ::eddy::platform::win32;
namespace {

using win32::is_socket;

// Only names in the pipe namespace: CreateFileW would open a file for any other path.
bool is_pipe_name(std::string_view name) noexcept {
  constexpr std::string_view prefixes[] = {"\\\\.\\pipe\\", "\\\\?\\pipe\\"};
  for (auto prefix : prefixes) {
    if (name.size() <= prefix.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < prefix.size() && same; ++i) {
      char c = name[i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      same = c == prefix[i];
    }
    if (same) return true;
  }
  return false;
}

// Names must not be empty (the shared helper accepts empty text).
std::error_code to_wide(std::string_view in, std::wstring& out) noexcept {
  if (in.empty()) return make_error_code(errc::invalid_argument);
  return win32::to_wide(in, out);
}

using win32::to_utf8;

}  // namespace

std::error_code open_local(native_socket& out) noexcept {
  auto* p = new (std::nothrow) win32::local_pipe;
  if (p == nullptr) return make_error_code(errc::no_memory);
  out = win32::marker_of(p);
  return {};
}

std::error_code local_target(std::string_view name, native_address& out) noexcept {
  // The connect operation carries the UTF-8 name itself (the port opens it with CreateFileW),
  // so it must fit in native_address: at most 128 bytes with the \\.\pipe\ prefix.
  if (!is_pipe_name(name) || name.size() > out.data.size()) return make_error_code(errc::invalid_argument);
  out.data.fill(std::byte{0});
  std::memcpy(out.data.data(), name.data(), name.size());
  out.len = static_cast<std::uint32_t>(name.size());
  return {};
}

std::error_code bind_local(native_socket s, std::string_view name) noexcept {
  if (!win32::is_local_marker(s)) return make_error_code(errc::bad_descriptor);
  win32::local_pipe& p = *win32::local_of(s);
  if (!p.name.empty()) return make_error_code(errc::already_started);
  if (!is_pipe_name(name)) return make_error_code(errc::invalid_argument);
  if (auto ec = to_wide(name, p.wide_name)) return ec;
  // The first instance claims the name: FILE_FLAG_FIRST_PIPE_INSTANCE fails (access denied)
  // when a pipe of that name exists already, as bind fails on a path in use.
  const HANDLE h = win32::create_pipe_instance(p, true);
  if (h == INVALID_HANDLE_VALUE) {
    const DWORD err = ::GetLastError();
    p.wide_name.clear();
    if (err == ERROR_ACCESS_DENIED || err == ERROR_PIPE_BUSY) return make_error_code(errc::address_in_use);
    if (err == ERROR_INVALID_NAME || err == ERROR_BAD_PATHNAME) return make_error_code(errc::invalid_argument);
    return from_win32(err);
  }
  auto* inst = new (std::nothrow) win32::pipe_instance{};
  if (inst == nullptr) {
    ::CloseHandle(h);
    p.wide_name.clear();
    return make_error_code(errc::no_memory);
  }
  inst->handle = h;
  inst->listener = &p;
  p.instances[0] = inst;
  try {
    p.name.assign(name);
  } catch (...) {
    return make_error_code(errc::no_memory);
  }
  return {};
}

std::error_code local_name(native_socket s, bool peer, std::string& out) noexcept {
  out.clear();
  if (win32::is_local_marker(s)) {
    const win32::local_pipe& p = *win32::local_of(s);
    if (peer) return make_error_code(errc::not_connected);
    try {
      out = p.name;  // empty: not bound
    } catch (...) {
      return make_error_code(errc::no_memory);
    }
    return {};
  }
  if (s == invalid_socket || is_socket(s)) return make_error_code(errc::bad_descriptor);
  // A connected pipe HANDLE: both ends have the pipe's name. FileNameInfo gives it relative
  // to the pipe file system ("\name").
  alignas(8) unsigned char storage[sizeof(FILE_NAME_INFO) + 1024 * sizeof(wchar_t)];
  auto* info = reinterpret_cast<FILE_NAME_INFO*>(storage);
  if (!::GetFileInformationByHandleEx(reinterpret_cast<HANDLE>(s), FileNameInfo, info, sizeof storage)) {
    return from_win32(::GetLastError());
  }
  std::string rel;
  if (auto ec = win32::to_utf8(info->FileName, static_cast<int>(info->FileNameLength / sizeof(wchar_t)), rel)) return ec;
  try {
    out = "\\\\.\\pipe";
    if (rel.empty() || rel[0] != '\\') out += '\\';
    out += rel;
  } catch (...) {
    return make_error_code(errc::no_memory);
  }
  return {};
}

std::error_code chmod_local(std::string_view, bool, bool) noexcept {
  // A named pipe's access is its security descriptor (a DACL), set when it is created; not
  // done yet.
  return make_error_code(errc::not_supported);
}

void unlink_local(std::string_view) noexcept {
  // A named pipe disappears with its last instance; nothing to remove.
}

std::string private_local_name(std::string_view base) {
  std::string out = "\\\\.\\pipe\\";
  out.append(base);
  return out;
}

}  // namespace eddy::contract::net
