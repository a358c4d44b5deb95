// The file system on every port: each operation's success and failure paths through the
// callback forms (pool or io_uring-native), directories, permissions and links. How requests
// run (concurrency, cancellation, threads, native operations): fs_request_test.cpp; fs_poll:
// fs_poll_test.cpp. Every test works in its own temporary directory.
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

#if defined(__linux__)
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#endif

namespace {

namespace fs = eddy::fs;
using eddy::errc;
using eddy_test::FsTest;

#if defined(_WIN32)
constexpr bool windows = true;
#else
constexpr bool windows = false;
#endif

EDDY_INSTANTIATE_PORTS(FsTest);

TEST_P(FsTest, OpenWriteReadCloseRoundTrip) {
  fs::file f = fs::file::invalid;
  fs::open(loop(), path("a"), fs::open_flags::read_write | fs::open_flags::create, 0644,
           [&](const fs::error& err, fs::file opened) {
             ASSERT_FALSE(err) << err.message();
             f = opened;
           });
  loop().run();
  ASSERT_NE(f, fs::file::invalid);

  const std::string hello = "hello, ", world = "world";
  const eddy::const_buffer out[] = {eddy::buffer(hello), eddy::buffer(world)};
  std::size_t written = 0;
  fs::write(loop(), f, out, 0, [&](const fs::error& err, std::size_t n) {
    EXPECT_FALSE(err) << err.message();
    written = n;
  });
  loop().run();
  EXPECT_EQ(written, 12u);

  // A vectored read at an offset, then two at the file's position.
  char a[5] = {}, b[3] = {};
  const eddy::mutable_buffer in[] = {std::as_writable_bytes(std::span(a)), std::as_writable_bytes(std::span(b))};
  std::size_t got = 0;
  fs::read(loop(), f, in, 4, [&](const fs::error& err, std::size_t n) {
    EXPECT_FALSE(err) << err.message();
    got = n;
  });
  loop().run();
  EXPECT_EQ(got, 8u);
  EXPECT_EQ(std::string(a, 5), "o, wo");
  EXPECT_EQ(std::string(b, 3), "rld");

  std::string first(7, '\0');
  const eddy::mutable_buffer one[] = {std::as_writable_bytes(std::span(first))};
  EXPECT_FALSE(finish([&](auto cb) { fs::read(loop(), f, one, -1, cb); }));
  EXPECT_EQ(first, "hello, ");
  std::size_t rest = 0;
  fs::read(loop(), f, one, -1, [&](const fs::error&, std::size_t n) { rest = n; });
  loop().run();
  EXPECT_EQ(rest, 5u);
  EXPECT_EQ(first.substr(0, 5), "world");
  fs::read(loop(), f, one, -1, [&](const fs::error& err, std::size_t n) {
    EXPECT_FALSE(err);
    rest = n;
  });
  loop().run();
  EXPECT_EQ(rest, 0u);  // the end of the file

  fs::stat_info st;
  fs::fstat(loop(), f, [&](const fs::error& err, const fs::stat_info& s) {
    EXPECT_FALSE(err) << err.message();
    st = s;
  });
  loop().run();
  EXPECT_EQ(st.size, 12u);
  EXPECT_EQ(st.type, fs::file_type::regular);

  EXPECT_FALSE(finish([&](auto cb) { fs::close(loop(), f, cb); }));
  EXPECT_EQ(get("a"), "hello, world");
}

TEST_P(FsTest, WriteAtThePositionAndAppend) {
  fs::file f = fs::file::invalid;
  ASSERT_FALSE(fs::open(path("log"), fs::open_flags::write | fs::open_flags::create | fs::open_flags::append, 0644, f));
  for (std::string_view part : {"one ", "two ", "three"}) {
    const eddy::const_buffer b[] = {eddy::buffer(part)};
    EXPECT_FALSE(finish([&](auto cb) { fs::write(loop(), f, b, -1, cb); }));
  }
  EXPECT_FALSE(fs::close(f));
  EXPECT_EQ(get("log"), "one two three");
}

TEST_P(FsTest, OpenFailures) {
  fs::error err = finish([&](auto cb) { fs::open(loop(), path("missing"), fs::open_flags::read, 0, cb); });
  EXPECT_EQ(err, errc::no_such_file);
  EXPECT_STREQ(err.syscall(), "open");
  EXPECT_EQ(err.path(), path("missing"));
  EXPECT_NE(err.message().find(path("missing")), std::string::npos) << err.message();
  EXPECT_NE(err.message().find("no such file"), std::string::npos) << err.message();

  put("exists", "x");
  err = finish([&](auto cb) {
    fs::open(loop(), path("exists"), fs::open_flags::write | fs::open_flags::create | fs::open_flags::exclusive, 0644,
             cb);
  });
  EXPECT_EQ(err, errc::file_exists);

  err = finish([&](auto cb) { fs::open(loop(), path("exists/child"), fs::open_flags::read, 0, cb); });
  EXPECT_EQ(err, errc::not_a_directory) << err.message();

  ASSERT_FALSE(fs::mkdir(path("d"), 0755));
  err = finish([&](auto cb) { fs::open(loop(), path("d"), fs::open_flags::write, 0, cb); });
  EXPECT_EQ(err, errc::is_a_directory) << err.message();
}

TEST_P(FsTest, BadFileFailsEveryFileCall) {
  const fs::file bad = fs::file::invalid;
  char c = 0;
  const eddy::mutable_buffer in[] = {std::as_writable_bytes(std::span(&c, 1))};
  const eddy::const_buffer out[] = {std::as_bytes(std::span(&c, 1))};
  EXPECT_EQ(finish([&](auto cb) { fs::read(loop(), bad, in, 0, cb); }), errc::bad_descriptor);
  EXPECT_EQ(finish([&](auto cb) { fs::write(loop(), bad, out, 0, cb); }), errc::bad_descriptor);
  EXPECT_EQ(finish([&](auto cb) { fs::fstat(loop(), bad, cb); }), errc::bad_descriptor);
  EXPECT_EQ(finish([&](auto cb) { fs::fsync(loop(), bad, cb); }), errc::bad_descriptor);
  EXPECT_EQ(finish([&](auto cb) { fs::fdatasync(loop(), bad, cb); }), errc::bad_descriptor);
  EXPECT_EQ(finish([&](auto cb) { fs::ftruncate(loop(), bad, 0, cb); }), errc::bad_descriptor);
  EXPECT_EQ(finish([&](auto cb) { fs::fchmod(loop(), bad, 0644, cb); }), errc::bad_descriptor);
  EXPECT_EQ(finish([&](auto cb) { fs::futime(loop(), bad, 0, 0, cb); }), errc::bad_descriptor);
  EXPECT_EQ(finish([&](auto cb) { fs::close(loop(), bad, cb); }), errc::bad_descriptor);
}

TEST_P(FsTest, StatLstatAndTheirFailures) {
  put("f", "12345");
  fs::stat_info st;
  fs::stat(loop(), path("f"), [&](const fs::error& err, const fs::stat_info& s) {
    EXPECT_FALSE(err) << err.message();
    st = s;
  });
  loop().run();
  EXPECT_EQ(st.type, fs::file_type::regular);
  EXPECT_EQ(st.size, 5u);
  EXPECT_GE(st.nlink, 1u);
  EXPECT_GT(st.mtime_ns, 0);

  fs::stat(loop(), dir_, [&](const fs::error& err, const fs::stat_info& s) {
    EXPECT_FALSE(err) << err.message();
    st = s;
  });
  loop().run();
  EXPECT_EQ(st.type, fs::file_type::directory);

  fs::error err = finish([&](auto cb) { fs::stat(loop(), path("missing"), cb); });
  EXPECT_EQ(err, errc::no_such_file);
  EXPECT_EQ(err.path(), path("missing"));
  EXPECT_EQ(finish([&](auto cb) { fs::lstat(loop(), path("missing"), cb); }), errc::no_such_file);
  EXPECT_EQ(finish([&](auto cb) { fs::stat(loop(), path("f/x"), cb); }), errc::not_a_directory);
}

TEST_P(FsTest, LstatSeesTheLinkItself) {
  put("f", "12345");
  fs::stat_info st;
  if (const fs::error e = fs::symlink(path("f"), path("link"))) {
    ASSERT_EQ(e, errc::not_supported);
    GTEST_SKIP() << "symbolic links are not available here: " << e.message();
  }
  fs::lstat(loop(), path("link"), [&](const fs::error& err2, const fs::stat_info& s) {
    EXPECT_FALSE(err2) << err2.message();
    st = s;
  });
  loop().run();
  EXPECT_EQ(st.type, fs::file_type::symlink);
  EXPECT_FALSE(fs::stat(path("link"), st));
  EXPECT_EQ(st.type, fs::file_type::regular);
  EXPECT_EQ(st.size, 5u);
}

TEST_P(FsTest, Statfs) {
  fs::statfs_info info;
  fs::statfs(loop(), dir_, [&](const fs::error& err, const fs::statfs_info& s) {
    EXPECT_FALSE(err) << err.message();
    info = s;
  });
  loop().run();
  EXPECT_GT(info.bsize, 0u);
  EXPECT_GT(info.blocks, 0u);
  EXPECT_LE(info.bavail, info.blocks);
  EXPECT_EQ(finish([&](auto cb) { fs::statfs(loop(), path("missing"), cb); }), errc::no_such_file);
}

TEST_P(FsTest, RenameAndUnlink) {
  put("a", "data");
  EXPECT_FALSE(finish([&](auto cb) { fs::rename(loop(), path("a"), path("b"), cb); }));
  EXPECT_EQ(get("b"), "data");
  fs::stat_info st;
  EXPECT_EQ(fs::stat(path("a"), st), errc::no_such_file);

  put("c", "other");
  EXPECT_FALSE(finish([&](auto cb) { fs::rename(loop(), path("c"), path("b"), cb); }));  // replaces
  EXPECT_EQ(get("b"), "other");

  fs::error err = finish([&](auto cb) { fs::rename(loop(), path("a"), path("z"), cb); });
  EXPECT_EQ(err, errc::no_such_file);
  EXPECT_NE(err.message().find(path("a")), std::string::npos) << err.message();
  EXPECT_NE(err.message().find(path("z")), std::string::npos) << err.message();

  EXPECT_FALSE(finish([&](auto cb) { fs::unlink(loop(), path("b"), cb); }));
  EXPECT_EQ(fs::stat(path("b"), st), errc::no_such_file);
  EXPECT_EQ(finish([&](auto cb) { fs::unlink(loop(), path("b"), cb); }), errc::no_such_file);
}

TEST_P(FsTest, MkdirAndRmdir) {
  EXPECT_FALSE(finish([&](auto cb) { fs::mkdir(loop(), path("d"), 0755, cb); }));
  EXPECT_EQ(finish([&](auto cb) { fs::mkdir(loop(), path("d"), 0755, cb); }), errc::file_exists);
  EXPECT_EQ(finish([&](auto cb) { fs::mkdir(loop(), path("no/d"), 0755, cb); }), errc::no_such_file);
  put("file", "");
  EXPECT_EQ(finish([&](auto cb) { fs::mkdir(loop(), path("file/d"), 0755, cb); }), errc::not_a_directory);

  put("d/inside", "x");
  EXPECT_EQ(finish([&](auto cb) { fs::rmdir(loop(), path("d"), cb); }), errc::directory_not_empty);
  EXPECT_EQ(finish([&](auto cb) { fs::rmdir(loop(), path("file"), cb); }), errc::not_a_directory);
  EXPECT_EQ(finish([&](auto cb) { fs::rmdir(loop(), path("missing"), cb); }), errc::no_such_file);
  ASSERT_FALSE(fs::unlink(path("d/inside")));
  EXPECT_FALSE(finish([&](auto cb) { fs::rmdir(loop(), path("d"), cb); }));
}

TEST_P(FsTest, MkdtempAndMkstemp) {
  std::string d1, d2;
  fs::mkdtemp(loop(), path("t-XXXXXX"), [&](const fs::error& err, std::string p) {
    EXPECT_FALSE(err) << err.message();
    d1 = std::move(p);
  });
  fs::mkdtemp(loop(), path("t-XXXXXX"), [&](const fs::error&, std::string p) { d2 = std::move(p); });
  loop().run();
  EXPECT_NE(d1, d2);
  EXPECT_EQ(d1.size(), path("t-XXXXXX").size());
  fs::stat_info st;
  ASSERT_FALSE(fs::stat(d1, st));
  EXPECT_EQ(st.type, fs::file_type::directory);

  fs::file f = fs::file::invalid;
  std::string fp;
  fs::mkstemp(loop(), path("f-XXXXXX"), [&](const fs::error& err, fs::file file, std::string p) {
    EXPECT_FALSE(err) << err.message();
    f = file;
    fp = std::move(p);
  });
  loop().run();
  ASSERT_NE(f, fs::file::invalid);
  const std::string text = "temp";
  const eddy::const_buffer b[] = {eddy::buffer(text)};
  std::size_t n = 0;
  EXPECT_FALSE(fs::write(f, b, -1, n));
  EXPECT_FALSE(fs::close(f));
  std::string back;
  EXPECT_FALSE(fs::read_file(fp, back));
  EXPECT_EQ(back, "temp");

  EXPECT_EQ(finish([&](auto cb) { fs::mkdtemp(loop(), path("no/t-XXXXXX"), cb); }), errc::no_such_file);
  EXPECT_EQ(finish([&](auto cb) { fs::mkstemp(loop(), path("no/f-XXXXXX"), cb); }), errc::no_such_file);
  EXPECT_EQ(finish([&](auto cb) { fs::mkdtemp(loop(), path("no-template"), cb); }), errc::invalid_argument);
}

TEST_P(FsTest, ScandirAndReaddir) {
  put("one", "1");
  put("two", "2");
  ASSERT_FALSE(fs::mkdir(path("sub"), 0755));
  std::vector<fs::dir_entry> entries;
  fs::scandir(loop(), dir_, [&](const fs::error& err, std::vector<fs::dir_entry> e) {
    EXPECT_FALSE(err) << err.message();
    entries = std::move(e);
  });
  loop().run();
  std::sort(entries.begin(), entries.end(), [](auto& a, auto& b) { return a.name < b.name; });
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].name, "one");
  EXPECT_EQ(entries[0].type, fs::file_type::regular);
  EXPECT_EQ(entries[1].name, "sub");
  EXPECT_EQ(entries[1].type, fs::file_type::directory);
  EXPECT_EQ(entries[2].name, "two");

  // The same, two entries at a time through opendir / readdir / closedir.
  fs::dir d = fs::dir::invalid;
  fs::opendir(loop(), dir_, [&](const fs::error& err, fs::dir opened) {
    EXPECT_FALSE(err) << err.message();
    d = opened;
  });
  loop().run();
  ASSERT_NE(d, fs::dir::invalid);
  std::vector<std::string> names;
  for (;;) {
    std::vector<fs::dir_entry> batch;
    fs::readdir(loop(), d, 2, [&](const fs::error& err, std::vector<fs::dir_entry> e) {
      EXPECT_FALSE(err) << err.message();
      batch = std::move(e);
    });
    loop().run();
    EXPECT_LE(batch.size(), 2u);
    if (batch.empty()) break;
    for (auto& e : batch) names.push_back(e.name);
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"one", "sub", "two"}));
  EXPECT_FALSE(finish([&](auto cb) { fs::closedir(loop(), d, cb); }));

  EXPECT_EQ(finish([&](auto cb) { fs::scandir(loop(), path("missing"), cb); }), errc::no_such_file);
  EXPECT_EQ(finish([&](auto cb) { fs::scandir(loop(), path("one"), cb); }), errc::not_a_directory);
  EXPECT_EQ(finish([&](auto cb) { fs::opendir(loop(), path("missing"), cb); }), errc::no_such_file);
  EXPECT_EQ(finish([&](auto cb) { fs::readdir(loop(), fs::dir::invalid, 1, cb); }), errc::invalid_argument);
}

