// Fault injection through an echo server with several clients, and through the thread pool:
// each failure point (platform/contract/fault.hpp) made to fail once, on every port. Each test
// asserts that the error reaches the right callback as a readable std::error_code, that the
// other connections carry on, and that everything closes and run() returns afterwards (ASan
// checks that nothing leaks). Built only with EDDY_FAULT_INJECTION=ON.
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "eddy/work.hpp"
#include "fault_fixture.hpp"

namespace {

using eddy::errc;
using eddy_test::fault_echo_client;
using eddy_test::echo_server;
using eddy_test::FaultTest;
namespace fault = eddy::contract::fault;
using fk = fault::kind;

class FaultEchoTest : public FaultTest {
 protected:
  // A server and n connected clients, each of which has had one echo.
  void open(std::size_t n) {
    server_ = std::make_unique<echo_server>(loop());
    ASSERT_FALSE(server_->start());
    for (std::size_t i = 0; i < n; ++i) add_client();
    ASSERT_TRUE(run_until([&] { return server_->conns.size() == n && all_connected(); }));
    for (std::size_t i = 0; i < n; ++i) echo(i, "hello " + std::to_string(i));
  }

  fault_echo_client& add_client() {
    clients_.push_back(std::make_unique<fault_echo_client>(loop()));
    clients_.back()->connect(server_->addr);
    return *clients_.back();
  }

  bool all_connected() const {
    for (const auto& c : clients_) {
      if (!c->connected) return false;
    }
    return true;
  }

  // Client i sends msg and waits for it to come back.
  void echo(std::size_t i, const std::string& msg) {
    fault_echo_client& c = *clients_[i];
    const std::string want = c.received + msg;
    ASSERT_FALSE(c.send(msg));
    ASSERT_TRUE(run_until([&] { return c.received.size() >= want.size() || c.ended; }));
    EXPECT_EQ(c.received, want);
  }

  // Every client but `except` still echoes.
  void others_still_echo(std::size_t except) {
    for (std::size_t i = 0; i < clients_.size(); ++i) {
      if (i != except) echo(i, "still here " + std::to_string(i));
    }
  }

