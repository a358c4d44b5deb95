// eddy::socket_address: an IPv4 or IPv6 address with a port, as a plain value.
//
// Parsing and formatting are eddy's own (no OS calls), so they behave the same on every
// platform: IPv4 dotted quads, IPv6 in any RFC 4291 text form (with "::" and an embedded
// IPv4 tail, and a "%N" numeric scope id), formatted back per RFC 5952 (lower case,
// longest run of zeros compressed).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "eddy/export.hpp"

namespace eddy {

enum class address_family : std::uint8_t { unspecified, ipv4, ipv6 };

class EDDY_API socket_address {
 public:
  // An unspecified address (family() == unspecified).
  socket_address() noexcept;

  static socket_address ipv4(std::array<std::uint8_t, 4> bytes, std::uint16_t port) noexcept;
  static socket_address ipv6(const std::array<std::uint8_t, 16>& bytes, std::uint16_t port,
                             std::uint32_t scope_id = 0) noexcept;
  static socket_address loopback_v4(std::uint16_t port) noexcept { return ipv4({127, 0, 0, 1}, port); }
  static socket_address any_v4(std::uint16_t port) noexcept { return ipv4({0, 0, 0, 0}, port); }
  static socket_address loopback_v6(std::uint16_t port) noexcept;
  static socket_address any_v6(std::uint16_t port) noexcept;

  // Parses a host literal ("127.0.0.1", "::1", "fe80::1%2") with a separate port.
  static std::optional<socket_address> parse(std::string_view host, std::uint16_t port) noexcept;
  // Parses "127.0.0.1:80" or "[::1]:80".
  static std::optional<socket_address> parse_endpoint(std::string_view text) noexcept;

  [[nodiscard]] address_family family() const noexcept;
  [[nodiscard]] std::uint16_t port() const noexcept;
  void set_port(std::uint16_t port) noexcept;
  // 4 or 16 address bytes in network order (empty span semantics: size() == 0 when unspecified).
  [[nodiscard]] const std::uint8_t* bytes() const noexcept;
  [[nodiscard]] std::size_t byte_count() const noexcept;
  [[nodiscard]] std::uint32_t scope_id() const noexcept;
  [[nodiscard]] bool is_loopback() const noexcept;

  // "127.0.0.1" / "::1" (with "%scope" when set).
  [[nodiscard]] std::string host() const;
  // "127.0.0.1:80" / "[::1]:80".
  [[nodiscard]] std::string to_string() const;

  friend bool operator==(const socket_address& a, const socket_address& b) noexcept;

 private:
  // Opaque storage; the layout is the library's business (see src/address.cpp).
  alignas(4) std::array<std::byte, 24> storage_;
};

}  // namespace eddy