TEST_P(FsTest, FsyncFdatasyncAndFtruncate) {
  put("f", "0123456789");
  fs::file f = fs::file::invalid;
  ASSERT_FALSE(fs::open(path("f"), fs::open_flags::read_write, 0, f));
  EXPECT_FALSE(finish([&](auto cb) { fs::fsync(loop(), f, cb); }));
  EXPECT_FALSE(finish([&](auto cb) { fs::fdatasync(loop(), f, cb); }));
  EXPECT_FALSE(finish([&](auto cb) { fs::ftruncate(loop(), f, 4, cb); }));
  fs::stat_info st;
  EXPECT_FALSE(fs::fstat(f, st));
  EXPECT_EQ(st.size, 4u);
  EXPECT_FALSE(finish([&](auto cb) { fs::ftruncate(loop(), f, 1 << 20, cb); }));
  EXPECT_FALSE(fs::fstat(f, st));
  EXPECT_EQ(st.size, 1u << 20);
  EXPECT_EQ(finish([&](auto cb) { fs::ftruncate(loop(), f, -1, cb); }), errc::invalid_argument);
  EXPECT_FALSE(fs::close(f));

  ASSERT_FALSE(fs::open(path("f"), fs::open_flags::read, 0, f));
  // Not open for writing. (Wine does not check the handle's access for this call.)
  if (!windows) {
    EXPECT_TRUE(finish([&](auto cb) { fs::ftruncate(loop(), f, 0, cb); }));
  }
  EXPECT_FALSE(fs::close(f));
}

