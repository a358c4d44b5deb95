// The three shapes asynchronous I/O takes, each written twice: with callbacks and with
// coroutines (eddy::task, eddy::co). Both print the same lines.
//
//   patterns callbacks | patterns coroutines
//
// 1. Unordered parallel: read two files at once; use them when both are in.
// 2. Ordered serial: session -> database -> web service, each step needing the one before
//    (simulated with timers). Callbacks nest (the "pyramid"); coroutines are straight code.
// 3. Ordered parallel: three requests in flight at once, answered out of order, their
//    results used in request order.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "eddy/co.hpp"
#include "eddy/eddy.hpp"

using namespace std::chrono_literals;
namespace co = eddy::co;

namespace {

const char* const file_a = "patterns_a.txt";
const char* const file_b = "patterns_b.txt";

// The simulated services: each answers after a delay.
std::chrono::milliseconds delay_of(int request) { return std::chrono::milliseconds(5 * (4 - request)); }
std::string answer_to(int request) { return "answer " + std::to_string(request * request); }

// ---- callbacks

void callbacks(eddy::loop& loop) {
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
      t.start(5ms, [&] {
        std::printf("serial: profile of alice\n");
        t.close();
      });
    });
  });
  loop.run();

  // 3. ordered parallel: keep the answers by index, print them in order when all are in
  std::vector<std::string> answers(3);
  int pending = 3;
  std::vector<std::unique_ptr<eddy::timer>> requests;
  for (int i = 0; i < 3; ++i) {
    auto& r = *requests.emplace_back(std::make_unique<eddy::timer>(loop));
    r.start(delay_of(i + 1), [&, i] {
      answers[i] = answer_to(i + 1);
      requests[i]->close();
      if (--pending == 0) {
        for (int k = 0; k < 3; ++k) std::printf("ordered parallel: request %d -> %s\n", k + 1, answers[k].c_str());
      }
    });
  }
  loop.run();
}

// ---- coroutines

eddy::task<std::string> request(eddy::loop& loop, int i) {
  co_await co::sleep(loop, delay_of(i));
  co_return answer_to(i);
}

eddy::task<std::string> read_text(eddy::loop& loop, const char* path) {
  co_return co_await co::read_file(loop, path);
}

eddy::task<> coroutines(eddy::loop& loop) {
  // 1. unordered parallel
  auto [a, b] = co_await co::when_all(read_text(loop, file_a), read_text(loop, file_b));
  std::printf("parallel: %s + %s\n", a.c_str(), b.c_str());

  // 2. ordered serial: one step after the other
  co_await co::sleep(loop, 5ms);
  std::printf("serial: session 42\n");
  co_await co::sleep(loop, 5ms);
  std::printf("serial: user alice of session 42\n");
  co_await co::sleep(loop, 5ms);
  std::printf("serial: profile of alice\n");

  // 3. ordered parallel
  auto [r1, r2, r3] = co_await co::when_all(request(loop, 1), request(loop, 2), request(loop, 3));
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
  int rc = 0;
  if (with_callbacks) {
    callbacks(loop);
  } else {
    eddy::spawn(loop, coroutines(loop), [&](std::exception_ptr error) {
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
  (void)eddy::fs::unlink(file_a);
  (void)eddy::fs::unlink(file_b);
  std::fflush(stdout);
  return rc;
}
