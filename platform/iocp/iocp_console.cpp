#include "platform/iocp/iocp_console.hpp"

#include "platform/iocp/win32.hpp"
#include <windows.h>

#include <cstring>
#include <new>
#include <type_traits>

namespace eddy::platform::iocp::console {
namespace {

static_assert(right_alt_pressed == RIGHT_ALT_PRESSED && left_alt_pressed == LEFT_ALT_PRESSED);
static_assert(right_ctrl_pressed == RIGHT_CTRL_PRESSED && left_ctrl_pressed == LEFT_CTRL_PRESSED);
static_assert(shift_pressed == SHIFT_PRESSED);

// ---------------------------------------------------------------- translation

// How a key that produces no character is sent (xterm's encoding).
enum class seq : std::uint8_t {
  csi_final,  // ESC [ X, modified: ESC [ 1 ; m X
  ss3_final,  // ESC O X, modified: ESC [ 1 ; m X
  tilde,      // ESC [ n ~, modified: ESC [ n ; m ~
};

struct vt_key {
  std::uint16_t vk;
  seq form;
  std::uint8_t code;  // the final character, or n for tilde keys
};

constexpr vt_key vt_keys[] = {
    {VK_UP, seq::csi_final, 'A'},    {VK_DOWN, seq::csi_final, 'B'},  {VK_RIGHT, seq::csi_final, 'C'},
    {VK_LEFT, seq::csi_final, 'D'},  {VK_HOME, seq::csi_final, 'H'},  {VK_END, seq::csi_final, 'F'},
    {VK_CLEAR, seq::csi_final, 'E'}, {VK_F1, seq::ss3_final, 'P'},    {VK_F2, seq::ss3_final, 'Q'},
    {VK_F3, seq::ss3_final, 'R'},    {VK_F4, seq::ss3_final, 'S'},    {VK_INSERT, seq::tilde, 2},
    {VK_DELETE, seq::tilde, 3},      {VK_PRIOR, seq::tilde, 5},       {VK_NEXT, seq::tilde, 6},
    {VK_F5, seq::tilde, 15},         {VK_F6, seq::tilde, 17},         {VK_F7, seq::tilde, 18},
    {VK_F8, seq::tilde, 19},         {VK_F9, seq::tilde, 20},         {VK_F10, seq::tilde, 21},
    {VK_F11, seq::tilde, 23},        {VK_F12, seq::tilde, 24},
};

void append_utf8(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

bool is_lead(char16_t c) noexcept { return c >= 0xD800 && c <= 0xDBFF; }
bool is_trail(char16_t c) noexcept { return c >= 0xDC00 && c <= 0xDFFF; }

// The bytes of one press of a key without a character, or empty.
std::string special_key(std::uint16_t vk, std::uint32_t state) {
  const vt_key* key = nullptr;
  for (const auto& k : vt_keys) {
    if (k.vk == vk) key = &k;
  }
  if (key == nullptr) return {};
  int m = 1;
  if ((state & shift_pressed) != 0) m += 1;
  if ((state & (left_alt_pressed | right_alt_pressed)) != 0) m += 2;
  if ((state & (left_ctrl_pressed | right_ctrl_pressed)) != 0) m += 4;
  std::string s = "\x1b";
  if (key->form == seq::tilde) {
    s += '[';
    s += std::to_string(key->code);
    if (m != 1) s += ';' + std::to_string(m);
    s += '~';
    return s;
  }
  if (m != 1) {
    s += "[1;" + std::to_string(m);
  } else {
    s += key->form == seq::ss3_final ? 'O' : '[';
  }
  s += static_cast<char>(key->code);
  return s;
}

}  // namespace

void translate_key(const key_record& key, char16_t& high_surrogate, std::string& out) {
  char16_t ch = key.ch;
  if (!key.key_down) {
    // Alt+numpad composition: the character comes with the release of Alt.
    if (key.virtual_key != VK_MENU || ch == 0) return;
  }
  const std::uint16_t repeat = key.repeat == 0 ? 1 : key.repeat;
  const bool alt = (key.control_state & (left_alt_pressed | right_alt_pressed)) != 0;
  const bool ctrl = (key.control_state & (left_ctrl_pressed | right_ctrl_pressed)) != 0;
  std::string one;
  if (ch == 0) {
    if (key.virtual_key == VK_SPACE && ctrl) {
      one.assign(1, '\0');  // Ctrl+Space is NUL on a terminal
    } else {
      one = special_key(key.virtual_key, key.control_state);
    }
    if (one.empty()) return;
  } else if (is_lead(ch)) {
    if (high_surrogate != 0) append_utf8(0xFFFD, out);  // a lead without its trail
    high_surrogate = ch;
    return;  // the trail comes as the next event
  } else {
    char32_t cp = ch;
    if (is_trail(ch)) {
      cp = high_surrogate != 0 ? 0x10000 + ((static_cast<char32_t>(high_surrogate - 0xD800) << 10) | (ch - 0xDC00))
                               : 0xFFFD;
      high_surrogate = 0;
    } else if (high_surrogate != 0) {
      append_utf8(0xFFFD, out);
      high_surrogate = 0;
    }
    if (key.virtual_key == VK_TAB && ch == u'\t' && (key.control_state & shift_pressed) != 0) {
      one = "\x1b[Z";  // back-tab
    } else {
      // Alt: ESC first (as terminals send Meta). Not for AltGr (Right Alt + Ctrl), which
      // types characters of its own on many layouts.
      if (alt && !ctrl && key.key_down) one += '\x1b';
      append_utf8(cp, one);
    }
  }
  for (std::uint16_t i = 0; i < repeat; ++i) out += one;
}

// ---------------------------------------------------------------- the port side

namespace {

// What io_object::port_data holds for a console object: its context on the heap.
struct console_io {
  HANDLE handle = nullptr;
  bool input = false;
  // Translated bytes the last read did not have room for.
  std::string pending;
  std::size_t pending_off = 0;
  char16_t high_surrogate = 0;  // a UTF-16 lead whose trail has not come yet
  // Output: a UTF-8 sequence cut by the end of a write (its first bytes), finished by the next.
  unsigned char carry[4] = {};
  std::size_t carry_len = 0;
};

console_io*& context_of(detail::io_object& io) noexcept { return *reinterpret_cast<console_io**>(io.port_data.data()); }

// What operation::port_data holds for an operation on a console object.
struct console_op {
  OVERLAPPED ov;  // first: a packet's lpOverlapped converts back to the record
  detail::operation* owner;
  HANDLE iocp;
  HANDLE wait;  // the registered wait while a read waits for input
  // Set (interlocked) by the wait callback before it posts its packet; tells cancel()
  // whether a packet is on its way.
  volatile LONG fired;
  bool cancel_requested;
};
static_assert(sizeof(console_op) <= sizeof(detail::operation::port_data));
static_assert(std::is_standard_layout_v<console_op>, "the OVERLAPPED must be at offset 0");

console_op& state_of(detail::operation& op) noexcept { return detail::port_state<console_op>(op); }

bool post(console_op& st) noexcept {
  return ::PostQueuedCompletionStatus(st.iocp, 0, static_cast<ULONG_PTR>(completion_key), &st.ov) != FALSE;
}

// On the wait thread: input is waiting. Only posts; the loop thread does the reading.
VOID CALLBACK on_input(PVOID param, BOOLEAN /*timed_out*/) {
  auto* st = static_cast<console_op*>(param);
  ::InterlockedExchange(&st->fired, 1);
  (void)post(*st);
}

std::error_code arm_wait(console_op& st, HANDLE input) noexcept {
  ::InterlockedExchange(&st.fired, 0);
  HANDLE wait = nullptr;
  if (!::RegisterWaitForSingleObject(&wait, input, &on_input, &st, INFINITE, WT_EXECUTEONLYONCE)) {
    return from_win32(::GetLastError());
  }
  st.wait = wait;
  return {};
}

// Waits for a running callback and releases the wait.
void disarm_wait(console_op& st) noexcept {
  if (st.wait == nullptr) return;
  ::UnregisterWaitEx(st.wait, INVALID_HANDLE_VALUE);
  st.wait = nullptr;
}

// Reads what input is waiting, never blocking, and translates it into ctx.pending.
std::error_code drain_input(console_io& ctx) noexcept {
  for (;;) {
    DWORD available = 0;
    if (!::GetNumberOfConsoleInputEvents(ctx.handle, &available)) return from_win32(::GetLastError());
    if (available == 0) return {};
    INPUT_RECORD records[64];
    DWORD got = 0;
    if (!::ReadConsoleInputW(ctx.handle, records, available < 64 ? available : 64, &got)) {
      return from_win32(::GetLastError());
    }
    try {
      for (DWORD i = 0; i < got; ++i) {
        if (records[i].EventType != KEY_EVENT) continue;
        const KEY_EVENT_RECORD& k = records[i].Event.KeyEvent;
        key_record key;
        key.key_down = k.bKeyDown != FALSE;
        key.repeat = k.wRepeatCount;
        key.virtual_key = k.wVirtualKeyCode;
        key.ch = static_cast<char16_t>(k.uChar.UnicodeChar);
        key.control_state = k.dwControlKeyState;
        translate_key(key, ctx.high_surrogate, ctx.pending);
      }
    } catch (const std::bad_alloc&) {
      return make_error_code(errc::no_memory);
    }
    if (got < 64) return {};
  }
}

// Decodes UTF-8 (with ctx.carry from the previous write) into UTF-16 and writes it.
std::error_code write_utf8(console_io& ctx, const detail::io_vec* bufs, std::uint32_t nbufs, std::uint64_t& written) {
  wchar_t wide[2048];
  std::size_t n = 0;
  const auto flush = [&]() -> std::error_code {
    std::size_t off = 0;
    while (off < n) {
      DWORD done = 0;
      if (!::WriteConsoleW(ctx.handle, wide + off, static_cast<DWORD>(n - off), &done, nullptr)) {
        return from_win32(::GetLastError());
      }
      if (done == 0) return make_error_code(errc::broken_pipe);
      off += done;
    }
    n = 0;
    return {};
  };
  const auto put = [&](char32_t cp) -> std::error_code {
    if (n + 2 > sizeof wide / sizeof wide[0]) {
      if (auto ec = flush()) return ec;
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      wide[n++] = static_cast<wchar_t>(0xD800 + (cp >> 10));
      wide[n++] = static_cast<wchar_t>(0xDC00 + (cp & 0x3FF));
    } else {
      wide[n++] = static_cast<wchar_t>(cp);
    }
    return {};
  };
  // Bytes expected for a lead byte (0: invalid as a lead).
  const auto seq_len = [](unsigned char b) -> std::size_t {
    if (b < 0x80) return 1;
    if (b >= 0xC2 && b <= 0xDF) return 2;
    if (b >= 0xE0 && b <= 0xEF) return 3;
    if (b >= 0xF0 && b <= 0xF4) return 4;
    return 0;
  };
  const auto decode = [&](const unsigned char* s, std::size_t len) -> char32_t {
    const unsigned lead_mask = len == 1 ? 0x7Fu : len == 2 ? 0x1Fu : len == 3 ? 0x0Fu : 0x07u;
    char32_t cp = static_cast<char32_t>(s[0] & lead_mask);
    for (std::size_t i = 1; i < len; ++i) cp = static_cast<char32_t>((cp << 6) | (s[i] & 0x3Fu));
    const bool overlong = (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
    if (overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0xFFFD;
    return cp;
  };
  written = 0;
  for (std::uint32_t b = 0; b < nbufs; ++b) {
    const auto* p = static_cast<const unsigned char*>(bufs[b].base);
    for (std::size_t i = 0; i < bufs[b].len; ++i) {
      const unsigned char c = p[i];
      if (ctx.carry_len != 0) {
        if ((c & 0xC0) == 0x80) {
          ctx.carry[ctx.carry_len++] = c;
          if (ctx.carry_len == seq_len(ctx.carry[0])) {
            if (auto ec = put(decode(ctx.carry, ctx.carry_len))) return ec;
            ctx.carry_len = 0;
          }
          continue;
        }
        ctx.carry_len = 0;  // cut short: a replacement character, then c afresh
        if (auto ec = put(0xFFFD)) return ec;
      }
      const std::size_t len = seq_len(c);
      if (len == 1) {
        if (auto ec = put(c)) return ec;
      } else if (len == 0) {
        if (auto ec = put(0xFFFD)) return ec;
      } else {
        ctx.carry[0] = c;
        ctx.carry_len = 1;
      }
    }
    written += bufs[b].len;
  }
  return flush();
}

void finish(detail::operation& op, std::error_code ec, detail::poll_result& out) noexcept {
  auto& st = state_of(op);
  op.error = ec;
  if (ec) op.result = 0;
  st.owner = nullptr;
  ++out.completions;
  detail::complete(op);
}

}  // namespace

std::error_code attach(detail::io_object& io) {
  auto* ctx = new (std::nothrow) console_io;
  if (ctx == nullptr) return make_error_code(errc::no_memory);
  ctx->handle = reinterpret_cast<HANDLE>(io.native);
  DWORD events = 0;
  ctx->input = ::GetNumberOfConsoleInputEvents(ctx->handle, &events) != FALSE;
  context_of(io) = ctx;
  return {};
}

void detach(detail::io_object& io) noexcept {
  delete context_of(io);
  context_of(io) = nullptr;
  if (io.native != -1) ::CloseHandle(reinterpret_cast<HANDLE>(io.native));
  io.native = -1;  // closed here: it is not a socket for net::close
}

void submit(void* iocp, detail::operation& op) noexcept {
  auto& st = state_of(op);
  st.ov = OVERLAPPED{};
  st.owner = &op;
  st.iocp = iocp;
  st.wait = nullptr;
  st.fired = 0;
  st.cancel_requested = false;
  op.result = 0;
  op.error = {};
  console_io* ctx = op.io != nullptr ? context_of(*op.io) : nullptr;
  switch (op.kind) {
    case detail::op_kind::read:
    case detail::op_kind::recv:
      if (ctx == nullptr || !ctx->input) {
        op.error = make_error_code(errc::not_supported);
        break;
      }
      if (ctx->pending_off < ctx->pending.size()) break;  // leftovers: a packet, then copy them
      if (auto ec = arm_wait(st, ctx->handle)) {
        op.error = ec;
        break;
      }
      return;  // the wait callback posts the packet
    case detail::op_kind::write:
    case detail::op_kind::send: {
      if (ctx == nullptr || ctx->input) {
        op.error = make_error_code(errc::not_supported);
        break;
      }
      // Console output is synchronous (WriteConsoleW; a console handle takes no overlapped
      // I/O), so it is done now and completes through a packet.
      std::uint64_t written = 0;
      if (auto ec = write_utf8(*ctx, op.bufs, op.nbufs, written)) {
        op.error = ec;
      } else {
        op.result = static_cast<std::int64_t>(written);
      }
      break;
    }
    case detail::op_kind::nop:
      break;
    default:
      op.error = make_error_code(errc::not_supported);
      break;
  }
  // Completes from poll. Posting fails only when memory is exhausted; the operation would
  // then never complete, so retry once more before giving up.
  if (!post(st)) (void)post(st);
}

bool cancel(detail::operation& op) noexcept {
  auto& st = state_of(op);
  if (st.owner != &op) return false;
  st.cancel_requested = true;
  if (st.wait != nullptr) {
    disarm_wait(st);
    // The callback ran (its packet is queued) or never will: then this packet completes it.
    if (::InterlockedCompareExchange(&st.fired, 0, 0) == 0) (void)post(st);
  }
  return true;
}

void on_packet(void* overlapped, detail::poll_result& out) noexcept {
  auto& st = *static_cast<console_op*>(overlapped);
  detail::operation& op = *st.owner;
  disarm_wait(st);  // the callback has posted; this waits for it to return and frees the wait
  if (op.kind != detail::op_kind::read && op.kind != detail::op_kind::recv) {
    finish(op, op.error, out);  // write, nop: done in submit
    return;
  }
  if (op.error) return finish(op, op.error, out);
  if (st.cancel_requested) return finish(op, make_error_code(errc::operation_canceled), out);
  console_io& ctx = *context_of(*op.io);
  if (ctx.pending_off >= ctx.pending.size()) {
    ctx.pending.clear();
    ctx.pending_off = 0;
    if (auto ec = drain_input(ctx)) return finish(op, ec, out);
    if (ctx.pending.empty()) {
      // Only events without bytes (key releases, mouse, focus, resize): wait again.
      if (auto ec = arm_wait(st, ctx.handle)) finish(op, ec, out);
      return;
    }
  }
  const detail::io_vec buf = op.acquire(&op);
  if (st.cancel_requested) return finish(op, make_error_code(errc::operation_canceled), out);
  if (buf.len == 0) return finish(op, make_error_code(errc::no_memory), out);
  const std::size_t avail = ctx.pending.size() - ctx.pending_off;
  const std::size_t n = avail < buf.len ? avail : buf.len;
  std::memcpy(buf.base, ctx.pending.data() + ctx.pending_off, n);
  ctx.pending_off += n;
  if (ctx.pending_off == ctx.pending.size()) {
    ctx.pending.clear();
    ctx.pending_off = 0;
  }
  op.result = static_cast<std::int64_t>(n);
  finish(op, {}, out);
}

}  // namespace eddy::platform::iocp::console
