// dns::resolver (c-ares driven by the loop) on every port, against a real DNS server on
// loopback: dnsmasq (dns_server.hpp), started once per suite. Readiness is found by
// querying it. A UDP socket that never answers stands in for a dead server.
// On Windows (no c-ares in the mingw build here) the resolver reports not_supported and
// the record tests skip with that reason.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "dns_server.hpp"
#include "port_fixture.hpp"

namespace {

using namespace std::chrono_literals;
using eddy::dns::record_type;
using eddy::dns::records;
using eddy_test::PortTest;

using eddy_test::have_cares;
using eddy_test::outcome;
using eddy_test::query;
using eddy_test::silent_server;

class ResolveTest : public eddy_test::with_dns_server<PortTest> {
 protected:
  // A resolver pointed at dnsmasq.
  std::unique_ptr<eddy::dns::resolver> make_resolver() {
    auto r = std::make_unique<eddy::dns::resolver>(loop(), eddy::dns::resolver_options{2000ms, 2});
    EXPECT_FALSE(r->set_servers(server_->address()));
    return r;
  }

  outcome ask(const std::string& name, record_type type) {
    auto r = make_resolver();
    outcome out = query(loop(), *r, name, type);
    EXPECT_TRUE(out.done);
    r->close();
    return out;
  }
};
EDDY_INSTANTIATE_PORTS(ResolveTest);

TEST_P(ResolveTest, A) {
  outcome o = ask("a.test", record_type::a);
  ASSERT_FALSE(o.ec) << o.ec.message();
  EXPECT_EQ(o.answer.type, record_type::a);
  ASSERT_EQ(o.answer.addresses.size(), 1u);
  EXPECT_EQ(o.answer.addresses[0].address, *eddy::socket_address::parse("10.0.0.1", 0));
  EXPECT_GT(o.answer.addresses[0].ttl, 0u);
}

TEST_P(ResolveTest, Aaaa) {
  outcome o = ask("a.test", record_type::aaaa);
  ASSERT_FALSE(o.ec) << o.ec.message();
  ASSERT_EQ(o.answer.addresses.size(), 1u);
  EXPECT_EQ(o.answer.addresses[0].address.host(), "fd00::1");
}

TEST_P(ResolveTest, Cname) {
  outcome o = ask("alias.test", record_type::cname);
  ASSERT_FALSE(o.ec) << o.ec.message();
  EXPECT_EQ(o.answer.names, std::vector<std::string>{"a.test"});
}

TEST_P(ResolveTest, Mx) {
  outcome o = ask("mx.test", record_type::mx);
  ASSERT_FALSE(o.ec) << o.ec.message();
  ASSERT_EQ(o.answer.mx.size(), 1u);
  EXPECT_EQ(o.answer.mx[0].exchange, "mail.test");
  EXPECT_EQ(o.answer.mx[0].priority, 10);
}

TEST_P(ResolveTest, Ns) {
  outcome o = ask("test", record_type::ns);
  ASSERT_FALSE(o.ec) << o.ec.message();
  EXPECT_EQ(o.answer.names, std::vector<std::string>{"ns.test"});
}

TEST_P(ResolveTest, Txt) {
  outcome o = ask("txt.test", record_type::txt);
  ASSERT_FALSE(o.ec) << o.ec.message();
  ASSERT_EQ(o.answer.txt.size(), 1u);
  EXPECT_EQ(o.answer.txt[0].chunks, (std::vector<std::string>{"hello", "world"}));
}

TEST_P(ResolveTest, ALongAnswerComesOverTcp) {
  outcome o = ask("big.test", record_type::txt);
  ASSERT_FALSE(o.ec) << o.ec.message();
  ASSERT_EQ(o.answer.txt.size(), 1u);
  EXPECT_EQ(o.answer.txt[0].chunks,
            (std::vector<std::string>{std::string(200, 'x'), std::string(200, 'y'), std::string(200, 'z')}));
}

TEST_P(ResolveTest, Srv) {
  outcome o = ask("_http._tcp.srv.test", record_type::srv);
  ASSERT_FALSE(o.ec) << o.ec.message();
  ASSERT_EQ(o.answer.srv.size(), 1u);
  EXPECT_EQ(o.answer.srv[0].name, "web.test");
  EXPECT_EQ(o.answer.srv[0].port, 8080);
  EXPECT_EQ(o.answer.srv[0].priority, 1);
  EXPECT_EQ(o.answer.srv[0].weight, 2);
}

TEST_P(ResolveTest, Ptr) {
  // In authoritative mode dnsmasq answers reverse queries from its host records.
  outcome o = ask("1.0.0.10.in-addr.arpa", record_type::ptr);
  ASSERT_FALSE(o.ec) << o.ec.message();
  EXPECT_EQ(o.answer.names, std::vector<std::string>{"a.test"});
}

TEST_P(ResolveTest, Soa) {
  outcome o = ask("test", record_type::soa);
  ASSERT_FALSE(o.ec) << o.ec.message();
  ASSERT_TRUE(o.answer.soa.has_value());
  EXPECT_EQ(o.answer.soa->nsname, "ns.test");
  EXPECT_EQ(o.answer.soa->hostmaster, "hostmaster.test");
  EXPECT_EQ(o.answer.soa->serial, 2024u);
  EXPECT_EQ(o.answer.soa->refresh, 1200u);
  EXPECT_EQ(o.answer.soa->retry, 120u);
  EXPECT_EQ(o.answer.soa->expire, 604800u);
}

TEST_P(ResolveTest, ANameThatDoesNotExistIsNotFound) {
  outcome o = ask("nowhere.test", record_type::a);
  EXPECT_EQ(o.ec, eddy::errc::host_not_found) << o.ec.message();
  EXPECT_TRUE(o.answer.addresses.empty());
  EXPECT_EQ(o.ec.message(), "host or service not found");
}

TEST_P(ResolveTest, ANameWithoutRecordsOfTheTypeHasNoData) {
  outcome o = ask("a.test", record_type::txt);
  EXPECT_EQ(o.ec, eddy::errc::no_data) << o.ec.message();
  EXPECT_TRUE(o.answer.txt.empty());
}

TEST_P(ResolveTest, ManyQueriesShareOneResolver) {
  auto r = make_resolver();
  int done = 0;
  std::vector<std::string> got;
  for (int i = 0; i < 20; ++i) {
    ASSERT_FALSE(r->resolve("alias.test", record_type::cname, [&](std::error_code ec, records a) {
      ++done;
      EXPECT_FALSE(ec) << ec.message();
      if (!a.names.empty()) got.push_back(a.names[0]);
    }));
  }
  EXPECT_TRUE(r->is_active());
  loop().run();
  EXPECT_EQ(done, 20);
  EXPECT_EQ(got, std::vector<std::string>(20, "a.test"));
  EXPECT_FALSE(r->is_active());
  r->close();
}

TEST_P(ResolveTest, ServersRoundTrip) {
  auto r = make_resolver();
  EXPECT_EQ(r->servers(), server_->address());
  EXPECT_EQ(r->set_servers("not an address"), eddy::errc::invalid_argument);
  EXPECT_EQ(r->set_servers(""), eddy::errc::invalid_argument);
  r->close();
}

TEST_P(ResolveTest, AServerThatDoesNotAnswerTimesOut) {
  silent_server silent;
  ASSERT_TRUE(silent.ok());
  eddy::dns::resolver r(loop(), {100ms, 1});
  ASSERT_FALSE(r.set_servers(silent.address()));
  const auto start = std::chrono::steady_clock::now();
  outcome o = query(loop(), r, "a.test", record_type::a);
  EXPECT_EQ(o.ec, eddy::errc::timed_out) << o.ec.message();
  EXPECT_GE(std::chrono::steady_clock::now() - start, 100ms);  // the loop's timer, not an early exit
  r.close();
}

TEST_P(ResolveTest, CancelEndsQueriesInFlight) {
  silent_server silent;
  ASSERT_TRUE(silent.ok());
  eddy::dns::resolver r(loop(), {5000ms, 1});
  ASSERT_FALSE(r.set_servers(silent.address()));
  int done = 0;
  std::error_code last;
  for (int i = 0; i < 3; ++i) {
    ASSERT_FALSE(r.resolve("a.test", record_type::a, [&](std::error_code ec, records) {
      ++done;
      last = ec;
    }));
  }
  eddy::timer t(loop());
  t.start(20ms, [&] {
    EXPECT_EQ(r.set_servers(server_->address()), eddy::errc::busy);
    r.cancel();
    EXPECT_EQ(done, 0);  // never inside cancel()
  });
  const auto start = std::chrono::steady_clock::now();
  loop().run();
  EXPECT_EQ(done, 3);
  EXPECT_EQ(last, eddy::errc::operation_canceled) << last.message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 4s);
  // The resolver still works afterwards.
  ASSERT_FALSE(r.set_servers(server_->address()));
  outcome o = query(loop(), r, "a.test", record_type::a);
  EXPECT_FALSE(o.ec) << o.ec.message();
  t.close();
  r.close();
}