TEST_P(FsTest, Copyfile) {
  put("src", "copy me");
  EXPECT_FALSE(finish([&](auto cb) { fs::copyfile(loop(), path("src"), path("dst"), fs::copy_flags::none, cb); }));
  EXPECT_EQ(get("dst"), "copy me");
  put("src", "again");
  EXPECT_FALSE(finish([&](auto cb) { fs::copyfile(loop(), path("src"), path("dst"), fs::copy_flags::clone, cb); }));
  EXPECT_EQ(get("dst"), "again");
  EXPECT_EQ(finish([&](auto cb) {
              fs::copyfile(loop(), path("src"), path("dst"), fs::copy_flags::exclusive, cb);
            }),
            errc::file_exists);
  // Onto itself: nothing to do, and the contents survive.
  EXPECT_FALSE(finish([&](auto cb) { fs::copyfile(loop(), path("src"), path("src"), fs::copy_flags::none, cb); }));
  EXPECT_EQ(get("src"), "again");
  fs::error err =
      finish([&](auto cb) { fs::copyfile(loop(), path("missing"), path("x"), fs::copy_flags::none, cb); });
  EXPECT_EQ(err, errc::no_such_file);
  EXPECT_EQ(err.path(), path("missing"));
  EXPECT_EQ(err.dest(), path("x"));
  EXPECT_EQ(finish([&](auto cb) {
              fs::copyfile(loop(), path("src"), path("no/x"), fs::copy_flags::none, cb);
            }),
            errc::no_such_file);
}

