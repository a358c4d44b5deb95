#include <gtest/gtest.h>

#include "eddy/address.hpp"

namespace {

using eddy::socket_address;

TEST(AddressTest, ParsesAndFormatsIpv4) {
  auto a = socket_address::parse("192.168.1.20", 8080);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->family(), eddy::address_family::ipv4);
  EXPECT_EQ(a->port(), 8080);
  EXPECT_EQ(a->host(), "192.168.1.20");
  EXPECT_EQ(a->to_string(), "192.168.1.20:8080");
  EXPECT_TRUE(socket_address::loopback_v4(1).is_loopback());
  for (const char* bad : {"256.1.1.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1..2.3", "", "a.b.c.d", "1.2.3.4 "}) {
    EXPECT_FALSE(socket_address::parse(bad, 1)) << bad;
  }
}

TEST(AddressTest, ParsesAndFormatsIpv6PerRfc5952) {
  struct {
    const char* in;
    const char* out;
  } cases[] = {
      {"::1", "::1"},
      {"::", "::"},
      {"2001:DB8:0:0:0:0:2:1", "2001:db8::2:1"},
      {"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},   // a single zero group is not compressed
      {"2001:0:0:1:0:0:0:1", "2001:0:0:1::1"},            // the longest run wins
      {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},      // the first of equal runs wins
      {"::ffff:192.0.2.1", "::ffff:192.0.2.1"},           // IPv4-mapped keeps its dotted tail
      {"fe80::1", "fe80::1"},
      {"1::", "1::"},
  };
  for (const auto& c : cases) {
    auto a = socket_address::parse(c.in, 443);
    ASSERT_TRUE(a) << c.in;
    EXPECT_EQ(a->family(), eddy::address_family::ipv6);
    EXPECT_EQ(a->host(), c.out) << c.in;
  }
  auto scoped = socket_address::parse("fe80::1%3", 80);
  ASSERT_TRUE(scoped);
  EXPECT_EQ(scoped->scope_id(), 3u);
  EXPECT_EQ(scoped->to_string(), "[fe80::1%3]:80");
  for (const char* bad : {":::", "1:2:3:4:5:6:7:8:9", "1::2::3", "12345::", "g::1", "1:2", ":1", "1:", "::1%", "::1%x"}) {
    EXPECT_FALSE(socket_address::parse(bad, 1)) << bad;
  }
}

TEST(AddressTest, ParsesEndpoints) {
  auto a = socket_address::parse_endpoint("[::1]:9000");
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->is_loopback());
  EXPECT_EQ(a->port(), 9000);
  auto b = socket_address::parse_endpoint("127.0.0.1:80");
  ASSERT_TRUE(b);
  EXPECT_EQ(*b, socket_address::loopback_v4(80));
  for (const char* bad : {"127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "[::1]", "::1:80", "[::1]80", "x:1"}) {
    EXPECT_FALSE(socket_address::parse_endpoint(bad)) << bad;
  }
}

}  // namespace
