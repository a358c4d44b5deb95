// The fixture of the coroutine tests (task_test.cpp, co_test.cpp and co_*_test.cpp): a port's
// loop (PortTest) with run(task), which spawns a task and runs the loop until it is done,
// run_error, connect_pair, and the small tasks several of them await. Each test file derives
// a suite of its own from CoTest; CoTest itself is instantiated in co_test.cpp.
#pragma once

#include <chrono>
#include <exception>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <type_traits>
#include <utility>

#include "eddy/co.hpp"
#include "port_fixture.hpp"

namespace eddy_test {

using namespace std::chrono_literals;
using eddy::task;
namespace co = eddy::co;

class CoTest : public PortTest {
 protected:
  // Spawns t and runs the loop until it is done; returns t's value, rethrows its exception.
  template <class T>
  T run(task<T> t) {
    std::exception_ptr error;
    std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> value;
    bool finished = false;
    if constexpr (std::is_void_v<T>) {
      eddy::spawn(loop(), std::move(t), [&](std::exception_ptr e) {
        finished = true;
        error = e;
      });
    } else {
      eddy::spawn(loop(), std::move(t), [&](std::exception_ptr e, std::optional<T> v) {
        finished = true;
        error = e;
        value = std::move(v);
      });
    }
    // A guard, as in the process tests: a test that would hang fails instead.
    eddy::timer guard(loop());
    bool expired = false;
    guard.start(30s, [&] {
      expired = true;
      loop().walk([](eddy::handle& h) { h.close(); });
    });
    guard.unref();
    loop().run();
    EXPECT_FALSE(expired) << "the loop did not finish in time";
    EXPECT_TRUE(finished);
    if (error) std::rethrow_exception(error);
    if constexpr (!std::is_void_v<T>) return std::move(*value);
  }

  // The code of the std::system_error that running t throws (empty if none).
  template <class T>
  std::error_code run_error(task<T> t) {
    try {
      run(std::move(t));
    } catch (const std::system_error& e) {
      return e.code();
    }
    return {};
  }

  // Connects client to conn (a fresh tcp each) through a listener that is closed again.
  void connect_pair(eddy::tcp& client, eddy::tcp& conn) {
    co::acceptor server(loop());
    ASSERT_FALSE(server.listen(eddy::socket_address::loopback_v4(0)));
    auto accept = [&]() -> task<> {
      co_await server.accept(conn);
      server.socket().close();
    };
    auto connect = [&]() -> task<> { co_await co::connect(client, server.socket().local_address()); };
    run(co::when_all(accept(), connect()));
  }
};

inline task<int> answer() { co_return 42; }
inline task<int> add_one(task<int> t) { co_return co_await t + 1; }
inline task<int> thrower() {
  throw std::runtime_error("boom");
  co_return 0;
}

}  // namespace eddy_test