TEST_P(ResolveTest, CloseEndsQueriesInFlight) {
  silent_server silent;
  ASSERT_TRUE(silent.ok());
  auto r = std::make_unique<eddy::dns::resolver>(loop(), eddy::dns::resolver_options{5000ms, 1});
  ASSERT_FALSE(r->set_servers(silent.address()));
  std::error_code got;
  int done = 0;
  bool closed = false;
  ASSERT_FALSE(r->resolve("a.test", record_type::a, [&](std::error_code ec, records) {
    ++done;
    got = ec;
  }));
  eddy::timer t(loop());
  t.start(20ms, [&] {
    r->close([&] { closed = true; });
    EXPECT_EQ(done, 0);
    EXPECT_EQ(r->resolve("a.test", record_type::a, [](std::error_code, records) { ADD_FAILURE(); }),
              eddy::errc::closed);
    t.close();
  });
  loop().run();
  EXPECT_EQ(done, 1);
  EXPECT_EQ(got, eddy::errc::operation_canceled) << got.message();
  EXPECT_TRUE(closed);
}

TEST_P(ResolveTest, DestroyingTheResolverRunsNoCallback) {
  silent_server silent;
  ASSERT_TRUE(silent.ok());
  auto r = std::make_unique<eddy::dns::resolver>(loop(), eddy::dns::resolver_options{5000ms, 1});
  ASSERT_FALSE(r->set_servers(silent.address()));
  ASSERT_FALSE(r->resolve("a.test", record_type::a, [](std::error_code, records) { ADD_FAILURE(); }));
  eddy::timer t(loop());
  t.start(20ms, [&] {
    r.reset();
    t.close();
  });
  loop().run();
  EXPECT_EQ(loop().handle_count(), 0u);
}

