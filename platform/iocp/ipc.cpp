// The IOCP port's side of ipc pipes (see port_state.hpp for how the port is split): the
// overlapped ReadFile / WriteFile calls that move a frame's header, protocol info and
// payload, in the order ipc_channel.hpp says. Loop thread only.
#include "platform/iocp/port_state.hpp"

#include <algorithm>
#include <new>

#include "platform/iocp/ipc_channel.hpp"

namespace eddy::platform::iocp {

void port::start_ipc(detail::operation& op) noexcept {
  auto& st = detail::port_state<op_state>(op);
  io_state& ios = io_state_of(*op.io);
  const HANDLE h = native_handle_of(*op.io);
  st.ov = OVERLAPPED{};
  st.handle = h;
  const auto fail = [&](std::error_code ec) {
    op.error = ec;
    push_ready(op);
  };
  if (ios.ipc == nullptr) {
    ios.ipc = new (std::nothrow) ipc_channel;
    if (ios.ipc == nullptr) return fail(make_error_code(errc::no_memory));
  }
  ipc_channel& ch = *ios.ipc;
  BOOL ok = FALSE;
  if (op.kind == detail::op_kind::write) {
    if (!st.ipc_frame) {
      if (auto ec = ch.begin_write(h, op.bufs, op.nbufs, op.send_handle)) return fail(ec);
      st.ipc_frame = true;
    }
    const detail::io_vec next = ch.next_write();
    ok = ::WriteFile(h, next.base, static_cast<DWORD>(next.len), nullptr, &st.ov);
  } else if (!ch.in_payload()) {
    const detail::io_vec space = ch.header_space();
    ok = ::ReadFile(h, space.base, static_cast<DWORD>(space.len), nullptr, &st.ov);
  } else {
    const detail::io_vec buf = op.acquire(&op);
    if (st.cancel_requested) return fail(make_error_code(errc::operation_canceled));
    if (buf.len == 0) return fail(make_error_code(errc::no_memory));
    ok = ::ReadFile(h, buf.base, std::min(wsabuf_len(buf.len), static_cast<ULONG>(ch.payload_left())), nullptr,
                    &st.ov);
  }
  if (ok) return;  // finished at once; its packet is queued (no skip mode on handles)
  const DWORD err = ::GetLastError();
  if (err == ERROR_IO_PENDING) return;
  fail(from_win32(err));  // finish_ipc tells the end of the stream from other errors
}

bool port::finish_ipc(detail::operation& op, std::error_code& ec, std::uint32_t& bytes) noexcept {
  auto& st = detail::port_state<op_state>(op);
  ipc_channel* ch = io_state_of(*op.io).ipc;
  if (ch == nullptr) return true;  // failed before the channel existed; ec says why
  if (op.kind == detail::op_kind::write) {
    if (ec) return true;
    ch->wrote(bytes);
    if (ch->next_write().len != 0) {
      if (st.cancel_requested) {
        ec = make_error_code(errc::operation_canceled);
        return true;
      }
      start_ipc(op);
      return false;
    }
    bytes = ch->payload_size();
    return true;
  }
  const bool header = !ch->in_payload();
  if (ec == errc::broken_pipe || ec == errc::eof || (!ec && bytes == 0)) {
    // The writer closed its end: the end of the stream, unless it left a frame unfinished.
    ec = ch->between_frames() ? std::error_code() : make_error_code(errc::protocol_error);
    bytes = 0;
    return true;
  }
  if (ec) return true;
  if (header) {
    ec = ch->header_read(bytes);
    bytes = 0;
    if (ec) return true;
    if (st.cancel_requested) {
      ec = make_error_code(errc::operation_canceled);  // what came is kept in the channel
      return true;
    }
    start_ipc(op);
    return false;
  }
  op.accepted = ch->payload_read(bytes);
  return true;
}

}  // namespace eddy::platform::iocp
