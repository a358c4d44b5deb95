// Fault injection through a file copy, child processes (the test helper) and a cluster's
// worker start, on every port: each failure point (platform/contract/fault.hpp) made to fail
// once. The error must reach the right callback as a readable std::error_code, the other
// files, children and workers carry on, and everything closes with run() returning (ASan
// checks for leaks). Built only with EDDY_FAULT_INJECTION=ON.
#include <array>
#include <atomic>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "eddy/cluster.hpp"
#include "eddy/fs.hpp"
#include "eddy/pipe.hpp"
#include "eddy/process.hpp"
#include "fault_fixture.hpp"
#include "helper_path.hpp"

namespace {

using eddy::errc;
using eddy_test::FaultTest;
namespace fault = eddy::contract::fault;
namespace fs = eddy::fs;
using fk = fault::kind;
using namespace std::chrono_literals;

// ---------------------------------------------------------------- a file copy

// Copies src to dst with the callback forms (open, read, write, close: the io_uring port runs
// them in the ring where it can, the others on the pool), closing whatever it opened whatever
// happens. done once every callback has come back.
struct copier {
  copier(eddy::loop& l, std::string from, std::string to) : loop(l), src(std::move(from)), dst(std::move(to)) {}

  void start() {
    fs::open(loop, src, fs::open_flags::read, 0, [this](const fs::error& e, fs::file f) {
      ++open_calls;
      if (e) return finish(e);
      in = f;
      fs::open(loop, dst, fs::open_flags::write | fs::open_flags::create | fs::open_flags::truncate, 0644,
               [this](const fs::error& e2, fs::file f2) {
                 ++open_calls;
                 if (e2) return finish(e2);
                 out = f2;
                 pump();
               });
    });
  }

  void pump() {
    rbuf[0] = eddy::mutable_buffer(buf.data(), buf.size());
    fs::read(loop, in, rbuf, offset, [this](const fs::error& e, std::size_t n) {
      if (e) return finish(e);
      if (n == 0) return finish({});
      wbuf[0] = eddy::const_buffer(buf.data(), n);
      fs::write(loop, out, wbuf, offset, [this, n](const fs::error& e2, std::size_t) {
        if (e2) return finish(e2);
        offset += static_cast<std::int64_t>(n);
        pump();
      });
    });
  }

  void finish(const fs::error& e) {
    err = e;
    for (fs::file* f : {&in, &out}) {
      if (*f == fs::file::invalid) continue;
      ++closing;
      fs::close(loop, std::exchange(*f, fs::file::invalid), [this](const fs::error& ce) {
        EXPECT_FALSE(ce) << ce.message();
        if (--closing == 0) done = true;
      });
    }
    if (closing == 0) done = true;
  }

  eddy::loop& loop;
  std::string src, dst;
  fs::file in = fs::file::invalid, out = fs::file::invalid;
  std::array<std::byte, 4096> buf{};
  std::array<eddy::mutable_buffer, 1> rbuf{};
  std::array<eddy::const_buffer, 1> wbuf{};
  std::int64_t offset = 0;
  int open_calls = 0;
  int closing = 0;
  bool done = false;
  fs::error err;
};

class FaultFileTest : public FaultTest {
 protected:
  void SetUp() override {
    FaultTest::SetUp();
    if (IsSkipped()) return;
    std::string base = std::filesystem::temp_directory_path().generic_string();
    if (base.size() > 1 && base.back() == '/') base.pop_back();
    ASSERT_FALSE(fs::mkdtemp(base + "/eddy-fault-XXXXXX", dir_));
    data_.reserve(20000);
    for (int i = 0; data_.size() < 20000; ++i) data_ += "line " + std::to_string(i) + "\n";
    ASSERT_FALSE(fs::write_file(path("src"), data_));
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
    FaultTest::TearDown();
  }
  std::string path(std::string_view name) const { return dir_ + "/" + std::string(name); }

  // Copies src to name and checks the copy.
  void copy_ok(const std::string& name) {
    copier c(loop(), path("src"), path(name));
    c.start();
    ASSERT_TRUE(run_until([&] { return c.done; }));
    EXPECT_FALSE(c.err) << c.err.message();
    std::string got;
    EXPECT_FALSE(fs::read_file(path(name), got));
    EXPECT_EQ(got, data_);
  }