TEST_P(FsTest, Sendfile) {
  put("in", "0123456789");
  fs::file in = fs::file::invalid, out = fs::file::invalid;
  ASSERT_FALSE(fs::open(path("in"), fs::open_flags::read, 0, in));
  ASSERT_FALSE(fs::open(path("out"), fs::open_flags::write | fs::open_flags::create, 0644, out));
  std::size_t copied = 0;
  fs::sendfile(loop(), out, in, 3, 4, [&](const fs::error& err, std::size_t n) {
    EXPECT_FALSE(err) << err.message();
    copied = n;
  });
  loop().run();
  EXPECT_EQ(copied, 4u);
  fs::sendfile(loop(), out, in, 8, 100, [&](const fs::error&, std::size_t n) { copied = n; });
  loop().run();
  EXPECT_EQ(copied, 2u);  // only what is left
  EXPECT_FALSE(fs::close(in));
  EXPECT_FALSE(fs::close(out));
  EXPECT_EQ(get("out"), "345689");
  EXPECT_EQ(finish([&](auto cb) { fs::sendfile(loop(), fs::file::invalid, fs::file::invalid, 0, 1, cb); }),
            errc::bad_descriptor);
}

TEST_P(FsTest, Access) {
  put("f", "x");
  EXPECT_FALSE(finish([&](auto cb) { fs::access(loop(), path("f"), fs::access_mode::exists, cb); }));
  EXPECT_FALSE(
      finish([&](auto cb) { fs::access(loop(), path("f"), fs::access_mode::read | fs::access_mode::write, cb); }));
  EXPECT_EQ(finish([&](auto cb) { fs::access(loop(), path("missing"), fs::access_mode::exists, cb); }),
            errc::no_such_file);
  // EACCES that root cannot bypass: execute permission on a file with no execute bit
  // (root may read and write anything). On Windows: write access to a read-only file.
  if (windows) {
    ASSERT_FALSE(fs::chmod(path("f"), 0444));
    EXPECT_EQ(finish([&](auto cb) { fs::access(loop(), path("f"), fs::access_mode::write, cb); }),
              errc::permission_denied);
  } else {
    ASSERT_FALSE(fs::chmod(path("f"), 0644));
    EXPECT_EQ(finish([&](auto cb) { fs::access(loop(), path("f"), fs::access_mode::execute, cb); }),
              errc::permission_denied);
  }
}

