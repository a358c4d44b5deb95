#include "eddy/address.hpp"

#include <cstring>

#include <fmt/format.h>

namespace eddy {
namespace {

// The layout behind socket_address's opaque storage.
struct address_data {
  std::uint8_t family;
  std::uint8_t reserved;
  std::uint16_t port;  // host order
  std::uint32_t scope_id;
  std::uint8_t bytes[16];
};
static_assert(sizeof(address_data) == 24);

address_data& data(std::array<std::byte, 24>& s) noexcept { return *reinterpret_cast<address_data*>(s.data()); }
const address_data& data(const std::array<std::byte, 24>& s) noexcept {
  return *reinterpret_cast<const address_data*>(s.data());
}

bool parse_ipv4(std::string_view s, std::uint8_t out[4]) noexcept {
  int part = 0;
  std::size_t i = 0;
  while (part < 4) {
    if (i >= s.size() || s[i] < '0' || s[i] > '9') return false;
    unsigned value = 0;
    std::size_t digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (digits > 0 && value == 0) return false;  // no leading zeros ("01" is ambiguous octal)
      value = value * 10 + static_cast<unsigned>(s[i] - '0');
      if (value > 255 || ++digits > 3) return false;
      ++i;
    }
    out[part++] = static_cast<std::uint8_t>(value);
    if (part < 4) {
      if (i >= s.size() || s[i] != '.') return false;
      ++i;
    }
  }
  return i == s.size();
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool parse_ipv6(std::string_view s, std::uint8_t out[16]) noexcept {
  std::uint16_t groups[8] = {};
  int count = 0;
  int gap = -1;  // index where "::" stands
  std::size_t i = 0;
  if (s.size() >= 2 && s[0] == ':' && s[1] == ':') {
    gap = 0;
    i = 2;
    if (i == s.size()) {
      std::memset(out, 0, 16);
      return true;
    }
  } else if (!s.empty() && s[0] == ':') {
    return false;
  }
  while (i < s.size()) {
    if (count == 8) return false;
    // An embedded IPv4 tail ("::ffff:1.2.3.4").
    std::size_t end = s.find(':', i);
    std::string_view piece = s.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i);
    if (piece.find('.') != std::string_view::npos) {
      if (end != std::string_view::npos || count > 6) return false;
      std::uint8_t v4[4];
      if (!parse_ipv4(piece, v4)) return false;
      groups[count++] = static_cast<std::uint16_t>((v4[0] << 8) | v4[1]);
      groups[count++] = static_cast<std::uint16_t>((v4[2] << 8) | v4[3]);
      i = s.size();
      break;
    }
    if (piece.empty() || piece.size() > 4) return false;
    unsigned value = 0;
    for (char c : piece) {
      int h = hex_value(c);
      if (h < 0) return false;
      value = value * 16 + static_cast<unsigned>(h);
    }
    groups[count++] = static_cast<std::uint16_t>(value);
    i += piece.size();
    if (i == s.size()) break;
    ++i;  // the ':'
    if (i < s.size() && s[i] == ':') {
      if (gap >= 0) return false;  // two "::"
      gap = count;
      ++i;
      if (i == s.size()) break;
    } else if (i == s.size()) {
      return false;  // trailing single ':'
    }
  }
  if (gap < 0 && count != 8) return false;
  if (gap >= 0 && count == 8) return false;
  std::uint16_t full[8] = {};
  if (gap < 0) {
    std::memcpy(full, groups, sizeof full);
  } else {
    int tail = count - gap;
    for (int k = 0; k < gap; ++k) full[k] = groups[k];
    for (int k = 0; k < tail; ++k) full[8 - tail + k] = groups[gap + k];
  }
  for (int k = 0; k < 8; ++k) {
    out[2 * k] = static_cast<std::uint8_t>(full[k] >> 8);
    out[2 * k + 1] = static_cast<std::uint8_t>(full[k] & 0xff);
  }
  return true;
}

std::string format_ipv6(const std::uint8_t b[16]) {
  std::uint16_t g[8];
  for (int k = 0; k < 8; ++k) g[k] = static_cast<std::uint16_t>((b[2 * k] << 8) | b[2 * k + 1]);
  // RFC 5952: compress the longest run (at least two) of zero groups, the first on ties.
  int best = -1, best_len = 0;
  for (int k = 0; k < 8;) {
    if (g[k] != 0) {
      ++k;
      continue;
    }
    int start = k;
    while (k < 8 && g[k] == 0) ++k;
    if (k - start > best_len && k - start >= 2) {
      best = start;
      best_len = k - start;
    }
  }
  // IPv4-mapped addresses keep their dotted tail.
  bool mapped = g[0] == 0 && g[1] == 0 && g[2] == 0 && g[3] == 0 && g[4] == 0 && g[5] == 0xffff;
  std::string out;
  int last = mapped ? 6 : 8;
  for (int k = 0; k < last; ++k) {
    if (k == best) {
      out += "::";
      k += best_len - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') out += ':';
    out += fmt::format("{:x}", g[k]);
  }
  if (mapped) {
    if (out.back() != ':') out += ':';
    out += fmt::format("{}.{}.{}.{}", b[12], b[13], b[14], b[15]);
  }
  return out;
}

}  // namespace

socket_address::socket_address() noexcept : storage_{} {}

socket_address socket_address::ipv4(std::array<std::uint8_t, 4> bytes, std::uint16_t port) noexcept {
  socket_address a;
  auto& d = data(a.storage_);
  d.family = static_cast<std::uint8_t>(address_family::ipv4);
  d.port = port;
  std::memcpy(d.bytes, bytes.data(), 4);
  return a;
}

socket_address socket_address::ipv6(const std::array<std::uint8_t, 16>& bytes, std::uint16_t port,
                                    std::uint32_t scope_id) noexcept {
  socket_address a;
  auto& d = data(a.storage_);
  d.family = static_cast<std::uint8_t>(address_family::ipv6);
  d.port = port;
  d.scope_id = scope_id;
  std::memcpy(d.bytes, bytes.data(), 16);
  return a;
}

socket_address socket_address::loopback_v6(std::uint16_t port) noexcept {
  std::array<std::uint8_t, 16> b{};
  b[15] = 1;
  return ipv6(b, port);
}

socket_address socket_address::any_v6(std::uint16_t port) noexcept { return ipv6({}, port); }

std::optional<socket_address> socket_address::parse(std::string_view host, std::uint16_t port) noexcept {
  std::array<std::uint8_t, 4> v4{};
  if (parse_ipv4(host, v4.data())) return ipv4(v4, port);
  std::uint32_t scope = 0;
  if (auto pct = host.find('%'); pct != std::string_view::npos) {
    std::string_view z = host.substr(pct + 1);
    if (z.empty() || z.size() > 9) return std::nullopt;
    for (char c : z) {
      if (c < '0' || c > '9') return std::nullopt;  // numeric zone ids only
      scope = scope * 10 + static_cast<std::uint32_t>(c - '0');
    }
    host = host.substr(0, pct);
  }
  std::array<std::uint8_t, 16> v6{};
  if (parse_ipv6(host, v6.data())) return ipv6(v6, port, scope);
  return std::nullopt;
}

std::optional<socket_address> socket_address::parse_endpoint(std::string_view text) noexcept {
  std::string_view host, port_text;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) return std::nullopt;
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  if (port_text.empty() || port_text.size() > 5) return std::nullopt;
  unsigned port = 0;
  for (char c : port_text) {
    if (c < '0' || c > '9') return std::nullopt;
    port = port * 10 + static_cast<unsigned>(c - '0');
  }
  if (port > 65535) return std::nullopt;
  return parse(host, static_cast<std::uint16_t>(port));
}