  std::string dir_, data_;
};
EDDY_INSTANTIATE_PORTS(FaultFileTest);

TEST_P(FaultFileTest, FaultOpeningTheSourceFailsTheCopy) {
  fault::arm(fk::file_open, 1, std::errc::too_many_files_open);
  copier c(loop(), path("src"), path("dst"));
  c.start();
  ASSERT_TRUE(run_until([&] { return c.done; }));
  EDDY_EXPECT_FAULT(c.err.code(), errc::too_many_open_files);
  EXPECT_NE(c.err.message().find("open"), std::string::npos) << c.err.message();
  EXPECT_EQ(c.open_calls, 1);
  EXPECT_FALSE(std::filesystem::exists(path("dst")));
  copy_ok("dst");
  close_all_and_exit();
}

TEST_P(FaultFileTest, FaultOpeningTheDestinationFailsTheCopyAndClosesTheSource) {
  fault::arm(fk::file_open, 2, std::errc::permission_denied);
  copier c(loop(), path("src"), path("dst"));
  c.start();
  ASSERT_TRUE(run_until([&] { return c.done; }));
  EDDY_EXPECT_FAULT(c.err.code(), errc::permission_denied);
  EXPECT_EQ(c.open_calls, 2);
  EXPECT_EQ(c.in, fs::file::invalid);  // closed, and its close called back without error
  EXPECT_FALSE(std::filesystem::exists(path("dst")));
  copy_ok("dst");
  close_all_and_exit();
}

TEST_P(FaultFileTest, FaultInOneOfTwoParallelCopiesLeavesTheOtherWhole) {
  fault::arm(fk::file_open, 1, std::errc::no_such_file_or_directory);
  copier a(loop(), path("src"), path("a"));
  copier b(loop(), path("src"), path("b"));
  a.start();
  b.start();
  ASSERT_TRUE(run_until([&] { return a.done && b.done; }));
  ASSERT_NE(static_cast<bool>(a.err), static_cast<bool>(b.err)) << "exactly one copy fails";
  const copier& failed = a.err ? a : b;
  const copier& whole = a.err ? b : a;
  EDDY_EXPECT_FAULT(failed.err.code(), errc::no_such_file);
  std::string got;
  EXPECT_FALSE(fs::read_file(whole.dst, got));
  EXPECT_EQ(got, data_);
  close_all_and_exit();
}

TEST_P(FaultFileTest, FaultInTheSynchronousOpenIsReturned) {
  fault::arm(fk::file_open, 1, std::errc::read_only_file_system);
  fs::file f = fs::file::invalid;
  const fs::error err = fs::open(path("src"), fs::open_flags::read, 0, f);
  EDDY_EXPECT_FAULT(err.code(), errc::read_only_file_system);
  EXPECT_EQ(f, fs::file::invalid);
  ASSERT_FALSE(fs::open(path("src"), fs::open_flags::read, 0, f));
  EXPECT_FALSE(fs::close(f));
  close_all_and_exit();
}

// ---------------------------------------------------------------- child processes

struct child {
  explicit child(eddy::loop& l) : proc(l), in(l), out(l) {}

  // The helper's echo mode with its stdin and stdout on pipes.
  std::error_code spawn() {
    eddy::process_options o;
    o.file = eddy_test::helper_path();
    o.args = {o.file, "echo"};
    o.stdio = {eddy::stdio_option::new_pipe(in, true, false), eddy::stdio_option::new_pipe(out, false, true),
               eddy::stdio_option::inherited()};
    return proc.spawn(o, [this](std::int64_t status, int sig) {
      ++exits;
      exit_status = status;
      term_signal = sig;
    });
  }

  void read() {
    auto ec = out.read_start([this](std::error_code e, std::span<std::byte> d) {
      if (e) {
        read_error = e;
        ended = true;
        out.close();
        return;
      }
      got += eddy_test::text(d);
    });
    if (ec) read_error = ec;
  }

  // Writes s, then closes the child's input: the helper echoes what it read at the end of
  // its input (it reads with fread).
  std::error_code write_and_end(std::string s) {
    auto m = std::make_shared<std::string>(std::move(s));
    return in.write(eddy::buffer(*m), [this, m](std::error_code e) {
      ++write_calls;
      if (e) write_error = e;
      in.close();
    });
  }

