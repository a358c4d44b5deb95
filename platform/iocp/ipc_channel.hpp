// The framing of an ipc pipe on Windows (eddy::pipe(loop, true)), private to the iocp port.
//
// POSIX passes a socket beside the bytes (SCM_RIGHTS). A named pipe carries bytes only, so
// on an ipc pipe every write becomes a frame: a 16-byte header (magic, flags, payload
// length), then, when a socket rides along, the WSAPROTOCOL_INFOW that WSADuplicateSocketW
// made for the receiving process, then the payload. The reader takes the header and the
// protocol info into this context, makes its own socket from the info (WSASocketW with
// FROM_PROTOCOL_INFO), and hands the payload to the caller's buffer; the socket goes with
// the first payload bytes of its frame (operation::accepted), as on POSIX.
//
// The port (ipc.cpp) does the overlapped ReadFile / WriteFile calls; this class only
// says which bytes go where next. One write and one read at a time (the core's stream has
// one of each in flight). Loop thread only. Allocated by the port on an ipc pipe's first
// read or write, freed by detach (which closes a received socket nobody took).
#pragma once

#include "platform/win32/win32.hpp"

#include <cstdint>
#include <system_error>

#include "platform/contract/port.hpp"

namespace eddy::platform::iocp {

class ipc_channel {
 public:
  ipc_channel() = default;
  ipc_channel(const ipc_channel&) = delete;
  ipc_channel& operator=(const ipc_channel&) = delete;
  ~ipc_channel();

  // ---- writing: begin_write, then write next_write() until it is empty, reporting each
  // transfer to wrote(). The frame's payload is the first non-empty buffer of the gather
  // list (at most max_payload bytes; the core writes the rest in later operations).
  // send_handle: a socket to pass (-1: none); pipe: the pipe the frame goes to, whose
  // other end's process gets the socket. Fails (nothing written) if the socket cannot be
  // duplicated for that process.
  std::error_code begin_write(HANDLE pipe, const detail::io_vec* bufs, std::uint32_t nbufs,
                              std::intptr_t send_handle) noexcept;
  [[nodiscard]] detail::io_vec next_write() const noexcept;
  void wrote(std::uint32_t bytes) noexcept;
  // The payload bytes the finished frame carried (what the write operation reports).
  [[nodiscard]] std::uint32_t payload_size() const noexcept { return out_payload_len_; }

  // ---- reading: while in_payload() is false, read into header_space() and report it to
  // header_read(); then read at most payload_left() bytes into the caller's buffer and
  // report them to payload_read().
  [[nodiscard]] bool in_payload() const noexcept { return in_payload_left_ > 0; }
  [[nodiscard]] detail::io_vec header_space() noexcept;
  // Bytes of the header (or the protocol info after it) arrived. A malformed header is
  // errc::protocol_error: the stream cannot be resynchronised, reading stops.
  std::error_code header_read(std::uint32_t bytes) noexcept;
  [[nodiscard]] std::uint32_t payload_left() const noexcept { return in_payload_left_; }
  // Bytes of the payload arrived. Returns the socket that came with this frame (on its
  // first payload bytes), or -1; the caller owns it from here.
  std::intptr_t payload_read(std::uint32_t bytes) noexcept;
  // Whether the stream ended between frames (a clean end) rather than inside one.
  [[nodiscard]] bool between_frames() const noexcept { return in_have_ == 0 && in_payload_left_ == 0; }

  static constexpr std::uint32_t max_payload = 1u << 30;

 private:
  struct header {
    std::uint32_t magic;
    std::uint32_t flags;
    std::uint32_t length;
    std::uint32_t reserved;
  };
  static constexpr std::uint32_t magic = 0x79646465;  // "eddy"
  static constexpr std::uint32_t has_socket = 1;
  static constexpr std::uint32_t header_size = sizeof(header);
  static constexpr std::uint32_t info_size = sizeof(WSAPROTOCOL_INFOW);

  // Writing: the header and protocol info go first, from out_, then the payload.
  alignas(8) unsigned char out_[header_size + info_size] = {};
  std::uint32_t out_len_ = 0;   // header (+ info) bytes
  std::uint32_t out_done_ = 0;  // of header + payload
  const unsigned char* out_payload_ = nullptr;
  std::uint32_t out_payload_len_ = 0;

  // Reading.
  alignas(8) unsigned char in_[header_size + info_size] = {};
  std::uint32_t in_have_ = 0;
  std::uint32_t in_need_ = header_size;
  std::uint32_t in_payload_left_ = 0;
  std::intptr_t received_ = -1;  // the socket of the frame being read, until handed out
};

}  // namespace eddy::platform::iocp
