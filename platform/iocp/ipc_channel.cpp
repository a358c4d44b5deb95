#include "platform/iocp/ipc_channel.hpp"

#include <algorithm>
#include <cstring>

namespace eddy::platform::iocp {

namespace {

std::error_code last_wsa_error() noexcept { return from_win32(static_cast<std::uint32_t>(::WSAGetLastError())); }

// The process at the other end of a named pipe: the client's if this is the server end.
std::error_code peer_process(HANDLE pipe, ULONG& pid) noexcept {
  DWORD flags = 0;
  if (!::GetNamedPipeInfo(pipe, &flags, nullptr, nullptr, nullptr)) return from_win32(::GetLastError());
  const BOOL ok = (flags & PIPE_SERVER_END) != 0 ? ::GetNamedPipeClientProcessId(pipe, &pid)
                                                 : ::GetNamedPipeServerProcessId(pipe, &pid);
  if (!ok) return from_win32(::GetLastError());
  return {};
}

}  // namespace

ipc_channel::~ipc_channel() {
  if (received_ != -1) ::closesocket(static_cast<SOCKET>(received_));
}

std::error_code ipc_channel::begin_write(HANDLE pipe, const detail::io_vec* bufs, std::uint32_t nbufs,
                                         std::intptr_t send_handle) noexcept {
  std::uint32_t i = 0;
  while (i + 1 < nbufs && bufs[i].len == 0) ++i;
  const std::size_t len = nbufs == 0 ? 0 : bufs[i].len;
  header h{magic, 0, static_cast<std::uint32_t>(std::min<std::size_t>(len, max_payload)), 0};
  out_len_ = header_size;
  if (send_handle != -1) {
    ULONG pid = 0;
    if (auto ec = peer_process(pipe, pid)) return ec;
    WSAPROTOCOL_INFOW info{};
    if (::WSADuplicateSocketW(static_cast<SOCKET>(send_handle), pid, &info) != 0) {
      // Only sockets travel (a pipe HANDLE would need DuplicateHandle into the receiver).
      if (::WSAGetLastError() == WSAENOTSOCK) return make_error_code(errc::not_supported);
      return last_wsa_error();
    }
    h.flags |= has_socket;
    std::memcpy(out_ + header_size, &info, info_size);
    out_len_ += info_size;
  }
  std::memcpy(out_, &h, header_size);
  out_done_ = 0;
  out_payload_ = nbufs == 0 ? nullptr : static_cast<const unsigned char*>(bufs[i].base);
  out_payload_len_ = h.length;
  return {};
}

detail::io_vec ipc_channel::next_write() const noexcept {
  if (out_done_ < out_len_) return {const_cast<unsigned char*>(out_) + out_done_, out_len_ - out_done_};
  const std::uint32_t sent = out_done_ - out_len_;
  if (sent < out_payload_len_) return {const_cast<unsigned char*>(out_payload_) + sent, out_payload_len_ - sent};
  return {nullptr, 0};
}

void ipc_channel::wrote(std::uint32_t bytes) noexcept { out_done_ += bytes; }

detail::io_vec ipc_channel::header_space() noexcept { return {in_ + in_have_, in_need_ - in_have_}; }

std::error_code ipc_channel::header_read(std::uint32_t bytes) noexcept {
  in_have_ += bytes;
  if (in_have_ < in_need_) return {};
  header h;
  std::memcpy(&h, in_, header_size);
  if (h.magic != magic || (h.flags & ~has_socket) != 0 || h.length == 0 || h.length > max_payload) {
    return make_error_code(errc::protocol_error);
  }
  if ((h.flags & has_socket) != 0 && in_need_ == header_size) {
    in_need_ += info_size;  // the protocol info follows
    return {};
  }
  if ((h.flags & has_socket) != 0) {
    WSAPROTOCOL_INFOW info;
    std::memcpy(&info, in_ + header_size, info_size);
    // WSA_FLAG_NO_HANDLE_INHERIT: like every eddy socket, not inherited by children.
    const SOCKET s = ::WSASocketW(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, &info, 0,
                                  WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    if (s == INVALID_SOCKET) {
      // The payload is still read (the stream stays in step); the socket is lost.
      const std::error_code ec = last_wsa_error();
      in_have_ = 0;
      in_need_ = header_size;
      in_payload_left_ = h.length;
      return ec;
    }
    if (received_ != -1) ::closesocket(static_cast<SOCKET>(received_));
    received_ = static_cast<std::intptr_t>(s);
  }
  in_have_ = 0;
  in_need_ = header_size;
  in_payload_left_ = h.length;
  return {};
}

std::intptr_t ipc_channel::payload_read(std::uint32_t bytes) noexcept {
  in_payload_left_ -= std::min(bytes, in_payload_left_);
  const std::intptr_t s = received_;
  received_ = -1;
  return s;
}

}  // namespace eddy::platform::iocp