  eddy::process proc;
  eddy::pipe in, out;
  int exits = 0, write_calls = 0;
  std::int64_t exit_status = -1;
  int term_signal = -1;
  bool ended = false;
  std::error_code read_error, write_error;
  std::string got;
};

using FaultProcessTest = FaultTest;
EDDY_INSTANTIATE_PORTS(FaultProcessTest);

TEST_P(FaultProcessTest, FaultInSpawnIsReturnedAndItsPipesStillClose) {
  child failed(loop());
  fault::arm(fk::spawn, 1, std::errc::not_enough_memory);
  EDDY_EXPECT_FAULT(failed.spawn(), errc::no_memory);
  EXPECT_EQ(failed.proc.pid(), 0);
  // The same kind of child starts the next time, and echoes.
  child ok(loop());
  ASSERT_FALSE(ok.spawn());
  ok.read();
  ASSERT_FALSE(ok.write_and_end("after the failed spawn"));
  ASSERT_TRUE(run_until([&] { return ok.exits == 1 && ok.ended; }));
  EXPECT_EQ(ok.got, "after the failed spawn");
  EXPECT_EQ(ok.exit_status, 0);
  EXPECT_EQ(failed.exits, 0);
  close_all_and_exit();
}

TEST_P(FaultProcessTest, FaultInSpawnLeavesARunningChildAlone) {
  child running(loop());
  ASSERT_FALSE(running.spawn());
  running.read();
  child failed(loop());
  fault::arm(fk::spawn, 1, std::errc::resource_unavailable_try_again);
  EDDY_EXPECT_FAULT(failed.spawn(), errc::would_block);
  failed.proc.close();
  failed.in.close();
  failed.out.close();
  ASSERT_FALSE(running.write_and_end("still running"));
  ASSERT_TRUE(run_until([&] { return running.exits == 1 && running.ended; }));
  EXPECT_EQ(running.got, "still running");
  EXPECT_EQ(running.exit_status, 0);
  close_all_and_exit();
}

TEST_P(FaultProcessTest, FaultInReadingAChildsOutputReachesTheReadCallback) {
  child c(loop());
  ASSERT_FALSE(c.spawn());
  c.read();
  fault::arm(fk::recv, 1, std::errc::connection_reset);
  ASSERT_FALSE(c.write_and_end("lost on the way back"));
  ASSERT_TRUE(run_until([&] { return c.ended && c.exits == 1; }));
  EDDY_EXPECT_FAULT(c.read_error, errc::connection_reset);
  EXPECT_EQ(c.term_signal, 0);
  close_all_and_exit();
  EXPECT_EQ(c.exits, 1);
}

TEST_P(FaultProcessTest, FaultInWritingToAChildReachesTheWriteCallback) {
  child c(loop());
  ASSERT_FALSE(c.spawn());
  c.read();
  fault::arm(fk::send, 1, std::errc::broken_pipe);
  ASSERT_FALSE(c.write_and_end("never reaches the child"));
  ASSERT_TRUE(run_until([&] { return c.write_calls == 1; }));
  EDDY_EXPECT_FAULT(c.write_error, errc::broken_pipe);
  ASSERT_TRUE(run_until([&] { return c.exits == 1 && c.ended; }));
  EXPECT_EQ(c.exit_status, 0);
  EXPECT_EQ(c.got, "");  // nothing was sent, so nothing came back
  EXPECT_EQ(c.read_error, errc::eof);
  close_all_and_exit();
  EXPECT_EQ(c.write_calls, 1);
}

// ---------------------------------------------------------------- a cluster worker start

using FaultClusterTest = FaultTest;
EDDY_INSTANTIATE_PORTS(FaultClusterTest);

TEST_P(FaultClusterTest, FaultInAWorkerStartReachesOnErrorAndTheOthersServe) {
  eddy::cluster::options o;
  o.workers = 2;
  o.exec = eddy_test::helper_path();
  o.args = {o.exec, "cluster-worker", "serve"};
  o.env = {"EDDY_BACKEND=" + std::string(eddy::to_string(GetParam()))};
  eddy::cluster::primary p(loop(), o);
  std::vector<std::pair<int, std::error_code>> errors;
  std::set<int> online;
  int exits = 0;
  bool shut = false;
  p.on_error = [&](int id, eddy::cluster::worker_problem what, std::error_code ec) {
    EXPECT_EQ(what, eddy::cluster::worker_problem::spawn) << "worker " << id << ": " << ec.message();
    errors.emplace_back(id, ec);
  };
  p.on_online = [&](int id) { online.insert(id); };
  p.on_exit = [&](int, std::int64_t, int) { ++exits; };
  fault::arm(fk::spawn, 1, std::errc::resource_unavailable_try_again);
  ASSERT_FALSE(p.start());
  // The failed slot is started again after a delay: two workers end up online.
  ASSERT_TRUE(run_until([&] { return online.size() == 2; }, 30s));
  ASSERT_EQ(errors.size(), 1u);
  EDDY_EXPECT_FAULT(errors[0].second, errc::would_block);
  EXPECT_EQ(online.count(errors[0].first), 0u);  // the failed id never came online
  EXPECT_EQ(p.workers().size(), 2u);
  p.shutdown([&] { shut = true; });
  ASSERT_TRUE(run_until([&] { return shut && exits == 2; }, 30s));
  close_all_and_exit();
}

}  // namespace
