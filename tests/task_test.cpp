// eddy::task on every port: tasks are lazy and await each other, exceptions reach the awaiter
// and spawn's callback, an unhandled one the loop's handler.
#include <stdexcept>
#include <string>

#include "co_fixture.hpp"

namespace {

using namespace std::chrono_literals;
using eddy::errc;
using eddy::task;
using eddy_test::CoTest;
namespace co = eddy::co;

class TaskTest : public CoTest {};
EDDY_INSTANTIATE_PORTS(TaskTest);

using eddy_test::add_one;
using eddy_test::answer;
using eddy_test::thrower;

TEST_P(TaskTest, TasksAreLazyAndAwaitTasks) {
  bool started = false;
  // (Coroutine lambdas are named: their captures live in the lambda object.)
  auto body = [&]() -> task<int> {
    started = true;
    co_return co_await add_one(answer());
  };
  auto t = body();
  EXPECT_FALSE(started);
  EXPECT_EQ(run(std::move(t)), 43);
  EXPECT_TRUE(started);
}

TEST_P(TaskTest, ExceptionsPropagateToTheAwaiterAndToSpawnsCallback) {
  auto catches = []() -> task<std::string> {
    try {
      co_await thrower();
    } catch (const std::runtime_error& e) {
      co_return e.what();
    }
    co_return "no exception";
  };
  EXPECT_EQ(run(catches()), "boom");
  EXPECT_THROW(run(add_one(thrower())), std::runtime_error);
}

TEST_P(TaskTest, AnUnhandledExceptionWithoutCallbackGoesToTheLoopHandler) {
  std::string seen;
  loop().set_uncaught_exception_handler([&](std::exception_ptr e) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      seen = ex.what();
    }
  });
  auto body = [&]() -> task<> {
    co_await co::yield(loop());
    throw std::runtime_error("lost");
  };
  eddy::spawn(loop(), body());
  loop().run();
  EXPECT_EQ(seen, "lost");
}

}  // namespace
