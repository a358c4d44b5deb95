// The three shapes asynchronous I/O takes, each written twice: with callbacks and with
// coroutines (eddy::task, eddy::co). Both print the same lines.
//
//   patterns callbacks | patterns coroutines
//
// 1. Unordered parallel: read two files at once; use them when both are in.
// 2. Ordered serial: session -> database -> web service, each step needing the one before
//    (the session and database lookups are timers, the web service is a local TCP server).
//    Callbacks nest (the "pyramid"); coroutines are straight code.
// 3. Ordered parallel: three requests to the web service in flight at once, answered out of
//    order, their results used in request order.
//
// The web service is the same callback-written server in both modes: the shapes compared
// are the clients'.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "eddy/co.hpp"
#include "eddy/eddy.hpp"

using namespace std::chrono_literals;
namespace co = eddy::co;

namespace {

const char* const file_a = "patterns_a.txt";
const char* const file_b = "patterns_b.txt";

// What the web service answers to a request line, and how long it takes: "request N" is
// answered after 5 * (4 - N) ms, so parallel requests 1, 2, 3 come back as 3, 2, 1.
std::chrono::milliseconds delay_of(const std::string& request) {
  const auto n = request.rfind("request ", 0) == 0 ? std::atoi(request.c_str() + 8) : 3;
  return std::chrono::milliseconds(5 * (4 - n));
}
std::string answer_to(const std::string& request) {
  if (request.rfind("request ", 0) == 0) {
    const int n = std::atoi(request.c_str() + 8);
    return "answer " + std::to_string(n * n);
  }
  if (request.rfind("profile ", 0) == 0) return "profile of " + request.substr(8);
  return "unknown request";
}

// The simulated web service: listens on 127.0.0.1 (a free port); each connection sends one
// line and gets one line back after the request's delay, then the server closes it.
// Unreferenced: it does not keep the loop alive by itself. Loop thread only.
class web_service {
 public:
  explicit web_service(eddy::loop& loop) : loop_(loop), listener_(loop) {}

  std::error_code start() {
    if (auto ec = listener_.bind(eddy::socket_address::loopback_v4(0))) return ec;
    if (auto ec = listener_.listen(16, [this](std::error_code listen_ec) {
          if (!listen_ec) accept_one();
        })) {
      return ec;
    }
    listener_.unref();
    return {};
  }
  eddy::socket_address address() const { return listener_.local_address(); }
  void stop() {
    listener_.close();
    for (auto& c : connections_) {
      c->socket.close();
      c->delay.close();
    }
  }

 private:
  struct connection {
    explicit connection(eddy::loop& l) : socket(l), delay(l) {}
    eddy::tcp socket;
    eddy::timer delay;
    std::string in, out;
  };

  void accept_one() {
    auto& c = *connections_.emplace_back(std::make_unique<connection>(loop_));
    if (listener_.accept(c.socket)) return;
    (void)c.socket.read_start([&c](std::error_code ec, std::span<std::byte> data) {
      if (ec) return c.socket.close();
      c.in.append(reinterpret_cast<const char*>(data.data()), data.size());
      const auto end = c.in.find('\n');
      if (end == std::string::npos) return;
      c.socket.read_stop();
      const std::string request = c.in.substr(0, end);
      c.out = answer_to(request) + "\n";
      c.delay.start(delay_of(request), [&c] {
        c.delay.close();
        (void)c.socket.write(eddy::buffer(c.out), [&c](std::error_code) { c.socket.close(); });
      });
    });
  }