TEST_P(ResolveTest, AMalformedNameIsAnInvalidArgumentFromTheLoop) {
  // A label longer than 63 bytes: c-ares refuses it before sending anything, inside the
  // call; the callback still comes from the loop. The one-shot form with the system's
  // servers, as no query leaves the process.
  bool called = false;
  std::error_code got;
  eddy::dns::resolve(loop(), std::string(70, 'a') + ".test", record_type::a, [&](std::error_code ec, records) {
    called = true;
    got = ec;
  });
  EXPECT_FALSE(called);
  loop().run();
  EXPECT_TRUE(called);
  EXPECT_EQ(got, eddy::errc::invalid_argument) << got.message();
}

// Without c-ares (the mingw build) every query says so, from the loop.
class ResolveUnsupportedTest : public PortTest {};
EDDY_INSTANTIATE_PORTS(ResolveUnsupportedTest);

TEST_P(ResolveUnsupportedTest, WithoutCaresQueriesFailWithNotSupported) {
  if (have_cares) GTEST_SKIP() << "eddy was built with c-ares here";
  eddy::dns::resolver r(loop());
  EXPECT_EQ(r.set_servers("127.0.0.1:53"), eddy::errc::not_supported);
  bool called = false;
  std::error_code got;
  ASSERT_FALSE(r.resolve("example.com", record_type::a, [&](std::error_code ec, records) {
    called = true;
    got = ec;
  }));
  EXPECT_FALSE(called);
  loop().run();
  EXPECT_TRUE(called);
  EXPECT_EQ(got, eddy::errc::not_supported);
  EXPECT_EQ(got.message(), "operation not supported on this platform");
  std::error_code free_got;
  eddy::dns::resolve(loop(), "example.com", record_type::mx, [&](std::error_code ec, records) { free_got = ec; });
  loop().run();
  EXPECT_EQ(free_got, eddy::errc::not_supported);
  r.close();
}

TEST_P(ResolveUnsupportedTest, RecordTypeNames) {
  EXPECT_STREQ(eddy::dns::to_string(record_type::aaaa), "AAAA");
  EXPECT_STREQ(eddy::dns::to_string(record_type::soa), "SOA");
  EXPECT_EQ(std::error_code(eddy::errc::no_data).message(), "the name has no DNS records of the requested type");
}

}  // namespace
