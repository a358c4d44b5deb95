// The backend contract seen from the core: an operation submitted to the port completes
// exactly once, from the poll phase, and keeps the loop alive until it has.
#include "loop_impl.hpp"
#include "port_fixture.hpp"

namespace {

using eddy_test::PortTest;

class OperationTest : public PortTest {};
EDDY_INSTANTIATE_PORTS(OperationTest);

struct counted_op {
  eddy::detail::operation op;
  int completions = 0;
  std::error_code error;

  counted_op() {
    op.kind = eddy::detail::op_kind::nop;
    op.complete = [](eddy::detail::operation* o) {
      // The record is the first member, so the op's address is the owner's.
      auto* self = reinterpret_cast<counted_op*>(o);
      ++self->completions;
      self->error = o->error;
    };
  }
};

TEST_P(OperationTest, NopCompletesOnceInThePollPhase) {
  counted_op c;
  auto& impl = loop().impl();
  impl.submit(c.op);
  EXPECT_EQ(c.completions, 0);  // never synchronously
  EXPECT_TRUE(loop().alive());  // an operation in flight keeps the loop alive
  loop().run();
  EXPECT_EQ(c.completions, 1);
  EXPECT_FALSE(c.error);
  EXPECT_FALSE(c.op.in_flight);
}

TEST_P(OperationTest, AFileOperationThePortLacksCompletesWithNotSupported) {
  // The core asks supports() first; a port still completes any kind it is given, once.
  using eddy::detail::op_kind;
  int checked = 0;
  for (op_kind k : {op_kind::file_open, op_kind::file_close, op_kind::file_read, op_kind::file_write,
                    op_kind::file_stat, op_kind::file_sync}) {
    if (loop().impl().port_supports(k)) continue;
    counted_op c;
    c.op.kind = k;
    loop().impl().submit(c.op);
    EXPECT_EQ(c.completions, 0);
    loop().run();
    EXPECT_EQ(c.completions, 1);
    EXPECT_EQ(c.error, eddy::errc::not_supported);
    ++checked;
  }
  if (checked == 0) GTEST_SKIP() << eddy::to_string(GetParam()) << " runs every file operation itself";
}

TEST_P(OperationTest, ManyOperationsAllCompleteAcrossFullBatches) {
  std::vector<counted_op> ops(1000);
  for (auto& c : ops) loop().impl().submit(c.op);
  loop().run();
  for (auto& c : ops) EXPECT_EQ(c.completions, 1);
}

TEST_P(OperationTest, CancelledNopStillCompletesExactlyOnce) {
  counted_op c;
  loop().impl().submit(c.op);
  loop().impl().cancel(c.op);
  loop().run();
  EXPECT_EQ(c.completions, 1);
  EXPECT_TRUE(!c.error || c.error == eddy::errc::operation_canceled) << c.error.message();
  EXPECT_FALSE(loop().impl().cancel(c.op));  // no longer in flight
}

TEST_P(OperationTest, DeferredCompletionRunsInThePendingPhase) {
  counted_op c;
  std::vector<std::string> log;
  c.op.loop = &loop().impl();
  c.op.in_flight = true;
  ++loop().impl().active_reqs_;
  loop().impl().defer(c.op);
  eddy::timer t(loop());
  eddy::idle i(loop());
  t.start(std::chrono::milliseconds(0), [&] { log.push_back(c.completions ? "timer after" : "timer before"); });
  i.start([&] {
    log.push_back(c.completions ? "idle after" : "idle before");
    i.close();
  });
  loop().run();
  EXPECT_EQ(c.completions, 1);
  EXPECT_EQ(log, (std::vector<std::string>{"timer before", "idle after"}));
  t.close();
}

}  // namespace
