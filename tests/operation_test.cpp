// The backend contract seen from the core: an operation submitted to the port completes
// exactly once, from the poll phase, and keeps the loop alive until it has.
#include <memory>
#include <vector>

#if defined(_WIN32)
#include "platform/win32/win32.hpp"  // winsock2, ws2tcpip and windows, lean
#else
#include <sys/socket.h>
#endif

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

// op_kind::poll: readiness without I/O (what the c-ares resolver is driven by), on every
// port (iocp: IOCTL_AFD_POLL through the port's helper socket).
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
  loop().impl().port_detach(io);
  net::close(rx);
  net::close(tx);
}


// Hundreds of sockets ready at once (what a loop with thousands of busy connections sees):
// once the port has seen such a burst, one poll takes them all. epoll grows its event array
// when a poll fills it (issue 14: batched event arrays sized to load); io_uring reaps its
// whole completion queue; iocp dequeues full batches until the port is empty.
TEST_P(OperationTest, ManySocketsReadyAtOnceAreTakenInOnePollAfterABurst) {
  namespace net = eddy::contract::net;
  constexpr int sockets = 300;  // more than epoll's first array (128) and its first growth (256)
  struct watched {
    net::native_socket s = net::invalid_socket;
    eddy::detail::io_object io;
    eddy::socket_address addr;
    counted_op c;
  };
  std::vector<std::unique_ptr<watched>> all;
  net::native_socket tx = net::invalid_socket;
  ASSERT_FALSE(net::open_udp(eddy::address_family::ipv4, tx));
  auto& impl = loop().impl();
  for (int i = 0; i < sockets; ++i) {
    auto w = std::make_unique<watched>();
    ASSERT_FALSE(net::open_udp(eddy::address_family::ipv4, w->s));
    ASSERT_FALSE(net::bind_udp(w->s, eddy::socket_address::loopback_v4(0), false, false, false));
    ASSERT_FALSE(net::local_address(w->s, w->addr));
    w->io.native = w->s;
    w->io.family = net::native_family(eddy::address_family::ipv4);
    ASSERT_FALSE(impl.port_attach(w->io));
    w->c.op.kind = eddy::detail::op_kind::poll;
    w->c.op.io = &w->io;
    w->c.op.flags = eddy::detail::poll_readable;
    all.push_back(std::move(w));
  }
  eddy::timer guard(loop());  // keeps the loop waiting while the polls are in flight
  guard.start(std::chrono::seconds(30), [] { ADD_FAILURE() << "the polls never completed"; });
  std::vector<int> polls_per_round;
  for (int round = 0; round < 3; ++round) {
    for (auto& w : all) {
      w->c.completions = 0;
      impl.submit(w->c.op);
    }
    loop().run(eddy::run_mode::nowait);  // every poll is now waiting: nothing to read yet
    for (auto& w : all) ASSERT_EQ(w->c.completions, 0);
    // One datagram to each, then count the loop iterations until every poll has completed.
    // (Each datagram stays unread, so the next round drains them first.)
    for (auto& w : all) {
      const char byte = 'x';
      eddy::detail::io_vec v{const_cast<char*>(&byte), 1};
      net::native_address dest;
      net::to_native(w->addr, dest);
      std::error_code ec;
      ASSERT_EQ(net::try_sendto(tx, &v, 1, &dest, ec), 1u) << ec.message();
    }
    int polls = 0;
    const auto done = [&] {
      for (auto& w : all) {
        if (w->c.completions == 0) return false;
      }
      return true;
    };
    while (!done() && guard.is_active()) {
      loop().run(eddy::run_mode::once);
      ++polls;
    }
    for (auto& w : all) {
      EXPECT_EQ(w->c.completions, 1);
      EXPECT_FALSE(w->c.error) << w->c.error.message();
    }
    polls_per_round.push_back(polls);
    // Drain the datagram so the next round's polls wait again.
    for (auto& w : all) {
      char buf[8];
#if defined(_WIN32)
      ASSERT_EQ(::recv(static_cast<SOCKET>(w->s), buf, sizeof buf, 0), 1);  // the socket is non-blocking
#else
      ASSERT_EQ(::recv(static_cast<int>(w->s), buf, sizeof buf, MSG_DONTWAIT), 1);
#endif
    }
  }
  // The first rounds may take several polls (epoll: 128, then 256 events per call); by the
  // last, one poll takes all the sockets.
  EXPECT_EQ(polls_per_round.back(), 1) << "polls per round: " << polls_per_round[0] << ", " << polls_per_round[1]
                                       << ", " << polls_per_round[2];
  guard.close();
  for (auto& w : all) {
    impl.port_detach(w->io);
    net::close(w->s);
  }
  net::close(tx);
}

}  // namespace
