// File system requests on every port: whole-file reads and writes (100 MiB), ten thousand at
// once, cancelling a queued one, what keeps the loop alive, which thread runs callbacks, UTF-8
// paths, the operations a port runs itself (no pool), long scatter lists and the synchronous
// forms on any thread. Every test works in its own temporary directory.
#include <algorithm>
#include <array>
#include <cstdio>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "fs_fixture.hpp"
#include "loop/loop_impl.hpp"  // port_supports: which file operations the port runs itself

namespace {

namespace fs = eddy::fs;
using eddy::errc;
using eddy_test::FsTest;

class FsRequestTest : public FsTest {};
EDDY_INSTANTIATE_PORTS(FsRequestTest);

TEST_P(FsRequestTest, ReadFileAndWriteFileRoundTrip) {
  std::string data(300'000, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('a' + i % 26);
  EXPECT_FALSE(finish([&](auto cb) { fs::write_file(loop(), path("f"), data, cb); }));
  std::string back;
  fs::read_file(loop(), path("f"), [&](const fs::error& err, std::string d) {
    EXPECT_FALSE(err) << err.message();
    back = std::move(d);
  });
  loop().run();
  EXPECT_EQ(back, data);
  // write_file replaces the whole file.
  EXPECT_FALSE(finish([&](auto cb) { fs::write_file(loop(), path("f"), "short", cb); }));
  EXPECT_EQ(get("f"), "short");
  EXPECT_FALSE(finish([&](auto cb) { fs::write_file(loop(), path("empty"), "", cb); }));
  EXPECT_EQ(get("empty"), "");

  fs::error err = finish([&](auto cb) { fs::read_file(loop(), path("missing"), cb); });
  EXPECT_EQ(err, errc::no_such_file);
  EXPECT_NE(err.message().find(path("missing")), std::string::npos) << err.message();
  EXPECT_EQ(finish([&](auto cb) { fs::write_file(loop(), path("no/f"), "x", cb); }), errc::no_such_file);
  EXPECT_EQ(finish([&](auto cb) { fs::read_file(loop(), dir_, cb); }), errc::is_a_directory);
}

TEST_P(FsRequestTest, ReadFileOf100MiB) {
  constexpr std::size_t size = 100u << 20;
  fs::file f = fs::file::invalid;
  ASSERT_FALSE(fs::open(path("big"), fs::open_flags::write | fs::open_flags::create, 0644, f));
  ASSERT_FALSE(fs::ftruncate(f, size));  // sparse: fast to make, still 100 MiB to read
  const std::string head = "head", tail = "tail";
  const eddy::const_buffer h[] = {eddy::buffer(head)}, t[] = {eddy::buffer(tail)};
  std::size_t n = 0;
  ASSERT_FALSE(fs::write(f, h, 0, n));
  ASSERT_FALSE(fs::write(f, t, size - 4, n));
  ASSERT_FALSE(fs::close(f));
  std::string data;
  fs::read_file(loop(), path("big"), [&](const fs::error& err, std::string d) {
    EXPECT_FALSE(err) << err.message();
    data = std::move(d);
  });
  loop().run();
  ASSERT_EQ(data.size(), size);
  EXPECT_EQ(data.substr(0, 4), "head");
  EXPECT_EQ(data.substr(size - 4), "tail");
  EXPECT_EQ(data[size / 2], '\0');
}

TEST_P(FsRequestTest, TenThousandConcurrentReads) {
  constexpr int n = 10'000;
  std::string data;
  for (int i = 0; i < n; ++i) {
    char rec[9];
    std::snprintf(rec, sizeof rec, "%08d", i);
    data.append(rec, 8);
  }
  put("records", data);
  fs::file f = fs::file::invalid;
  ASSERT_FALSE(fs::open(path("records"), fs::open_flags::read, 0, f));
  std::vector<std::array<char, 8>> bufs(n);
  std::vector<eddy::mutable_buffer> spans(n);
  int done = 0, failed = 0;
  for (int i = 0; i < n; ++i) {
    spans[i] = std::as_writable_bytes(std::span(bufs[i]));
    fs::read(loop(), f, std::span(&spans[i], 1), static_cast<std::int64_t>(i) * 8,
             [&](const fs::error& err, std::size_t got) {
               ++done;
               if (err || got != 8) ++failed;
             });
  }
  loop().run();
  EXPECT_EQ(done, n);
  EXPECT_EQ(failed, 0);
  for (int i = 0; i < n; ++i) {
    ASSERT_EQ(std::string(bufs[i].data(), 8), data.substr(static_cast<std::size_t>(i) * 8, 8)) << i;
  }
  EXPECT_FALSE(fs::close(f));
}

TEST_P(FsRequestTest, CancelAQueuedRequest) {
  eddy_test::pool_blocker blocker(loop());  // the next request stays queued
  fs::error result;
  bool called = false;
  auto req = fs::mkdir(loop(), path("never"), 0755, [&](const fs::error& err) {
    called = true;
    result = err;
  });
  EXPECT_TRUE(req.cancel());
  EXPECT_FALSE(req.cancel());  // only once
  blocker.release();
  loop().run();
  EXPECT_TRUE(called);
  EXPECT_EQ(result, errc::operation_canceled);
  EXPECT_EQ(result.path(), path("never"));
  fs::stat_info st;
  EXPECT_EQ(fs::stat(path("never"), st), errc::no_such_file);  // it never ran
  EXPECT_FALSE(fs::request{}.cancel());
}

TEST_P(FsRequestTest, PendingRequestsKeepTheLoopAlive) {
  bool called = false;
  fs::write_file(loop(), path("f"), "x", [&](const fs::error&) { called = true; });
  EXPECT_TRUE(loop().alive());
  loop().run();
  EXPECT_TRUE(called);
  EXPECT_FALSE(loop().alive());
}

TEST_P(FsRequestTest, CallbacksRunOnTheLoopThread) {
  const auto loop_thread = std::this_thread::get_id();
  std::thread::id seen;
  fs::stat(loop(), dir_, [&](const fs::error&, const fs::stat_info&) { seen = std::this_thread::get_id(); });
  loop().run();
  EXPECT_EQ(seen, loop_thread);
}

TEST_P(FsRequestTest, Utf8Paths) {
  const std::string name = "caf\xC3\xA9-\xE6\x97\xA5\xE6\x9C\xAC";  // "café-日本"
  EXPECT_FALSE(finish([&](auto cb) { fs::write_file(loop(), path(name), "utf8", cb); }));
  EXPECT_EQ(get(name), "utf8");
  std::vector<fs::dir_entry> entries;
  ASSERT_FALSE(fs::scandir(dir_, entries));
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].name, name);
}

