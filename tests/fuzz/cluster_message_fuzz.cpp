// Every cluster message decoder (src/cluster/wire.hpp) on any payload, as the primary and
// the workers call them on what arrives in a frame.
//
// Input: byte 0 picks the message type; the rest is the payload.
// Checks: a decoded message encodes and decodes back to itself; a fixed-layout message
// re-encodes to the bytes it came from (hello exactly; heartbeat and ack as a prefix, the
// rest being ignored; a heartbeat's version-1 loop block is whole or the heartbeat is refused); an address field decodes only if its text parses as an endpoint;
// structured messages built from the same bytes survive encode then decode.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/wire.hpp"
#include "fuzz_check.hpp"

namespace {

using namespace eddy::cluster::detail;
using eddy::socket_address;

bool same_bytes(const std::vector<std::byte>& a, std::span<const std::byte> b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end());
}
bool is_prefix(const std::vector<std::byte>& a, std::span<const std::byte> b) {
  return a.size() <= b.size() && std::equal(a.begin(), a.end(), b.begin());
}
std::string_view text(std::span<const std::byte> p) { return {reinterpret_cast<const char*>(p.data()), p.size()}; }

std::uint64_t le(std::span<const std::byte> p, std::size_t at, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n && at + i < p.size(); ++i) v |= std::to_integer<std::uint64_t>(p[at + i]) << (8 * i);
  return v;
}

// An address built from raw bytes (not from text), so encode's formatting is checked too.
socket_address address_from(std::span<const std::byte> p) {
  const auto port = static_cast<std::uint16_t>(le(p, 0, 2));
  if (p.size() < 20 || (std::to_integer<unsigned>(p[2]) & 1) == 0) {
    return socket_address::ipv4({static_cast<std::uint8_t>(le(p, 3, 1)), static_cast<std::uint8_t>(le(p, 4, 1)),
                                 static_cast<std::uint8_t>(le(p, 5, 1)), static_cast<std::uint8_t>(le(p, 6, 1))},
                                port);
  }
  std::array<std::uint8_t, 16> b{};
  for (std::size_t i = 0; i < 16; ++i) b[i] = static_cast<std::uint8_t>(le(p, 3 + i, 1));
  return socket_address::ipv6(b, port, static_cast<std::uint32_t>(le(p, 19, 1)));
}

void decode_as(unsigned kind, std::span<const std::byte> p) {
  switch (kind) {
    case 0: {
      const auto m = decode_hello(p);
      EDDY_FUZZ_CHECK(m.has_value() == (p.size() >= 4));
      if (!m) return;
      EDDY_FUZZ_CHECK(same_bytes(encode(*m), p));
      return;
    }
    case 1: {
      // Four fields (24 bytes); then, if the next byte is 1, the loop block: 11 u64, 2 u32,
      // 1 u64, a count byte (at most 64) and that many u32. Another version byte: ignored.
      const auto m = decode_heartbeat(p);
      constexpr std::size_t block = 24 + 1 + 11 * 8 + 2 * 4 + 8 + 1;
      const bool versioned = p.size() > 24 && p[24] == std::byte{1};
      const std::size_t n = p.size() >= block ? std::to_integer<std::size_t>(p[block - 1]) : 0;
      const bool whole = p.size() >= block && n <= heartbeat_loop::max_handle_types && p.size() >= block + 4 * n;
      EDDY_FUZZ_CHECK(m.has_value() == (p.size() >= 24 && (!versioned || whole)));
      if (!m) return;
      EDDY_FUZZ_CHECK(m->loop.has_value() == versioned);
      EDDY_FUZZ_CHECK(is_prefix(encode(*m), p));
      EDDY_FUZZ_CHECK(encode(*m).size() == (versioned ? block + 4 * n : 24));
      EDDY_FUZZ_CHECK(m->rss == le(p, 0, 8) && m->lag_us == le(p, 8, 8));
      EDDY_FUZZ_CHECK(m->utilization_ppm == le(p, 16, 4) && m->handles == le(p, 20, 4));
      if (versioned) {
        EDDY_FUZZ_CHECK(m->loop->delay_p50_us == le(p, 25, 8) && m->loop->open_fds == le(p, block - 9, 8));
        EDDY_FUZZ_CHECK(m->loop->handles_by_type.size() == n);
      }
      return;
    }
    case 2: {
      const auto m = decode_listen(p);
      EDDY_FUZZ_CHECK(m.has_value() == (p.size() >= 4 && socket_address::parse_endpoint(text(p.subspan(4)))));
      if (!m) return;
      const auto again = decode_listen(encode(*m));
      EDDY_FUZZ_CHECK(again && again->backlog == m->backlog && again->address == m->address);
      return;
    }
    case 3: {
      const auto m = decode_listening(p);
      EDDY_FUZZ_CHECK(m.has_value() == (p.size() >= 5 && socket_address::parse_endpoint(text(p.subspan(5)))));
      if (!m) return;
      EDDY_FUZZ_CHECK(m->with_socket == (p[4] != std::byte{0}));
      const auto again = decode_listening(encode(*m));
      EDDY_FUZZ_CHECK(again && again->error == m->error && again->with_socket == m->with_socket &&
                      again->address == m->address);
      return;
    }
    case 4: {
      const auto m = decode_listening_ok(p);
      EDDY_FUZZ_CHECK(m.has_value() == socket_address::parse_endpoint(text(p)).has_value());
      if (!m) return;
      const auto again = decode_listening_ok(encode(*m));
      EDDY_FUZZ_CHECK(again && again->address == m->address);
      return;
    }
    default: {
      const auto m = decode_ack(p);
      EDDY_FUZZ_CHECK(m.has_value() == (p.size() >= 4));
      if (!m) return;
      EDDY_FUZZ_CHECK(is_prefix(encode(*m), p) && m->count == le(p, 0, 4));
      return;
    }
  }
}

