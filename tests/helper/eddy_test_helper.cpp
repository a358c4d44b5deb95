// The child the tests spawn (never a shell): `eddy_test_helper MODE ARGS...`.
// Plain C++ on every platform, so one set of tests runs on Linux and under Wine.
//
// To add a mode: write `int mode_name(const args& a)` (a[0] is the first argument after the
// mode) and add it to the table in main(). Output is binary (no CRLF translation on
// Windows), so tests compare bytes.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "eddy/eddy.hpp"

#if defined(_WIN32)
#include <fcntl.h>
#include <io.h>
#include <windows.h>
#include <shellapi.h>
#endif

// Modes defined in other files of the helper.
int mode_cluster_worker(const std::vector<std::string>& a);  // cluster_modes.cpp
int mode_ipc_serve(const std::vector<std::string>& a);       // ipc_modes.cpp

namespace {

using args = std::vector<std::string>;

void put_line(std::string_view s) {
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fputc('\n', stdout);
}

// exit N: exits with status N.
int mode_exit(const args& a) { return a.empty() ? 0 : std::atoi(a[0].c_str()); }

// echo: copies stdin to stdout until end of input.
int mode_echo(const args&) {
  std::vector<char> buf(64 * 1024);
  for (;;) {
    const std::size_t n = std::fread(buf.data(), 1, buf.size(), stdin);
    if (n == 0) break;
    if (std::fwrite(buf.data(), 1, n, stdout) != n) return 2;
    std::fflush(stdout);
  }
  return 0;
}

// env NAME: prints the variable's value; exits 1 if it is not set.
int mode_env(const args& a) {
  if (a.empty()) return 2;
  auto v = eddy::os::getenv(a[0]);
  if (!v) return 1;
  put_line(*v);
  return 0;
}

// cwd: prints the working directory.
int mode_cwd(const args&) {
  std::error_code ec;
  put_line(eddy::os::cwd(ec));
  return ec ? 1 : 0;
}

// pid: prints this process's pid, then its parent's.
int mode_pid(const args&) {
  put_line(std::to_string(eddy::os::pid()));
  put_line(std::to_string(eddy::os::parent_pid()));
  return 0;
}

// args: prints each argument after the mode on its own line, as the C runtime (POSIX) or
// CommandLineToArgvW (Windows) parsed it.
int mode_args(const args& a) {
  for (const auto& s : a) put_line(s);
  return 0;
}

// sleep-forever: waits (without spinning) until it is killed.
int mode_sleep_forever(const args&) {
  std::fflush(stdout);
  for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
}

// spawn-child detached|attached: starts `echo` as a child sharing this process's stdio,
// prints its pid, then sleeps until killed. The tests kill this process and check whether
// the child outlived it.
int mode_spawn_child(const args& a) {
  eddy::loop loop;
  eddy::process child(loop);
  std::error_code ec;
  eddy::process_options o;
  o.file = eddy::os::executable_path(ec);
  if (ec) return 3;
  o.args = {o.file, "echo"};
  o.stdio = {eddy::stdio_option::inherited(), eddy::stdio_option::inherited(), eddy::stdio_option::inherited()};
  o.detached = !a.empty() && a[0] == "detached";
  if (auto e = child.spawn(o, [](std::int64_t, int) {})) {
    std::fprintf(stderr, "spawn: %s\n", e.message().c_str());
    return 4;
  }
  put_line(std::to_string(child.pid()));
  child.unref();
  return mode_sleep_forever({});
}

struct mode {
  std::string_view name;
  int (*run)(const args&);
};

constexpr mode modes[] = {
    {"exit", mode_exit},
    {"echo", mode_echo},
    {"env", mode_env},
    {"cwd", mode_cwd},
    {"pid", mode_pid},
    {"args", mode_args},
    {"sleep-forever", mode_sleep_forever},
    {"cluster-worker", mode_cluster_worker},
    {"ipc-serve", mode_ipc_serve},
    {"spawn-child", mode_spawn_child},
};

args arguments(int argc, char** argv) {
  args out;
#if defined(_WIN32)
  // The UTF-16 command line as CommandLineToArgvW splits it: the rules eddy quotes for.
  (void)argc;
  (void)argv;
  int n = 0;
  wchar_t** w = ::CommandLineToArgvW(::GetCommandLineW(), &n);
  for (int i = 0; i < n; ++i) {
    const int len = ::WideCharToMultiByte(CP_UTF8, 0, w[i], -1, nullptr, 0, nullptr, nullptr);
    std::string s(static_cast<std::size_t>(len > 0 ? len - 1 : 0), '\0');
    if (len > 1) ::WideCharToMultiByte(CP_UTF8, 0, w[i], -1, s.data(), len, nullptr, nullptr);
    out.push_back(std::move(s));
  }
  ::LocalFree(w);
#else
  for (int i = 0; i < argc; ++i) out.emplace_back(argv[i]);
#endif
  return out;
}

}  // namespace

int main(int argc, char** argv) {
#if defined(_WIN32)
  _setmode(_fileno(stdin), _O_BINARY);
  _setmode(_fileno(stdout), _O_BINARY);
#endif
  args a = arguments(argc, argv);
  if (a.size() >= 2) {
    for (const mode& m : modes) {
      if (m.name == a[1]) {
        const int rc = m.run(args(a.begin() + 2, a.end()));
        std::fflush(stdout);
        return rc;
      }
    }
  }
  std::fprintf(stderr, "usage: eddy_test_helper MODE [ARGS...]; modes:");
  for (const mode& m : modes) std::fprintf(stderr, " %.*s", static_cast<int>(m.name.size()), m.name.data());
  std::fprintf(stderr, "\n");
  return 2;
}