#if defined(__linux__)
// Sets or clears the immutable attribute (chattr +i), which stops root too.
bool set_immutable(const std::string& p, bool on) {
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  int flags = 0;
  bool ok = ::ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0;
  flags = on ? flags | FS_IMMUTABLE_FL : flags & ~FS_IMMUTABLE_FL;
  ok = ok && ::ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
  ::close(fd);
  return ok;
}
#endif

TEST_P(FsTest, PermissionDeniedWhereRootCannotBypassIt) {
  // The tests run as root, which ignores permission bits. What stops root: an immutable
  // file on Linux (EPERM), the read-only attribute on Windows (ERROR_ACCESS_DENIED). Both
  // arrive as permission_denied.
  put("f", "x");
  fs::file f = fs::file::invalid;
#if defined(__linux__)
  if (!set_immutable(path("f"), true)) {
    GTEST_SKIP() << "cannot make a file immutable here (file system or CAP_LINUX_IMMUTABLE): " << std::strerror(errno);
  }
  const fs::error open_err = fs::open(path("f"), fs::open_flags::write, 0, f);
  const fs::error unlink_err = finish([&](auto cb) { fs::unlink(loop(), path("f"), cb); });
  const fs::error async_open_err =
      finish([&](auto cb) { fs::open(loop(), path("f"), fs::open_flags::write, 0, cb); });
  ASSERT_TRUE(set_immutable(path("f"), false));
  EXPECT_EQ(open_err, errc::permission_denied);
  EXPECT_EQ(async_open_err, errc::permission_denied);
  EXPECT_EQ(unlink_err, errc::permission_denied);
  EXPECT_NE(unlink_err.message().find(path("f")), std::string::npos) << unlink_err.message();
#else
  ASSERT_FALSE(fs::chmod(path("f"), 0444));
  const fs::error err = fs::open(path("f"), fs::open_flags::write, 0, f);
  if (!err) {
    EXPECT_FALSE(fs::close(f));
    GTEST_SKIP() << "the read-only attribute did not stop a writer (Wine keeps it as Unix permissions, "
                    "which root bypasses); the Access test covers permission_denied";
  }
  EXPECT_EQ(err, errc::permission_denied);
#endif
}

