// Name resolution on the thread pool, on every port. Only names that resolve without a
// network (literals, localhost from the hosts file) are used.
#include <algorithm>
#include <string>
#include <vector>

#include "port_fixture.hpp"

namespace {

using eddy::socket_address;
using eddy_test::PortTest;

class DnsTest : public PortTest {};
EDDY_INSTANTIATE_PORTS(DnsTest);

TEST_P(DnsTest, LiteralAddressesResolveToThemselves) {
  std::vector<socket_address> got;
  std::error_code result;
  eddy::dns::lookup_hints hints;
  hints.numeric_host = true;
  eddy::dns::lookup(loop(), "127.0.0.1", "8080", hints, [&](std::error_code ec, std::vector<socket_address> a) {
    result = ec;
    got = std::move(a);
  });
  loop().run();
  ASSERT_FALSE(result) << result.message();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], socket_address::loopback_v4(8080));
}

TEST_P(DnsTest, LocalhostResolvesToALoopbackAddress) {
  std::vector<socket_address> got;
  std::error_code result;
  eddy::dns::lookup(loop(), "localhost", "80", {}, [&](std::error_code ec, std::vector<socket_address> a) {
    result = ec;
    got = std::move(a);
  });
  loop().run();
  ASSERT_FALSE(result) << result.message();
  ASSERT_FALSE(got.empty());
  EXPECT_TRUE(std::all_of(got.begin(), got.end(), [](const socket_address& a) { return a.is_loopback() && a.port() == 80; }));
}

TEST_P(DnsTest, ANameWhereALiteralIsRequiredIsNotFound) {
  std::error_code result;
  std::size_t count = 99;
  eddy::dns::lookup_hints hints;
  hints.numeric_host = true;
  eddy::dns::lookup(loop(), "not an address", "", hints, [&](std::error_code ec, std::vector<socket_address> a) {
    result = ec;
    count = a.size();
  });
  loop().run();
  EXPECT_EQ(result, eddy::errc::host_not_found) << result.message();
  EXPECT_EQ(count, 0u);
}

TEST_P(DnsTest, NumericReverseLookup) {
  std::string host, service;
  std::error_code result;
  eddy::dns::reverse_lookup(loop(), socket_address::loopback_v4(443), true,
                            [&](std::error_code ec, std::string h, std::string s) {
                              result = ec;
                              host = std::move(h);
                              service = std::move(s);
                            });
  loop().run();
  ASSERT_FALSE(result) << result.message();
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(service, "443");
}

TEST(DnsErrorTest, ResolverErrorsHaveMessages) {
  EXPECT_EQ(std::error_code(eddy::errc::host_not_found).message(), "host or service not found");
  EXPECT_EQ(eddy::from_win32(11001), eddy::errc::host_not_found);  // WSAHOST_NOT_FOUND
  EXPECT_EQ(eddy::from_win32(11002), eddy::errc::try_again);       // WSATRY_AGAIN
}

}  // namespace
