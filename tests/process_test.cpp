// Child processes on every port (iocp under Wine), with the test helper as the child.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "platform/contract/process.hpp"
#include "helper_path.hpp"
#include "port_fixture.hpp"

#if defined(_WIN32)
#include "platform/win32/win32.hpp"  // winsock2, ws2tcpip and windows, lean
#include <shellapi.h>
#else
#include <unistd.h>
#endif

namespace {

using eddy_test::PortTest;

using eddy_test::helper_path;
using eddy_test::same_directory;

// Kills a detached helper: with its process group on POSIX, alone on Windows.
std::error_code kill_family(eddy::process& p) {
#if defined(_WIN32)
  return p.kill(eddy::signals::sigkill);
#else
  return eddy::kill(-p.pid(), eddy::signals::sigkill);
#endif
}

std::string text(std::span<const std::byte> d) { return {reinterpret_cast<const char*>(d.data()), d.size()}; }

struct exit_info {
  bool called = false;
  int calls = 0;
  std::int64_t status = -1;
  int signal = -1;
};

class ProcessTest : public PortTest {
 protected:
  eddy::process_options helper(std::vector<std::string> args) {
    eddy::process_options o;
    o.file = helper_path();
    args.insert(args.begin(), o.file);
    o.args = std::move(args);
    return o;
  }

  // Runs the loop with a guard: a test that would hang fails instead.
  void run(std::chrono::seconds limit = std::chrono::seconds(30)) {
    eddy::timer guard(loop());
    bool expired = false;
    guard.start(limit, std::chrono::milliseconds(0), [&] {
      expired = true;
      loop().walk([](eddy::handle& h) { h.close(); });
    });
    guard.unref();
    loop().run();
    EXPECT_FALSE(expired) << "the loop did not finish in time";
  }

  eddy::process::exit_callback record(exit_info& info, eddy::process& p) {
    return [&info, &p](std::int64_t status, int sig) {
      info.called = true;
      ++info.calls;
      info.status = status;
      info.signal = sig;
      p.close();
    };
  }

  // Reads the pipe to its end into out, then closes it.
  static void collect(eddy::pipe& p, std::string& out) {
    ASSERT_FALSE(p.read_start([&p, &out](std::error_code ec, std::span<std::byte> d) {
      if (!ec) {
        out += text(d);
        return;
      }
      EXPECT_EQ(ec, eddy::errc::eof);
      p.close();
    }));
  }

  // The helper (itself detached, so on POSIX it leads its own process group) starts an
  // `echo` grandchild, detached or not, that shares its stdio; it prints the grandchild's pid
  // and sleeps. Then the helper is killed: on POSIX with its whole process group, on Windows
  // alone (its job object, closed as it dies, ends the children it did not detach). For a
  // detached grandchild a ping is written after the helper's exit and its echo collected.
  struct family_result {
    int grandchild = 0;
    int helper_signal = -1;
    std::string echoed;
    bool out_ended = false;
  };
  family_result run_family(bool detached) {
    family_result r;
    eddy::process p(loop());
    eddy::pipe in(loop());
    eddy::pipe out(loop());
    auto o = helper({"spawn-child", detached ? "detached" : "attached"});
    o.detached = true;
    o.stdio = {eddy::stdio_option::new_pipe(in, true, false), eddy::stdio_option::new_pipe(out, false, true),
               eddy::stdio_option::inherited()};
    static const std::string ping = "still here\n";
    EXPECT_FALSE(p.spawn(o, [&](std::int64_t, int sig) {
      r.helper_signal = sig;
      p.close();
      if (!detached) return;
      EXPECT_FALSE(in.write(eddy::buffer(ping), [&](std::error_code ec) {
        EXPECT_FALSE(ec);
        in.close();  // the grandchild's input ends: it exits and `out` sees the end
      }));
    }));
    std::string got;
    EXPECT_FALSE(out.read_start([&](std::error_code ec, std::span<std::byte> d) {
      if (ec) {
        r.out_ended = ec == eddy::errc::eof;
        out.close();
        if (!in.is_closing()) in.close();
        return;
      }
      got += text(d);
      if (r.grandchild == 0 && got.find('\n') != std::string::npos) {
        r.grandchild = std::stoi(got.substr(0, got.find('\n')));
        got.erase(0, got.find('\n') + 1);
        EXPECT_FALSE(kill_family(p));
      }
    }));
    run();
    r.echoed = got;
    return r;
  }

