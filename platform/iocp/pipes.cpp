// The IOCP port's HANDLEs (see port_state.hpp for how the port is split): named pipes for
// eddy::pipe (listeners keep ConnectNamedPipe instances pending, clients open the pipe with
// CreateFileW; local_pipe.hpp), and the ReadFile / WriteFile / ReadDirectoryChangesW calls
// on every stream HANDLE (connected pipes, files, directories). Loop thread only, except
// pipe_retry_fired (a timer-queue thread).
#include "platform/iocp/port_state.hpp"

#include <algorithm>
#include <iterator>
#include <new>

namespace eddy::platform::iocp {
namespace {
// Runs on a timer-queue thread: hands the retry to the loop thread through the port.
VOID CALLBACK pipe_retry_fired(PVOID param, BOOLEAN) {
  auto& st = *static_cast<op_state*>(param);
  ::InterlockedExchange(&st.retry_fired, 1);
  ::PostQueuedCompletionStatus(st.iocp, 0, retry_key, &st.ov);
}
}  // namespace

void port::start_pipe(detail::operation& op) noexcept {
  auto& st = detail::port_state<op_state>(op);
  detail::io_object& io = *op.io;
  const auto fail = [&](std::error_code ec) {
    op.error = ec;
    push_ready(op);
  };
  // A named pipe that is a listener or not connected yet (local_pipe.hpp): no overlapped
  // call on the operation itself.
  st.handle = nullptr;
  st.local = true;
  if (op.kind == detail::op_kind::connect) return connect_pipe(op);
  if (op.kind != detail::op_kind::accept) return fail(make_error_code(errc::not_connected));
  local_pipe& p = *local_of(io.native);
  if (!p.listening) return fail(make_error_code(errc::invalid_argument));
  if (p.waiting_accept != nullptr) return fail(make_error_code(errc::already_started));
  p.waiting_accept = &op;
  st.pipe = &p;
  arm_instances(p);
  complete_pipe_accept(p);
  if (p.waiting_accept == &op &&
      std::all_of(std::begin(p.instances), std::end(p.instances), [](pipe_instance* i) { return i == nullptr; })) {
    // Not one instance could be created: nothing would ever connect.
    const DWORD err = ::GetLastError();
    p.waiting_accept = nullptr;
    st.pipe = nullptr;
    return fail(err != 0 ? from_win32(err) : make_error_code(errc::no_memory));
  }
}

void port::start_handle_io(detail::operation& op) noexcept {
  // A pipe or file HANDLE: one overlapped ReadFile into the buffer acquire() gives (a
  // pipe read completes as soon as some bytes are there), or one WriteFile of the first
  // buffer of the gather list (the core writes the rest: a partial result is allowed).
  auto& st = detail::port_state<op_state>(op);
  detail::io_object& io = *op.io;
  const auto fail = [&](std::error_code ec) {
    op.error = ec;
    push_ready(op);
  };
  if (io.ipc) return start_ipc(op);
  BOOL ok = FALSE;
  const HANDLE h = native_handle_of(io);
  io_state& ios = io_state_of(io);
  if (ios.is_file) {
    st.ov.Offset = static_cast<DWORD>(ios.offset & 0xFFFFFFFFu);
    st.ov.OffsetHigh = static_cast<DWORD>(ios.offset >> 32);
  }
  if (op.kind == detail::op_kind::read) {
    const detail::io_vec buf = op.acquire(&op);
    if (st.cancel_requested) return fail(make_error_code(errc::operation_canceled));
    if (buf.len == 0) return fail(make_error_code(errc::no_memory));
    if (io.kind == detail::io_kind::directory) {
      // The directory's change records since the previous call (the system keeps them
      // between calls once the first was made); the packet carries their size.
      constexpr DWORD what = FILE_NOTIFY_CHANGE_FILE_NAME | FILE_NOTIFY_CHANGE_DIR_NAME |
                             FILE_NOTIFY_CHANGE_ATTRIBUTES | FILE_NOTIFY_CHANGE_SIZE |
                             FILE_NOTIFY_CHANGE_LAST_WRITE | FILE_NOTIFY_CHANGE_CREATION |
                             FILE_NOTIFY_CHANGE_SECURITY;
      ok = ::ReadDirectoryChangesW(h, buf.base, wsabuf_len(buf.len), FALSE, what, nullptr, &st.ov, nullptr);
    } else {
      ok = ::ReadFile(h, buf.base, wsabuf_len(buf.len), nullptr, &st.ov);
    }
  } else {
    std::uint32_t i = 0;
    while (i + 1 < op.nbufs && op.bufs[i].len == 0) ++i;
    const detail::io_vec* b = op.bufs + i;
    ok = ::WriteFile(h, b->base, wsabuf_len(b->len), nullptr, &st.ov);
  }
  if (ok) return;  // finished at once; no skip mode on handles, so its packet is queued
  const DWORD err = ::GetLastError();
  if (err == ERROR_IO_PENDING) return;
  if (op.kind == detail::op_kind::read && (err == ERROR_BROKEN_PIPE || err == ERROR_HANDLE_EOF)) {
    op.result = 0;  // the end of the stream
    push_ready(op);
    return;
  }
  fail(from_win32(err));
}

bool port::finish_handle_io(detail::operation& op, std::error_code& ec, std::uint32_t& bytes) noexcept {
  detail::io_object& io = *op.io;
  if (io.ipc) return finish_ipc(op, ec, bytes);  // false: the frame goes on, the next call is issued
  if (op.kind == detail::op_kind::read && (ec == errc::broken_pipe || ec == errc::eof)) {
    ec.clear();  // the writer closed its end, or the end of a file: end of stream
    bytes = 0;
  }
  io_state& ios = io_state_of(io);
  if (!ec && ios.is_file) ios.offset += bytes;
  return true;
}

void port::detach_pipe(detail::io_object& io) noexcept {
  // A pipe listener: instances whose ConnectNamedPipe is pending are closed now (which
  // cancels the call and frees the name at once) and handed to the port, which frees
  // their memory when the packet comes back; net::close frees the rest with the marker.
  for (auto*& inst : local_of(io.native)->instances) {
    if (inst == nullptr || inst->st != pipe_instance::state::pending) continue;
    inst->listener = nullptr;
    ::CancelIoEx(inst->handle, &inst->ov);
    ::CloseHandle(inst->handle);
    inst->handle = INVALID_HANDLE_VALUE;
    inst = nullptr;
  }
  io_state_of(io) = io_state{};
}

void port::on_retry_packet(void* overlapped, detail::poll_result& out) {
  // A pipe connect's retry timer fired.
  op_state& rst = state_of(static_cast<OVERLAPPED*>(overlapped));
  detail::operation& rop = *rst.owner;
  if (rst.retry_timer != nullptr) ::DeleteTimerQueueTimer(nullptr, rst.retry_timer, nullptr);
  rst.retry_timer = nullptr;
  if (rst.cancel_requested) {
    finish_io(rop, make_error_code(errc::operation_canceled), 0, out);
  } else {
    connect_pipe(rop);  // connects (delivered from the ready list) or waits again
  }
}

// ---------------------------------------------------------------- named pipes (local_pipe.hpp)

void port::arm_instances(local_pipe& p) noexcept {
  for (auto*& inst : p.instances) {
    // Two tries per slot: an instance whose client came and went before ConnectNamedPipe
    // (ERROR_NO_DATA) is replaced by a fresh one at once.
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (inst == nullptr) {
        const HANDLE h = create_pipe_instance(p, false);
        if (h == INVALID_HANDLE_VALUE) break;
        inst = new (std::nothrow) pipe_instance{};
        if (inst == nullptr) {
          ::CloseHandle(h);
          break;
        }
        inst->handle = h;
        inst->listener = &p;
      }
      if (inst->st != pipe_instance::state::idle) break;
      if (!inst->associated) {
        if (::CreateIoCompletionPort(inst->handle, iocp_, op_key, 0) == nullptr) {
          free_pipe_instance(inst);
          inst = nullptr;
          break;
        }
        inst->associated = true;
      }
      inst->ov = OVERLAPPED{};
      if (::ConnectNamedPipe(inst->handle, &inst->ov)) {
        inst->st = pipe_instance::state::pending;  // finished at once; its packet is queued
        break;
      }
      const DWORD err = ::GetLastError();
      if (err == ERROR_IO_PENDING) {
        inst->st = pipe_instance::state::pending;
        break;
      }
      if (err == ERROR_PIPE_CONNECTED) {  // a client connected before the call: no packet
        inst->st = pipe_instance::state::connected;
        break;
      }
      free_pipe_instance(inst);
      inst = nullptr;
    }
  }
}