TEST_P(FsTest, ChmodAndFchmod) {
  put("f", "x");
  EXPECT_FALSE(finish([&](auto cb) { fs::chmod(loop(), path("f"), 0444, cb); }));
  fs::stat_info st;
  ASSERT_FALSE(fs::stat(path("f"), st));
  EXPECT_EQ(st.mode & 0222u, 0u);  // no write bits
  fs::file f = fs::file::invalid;
  ASSERT_FALSE(fs::open(path("f"), fs::open_flags::read, 0, f));
  EXPECT_FALSE(finish([&](auto cb) { fs::fchmod(loop(), f, 0640, cb); }));
  EXPECT_FALSE(fs::close(f));
  ASSERT_FALSE(fs::stat(path("f"), st));
  EXPECT_NE(st.mode & 0200u, 0u);
  if (!windows) {
    EXPECT_EQ(st.mode, 0640u);
  }
  EXPECT_EQ(finish([&](auto cb) { fs::chmod(loop(), path("missing"), 0644, cb); }), errc::no_such_file);
}

TEST_P(FsTest, ChownAndFchown) {
  put("f", "x");
  fs::stat_info st;
  ASSERT_FALSE(fs::stat(path("f"), st));
  const auto uid = static_cast<std::uint32_t>(st.uid), gid = static_cast<std::uint32_t>(st.gid);
  EXPECT_FALSE(finish([&](auto cb) { fs::chown(loop(), path("f"), uid, gid, cb); }));
  fs::file f = fs::file::invalid;
  ASSERT_FALSE(fs::open(path("f"), fs::open_flags::read, 0, f));
  EXPECT_FALSE(finish([&](auto cb) { fs::fchown(loop(), f, uid, gid, cb); }));
  EXPECT_FALSE(fs::close(f));
  // Windows: chown does nothing and always succeeds, as in libuv.
  if (!windows) {
    EXPECT_EQ(finish([&](auto cb) { fs::chown(loop(), path("missing"), uid, gid, cb); }), errc::no_such_file);
  }
}