  // Runs the helper with args, returning its stdout and exit.
  std::string output_of(eddy::process_options o, exit_info& info) {
    eddy::process p(loop());
    eddy::pipe out(loop());
    o.stdio = {eddy::stdio_option::ignored(), eddy::stdio_option::new_pipe(out, false, true),
               eddy::stdio_option::inherited()};
    std::string got;
    std::error_code ec = p.spawn(o, record(info, p));
    EXPECT_FALSE(ec) << ec.message();
    if (ec) {
      out.close();
      p.close();
      return {};
    }
    collect(out, got);
    run();
    return got;
  }
};

TEST_P(ProcessTest, ExitStatusesReachOnExit) {
  const int codes[] = {0, 3, 255};
  std::vector<std::unique_ptr<eddy::process>> procs;
  exit_info infos[3];
  for (int i = 0; i < 3; ++i) {
    auto& p = *procs.emplace_back(std::make_unique<eddy::process>(loop()));
    ASSERT_FALSE(p.spawn(helper({"exit", std::to_string(codes[i])}), record(infos[i], p)));
    EXPECT_GT(p.pid(), 0);
    EXPECT_TRUE(p.is_active());
  }
  run();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(infos[i].calls, 1);
    EXPECT_EQ(infos[i].status, codes[i]);
    EXPECT_EQ(infos[i].signal, 0);
  }
}

TEST_P(ProcessTest, KillIsReportedAsTermSignal) {
  for (int sig : {eddy::signals::sigkill, eddy::signals::sigterm}) {
    eddy::process p(loop());
    exit_info info;
    ASSERT_FALSE(p.spawn(helper({"sleep-forever"}), record(info, p)));
    EXPECT_FALSE(p.kill(0)) << "the child is alive";
    ASSERT_FALSE(p.kill(sig));
    run();
    EXPECT_EQ(info.calls, 1);
    // POSIX reports the signal from waitpid; Windows reports the signal kill() ended it
    // with (TerminateProcess with exit code 1), as libuv does.
    EXPECT_EQ(info.signal, sig);
  }
}

TEST_P(ProcessTest, KillAfterExitIsACleanError) {
  eddy::process p(loop());
  EXPECT_EQ(p.kill(eddy::signals::sigterm), eddy::errc::not_started);
  exit_info info;
  std::error_code after_exit;
  std::error_code probe;
  ASSERT_FALSE(p.spawn(helper({"exit", "0"}), [&](std::int64_t status, int sig) {
    info.called = true;
    info.status = status;
    info.signal = sig;
    after_exit = p.kill(eddy::signals::sigterm);
    probe = p.kill(0);
    p.close();
  }));
  EXPECT_EQ(p.spawn(helper({"exit", "0"}), {}), eddy::errc::already_started);
  run();
  EXPECT_TRUE(info.called);
  EXPECT_EQ(after_exit, eddy::errc::no_such_process);
  EXPECT_EQ(probe, eddy::errc::no_such_process);
}

TEST_P(ProcessTest, EightMegabytesThroughStdinAndStdout) {
  constexpr std::size_t size = 8u << 20;
  std::string data(size, '\0');
  for (std::size_t i = 0; i < size; ++i) data[i] = static_cast<char>((i * 7 + i / 4096) & 0xff);
  eddy::process p(loop());
  eddy::pipe in(loop());
  eddy::pipe out(loop());
  auto o = helper({"echo"});
  o.stdio = {eddy::stdio_option::new_pipe(in, true, false), eddy::stdio_option::new_pipe(out, false, true),
             eddy::stdio_option::inherited()};
  exit_info info;
  ASSERT_FALSE(p.spawn(o, record(info, p)));
  std::error_code write_error;
  ASSERT_FALSE(in.write(eddy::buffer(data), [&](std::error_code ec) {
    write_error = ec;
    in.close();  // the child sees the end of its input
  }));
  std::string got;
  got.reserve(size);
  collect(out, got);
  run(std::chrono::seconds(60));
  EXPECT_FALSE(write_error) << write_error.message();
  EXPECT_EQ(info.status, 0);
  ASSERT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data);
}

