// The backend contract seen from the core: an operation submitted to the port completes
// exactly once, from the poll phase, and keeps the loop alive until it has.
#include "loop/loop_impl.hpp"
#include "platform/contract/net.hpp"
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
  ++loop().impl().active_reqs_;  // what submit() counts for a nop
  ++loop().impl().ops_in_flight_;
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

// op_kind::poll: readiness without I/O (what the c-ares resolver is driven by). The iocp
// port has no readiness and must say not_supported rather than never completing.
TEST_P(OperationTest, PollWaitsForReadinessWithoutReading) {
  namespace net = eddy::contract::net;
  net::native_socket rx = net::invalid_socket, tx = net::invalid_socket;
  ASSERT_FALSE(net::open_udp(eddy::address_family::ipv4, rx));
  ASSERT_FALSE(net::open_udp(eddy::address_family::ipv4, tx));
  ASSERT_FALSE(net::bind_udp(rx, eddy::socket_address::loopback_v4(0), false, false, false));
  eddy::socket_address to;
  ASSERT_FALSE(net::local_address(rx, to));
  eddy::detail::io_object io;
  io.native = rx;
  io.family = net::native_family(eddy::address_family::ipv4);
  ASSERT_FALSE(loop().impl().port_attach(io));

  counted_op readable, writable, cancelled;
  for (auto* c : {&readable, &writable, &cancelled}) {
    c->op.kind = eddy::detail::op_kind::poll;
    c->op.io = &io;
  }
  readable.op.flags = cancelled.op.flags = eddy::detail::poll_readable;
  writable.op.flags = eddy::detail::poll_writable;
  auto& impl = loop().impl();
  // A poll keeps the loop alive only through its handle (as a read does): the test holds a
  // timer while it waits for one.
  const auto run_until_done = [&](counted_op& c) {
    eddy::timer guard(loop());
    guard.start(std::chrono::seconds(30), [] { ADD_FAILURE() << "the poll never completed"; });
    while (c.completions == 0 && guard.is_active()) loop().run(eddy::run_mode::once);
  };
  impl.submit(readable.op);
  impl.submit(writable.op);
  run_until_done(writable);
  if (GetParam() == eddy::backend_kind::iocp) {
    run_until_done(readable);
    EXPECT_EQ(readable.error, eddy::errc::not_supported);
    EXPECT_EQ(writable.error, eddy::errc::not_supported);
  } else {
    EXPECT_EQ(writable.completions, 1);  // an idle UDP socket can always send
    EXPECT_FALSE(writable.error) << writable.error.message();
    EXPECT_EQ(readable.completions, 0);  // nothing to read yet
    const char byte = 'x';
    eddy::detail::io_vec v{const_cast<char*>(&byte), 1};
    net::native_address dest;
    net::to_native(to, dest);
    std::error_code ec;
    EXPECT_EQ(net::try_sendto(tx, &v, 1, &dest, ec), 1u) << ec.message();
    run_until_done(readable);
    EXPECT_EQ(readable.completions, 1);
    EXPECT_FALSE(readable.error) << readable.error.message();
    // The datagram is still there: poll read nothing, so a second poll completes too.
    counted_op again;
    again.op.kind = eddy::detail::op_kind::poll;
    again.op.io = &io;
    again.op.flags = eddy::detail::poll_readable;
    impl.submit(again.op);
    run_until_done(again);
    EXPECT_EQ(again.completions, 1);
    EXPECT_FALSE(again.error) << again.error.message();
  }
  if (GetParam() != eddy::backend_kind::iocp) {
    // A poll on the sender, which has nothing to read, waits; cancel ends it.
    eddy::detail::io_object quiet;
    quiet.native = tx;
    quiet.family = io.family;
    ASSERT_FALSE(impl.port_attach(quiet));
    cancelled.op.io = &quiet;
    impl.submit(cancelled.op);
    loop().run(eddy::run_mode::nowait);
    EXPECT_EQ(cancelled.completions, 0);
    impl.cancel(cancelled.op);
    run_until_done(cancelled);
    EXPECT_EQ(cancelled.completions, 1);
    EXPECT_EQ(cancelled.error, eddy::errc::operation_canceled) << cancelled.error.message();
    impl.port_detach(quiet);
  }
  loop().impl().port_detach(io);
  net::close(rx);
  net::close(tx);
}

}  // namespace
