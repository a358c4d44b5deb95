// socket_address::parse and parse_endpoint (src/address.cpp) on any text: the cluster
// channel carries endpoints as text, and users parse what they are given.
//
// Input: byte 0 picks the parser (endpoint, or host with the port from bytes 1-2); the rest
// is the text.
// Checks: a parsed address is IPv4 or IPv6; it formats to text that parses back to the same
// address (host() with its port, and to_string() as an endpoint), and formatting is stable;
// without a zone, the host agrees with the C library's inet_pton, byte for byte.
#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "eddy/address.hpp"
#include "fuzz_check.hpp"

namespace {

using eddy::address_family;
using eddy::socket_address;

void check_address(const socket_address& a) {
  EDDY_FUZZ_CHECK(a.family() == address_family::ipv4 || a.family() == address_family::ipv6);
  EDDY_FUZZ_CHECK(a.byte_count() == (a.family() == address_family::ipv4 ? 4u : 16u));
  if (a.family() == address_family::ipv4) EDDY_FUZZ_CHECK(a.scope_id() == 0);

  const std::string host = a.host();
  const auto from_host = socket_address::parse(host, a.port());
  EDDY_FUZZ_CHECK(from_host && *from_host == a);
  EDDY_FUZZ_CHECK(from_host->host() == host);

  const std::string text = a.to_string();
  const auto from_text = socket_address::parse_endpoint(text);
  EDDY_FUZZ_CHECK(from_text && *from_text == a);
  EDDY_FUZZ_CHECK(from_text->to_string() == text);
}

// The host part agrees with inet_pton (which takes no zone, and needs a NUL-terminated copy).
void compare_with_libc(std::string_view host, const std::optional<socket_address>& ours) {
  if (host.find('%') != std::string_view::npos || host.find('\0') != std::string_view::npos) return;
  const std::string z(host);
  unsigned char buf[16];
  if (inet_pton(AF_INET, z.c_str(), buf) == 1) {
    EDDY_FUZZ_CHECK(ours && ours->family() == address_family::ipv4 && std::memcmp(ours->bytes(), buf, 4) == 0);
  } else if (inet_pton(AF_INET6, z.c_str(), buf) == 1) {
    EDDY_FUZZ_CHECK(ours && ours->family() == address_family::ipv6 && std::memcmp(ours->bytes(), buf, 16) == 0);
  } else {
    EDDY_FUZZ_CHECK(!ours);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 3, size - 3);
  if ((data[0] & 1) == 0) {
    const auto a = socket_address::parse_endpoint(text);
    if (a) check_address(*a);
    // An endpoint is a host and a port: the same host literal parses on its own.
    if (a && !text.empty() && text.front() == '[') {
      EDDY_FUZZ_CHECK(socket_address::parse(text.substr(1, text.find(']') - 1), a->port()) == a);
    }
  } else {
    const auto port = static_cast<std::uint16_t>(data[1] | (data[2] << 8));
    const auto a = socket_address::parse(text, port);
    if (a) {
      EDDY_FUZZ_CHECK(a->port() == port);
      check_address(*a);
    }
    compare_with_libc(text, a);
  }
  return 0;
}