TEST_P(FsRequestTest, NativeFileOperationsDoNotNeedThePool) {
  // Where the port runs file operations itself (io_uring with the opcodes), open, write,
  // read, stat, fstat, fsync and close complete while every pool thread is blocked.
  using eddy::detail::op_kind;
  auto& impl = loop().impl();
  for (op_kind k : {op_kind::file_open, op_kind::file_close, op_kind::file_read, op_kind::file_write,
                    op_kind::file_stat, op_kind::file_sync}) {
    if (!impl.port_supports(k)) {
      GTEST_SKIP() << eddy::to_string(GetParam()) << " runs file operations on the thread pool";
    }
  }
  eddy_test::pool_blocker blocker(loop());  // pool requests would wait: native ones do not
  const auto let_go = [&] { blocker.release(); };
  bool finished = false, timed_out = false;
  eddy::timer guard(loop());
  guard.start(std::chrono::seconds(10), [&] {
    timed_out = true;
    let_go();
  });
  const std::string text = "native";
  const eddy::const_buffer out[] = {eddy::buffer(text)};
  std::string back(6, '\0');
  const eddy::mutable_buffer in[] = {std::as_writable_bytes(std::span(back))};
  fs::open(loop(), path("n"), fs::open_flags::read_write | fs::open_flags::create, 0644,
           [&](const fs::error& e1, fs::file f) {
             ASSERT_FALSE(e1) << e1.message();
             fs::write(loop(), f, out, 0, [&, f](const fs::error& e2, std::size_t) {
               ASSERT_FALSE(e2) << e2.message();
               fs::fsync(loop(), f, [&, f](const fs::error& e3) {
                 ASSERT_FALSE(e3) << e3.message();
                 fs::read(loop(), f, in, 0, [&, f](const fs::error& e4, std::size_t n) {
                   ASSERT_FALSE(e4) << e4.message();
                   EXPECT_EQ(n, 6u);
                   fs::fstat(loop(), f, [&, f](const fs::error& e5, const fs::stat_info& st) {
                     ASSERT_FALSE(e5) << e5.message();
                     EXPECT_EQ(st.size, 6u);
                     fs::stat(loop(), path("missing"), [&, f](const fs::error& e6, const fs::stat_info&) {
                       EXPECT_EQ(e6, errc::no_such_file);
                       EXPECT_EQ(e6.path(), path("missing"));
                       fs::close(loop(), f, [&](const fs::error& e7) {
                         EXPECT_FALSE(e7) << e7.message();
                         finished = !timed_out;
                         guard.close();
                         let_go();
                       });
                     });
                   });
                 });
               });
             });
           });
  loop().run();
  EXPECT_TRUE(finished);
  EXPECT_FALSE(timed_out) << "a file operation waited for the pool";
  EXPECT_EQ(back, "native");
}

TEST_P(FsRequestTest, LongScatterListsAreRead) {
  // More buffers than one readv takes (IOV_MAX, 1024): the io_uring port hands these to the
  // pool, and a read may return short; together the reads fill every buffer in order.
  std::string data(2000, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('a' + i % 26);
  put("f", data);
  fs::file f = fs::file::invalid;
  ASSERT_FALSE(fs::open(path("f"), fs::open_flags::read, 0, f));
  std::string back(data.size(), '\0');
  std::vector<eddy::mutable_buffer> bufs;
  for (auto& c : back) bufs.push_back(std::as_writable_bytes(std::span(&c, 1)));
  std::size_t total = 0;
  while (total < data.size()) {
    std::size_t got = 0;
    fs::read(loop(), f, std::span(bufs).subspan(total), static_cast<std::int64_t>(total),
             [&](const fs::error& err, std::size_t n) {
               EXPECT_FALSE(err) << err.message();
               got = n;
             });
    loop().run();
    ASSERT_GT(got, 0u);
    total += got;
  }
  EXPECT_EQ(back, data);
  EXPECT_FALSE(fs::close(f));
}

TEST_P(FsRequestTest, SynchronousFormsWorkOnAnyThread) {
  fs::error err;
  std::string back;
  std::thread t([&] {
    err = fs::write_file(path("t"), "from a thread");
    if (!err) err = fs::read_file(path("t"), back);
  });
  t.join();
  EXPECT_FALSE(err) << err.message();
  EXPECT_EQ(back, "from a thread");
}

}  // namespace