// Messages made from the bytes as values: encode, then decode, gives them back.
void round_trip(std::span<const std::byte> p) {
  const socket_address addr = address_from(p);
  const auto n32 = static_cast<std::uint32_t>(le(p, 0, 4));

  hello_msg h{n32, std::string(text(p.subspan(std::min<std::size_t>(4, p.size()))))};
  const auto h2 = decode_hello(encode(h));
  EDDY_FUZZ_CHECK(h2 && h2->id == h.id && h2->secret == h.secret);

  heartbeat_msg b{le(p, 0, 8), le(p, 8, 8), static_cast<std::uint32_t>(le(p, 16, 4)),
                  static_cast<std::uint32_t>(le(p, 20, 4))};
  const auto b2 = decode_heartbeat(encode(b));
  EDDY_FUZZ_CHECK(b2 && b2->rss == b.rss && b2->lag_us == b.lag_us && b2->utilization_ppm == b.utilization_ppm &&
                  b2->handles == b.handles);
  EDDY_FUZZ_CHECK(!b2->loop);
  heartbeat_loop l;
  l.delay_p99_us = le(p, 0, 8);
  l.slow_callbacks = le(p, 8, 8);
  l.pool_queued = n32;
  l.open_fds = le(p, 4, 8);
  l.handles_by_type.assign(std::min<std::size_t>(p.size(), 80), n32);  // more than 64 are cut to 64
  b.loop = l;
  const auto b3 = decode_heartbeat(encode(b));
  EDDY_FUZZ_CHECK(b3 && b3->rss == b.rss && b3->loop && b3->loop->delay_p99_us == l.delay_p99_us &&
                  b3->loop->slow_callbacks == l.slow_callbacks && b3->loop->pool_queued == l.pool_queued &&
                  b3->loop->open_fds == l.open_fds &&
                  b3->loop->handles_by_type.size() == std::min(l.handles_by_type.size(), heartbeat_loop::max_handle_types));

  const auto l2 = decode_listen(encode(listen_msg{n32, addr}));
  EDDY_FUZZ_CHECK(l2 && l2->backlog == n32 && l2->address == addr);

  const bool with = p.size() > 4 && p[4] != std::byte{0};
  const auto g2 = decode_listening(encode(listening_msg{n32, with, addr}));
  EDDY_FUZZ_CHECK(g2 && g2->error == n32 && g2->with_socket == with && g2->address == addr);

  const auto o2 = decode_listening_ok(encode(listening_ok_msg{addr}));
  EDDY_FUZZ_CHECK(o2 && o2->address == addr);

  const auto a2 = decode_ack(encode(ack_msg{n32}));
  EDDY_FUZZ_CHECK(a2 && a2->count == n32);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::span<const std::byte> payload(reinterpret_cast<const std::byte*>(data) + 1, size - 1);
  decode_as(data[0] % 6u, payload);
  round_trip(payload);
  return 0;
}
