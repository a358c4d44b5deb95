// Console handles on the IOCP port (io_kind::console). A console handle cannot be
// associated with a completion port, so the port hands operations on one to this code:
// - read: RegisterWaitForSingleObject(WT_EXECUTEONLYONCE) on the input handle; the wait
//   thread's callback posts a packet with completion_key to the loop's port; on the loop
//   thread on_packet() reads the waiting input records without blocking
//   (GetNumberOfConsoleInputEvents, then ReadConsoleInputW), translates key events into
//   UTF-8 and VT sequences (translate_key) and copies them into the buffer op.acquire()
//   gives. Bytes that do not fit stay for the next read. No bytes (key-up, mouse, focus
//   events): wait again.
// - write: done at once in submit() with WriteConsoleW (UTF-8 converted to UTF-16, a
//   sequence split across writes is carried over); its completion is a posted packet.
// - nop: a posted packet.
// Cancel unregisters the wait (UnregisterWaitEx, waiting for a running callback) and the
// operation completes once, from poll, with operation_canceled.
//
// No OS header here (the port's header rules); HANDLE and friends appear as void*.
#pragma once

#include <cstdint>
#include <string>
#include <system_error>

#include "platform/contract/port.hpp"

namespace eddy::platform::iocp::console {

// The completion key of every packet this code posts; distinct from the port's own keys.
inline constexpr std::uintptr_t completion_key = 0xC045;

// attach/detach of an io_kind::console object. detach also closes the handle (it is a
// console handle, not a socket, so net::close must not see it): io.native becomes -1.
std::error_code attach(detail::io_object& io);
void detach(detail::io_object& io) noexcept;

// The port's submit/cancel for operations on io_kind::console objects. iocp: the loop's
// completion port (HANDLE).
void submit(void* iocp, detail::operation& op) noexcept;
bool cancel(detail::operation& op) noexcept;
// A packet with completion_key came out of the port (overlapped: its lpOverlapped).
// Delivers the operation (and counts it in out.completions) or waits again.
void on_packet(void* overlapped, detail::poll_result& out) noexcept;

// ---------------------------------------------------------------- translation (pure)

// dwControlKeyState bits (the same values as the Windows constants).
inline constexpr std::uint32_t right_alt_pressed = 0x0001;
inline constexpr std::uint32_t left_alt_pressed = 0x0002;
inline constexpr std::uint32_t right_ctrl_pressed = 0x0004;
inline constexpr std::uint32_t left_ctrl_pressed = 0x0008;
inline constexpr std::uint32_t shift_pressed = 0x0010;

// The parts of a KEY_EVENT_RECORD the translation uses.
struct key_record {
  bool key_down = true;
  std::uint16_t repeat = 1;
  std::uint16_t virtual_key = 0;  // VK_*
  char16_t ch = 0;                // uChar.UnicodeChar
  std::uint32_t control_state = 0;
};

// Appends the bytes one key event stands for to out, as a terminal would send them:
// characters as UTF-8 (a UTF-16 pair arrives as two events: the lead waits in
// high_surrogate), ESC before a character typed with Alt (not AltGr, which is Ctrl+Alt),
// xterm sequences for cursor, editing and function keys (with ";m" modifier parameters for
// Shift/Alt/Ctrl), each repeated key.repeat times. Key-up events give nothing, except the
// release of Alt that ends an Alt+numpad composition (it carries the character).
void translate_key(const key_record& key, char16_t& high_surrogate, std::string& out);

}  // namespace eddy::platform::iocp::console
