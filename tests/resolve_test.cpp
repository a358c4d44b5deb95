// dns::resolver (c-ares driven by the loop) on every port, against a real DNS server on
// loopback: dnsmasq, started once per suite as a child on a free high port with fixed
// records (authoritative for "test", so NS and SOA answer too). Readiness is found by
// querying it. A UDP socket that never answers stands in for a dead server.
// On Windows (no c-ares in the mingw build here) the resolver reports not_supported and
// the record tests skip with that reason.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#ifndef _WIN32
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
extern char** environ;
#endif

#include "port_fixture.hpp"

namespace {

using namespace std::chrono_literals;
using eddy::dns::record_type;
using eddy::dns::records;
using eddy_test::PortTest;

#ifdef EDDY_TEST_HAVE_CARES
constexpr bool have_cares = true;
#else
constexpr bool have_cares = false;
#endif

struct outcome {
  bool done = false;
  std::error_code ec;
  records answer;
};

// Runs one query to the end on loop.
outcome query(eddy::loop& loop, eddy::dns::resolver& r, const std::string& name, record_type type) {
  outcome out;
  auto ec = r.resolve(name, type, [&](std::error_code e, records a) {
    out.done = true;
    out.ec = e;
    out.answer = std::move(a);
  });
  if (ec) {
    out.done = true;
    out.ec = ec;
    return out;
  }
  loop.run();
  return out;
}

#ifndef _WIN32
// A UDP socket on 127.0.0.1 that nobody reads: queries sent to it are never answered.
class silent_server {
 public:
  silent_server() {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
      port_ = ntohs(a.sin_port);
    }
  }
  ~silent_server() {
    if (fd_ >= 0) ::close(fd_);
  }
  silent_server(const silent_server&) = delete;
  silent_server& operator=(const silent_server&) = delete;
  [[nodiscard]] std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] bool ok() const { return port_ != 0; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// dnsmasq as a child process with the suite's records.
class dns_server {
 public:
  // Starts dnsmasq on a free port and waits until it answers. Empty on success, else why not.
  std::string start() {
    const char* candidates[] = {"/usr/sbin/dnsmasq", "/sbin/dnsmasq", "/usr/bin/dnsmasq"};
    std::string exe;
    for (const char* c : candidates) {
      if (::access(c, X_OK) == 0) exe = c;
    }
    if (exe.empty()) return "dnsmasq is not installed (tools/setup.sh installs dnsmasq-base)";
    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = free_port();
      if (port_ == 0) return "no free port";
      if (!spawn(exe)) return "could not start dnsmasq";
      if (wait_ready()) return {};
      stop();  // the port was taken meanwhile, or dnsmasq failed: try another
    }
    return "dnsmasq did not answer on 127.0.0.1";
  }

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  [[nodiscard]] std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  static int free_port() {
    silent_server probe;  // a port the kernel just handed out, free again once closed
    if (!probe.ok()) return 0;
    const std::string a = probe.address();
    return std::stoi(a.substr(a.find(':') + 1));
  }

  bool spawn(const std::string& exe) {
    std::vector<std::string> args = {
        exe,
        "--no-daemon",
        "--no-resolv",
        "--no-hosts",
        "--conf-file=/dev/null",
        "--pid-file",  // none: nothing is written outside the test
        "--bind-interfaces",
        "--listen-address=127.0.0.1",
        "--port=" + std::to_string(port_),
        "--host-record=a.test,10.0.0.1,fd00::1",
        "--cname=alias.test,a.test",
        "--mx-host=mx.test,mail.test,10",
        "--srv-host=_http._tcp.srv.test,web.test,8080,1,2",
        "--txt-record=txt.test,hello,world",
        // Too big for a 512-byte UDP answer: truncated, so c-ares asks again over TCP.
        "--txt-record=big.test," + std::string(200, 'x') + "," + std::string(200, 'y') + "," + std::string(200, 'z'),
        "--ptr-record=9.0.0.10.in-addr.arpa,ptr.test",
        // Authoritative for "test" (and the reverse zone of 10.0.0.0/24): SOA and NS records,
        // and PTR answers made from the host records.
        "--auth-server=ns.test,127.0.0.1",
        "--auth-zone=test,10.0.0.0/24,fd00::/64",
        "--auth-soa=2024,hostmaster.test,1200,120,604800",
    };
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);  // its log
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    const int rc = posix_spawn(&pid_, exe.c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) pid_ = -1;
    return rc == 0;
  }

  // Queries a.test until dnsmasq answers (connection refused or a timeout until it has
  // bound), for at most 10 s; false if dnsmasq exited or never answered.
  bool wait_ready() {
    std::error_code ec;
    auto loop = eddy::loop::create({}, ec);
    if (!loop) return false;
    bool ready = false;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!ready && std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      eddy::dns::resolver r(*loop, {100ms, 1});
      if (r.set_servers(address())) break;
      ready = !query(*loop, r, "a.test", record_type::a).ec;
      r.close();
      loop->run();
    }
    return ready;
  }

  pid_t pid_ = -1;
  int port_ = 0;
};
#else
class silent_server {
 public:
  [[nodiscard]] std::string address() const { return "127.0.0.1:9"; }
  [[nodiscard]] bool ok() const { return false; }
};
class dns_server {
 public:
  std::string start() { return "the resolver tests need dnsmasq and c-ares; this Windows build has neither"; }
  void stop() {}
  [[nodiscard]] std::string address() const { return {}; }
};
#endif

class ResolveTest : public PortTest {
 protected:
  static void SetUpTestSuite() {
    if (!have_cares) {
      skip_reason_ = "eddy was built without c-ares: dns::resolver reports not_supported";
      return;
    }
    server_ = new dns_server;
    skip_reason_ = server_->start();
  }
  static void TearDownTestSuite() {
    if (server_ != nullptr) server_->stop();
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    PortTest::SetUp();
    if (IsSkipped()) return;
    if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;
  }

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

  static inline dns_server* server_ = nullptr;
  static inline std::string skip_reason_;
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
