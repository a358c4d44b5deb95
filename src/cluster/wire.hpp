// The cluster channel's wire format: frames and the messages inside them. Pure functions on
// bytes (no loop, no I/O, no globals), so they are tested and fuzzed on their own
// (tests/fuzz/cluster_frame_fuzz.cpp, cluster_message_fuzz.cpp).
//
// A frame is an 8-byte header (payload length, little-endian u32; type, u8; three zero bytes)
// and the payload. Every multi-byte field is little-endian. The bytes come from another
// process (a worker, or whoever connects to the channel's name), so every decoder accepts any
// input: a malformed one is reported (std::nullopt, decode_status::malformed), never read past.
//
// Thread rules: none; every function is reentrant. Spans passed in are only read during the
// call, except decoded_frame::payload, which points into the caller's buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "eddy/address.hpp"

namespace eddy::cluster::detail {

enum class frame_type : std::uint8_t {
  hello = 1,     // w→p: id (u32), secret (the rest)
  heartbeat,     // w→p: rss (u64), lag in µs (u64), utilisation in ppm (u32), handles (u32),
                 // then (optional) the loop's report: see heartbeat_loop
  message,       // both: the user's bytes
  listen,        // w→p: backlog (u32), address ("host:port")
  listening,     // p→w: error (u32 errc, 0 = ok), has socket (u8), address; the socket if shared
  listening_ok,  // w→p: the address the worker serves
  connection,    // p→w: one byte; a connection rides along (round_robin)
  ack,           // w→p: connections taken (u32)
  disconnect,    // p→w: leave
};
inline constexpr std::uint8_t last_frame_type = static_cast<std::uint8_t>(frame_type::disconnect);
inline constexpr std::size_t header_size = 8;
// Room for the protocol's own fields beside a message of max_message bytes.
inline constexpr std::size_t protocol_overhead = 256;

// Little-endian field writing (appends to out).
void put_u32(std::vector<std::byte>& out, std::uint32_t v);
void put_u64(std::vector<std::byte>& out, std::uint64_t v);
void put_text(std::vector<std::byte>& out, std::string_view s);

// Reads fields from a payload; ok() turns false (and stays) when it runs past the end. The
// span is borrowed for the reader's life.
class reader {
 public:
  explicit reader(std::span<const std::byte> p) noexcept : p_(p) {}
  // The next `bytes` (1..8) bytes as a little-endian integer, or 0 past the end.
  std::uint64_t u(int bytes) noexcept;
  // Everything not read yet, as text.
  std::string rest();
  [[nodiscard]] bool ok() const noexcept { return ok_; }
  // Bytes not read yet (0 once past the end).
  [[nodiscard]] std::size_t remaining() const noexcept { return ok_ ? p_.size() - pos_ : 0; }

 private:
  std::span<const std::byte> p_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

// ---- frames

// Header and payload as one buffer, ready to write.
std::vector<std::byte> encode_frame(frame_type type, std::span<const std::byte> payload);

enum class decode_status { incomplete, frame, malformed };
struct decoded_frame {
  decode_status status = decode_status::incomplete;
  frame_type type{};                   // when status == frame
  std::span<const std::byte> payload;  // when status == frame: a view into the input
  std::size_t size = 0;                // when status == frame: header and payload bytes used
};
// Looks at the front of `in`: a whole frame, not enough bytes yet, or a header that can never
// be valid (unknown type, reserved bytes set, or a payload longer than max_payload). A
// malformed header is reported as soon as its 8 bytes are there, before its payload.
decoded_frame decode_frame(std::span<const std::byte> in, std::size_t max_payload) noexcept;

// ---- messages (the payload of each frame type; message, connection and disconnect have no
// structure: the user's bytes, one ignored byte, nothing)

struct hello_msg {
  std::uint32_t id = 0;
  std::string secret;
};
// The worker's loop as eddy's observability API sees it (issue 16), after the first four
// fields of a heartbeat: a version byte (1), the fields below in order (u64 but for the pool's
// u32s), then a count (u8, at most max_handle_types) and that many u32 handle counts. A
// heartbeat that ends after `handles` has none; one with another version byte keeps its first
// four fields and drops the rest; a version-1 block cut short makes the heartbeat malformed.
struct heartbeat_loop {
  static constexpr std::size_t max_handle_types = 64;
  // The loop-delay monitor over the heartbeat's interval, in µs (Node's semantics: the time
  // between the monitor's timer callbacks, so about its resolution when nothing blocks).
  std::uint64_t delay_p50_us = 0;
  std::uint64_t delay_p90_us = 0;
  std::uint64_t delay_p99_us = 0;
  std::uint64_t delay_max_us = 0;
  std::uint64_t resolution_us = 0;
  // Since the worker started.
  std::uint64_t delay_count = 0;
  std::uint64_t delay_sum_us = 0;
  std::uint64_t iterations = 0;
  std::uint64_t events = 0;
  std::uint64_t idle_us = 0;
  std::uint64_t slow_callbacks = 0;
  std::uint32_t pool_queued = 0;
  std::uint32_t pool_threads = 0;
  std::uint64_t open_fds = 0;
  std::vector<std::uint32_t> handles_by_type;  // indexed by eddy::handle_type
};
struct heartbeat_msg {
  std::uint64_t rss = 0;
  std::uint64_t lag_us = 0;
  std::uint32_t utilization_ppm = 0;
  std::uint32_t handles = 0;
  std::optional<heartbeat_loop> loop{};
};
struct listen_msg {
  std::uint32_t backlog = 0;
  socket_address address;
};
struct listening_msg {
  std::uint32_t error = 0;  // an eddy::errc value, 0 for success
  bool with_socket = false;
  socket_address address;
};
struct listening_ok_msg {
  socket_address address;
};
struct ack_msg {
  std::uint32_t count = 0;
};

std::vector<std::byte> encode(const hello_msg& m);
std::vector<std::byte> encode(const heartbeat_msg& m);
std::vector<std::byte> encode(const listen_msg& m);
std::vector<std::byte> encode(const listening_msg& m);
std::vector<std::byte> encode(const listening_ok_msg& m);
std::vector<std::byte> encode(const ack_msg& m);

// Each returns std::nullopt for a payload too short for its fixed fields or whose address
// does not parse; bytes after the fixed fields of ack are ignored, and after heartbeat's
// those of a heartbeat_loop of another version.
std::optional<hello_msg> decode_hello(std::span<const std::byte> p);
std::optional<heartbeat_msg> decode_heartbeat(std::span<const std::byte> p);
std::optional<listen_msg> decode_listen(std::span<const std::byte> p);
std::optional<listening_msg> decode_listening(std::span<const std::byte> p);
std::optional<listening_ok_msg> decode_listening_ok(std::span<const std::byte> p);
std::optional<ack_msg> decode_ack(std::span<const std::byte> p);

}  // namespace eddy::cluster::detail