  std::unique_ptr<echo_server> server_;
  std::vector<std::unique_ptr<fault_echo_client>> clients_;
};
EDDY_INSTANTIATE_PORTS(FaultEchoTest);

TEST_P(FaultEchoTest, FaultHookIsQuietUnlessArmed) {
  open(2);
  EXPECT_GT(fault::calls(fk::recv), 0u);
  EXPECT_GT(fault::calls(fk::send), 0u);
  for (int k = 0; k < fault::kind_count; ++k) EXPECT_EQ(fault::fired(static_cast<fk>(k)), 0u);
  EXPECT_TRUE(server_->read_errors.empty());
  close_all_and_exit();
}

TEST_P(FaultEchoTest, FaultInServerRecvReachesThatConnectionOnly) {
  open(3);
  fault::arm(fk::recv, 1, std::errc::connection_reset);
  ASSERT_FALSE(clients_[0]->send("boom"));
  ASSERT_TRUE(run_until([&] { return clients_[0]->ended; }));
  EXPECT_EQ(fault::fired(fk::recv), 1u);
  ASSERT_EQ(server_->read_errors.size(), 1u);
  EDDY_EXPECT_FAULT(server_->read_errors[0], errc::connection_reset);
  EXPECT_TRUE(clients_[0]->read_error == errc::eof || clients_[0]->read_error == errc::connection_reset)
      << clients_[0]->read_error.message();
  EXPECT_EQ(server_->open_conns(), 2u);
  others_still_echo(0);
  close_all_and_exit();
}

TEST_P(FaultEchoTest, FaultInClientRecvReachesThatClientOnly) {
  open(3);
  // The server's recv of "ping" is the first; the client's recv of the echo the second.
  fault::arm(fk::recv, 2, std::errc::timed_out);
  ASSERT_FALSE(clients_[1]->send("ping"));
  ASSERT_TRUE(run_until([&] { return clients_[1]->ended; }));
  EDDY_EXPECT_FAULT(clients_[1]->read_error, errc::timed_out);
  EXPECT_TRUE(server_->read_errors.empty());
  clients_[1]->sock.close();
  ASSERT_TRUE(run_until([&] { return server_->open_conns() == 2; }));
  others_still_echo(1);
  close_all_and_exit();
}

TEST_P(FaultEchoTest, FaultInClientSendReachesItsWriteCallback) {
  open(3);
  clients_[2]->write_calls = 0;
  fault::arm(fk::send, 1, std::errc::broken_pipe);
  ASSERT_FALSE(clients_[2]->send("lost"));
  ASSERT_TRUE(run_until([&] { return clients_[2]->write_calls == 1; }));
  EDDY_EXPECT_FAULT(clients_[2]->write_error, errc::broken_pipe);
  EXPECT_EQ(fault::fired(fk::send), 1u);
  others_still_echo(2);
  close_all_and_exit();
  EXPECT_EQ(clients_[2]->write_calls, 1);  // called once, not again at close
}

TEST_P(FaultEchoTest, FaultInServerSendClosesThatConnectionOnly) {
  open(3);
  // The client's send is the first; the server's echo the second.
  fault::arm(fk::send, 2, std::errc::connection_reset);
  ASSERT_FALSE(clients_[0]->send("echo me"));
  ASSERT_TRUE(run_until([&] { return clients_[0]->ended; }));
  EXPECT_EQ(fault::fired(fk::send), 1u) << fault::calls(fk::send);
  ASSERT_EQ(server_->write_errors.size(), 1u);
  EDDY_EXPECT_FAULT(server_->write_errors[0], errc::connection_reset);
  EXPECT_EQ(clients_[0]->received, "hello 0");  // the echo was never sent
  others_still_echo(0);
  close_all_and_exit();
}

TEST_P(FaultEchoTest, FaultInAcceptReachesTheListenerWhichKeepsServing) {
  open(2);
  fault::arm(fk::accept, 1, std::errc::permission_denied);
  fault_echo_client& dropped = add_client();
  ASSERT_TRUE(run_until([&] { return !server_->accept_errors.empty(); }));
  ASSERT_EQ(server_->accept_errors.size(), 1u);
  EDDY_EXPECT_FAULT(server_->accept_errors[0], errc::permission_denied);
  // The client's connection was accepted by the kernel and dropped: its read ends.
  ASSERT_TRUE(run_until([&] { return dropped.connect_calls == 1 && (dropped.ended || !dropped.connected); }));
  // The listener still accepts: a new client echoes, and so do the old ones.
  add_client();
  ASSERT_TRUE(run_until([&] { return clients_.back()->connected && server_->conns.size() == 3; }));
  echo(3, "after the failed accept");
  others_still_echo(2);
  close_all_and_exit();
}

TEST_P(FaultEchoTest, FaultTooManyOpenFilesInAcceptKeepsServing) {
  open(1);
  fault::arm(fk::accept, 1, std::errc::too_many_files_open);
  fault_echo_client& dropped = add_client();
  ASSERT_TRUE(run_until([&] { return !server_->accept_errors.empty(); }));
  EDDY_EXPECT_FAULT(server_->accept_errors[0], errc::too_many_open_files);
  ASSERT_TRUE(run_until([&] { return dropped.connect_calls == 1 && (dropped.ended || !dropped.connected); }));
  add_client();
  ASSERT_TRUE(run_until([&] { return clients_.back()->connected && server_->conns.size() == 2; }));
  echo(2, "after EMFILE");
  echo(0, "first client");
  close_all_and_exit();
}

TEST_P(FaultEchoTest, FaultInSocketFailsConnectAndTheHandleStillCloses) {
  open(2);
  fault::arm(fk::socket, 1, std::errc::too_many_files_open);
  fault_echo_client& failed = add_client();
  EDDY_EXPECT_FAULT(failed.connect_error, errc::too_many_open_files);
  EXPECT_EQ(failed.connect_calls, 0);  // refused at once: no callback
  failed.sock.close();
  add_client();
  ASSERT_TRUE(run_until([&] { return clients_.back()->connected; }));
  echo(3, "the next socket works");
  others_still_echo(2);
  close_all_and_exit();
}

TEST_P(FaultEchoTest, FaultInSocketFailsBindAndARetryListens) {
  fault::arm(fk::socket, 1, std::errc::not_enough_memory);
  eddy::tcp listener(loop());
  EDDY_EXPECT_FAULT(listener.bind(eddy::socket_address::loopback_v4(0)), errc::no_memory);
  EXPECT_FALSE(listener.bind(eddy::socket_address::loopback_v4(0)));
  EXPECT_FALSE(listener.listen(8, [](std::error_code) {}));
  close_all_and_exit();
}

TEST_P(FaultEchoTest, FaultInSubmitFailsAConnectThroughItsCallback) {
  open(2);
  fault::arm(fk::submit, 1, std::errc::network_unreachable);
  fault_echo_client& failed = add_client();
  ASSERT_TRUE(run_until([&] { return failed.connect_calls == 1; }));
  EDDY_EXPECT_FAULT(failed.connect_error, errc::network_unreachable);
  EXPECT_FALSE(failed.connected);
  others_still_echo(2);
  close_all_and_exit();
  EXPECT_EQ(failed.connect_calls, 1);
}

TEST_P(FaultEchoTest, FaultInSubmitFailsAWriteThroughItsCallback) {
  open(3);
  clients_[1]->write_calls = 0;
  fault::arm(fk::submit, 1, std::errc::broken_pipe);
  ASSERT_FALSE(clients_[1]->send("never sent"));
  ASSERT_TRUE(run_until([&] { return clients_[1]->write_calls == 1; }));
  EDDY_EXPECT_FAULT(clients_[1]->write_error, errc::broken_pipe);
  others_still_echo(1);
  close_all_and_exit();
  EXPECT_EQ(clients_[1]->write_calls, 1);
}

TEST_P(FaultEchoTest, FaultInSubmitFailsAReadThroughItsCallback) {
  open(2);
  // A client that has not started reading: its first read is the next submit.
  eddy::tcp c(loop());
  bool connected = false;
  ASSERT_FALSE(c.connect(server_->addr, [&](std::error_code ec) { connected = !ec; }));
  ASSERT_TRUE(run_until([&] { return connected && server_->conns.size() == 3; }));
  std::array<std::byte, 64> buf{};
  int calls = 0;
  std::error_code got;
  fault::arm(fk::submit, 1, std::errc::connection_aborted);
  ASSERT_FALSE(c.read_some(eddy::mutable_buffer(buf.data(), buf.size()), [&](std::error_code ec, std::span<std::byte>) {
    ++calls;
    got = ec;
  }));
  ASSERT_TRUE(run_until([&] { return calls == 1; }));
  EDDY_EXPECT_FAULT(got, errc::connection_aborted);
  others_still_echo(99);
  close_all_and_exit();
  EXPECT_EQ(calls, 1);
}

TEST_P(FaultEchoTest, FaultInWriteRequestMemoryIsReportedAndTheStreamCarriesOn) {
  open(2);
  fault::arm(fk::memory, 1, std::errc::not_enough_memory);
  EDDY_EXPECT_FAULT(clients_[0]->send("no memory for this"), errc::no_memory);
  EXPECT_EQ(clients_[0]->write_calls, 1);  // the echo before, none for the failed write
  echo(0, "the next write works");
  others_still_echo(0);
  close_all_and_exit();
}

// ---------------------------------------------------------------- the thread pool

using FaultPoolTest = FaultTest;
EDDY_INSTANTIATE_PORTS(FaultPoolTest);

TEST_P(FaultPoolTest, FaultInPoolJobStartReachesAfterWorkAndTheOthersRun) {
  std::atomic<int> ran{0};
  std::vector<std::error_code> results(4, eddy::make_error_code(errc::unknown));
  fault::arm(fk::pool_job, 2, std::errc::resource_unavailable_try_again);
  for (int i = 0; i < 4; ++i) {
    eddy::queue_work(loop(), [&ran] { ran.fetch_add(1); }, [&results, i](std::error_code ec) { results[i] = ec; });
  }
  ASSERT_TRUE(run_until([&] {
    for (const auto& r : results) {
      if (r == errc::unknown) return false;
    }
    return true;
  }));
  EXPECT_FALSE(results[0]);
  EDDY_EXPECT_FAULT(results[1], errc::would_block);
  EXPECT_FALSE(results[2]);
  EXPECT_FALSE(results[3]);
  EXPECT_EQ(ran.load(), 3);  // the failed job never ran
  close_all_and_exit();
}

TEST_P(FaultPoolTest, FaultInPoolJobStartReachesAnFsCallback) {
  // mkdtemp always runs on the pool (no port runs it itself).
  fault::arm(fk::pool_job, 1, std::errc::not_enough_memory);
  std::error_code got = eddy::make_error_code(errc::unknown);
  std::string made = "unset";
  eddy::fs::mkdtemp(loop(), "/tmp/eddy-fault-XXXXXX", [&](const eddy::fs::error& err, std::string path) {
    got = err.code();
    made = std::move(path);
  });
  ASSERT_TRUE(run_until([&] { return got != errc::unknown; }));
  EDDY_EXPECT_FAULT(got, errc::no_memory);
  EXPECT_TRUE(made.empty());
  close_all_and_exit();
}

}  // namespace
