// Named pipes behind eddy::pipe on Windows, shared by the services (platform/win32/net.cpp and
// local_pipe.cpp: open/bind/listen/names/close) and the IOCP port (platform/iocp/pipes.cpp:
// accept and connect). It includes <windows.h>, so never include it from iocp_port.hpp or
// anything src/ sees.
//
// The core drives pipes with the socket calls (open_local, bind_local, listen, an accept
// operation, local_target + a connect operation). A named pipe has no handle until it is
// bound or connected, so open_local hands out a *marker*: a heap local_pipe whose address,
// tagged with 1 in its low bits, is the io_object::native value (SOCKETs and kernel HANDLEs
// are multiples of 4, INVALID_SOCKET is -1, so the tag cannot collide with them).
// - A listener keeps its marker for its whole life: bind_local creates the first instance
//   (FILE_FLAG_FIRST_PIPE_INSTANCE), listen creates the others (pending_instances in all),
//   and the port runs ConnectNamedPipe on each (see platform/iocp/pipes.cpp).
// - A client's connect op opens the pipe with CreateFileW; the port then replaces the marker
//   in io_object::native by the pipe HANDLE (io_kind::stream) and frees the marker.
// - Accepted instances are plain pipe HANDLEs (io_kind::stream), like a connected client.
#pragma once

#include "platform/win32/win32.hpp"
#include <winsock2.h>
#include <windows.h>

#include <cstdint>
#include <string>

#include "platform/contract/port.hpp"

namespace eddy::platform::win32 {

// One server instance of a listening pipe. Heap-allocated on its own: while its
// ConnectNamedPipe is pending, the OVERLAPPED must outlive the listener (detach orphans it
// and the port frees it when the cancelled call's packet comes back).
struct pipe_instance {
  OVERLAPPED ov;
  // Always nullptr, at the offset of op_state::owner: how the port tells an instance's packet
  // from an operation's (checked by a static_assert in platform/iocp/port_state.hpp).
  detail::operation* no_owner;
  HANDLE handle;
  struct local_pipe* listener;  // nullptr once orphaned
  enum class state : std::uint8_t { idle, pending, connected } st;
  bool associated;  // with the listener's port
};

struct local_pipe {
  static constexpr int pending_instances = 4;
  std::wstring wide_name;  // for CreateNamedPipeW
  std::string name;        // as bound (UTF-8), for local_name
  bool listening = false;
  pipe_instance* instances[pending_instances] = {};
  // The accept operation waiting for a client, or nullptr.
  detail::operation* waiting_accept = nullptr;
};

inline bool is_local_marker(std::intptr_t native) noexcept { return native != -1 && (native & 3) == 1; }
inline local_pipe* local_of(std::intptr_t native) noexcept {
  return reinterpret_cast<local_pipe*>(native & ~static_cast<std::intptr_t>(3));
}
// Whether s is a socket (and not a pipe or file HANDLE: GetFileType says FILE_TYPE_PIPE for
// both).
inline bool is_socket(std::intptr_t s) noexcept {
  int type = 0;
  int len = sizeof type;
  return ::getsockopt(static_cast<SOCKET>(s), SOL_SOCKET, SO_TYPE, reinterpret_cast<char*>(&type), &len) == 0;
}

inline std::intptr_t marker_of(local_pipe* p) noexcept { return reinterpret_cast<std::intptr_t>(p) | 1; }

// A new server instance of p's pipe (overlapped, byte mode, local clients only), or
// INVALID_HANDLE_VALUE with GetLastError() set. first: FILE_FLAG_FIRST_PIPE_INSTANCE.
HANDLE create_pipe_instance(const local_pipe& p, bool first) noexcept;
// Closes an instance that has no I/O pending, and frees it.
void free_pipe_instance(pipe_instance* inst) noexcept;

}  // namespace eddy::platform::win32