TEST_P(ProcessTest, EnvironmentIsAddedOrReplaced) {
  {
    auto o = helper({"env", "EDDY_TEST_VAR"});
    o.env_how = eddy::env_mode::add;
    o.env = {"EDDY_TEST_VAR=hello world"};
    exit_info info;
    EXPECT_EQ(output_of(o, info), "hello world\n");
    EXPECT_EQ(info.status, 0);
  }
  {
    // Inherited: what this process sets is what the child sees.
    ASSERT_FALSE(eddy::os::setenv("EDDY_TEST_INHERITED", "from parent"));
    exit_info info;
    EXPECT_EQ(output_of(helper({"env", "EDDY_TEST_INHERITED"}), info), "from parent\n");
    EXPECT_EQ(info.status, 0);
    // Replaced: only what options.env says.
    auto o = helper({"env", "EDDY_TEST_INHERITED"});
    o.env_how = eddy::env_mode::replace;
    o.env = {"EDDY_ONLY=1"};
    exit_info replaced;
    EXPECT_EQ(output_of(o, replaced), "");
    EXPECT_EQ(replaced.status, 1) << "the variable must be unset in the child";
    ASSERT_FALSE(eddy::os::unsetenv("EDDY_TEST_INHERITED"));
  }
  {
    eddy::process p(loop());
    auto o = helper({"exit", "0"});
    o.env_how = eddy::env_mode::replace;
    o.env = {"NOEQUALSIGN"};
    EXPECT_EQ(p.spawn(o, {}), eddy::errc::invalid_argument);
    p.close();
  }
}

TEST_P(ProcessTest, WorkingDirectoryIsHonoured) {
  const auto dir = std::filesystem::temp_directory_path();
  auto o = helper({"cwd"});
  o.cwd = dir.string();
  exit_info info;
  std::string got = output_of(o, info);
  EXPECT_EQ(info.status, 0);
  ASSERT_FALSE(got.empty());
  got.pop_back();  // the newline
  EXPECT_TRUE(same_directory(got, dir)) << got << " vs " << dir;

  eddy::process p(loop());
  o.cwd = (dir / "eddy-no-such-directory").string();
  EXPECT_EQ(p.spawn(o, {}), eddy::errc::no_such_file);
  p.close();
}

TEST_P(ProcessTest, AMissingProgramFailsAtSpawn) {
  eddy::process p(loop());
  bool called = false;
  auto on_exit = [&](std::int64_t, int) { called = true; };
  eddy::process_options o;
  o.file = "eddy-no-such-program-anywhere";
  EXPECT_EQ(p.spawn(o, on_exit), eddy::errc::no_such_file);
  o.file = (std::filesystem::temp_directory_path() / "eddy-no-such-dir" / "prog").string();
  EXPECT_EQ(p.spawn(o, on_exit), eddy::errc::no_such_file);
  EXPECT_FALSE(p.is_active());
  EXPECT_EQ(p.pid(), 0);

  // A file that is not a program.
  const auto file = std::filesystem::temp_directory_path() / ("eddy-not-a-program-" + std::to_string(eddy::os::pid()));
  std::ofstream(file) << "just text\n";
  o.file = file.string();
  std::error_code ec = p.spawn(o, on_exit);
  EXPECT_TRUE(ec == eddy::errc::permission_denied || ec == eddy::errc::exec_format_error) << ec.message();
  std::filesystem::remove(file);

  // The handle is still usable.
  exit_info info;
  ASSERT_FALSE(p.spawn(helper({"exit", "7"}), record(info, p)));
  run();
  EXPECT_FALSE(called);
  EXPECT_EQ(info.status, 7);
}