address_family socket_address::family() const noexcept {
  return static_cast<address_family>(data(storage_).family);
}
std::uint16_t socket_address::port() const noexcept { return data(storage_).port; }
void socket_address::set_port(std::uint16_t port) noexcept { data(storage_).port = port; }
const std::uint8_t* socket_address::bytes() const noexcept { return data(storage_).bytes; }
std::size_t socket_address::byte_count() const noexcept {
  switch (family()) {
    case address_family::ipv4: return 4;
    case address_family::ipv6: return 16;
    default: return 0;
  }
}
std::uint32_t socket_address::scope_id() const noexcept { return data(storage_).scope_id; }

bool socket_address::is_loopback() const noexcept {
  const auto& d = data(storage_);
  if (family() == address_family::ipv4) return d.bytes[0] == 127;
  if (family() == address_family::ipv6) {
    static constexpr std::uint8_t one[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    return std::memcmp(d.bytes, one, 16) == 0;
  }
  return false;
}

std::string socket_address::host() const {
  const auto& d = data(storage_);
  switch (family()) {
    case address_family::ipv4: return fmt::format("{}.{}.{}.{}", d.bytes[0], d.bytes[1], d.bytes[2], d.bytes[3]);
    case address_family::ipv6: {
      std::string s = format_ipv6(d.bytes);
      if (d.scope_id != 0) s += fmt::format("%{}", d.scope_id);
      return s;
    }
    default: return "";
  }
}

std::string socket_address::to_string() const {
  switch (family()) {
    case address_family::ipv4: return fmt::format("{}:{}", host(), port());
    case address_family::ipv6: return fmt::format("[{}]:{}", host(), port());
    default: return "unspecified";
  }
}

bool operator==(const socket_address& a, const socket_address& b) noexcept {
  const auto& x = data(a.storage_);
  const auto& y = data(b.storage_);
  return x.family == y.family && x.port == y.port && x.scope_id == y.scope_id &&
         std::memcmp(x.bytes, y.bytes, a.byte_count()) == 0;
}

}  // namespace eddy