  eddy::loop& loop_;
  eddy::tcp listener_;
  std::vector<std::unique_ptr<connection>> connections_;
};

// ---- callbacks

// One request to the web service: connect, send the line, read the answer to the end.
struct call {
  explicit call(eddy::loop& l) : socket(l) {}
  eddy::tcp socket;
  std::string request, answer;
  std::function<void(std::string)> done;
};
using calls = std::vector<std::unique_ptr<call>>;  // owned by the caller until the loop ends

std::string without_newline(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

void fail(call& c, std::error_code ec) {
  c.socket.close();
  c.done("error: " + ec.message());
}

// Collects the answer until the server closes, then calls done with its line.
void read_answer(call& c) {
  auto ec = c.socket.read_start([&c](std::error_code read_ec, std::span<std::byte> data) {
    if (!read_ec) {
      c.answer.append(reinterpret_cast<const char*>(data.data()), data.size());
    } else if (read_ec != eddy::errc::eof) {
      fail(c, read_ec);
    } else {
      c.socket.close();
      c.done(without_newline(c.answer));
    }
  });
  if (ec) fail(c, ec);
}

// Calls done with the answer line (or the error's message).
void fetch(calls& owner, eddy::loop& loop, const eddy::socket_address& server, const std::string& request,
           std::function<void(std::string)> done) {
  call& c = *owner.emplace_back(std::make_unique<call>(loop));
  c.request = request + "\n";
  c.done = std::move(done);
  auto ec = c.socket.connect(server, [&c](std::error_code connect_ec) {
    if (connect_ec) return fail(c, connect_ec);
    if (auto write_ec = c.socket.write(eddy::buffer(c.request), [](std::error_code) {})) return fail(c, write_ec);
    read_answer(c);
  });
  if (ec) fail(c, ec);
}

void callbacks(eddy::loop& loop, const eddy::socket_address& service) {
  calls owner;
  // 1. unordered parallel
  auto both = std::make_shared<std::vector<std::string>>(2);
  auto left = std::make_shared<int>(2);
  for (int i = 0; i < 2; ++i) {
    eddy::fs::read_file(loop, i == 0 ? file_a : file_b, [both, left, i](const eddy::fs::error& err, std::string data) {
      (*both)[i] = err ? err.message() : data;
      if (--*left == 0) std::printf("parallel: %s + %s\n", (*both)[0].c_str(), (*both)[1].c_str());
    });
  }
  loop.run();

  // 2. ordered serial: the pyramid
  eddy::timer t(loop);
  t.start(5ms, [&] {
    std::printf("serial: session 42\n");
    t.start(5ms, [&] {
      std::printf("serial: user alice of session 42\n");
      t.close();
      fetch(owner, loop, service, "profile alice", [](std::string profile) {
        std::printf("serial: %s\n", profile.c_str());
      });
    });
  });
  loop.run();

  // 3. ordered parallel: keep the answers by index, print them in order when all are in
  std::vector<std::string> answers(3);
  int pending = 3;
  for (int i = 0; i < 3; ++i) {
    fetch(owner, loop, service, "request " + std::to_string(i + 1), [&, i](std::string answer) {
      answers[i] = std::move(answer);
      if (--pending == 0) {
        for (int k = 0; k < 3; ++k) std::printf("ordered parallel: request %d -> %s\n", k + 1, answers[k].c_str());
      }
    });
  }
  loop.run();
}

// ---- coroutines

eddy::task<std::string> fetch(eddy::loop& loop, eddy::socket_address server, std::string request) {
  eddy::tcp socket(loop);
  co_await co::connect(socket, server);
  request += '\n';
  co_await co::write(socket, eddy::buffer(request));
  std::string answer;
  char chunk[256];
  while (const std::size_t n = co_await co::read(socket, std::as_writable_bytes(std::span(chunk)))) {
    answer.append(chunk, n);
  }
  socket.close();
  co_return without_newline(answer);
}

eddy::task<std::string> read_text(eddy::loop& loop, const char* path) {
  co_return co_await co::read_file(loop, path);
}

eddy::task<> coroutines(eddy::loop& loop, eddy::socket_address service) {
  // 1. unordered parallel
  auto [a, b] = co_await co::when_all(read_text(loop, file_a), read_text(loop, file_b));
  std::printf("parallel: %s + %s\n", a.c_str(), b.c_str());

  // 2. ordered serial: one step after the other
  co_await co::sleep(loop, 5ms);
  std::printf("serial: session 42\n");
  co_await co::sleep(loop, 5ms);
  std::printf("serial: user alice of session 42\n");
  const std::string profile = co_await fetch(loop, service, "profile alice");
  std::printf("serial: %s\n", profile.c_str());

  // 3. ordered parallel
  auto [r1, r2, r3] = co_await co::when_all(fetch(loop, service, "request 1"), fetch(loop, service, "request 2"),
                                            fetch(loop, service, "request 3"));
  const std::string* answers[] = {&r1, &r2, &r3};
  for (int k = 0; k < 3; ++k) std::printf("ordered parallel: request %d -> %s\n", k + 1, answers[k]->c_str());
}

}  // namespace

int main(int argc, char** argv) {
  const bool with_callbacks = argc > 1 && std::strcmp(argv[1], "callbacks") == 0;
  if (argc > 1 && !with_callbacks && std::strcmp(argv[1], "coroutines") != 0) {
    std::fprintf(stderr, "usage: patterns [callbacks|coroutines]\n");
    return 2;
  }
  if (eddy::fs::write_file(file_a, "first") || eddy::fs::write_file(file_b, "second")) {
    std::fprintf(stderr, "patterns: cannot write the sample files\n");
    return 1;
  }
  eddy::loop loop;
  web_service service(loop);
  if (auto ec = service.start()) {
    std::fprintf(stderr, "patterns: cannot start the web service: %s\n", ec.message().c_str());
    return 1;
  }
  int rc = 0;
  if (with_callbacks) {
    callbacks(loop, service.address());
  } else {
    eddy::spawn(loop, coroutines(loop, service.address()), [&](std::exception_ptr error) {
      if (!error) return;
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "patterns: %s\n", e.what());
      }
      rc = 1;
    });
    loop.run();
  }
  service.stop();
  loop.run();
  (void)eddy::fs::unlink(file_a);
  (void)eddy::fs::unlink(file_b);
  std::fflush(stdout);
  return rc;
}