void port::complete_pipe_accept(local_pipe& p) noexcept {
  detail::operation* op = p.waiting_accept;
  if (op == nullptr) return;
  for (auto*& inst : p.instances) {
    if (inst == nullptr || inst->st != pipe_instance::state::connected) continue;
    try {
      preassociated_.push_back(inst->handle);  // attach must not associate it again
    } catch (...) {
      return;  // out of memory: the accept keeps waiting
    }
    op->accepted = reinterpret_cast<std::intptr_t>(inst->handle);
    delete inst;  // the handle now belongs to the accept
    inst = nullptr;
    p.waiting_accept = nullptr;
    detail::port_state<op_state>(*op).pipe = nullptr;
    op->error = {};
    push_ready(*op);
    arm_instances(p);  // a fresh instance takes its place
    return;
  }
}

void port::on_instance_packet(void* overlapped) noexcept {
  auto* inst = static_cast<pipe_instance*>(overlapped);
  local_pipe* p = inst->listener;
  if (p == nullptr) {  // orphaned by detach: its listener is gone
    free_pipe_instance(inst);
    return;
  }
  if (inst->ov.Internal == 0) {
    inst->st = pipe_instance::state::connected;
  } else {
    // The client left before it was accepted (or the call failed): drop the instance.
    for (auto*& slot : p->instances) {
      if (slot == inst) slot = nullptr;
    }
    free_pipe_instance(inst);
    arm_instances(*p);
  }
  complete_pipe_accept(*p);
}

