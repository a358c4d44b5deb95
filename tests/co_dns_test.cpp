// eddy::co DNS (eddy/co/dns.hpp) on every port: lookup, numeric reverse lookup, resolve's
// errors without a server and, against dnsmasq, every record type.
#include <string>
#include <vector>

#include "co_fixture.hpp"
#include "dns_server.hpp"

namespace {

using namespace std::chrono_literals;
using eddy::errc;
using eddy::task;
using eddy_test::CoTest;
namespace co = eddy::co;

class CoDnsTest : public CoTest {};
EDDY_INSTANTIATE_PORTS(CoDnsTest);

TEST_P(CoDnsTest, LookupGivesAddressesOrAnError) {
  auto t = [&]() -> task<std::vector<eddy::socket_address>> {
    co_return co_await co::lookup(loop(), "127.0.0.1", "80", eddy::dns::lookup_hints{.numeric_host = true});
  };
  auto addrs = run(t());
  ASSERT_EQ(addrs.size(), 1u);
  EXPECT_EQ(addrs[0].port(), 80);
  auto bad = [&]() -> task<std::error_code> {
    auto r = co_await co::lookup(loop(), "not an address", "80", co::nothrow, {.numeric_host = true});
    co_return r.error;
  };
  EXPECT_TRUE(run(bad()));
}

TEST_P(CoDnsTest, NumericReverseLookup) {
  auto t = [&]() -> task<co::host_service> {
    co_return co_await co::reverse_lookup(loop(), eddy::socket_address::loopback_v4(443), true);
  };
  auto hs = run(t());
  EXPECT_EQ(hs.host, "127.0.0.1");
  EXPECT_EQ(hs.service, "443");
  auto nothrow = [&]() -> task<eddy::result<co::host_service>> {
    co_return co_await co::reverse_lookup(loop(), eddy::socket_address::loopback_v4(80), true, co::nothrow);
  };
  auto r = run(nothrow());
  EXPECT_FALSE(r.error) << r.error.message();
  EXPECT_EQ(r.value.service, "80");
}

// Errors that need no server, on every port: c-ares refuses a malformed name inside the
// call (the one-shot form, on the system's servers: no query leaves the process); without
// c-ares (the Windows build) both forms report not_supported.
TEST_P(CoDnsTest, ResolveErrorsWithoutAServer) {
  using eddy::dns::record_type;
  const std::error_code expected = eddy_test::have_cares ? errc::invalid_argument : errc::not_supported;
  auto one_shot = [&]() -> task<std::error_code> {
    auto r = co_await co::resolve(loop(), std::string(70, 'a') + ".test", record_type::a, co::nothrow);
    co_return r.error;
  };
  EXPECT_EQ(run(one_shot()), expected);
  eddy::dns::resolver r(loop());
  auto with_resolver = [&]() -> task<> { co_await co::resolve(r, std::string(70, 'a') + ".test", record_type::mx); };
  EXPECT_EQ(run_error(with_resolver()), expected);
  r.close();
}

// co::resolve against dnsmasq (dns_server.hpp), as the resolver's own tests; skipped where
// they skip (no c-ares: the Windows build).
class CoResolveTest : public eddy_test::with_dns_server<CoTest> {};
EDDY_INSTANTIATE_PORTS(CoResolveTest);

TEST_P(CoResolveTest, EveryRecordTypeAndTheErrors) {
  using eddy::dns::record_type;
  eddy::dns::resolver r(loop(), {2000ms, 2});
  ASSERT_FALSE(r.set_servers(server_->address()));
  auto t = [&]() -> task<> {
    auto a = co_await co::resolve(r, "a.test", record_type::a);
    EXPECT_EQ(a.type, record_type::a);
    EXPECT_TRUE(a.addresses.size() == 1 && a.addresses[0].address == *eddy::socket_address::parse("10.0.0.1", 0));
    auto aaaa = co_await co::resolve(r, "a.test", record_type::aaaa);
    EXPECT_TRUE(aaaa.addresses.size() == 1 && aaaa.addresses[0].address == *eddy::socket_address::parse("fd00::1", 0));
    auto cname = co_await co::resolve(r, "alias.test", record_type::cname);
    EXPECT_EQ(cname.names, std::vector<std::string>{"a.test"});
    auto mx = co_await co::resolve(r, "mx.test", record_type::mx);
    EXPECT_TRUE(mx.mx.size() == 1 && mx.mx[0].exchange == "mail.test" && mx.mx[0].priority == 10);
    auto ns = co_await co::resolve(r, "test", record_type::ns);
    EXPECT_EQ(ns.names, std::vector<std::string>{"ns.test"});
    auto txt = co_await co::resolve(r, "txt.test", record_type::txt);
    EXPECT_TRUE(txt.txt.size() == 1 && txt.txt[0].chunks == (std::vector<std::string>{"hello", "world"}));
    auto srv = co_await co::resolve(r, "_http._tcp.srv.test", record_type::srv);
    EXPECT_TRUE(srv.srv.size() == 1 && srv.srv[0].name == "web.test" && srv.srv[0].port == 8080);
    auto ptr = co_await co::resolve(r, "1.0.0.10.in-addr.arpa", record_type::ptr);
    EXPECT_EQ(ptr.names, std::vector<std::string>{"a.test"});
    auto soa = co_await co::resolve(r, "test", record_type::soa);
    EXPECT_TRUE(soa.soa && soa.soa->hostmaster == "hostmaster.test");
    auto missing = co_await co::resolve(r, "missing.test", record_type::a, co::nothrow);
    EXPECT_EQ(missing.error, errc::host_not_found) << missing.error.message();
    co_await co::resolve(r, "a.test", record_type::txt);  // throws no_data
  };
  const auto ec = run_error(t());
  EXPECT_EQ(ec, errc::no_data) << ec.message();
  r.close();
}

}  // namespace