TEST_P(ProcessTest, AHundredConcurrentChildrenAreAllReaped) {
  constexpr int n = 100;
  std::vector<std::unique_ptr<eddy::process>> procs;
  std::vector<exit_info> infos(n);
  for (int i = 0; i < n; ++i) {
    auto& p = *procs.emplace_back(std::make_unique<eddy::process>(loop()));
    ASSERT_FALSE(p.spawn(helper({"exit", std::to_string(i)}), record(infos[static_cast<std::size_t>(i)], p)));
  }
  run(std::chrono::seconds(90));
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(infos[static_cast<std::size_t>(i)].calls, 1) << i;
    EXPECT_EQ(infos[static_cast<std::size_t>(i)].status, i) << i;
  }
}

TEST_P(ProcessTest, AnUnrefdChildDoesNotKeepTheLoopAlive) {
  eddy::process p(loop());
  exit_info info;
  ASSERT_FALSE(p.spawn(helper({"sleep-forever"}), record(info, p)));
  p.unref();
  loop().run();  // returns at once: nothing referenced
  EXPECT_FALSE(info.called);
  EXPECT_FALSE(eddy::kill(p.pid(), 0)) << "still running";
  p.ref();
  ASSERT_FALSE(p.kill(eddy::signals::sigkill));
  run();
  EXPECT_EQ(info.signal, eddy::signals::sigkill);
}

TEST_P(ProcessTest, ClosingTheHandleLeavesTheChildRunning) {
  auto p = std::make_unique<eddy::process>(loop());
  bool called = false;
  ASSERT_FALSE(p->spawn(helper({"sleep-forever"}), [&](std::int64_t, int) { called = true; }));
  const int pid = p->pid();
  p.reset();  // closes it
  loop().run();
  EXPECT_FALSE(eddy::kill(pid, 0)) << "closing a process handle does not kill the child";
  ASSERT_FALSE(eddy::kill(pid, eddy::signals::sigkill));
  EXPECT_FALSE(called);
}

TEST_P(ProcessTest, UidAndGidTakeTheForkPath) {
  eddy::process p(loop());
  auto o = helper({"exit", "5"});
  o.uid = 0;
  o.gid = 0;
#if defined(_WIN32)
  EXPECT_EQ(p.spawn(o, {}), eddy::errc::not_supported);
  p.close();
#else
  if (::geteuid() != 0) {
    // Our own ids: allowed for anyone.
    o.uid = ::geteuid();
    o.gid = ::getegid();
  }
  // An error in the forked child (here its chdir) comes back through the error pipe.
  auto bad = o;
  bad.cwd = (std::filesystem::temp_directory_path() / "eddy-no-such-directory").string();
  EXPECT_EQ(p.spawn(bad, {}), eddy::errc::no_such_file);
  exit_info info;
  ASSERT_FALSE(p.spawn(o, record(info, p)));
  run();
  EXPECT_EQ(info.status, 5);
#endif
}

TEST_P(ProcessTest, TheChildSeesItsPidAndParent) {
  exit_info info;
  eddy::process_options o = helper({"pid"});
  std::string got = output_of(o, info);
  EXPECT_EQ(info.status, 0);
  const auto nl = got.find('\n');
  ASSERT_NE(nl, std::string::npos) << got;
  EXPECT_GT(std::stoi(got.substr(0, nl)), 0);
  EXPECT_EQ(got.substr(nl + 1), std::to_string(eddy::os::pid()) + "\n") << "the child's parent is this process";
}

TEST_P(ProcessTest, ArgumentsRoundTripUnchanged) {
  // Hostile for Windows' quoting: blanks, quotes, backslashes before quotes and at the end,
  // empty arguments, and non-ASCII text.
  const std::vector<std::string> hostile = {
      "plain", "two words", "", "\"quoted\"", "a\\b\\\\c", "trailing\\", "trailing\\\\", "with space\\",
      "\\\"", "a\"b\\\"c", " ", "\t", "&|<>^%", "caf\xc3\xa9 \xe2\x82\xac", "\\\\server\\share\\"};
  auto args = hostile;
  args.insert(args.begin(), "args");
  exit_info info;
  std::string got = output_of(helper(args), info);
  EXPECT_EQ(info.status, 0);
  std::string want;
  for (const auto& a : hostile) want += a + "\n";
  EXPECT_EQ(got, want);
}