void port::connect_pipe(detail::operation& op) noexcept {
  // Opens the pipe now (CreateFileW does not block on a pipe); the outcome is delivered by
  // the next poll, like every immediate completion.
  detail::io_object& io = *op.io;
  local_pipe* p = local_of(io.native);
  const auto fail = [&](std::error_code ec) {
    op.error = ec;
    push_ready(op);
  };
  if (!p->name.empty()) return fail(make_error_code(errc::invalid_argument));  // a bound pipe is a server
  // op.addr holds the UTF-8 name (net::local_target), at most 128 bytes.
  wchar_t wide[130];
  const int n = ::MultiByteToWideChar(CP_UTF8, 0, static_cast<const char*>(op.addr), static_cast<int>(op.addrlen),
                                      wide, 129);
  if (n <= 0) return fail(make_error_code(errc::invalid_argument));
  wide[n] = L'\0';
  // SECURITY_IDENTIFICATION: the server may learn who the client is, not act as it.
  const HANDLE h = ::CreateFileW(wide, GENERIC_READ | GENERIC_WRITE, 0, nullptr, OPEN_EXISTING,
                                 FILE_FLAG_OVERLAPPED | SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION, nullptr);
  if (h == INVALID_HANDLE_VALUE) {
    const DWORD err = ::GetLastError();
    if (err == ERROR_PIPE_BUSY) {
      // Every instance is taken (more clients at once than the listener keeps instances
      // pending). WaitNamedPipeW would block the loop: try again from a timer instead.
      auto& st = detail::port_state<op_state>(op);
      if (st.retries >= pipe_max_retries) return fail(make_error_code(errc::timed_out));
      ++st.retries;
      st.iocp = iocp_;
      st.retry_fired = 0;
      if (::CreateTimerQueueTimer(&st.retry_timer, nullptr, &pipe_retry_fired, &st, pipe_retry_ms, 0,
                                  WT_EXECUTEONLYONCE)) {
        return;
      }
      st.retry_timer = nullptr;
      return fail(from_win32(::GetLastError()));
    }
    return fail(from_win32(err));
  }
  if (::CreateIoCompletionPort(h, iocp_, op_key, 0) == nullptr) {
    const DWORD err = ::GetLastError();
    ::CloseHandle(h);
    return fail(from_win32(err));
  }
  // The marker becomes the pipe: from now on the io object is a HANDLE read and written
  // with ReadFile / WriteFile.
  delete p;
  io.native = reinterpret_cast<std::intptr_t>(h);
  io.kind = detail::io_kind::stream;
  io_state& ios = io_state_of(io);
  ios = io_state{};
  op.error = {};
  push_ready(op);
}

}  // namespace eddy::platform::iocp
