// A real DNS server for the resolver tests: dnsmasq as a child process on a free loopback
// port with fixed records (authoritative for "test", so NS and SOA answer too), and a UDP
// socket that never answers standing in for a dead server. Linux only; on Windows both are
// stand-ins whose start() says why the tests skip. Used by resolve_test and co_test.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
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

#include "eddy/eddy.hpp"

namespace eddy_test {

using namespace std::chrono_literals;
using eddy::dns::record_type;
using eddy::dns::records;

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
inline outcome query(eddy::loop& loop, eddy::dns::resolver& r, const std::string& name, record_type type) {
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

// A fixture base: Fixture (a PortTest) with one dnsmasq for the whole suite in server_;
// every test skips, with the reason, where there is none (no c-ares, no dnsmasq).
template <class Fixture>
class with_dns_server : public Fixture {
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
    Fixture::SetUp();
    if (this->IsSkipped()) return;
    if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;
  }
  static inline dns_server* server_ = nullptr;
  static inline std::string skip_reason_;
};

}  // namespace eddy_test