TEST_P(FsTest, UtimeAndFutime) {
  put("f", "x");
  const std::int64_t atime = 1'000'000'000'000'000'000 + 123'456'700, mtime = 1'100'000'000'000'000'000 + 7'654'300;
  EXPECT_FALSE(finish([&](auto cb) { fs::utime(loop(), path("f"), atime, mtime, cb); }));
  fs::stat_info st;
  ASSERT_FALSE(fs::stat(path("f"), st));
  EXPECT_EQ(st.atime_ns, atime);
  EXPECT_EQ(st.mtime_ns, mtime);

  fs::file f = fs::file::invalid;
  ASSERT_FALSE(fs::open(path("f"), fs::open_flags::read, 0, f));  // attributes change on a reader too
  EXPECT_FALSE(finish([&](auto cb) { fs::futime(loop(), f, mtime, atime, cb); }));
  EXPECT_FALSE(fs::fstat(f, st));
  EXPECT_FALSE(fs::close(f));
  EXPECT_EQ(st.atime_ns, mtime);
  EXPECT_EQ(st.mtime_ns, atime);
  EXPECT_EQ(finish([&](auto cb) { fs::utime(loop(), path("missing"), 0, 0, cb); }), errc::no_such_file);
}

TEST_P(FsTest, LinkSymlinkReadlinkRealpath) {
  put("target", "t");
  EXPECT_FALSE(finish([&](auto cb) { fs::link(loop(), path("target"), path("hard"), cb); }));
  fs::stat_info st;
  ASSERT_FALSE(fs::stat(path("target"), st));
  EXPECT_EQ(st.nlink, 2u);
  EXPECT_EQ(get("hard"), "t");
  EXPECT_EQ(finish([&](auto cb) { fs::link(loop(), path("target"), path("hard"), cb); }), errc::file_exists);
  EXPECT_EQ(finish([&](auto cb) { fs::link(loop(), path("missing"), path("h2"), cb); }), errc::no_such_file);

  std::string real_target;
  fs::realpath(loop(), path("target"), [&](const fs::error& err, std::string p) {
    EXPECT_FALSE(err) << err.message();
    real_target = std::move(p);
  });
  loop().run();
  EXPECT_FALSE(real_target.empty());
  EXPECT_EQ(finish([&](auto cb) { fs::realpath(loop(), path("missing"), cb); }), errc::no_such_file);
  EXPECT_EQ(finish([&](auto cb) { fs::readlink(loop(), path("target"), cb); }), errc::invalid_argument);
  EXPECT_EQ(finish([&](auto cb) { fs::readlink(loop(), path("missing"), cb); }), errc::no_such_file);

  fs::error err =
      finish([&](auto cb) { fs::symlink(loop(), path("target"), path("sym"), fs::symlink_flags::none, cb); });
  if (err == errc::not_supported || err == errc::permission_denied) {
    GTEST_SKIP() << "symbolic links are not available here: " << err.message();
  }
  ASSERT_FALSE(err) << err.message();
  EXPECT_EQ(finish([&](auto cb) { fs::symlink(loop(), path("target"), path("sym"), fs::symlink_flags::none, cb); }),
            errc::file_exists);
  std::string link_text;
  fs::readlink(loop(), path("sym"), [&](const fs::error& e, std::string p) {
    EXPECT_FALSE(e) << e.message();
    link_text = std::move(p);
  });
  loop().run();
  EXPECT_EQ(link_text, path("target"));
  std::string real_sym;
  EXPECT_FALSE(fs::realpath(path("sym"), real_sym));
  EXPECT_EQ(real_sym, real_target);
  EXPECT_EQ(get("sym"), "t");
}

}  // namespace
