// The cluster wire format (wire.hpp).
#include "cluster/wire.hpp"

#include <algorithm>
#include <initializer_list>

namespace eddy::cluster::detail {

void put_u32(std::vector<std::byte>& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::byte>(v >> (8 * i)));
}
void put_u64(std::vector<std::byte>& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::byte>(v >> (8 * i)));
}
void put_text(std::vector<std::byte>& out, std::string_view s) {
  for (char c : s) out.push_back(static_cast<std::byte>(c));
}

std::uint64_t reader::u(int bytes) noexcept {
  const auto n = static_cast<std::size_t>(bytes);
  if (!ok_ || n > p_.size() - pos_) {
    ok_ = false;
    return 0;
  }
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v |= std::to_integer<std::uint64_t>(p_[pos_ + i]) << (8 * i);
  pos_ += n;
  return v;
}

std::string reader::rest() {
  std::string s(reinterpret_cast<const char*>(p_.data()) + pos_, p_.size() - pos_);
  pos_ = p_.size();
  return s;
}

std::vector<std::byte> encode_frame(frame_type type, std::span<const std::byte> payload) {
  std::vector<std::byte> bytes;
  bytes.reserve(header_size + payload.size());
  put_u32(bytes, static_cast<std::uint32_t>(payload.size()));
  bytes.push_back(static_cast<std::byte>(type));
  bytes.resize(header_size);
  bytes.insert(bytes.end(), payload.begin(), payload.end());
  return bytes;
}

decoded_frame decode_frame(std::span<const std::byte> in, std::size_t max_payload) noexcept {
  decoded_frame out;
  if (in.size() < header_size) return out;
  reader h(in.first(header_size));
  const auto len = static_cast<std::size_t>(h.u(4));
  const auto type = static_cast<std::uint8_t>(h.u(1));
  const auto reserved = h.u(3);
  if (type == 0 || type > last_frame_type || reserved != 0 || len > max_payload) {
    out.status = decode_status::malformed;
    return out;
  }
  if (in.size() - header_size < len) return out;
  out.status = decode_status::frame;
  out.type = static_cast<frame_type>(type);
  out.payload = in.subspan(header_size, len);
  out.size = header_size + len;
  return out;
}

std::vector<std::byte> encode(const hello_msg& m) {
  std::vector<std::byte> p;
  put_u32(p, m.id);
  put_text(p, m.secret);
  return p;
}
std::vector<std::byte> encode(const heartbeat_msg& m) {
  std::vector<std::byte> p;
  put_u64(p, m.rss);
  put_u64(p, m.lag_us);
  put_u32(p, m.utilization_ppm);
  put_u32(p, m.handles);
  if (m.loop) {
    const heartbeat_loop& l = *m.loop;
    p.push_back(std::byte{1});
    for (const std::uint64_t v : {l.delay_p50_us, l.delay_p90_us, l.delay_p99_us, l.delay_max_us, l.resolution_us,
                                  l.delay_count, l.delay_sum_us, l.iterations, l.events, l.idle_us, l.slow_callbacks}) {
      put_u64(p, v);
    }
    put_u32(p, l.pool_queued);
    put_u32(p, l.pool_threads);
    put_u64(p, l.open_fds);
    const std::size_t n = std::min(l.handles_by_type.size(), heartbeat_loop::max_handle_types);
    p.push_back(static_cast<std::byte>(n));
    for (std::size_t i = 0; i < n; ++i) put_u32(p, l.handles_by_type[i]);
  }
  return p;
}
std::vector<std::byte> encode(const listen_msg& m) {
  std::vector<std::byte> p;
  put_u32(p, m.backlog);
  put_text(p, m.address.to_string());
  return p;
}
std::vector<std::byte> encode(const listening_msg& m) {
  std::vector<std::byte> p;
  put_u32(p, m.error);
  p.push_back(static_cast<std::byte>(m.with_socket ? 1 : 0));
  put_text(p, m.address.to_string());
  return p;
}
std::vector<std::byte> encode(const listening_ok_msg& m) {
  std::vector<std::byte> p;
  put_text(p, m.address.to_string());
  return p;
}
std::vector<std::byte> encode(const ack_msg& m) {
  std::vector<std::byte> p;
  put_u32(p, m.count);
  return p;
}

std::optional<hello_msg> decode_hello(std::span<const std::byte> p) {
  reader r(p);
  hello_msg m;
  m.id = static_cast<std::uint32_t>(r.u(4));
  m.secret = r.rest();
  if (!r.ok()) return std::nullopt;
  return m;
}
std::optional<heartbeat_msg> decode_heartbeat(std::span<const std::byte> p) {
  reader r(p);
  heartbeat_msg m;
  m.rss = r.u(8);
  m.lag_us = r.u(8);
  m.utilization_ppm = static_cast<std::uint32_t>(r.u(4));
  m.handles = static_cast<std::uint32_t>(r.u(4));
  if (!r.ok()) return std::nullopt;
  if (r.remaining() == 0 || r.u(1) != 1) return m;  // the first format, or a later one
  heartbeat_loop l;
  for (std::uint64_t* v : {&l.delay_p50_us, &l.delay_p90_us, &l.delay_p99_us, &l.delay_max_us, &l.resolution_us,
                           &l.delay_count, &l.delay_sum_us, &l.iterations, &l.events, &l.idle_us, &l.slow_callbacks}) {
    *v = r.u(8);
  }
  l.pool_queued = static_cast<std::uint32_t>(r.u(4));
  l.pool_threads = static_cast<std::uint32_t>(r.u(4));
  l.open_fds = r.u(8);
  const auto n = static_cast<std::size_t>(r.u(1));
  if (!r.ok() || n > heartbeat_loop::max_handle_types || r.remaining() < n * 4) return std::nullopt;
  l.handles_by_type.resize(n);
  for (auto& h : l.handles_by_type) h = static_cast<std::uint32_t>(r.u(4));
  if (!r.ok()) return std::nullopt;
  m.loop = std::move(l);
  return m;
}
std::optional<listen_msg> decode_listen(std::span<const std::byte> p) {
  reader r(p);
  listen_msg m;
  m.backlog = static_cast<std::uint32_t>(r.u(4));
  const auto addr = socket_address::parse_endpoint(r.rest());
  if (!r.ok() || !addr) return std::nullopt;
  m.address = *addr;
  return m;
}
std::optional<listening_msg> decode_listening(std::span<const std::byte> p) {
  reader r(p);
  listening_msg m;
  m.error = static_cast<std::uint32_t>(r.u(4));
  m.with_socket = r.u(1) != 0;
  const auto addr = socket_address::parse_endpoint(r.rest());
  if (!r.ok() || !addr) return std::nullopt;
  m.address = *addr;
  return m;
}
std::optional<listening_ok_msg> decode_listening_ok(std::span<const std::byte> p) {
  reader r(p);
  const auto addr = socket_address::parse_endpoint(r.rest());
  if (!addr) return std::nullopt;
  return listening_ok_msg{*addr};
}
std::optional<ack_msg> decode_ack(std::span<const std::byte> p) {
  reader r(p);
  ack_msg m;
  m.count = static_cast<std::uint32_t>(r.u(4));
  if (!r.ok()) return std::nullopt;
  return m;
}

}  // namespace eddy::cluster::detail
