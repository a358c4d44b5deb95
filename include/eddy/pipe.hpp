// eddy::pipe: local IPC streams (libuv's uv_pipe_t): Unix domain sockets on Linux
// (filesystem paths, or abstract names that start with '\0'), overlapped named pipes
// (\\.\pipe\NAME) on Windows. bind/listen/accept/connect work as for tcp; reading and writing
// are the stream's (stream.hpp). Threads: loop thread only.
#pragma once

#include <string>
#include <string_view>

#include "eddy/stream.hpp"

namespace eddy {

enum class pipe_access { readable = 1, writable = 2, read_write = 3 };

class tcp;
class udp;

class EDDY_API pipe final : public stream {
 public:
  // ipc: the pipe can carry handles along with bytes, between processes (or loops): tcp
  // sockets and listeners, udp sockets, and on Linux pipes too (SCM_RIGHTS). On Windows the
  // sockets travel with WSADuplicateSocketW inside frames the port adds to every write, so
  // both ends must be ipc pipes; bytes that are not frames fail the read with
  // errc::protocol_error.
  explicit pipe(eddy::loop& owner, bool ipc = false);

  // Binds to a name. Linux: a path (created; fails with address_in_use if it exists) or an
  // abstract name starting with '\0'. Windows: \\.\pipe\NAME.
  std::error_code bind(std::string_view name);
  std::error_code listen(int backlog, completion_callback on_connection);
  std::error_code accept(pipe& client);
  std::error_code connect(std::string_view name, completion_callback on_connect);
  // Who may connect, for a bound filesystem pipe (chmod on Linux).
  std::error_code chmod(pipe_access access);
  // The bound name (sockname) and the peer's name (often empty for clients).
  [[nodiscard]] std::string local_name(std::error_code& ec) const;
  [[nodiscard]] std::string peer_name(std::error_code& ec) const;
  // ipc pipes: writes bufs and passes send_handle's socket with them (the sender's handle
  // stays open; the receiver gets its own copy). send_handle must have a socket.
  std::error_code write2(std::span<const const_buffer> bufs, handle& send_handle, completion_callback on_done);
  // ipc pipes: handles received and not yet taken. Check it in the read callback.
  [[nodiscard]] std::size_t pending_count() const noexcept;
  // Takes the oldest received handle into a fresh, unused handle of the right kind.
  std::error_code accept_pending(tcp& out);
  std::error_code accept_pending(pipe& out);
  std::error_code accept_pending(udp& out);

  // Adopts an open descriptor (a connected socket or a pipe fd on Linux, a pipe HANDLE on
  // Windows); eddy owns it from here on.
  std::error_code open(std::intptr_t native_handle);
};

}  // namespace eddy