TEST_P(ProcessTest, BadStdioIsRejectedBeforeAnythingStarts) {
  eddy::process p(loop());
  eddy::pipe used(loop());
  auto o = helper({"exit", "0"});
  o.stdio = {eddy::stdio_option::new_pipe(used, true, false), eddy::stdio_option::new_pipe(used, false, true)};
  EXPECT_EQ(p.spawn(o, {}), eddy::errc::invalid_argument);
  o.stdio = {eddy::stdio_option::descriptor(-1)};
  EXPECT_EQ(p.spawn(o, {}), eddy::errc::bad_descriptor);
  EXPECT_EQ(p.pid(), 0);
  used.close();
  p.close();
}

TEST_P(ProcessTest, ADetachedChildSurvivesItsParent) {
  family_result r = run_family(true);
  EXPECT_EQ(r.helper_signal, eddy::signals::sigkill);
  EXPECT_GT(r.grandchild, 0);
  EXPECT_EQ(r.echoed, "still here\n") << "the detached grandchild must still answer";
}

TEST_P(ProcessTest, AnAttachedChildEndsWithItsParent) {
  // `out` reaching its end proves every holder of its write end (helper and grandchild) is
  // gone; a surviving grandchild would keep it open and the guard would fail the test.
  family_result r = run_family(false);
  EXPECT_EQ(r.helper_signal, eddy::signals::sigkill);
  EXPECT_GT(r.grandchild, 0);
  EXPECT_TRUE(r.out_ended);
  EXPECT_EQ(r.echoed, "");
}

EDDY_INSTANTIATE_PORTS(ProcessTest);

// ---------------------------------------------------------------- without a loop

TEST(CommandLineQuoting, FollowsCommandLineToArgvWRules) {
  using eddy::contract::process::quote_command_line;
  EXPECT_EQ(quote_command_line({"prog", "a", "b c"}), "prog a \"b c\"");
  EXPECT_EQ(quote_command_line({"p", ""}), "p \"\"");
  EXPECT_EQ(quote_command_line({"p", "say \"hi\""}), "p \"say \\\"hi\\\"\"");
  EXPECT_EQ(quote_command_line({"p", "a\\b"}), "p a\\b");            // no quoting needed
  EXPECT_EQ(quote_command_line({"p", "dir with\\"}), "p \"dir with\\\\\"");  // doubled before the closing quote
  EXPECT_EQ(quote_command_line({"p", "x\\\"y"}), "p \"x\\\\\\\"y\"");  // \" → \\\"
  EXPECT_EQ(quote_command_line({"p", "a\\\\b c"}), "p \"a\\\\b c\"");  // not before a quote: as is
#if defined(_WIN32)
  // And the system's own parser gives every argument back.
  const std::vector<std::string> hostile = {"prog", "two words", "", "\"", "\\", "a\\\\", "b\\\"", " \\ \"\\\\\" "};
  const std::string line = quote_command_line(hostile);
  std::wstring wide(line.begin(), line.end());
  int n = 0;
  wchar_t** argv = ::CommandLineToArgvW(wide.c_str(), &n);
  ASSERT_NE(argv, nullptr);
  ASSERT_EQ(n, static_cast<int>(hostile.size()));
  for (int i = 1; i < n; ++i) {
    std::wstring w(argv[i]);
    EXPECT_EQ(std::string(w.begin(), w.end()), hostile[static_cast<std::size_t>(i)]) << i;
  }
  ::LocalFree(argv);
#endif
}

TEST(OsUtilities, KillOfANonexistentProcessFails) {
  // pid 0x7ffffff0 is far above Linux's pid_max and not a Windows pid in use.
  EXPECT_EQ(eddy::kill(0x7ffffff0, 0), eddy::errc::no_such_process);
}

}  // namespace
