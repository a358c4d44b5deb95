// Child processes on POSIX: posix_spawn (glibc's runs the child on a vfork-like clone and
// reports exec errors to the caller), or fork + exec with a close-on-exec error pipe when
// the child must change its user or group (posix_spawn cannot). Exits are announced by
// SIGCHLD, which reaches the loop through the signal machinery (src/signal.cpp); reap()
// then asks waitpid about one child without blocking.
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "eddy/error.hpp"
#include "platform/contract/fault.hpp"
#include "platform/posix/posix_util.hpp"
#include "platform/contract/process.hpp"

extern char** environ;

namespace eddy::contract::process {
namespace {

using platform::posix::close_fd;

std::error_code last_error() noexcept { return from_errno(errno); }

// execvp's search, done in the parent so the child's PATH (not ours) decides and so a
// missing program is reported by spawn(): the first executable regular file wins;
// permission_denied if only non-executable candidates were found.
std::error_code find_program(const spawn_request& req, std::string& out) {
  if (req.file.find('/') != std::string::npos) {
    out = req.file;
    return {};
  }
  const char* path = nullptr;
  for (const auto& e : req.env) {
    if (e.compare(0, 5, "PATH=") == 0) path = e.c_str() + 5;
  }
  std::string fallback;
  if (path == nullptr) {
    fallback.resize(::confstr(_CS_PATH, nullptr, 0));
    ::confstr(_CS_PATH, fallback.data(), fallback.size());
    fallback.resize(std::strlen(fallback.c_str()));
    path = fallback.c_str();
  }
  bool denied = false;
  std::string_view rest(path);
  for (;;) {
    const std::size_t colon = rest.find(':');
    std::string_view dir = rest.substr(0, colon);
    std::string candidate = dir.empty() ? std::string(".") : std::string(dir);
    candidate += '/';
    candidate += req.file;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      if (::access(candidate.c_str(), X_OK) == 0) {
        out = std::move(candidate);
        return {};
      }
      denied = true;
    }
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  return make_error_code(denied ? errc::permission_denied : errc::no_such_file);
}

std::vector<char*> c_strings(std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// The descriptors the child gets: source[i] becomes its fd i. Everything in `temp` is the
// parent's to close once the child started (the child's pipe ends, moved copies, /dev/null).
struct stdio_setup {
  std::vector<int> source;
  std::vector<int> temp;

  ~stdio_setup() {
    for (int& fd : temp) close_fd(fd);
  }
};

std::error_code prepare_stdio(spawn_request& req, stdio_setup& s) {
  const int n = static_cast<int>(req.stdio.size());
  s.source.assign(req.stdio.size(), -1);
  int devnull = -1;
  for (int i = 0; i < n; ++i) {
    stdio_plan& p = req.stdio[static_cast<std::size_t>(i)];
    int& src = s.source[static_cast<std::size_t>(i)];
    switch (p.how) {
      case stdio_plan::kind::ignore:
        if (devnull < 0) {
          devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
          if (devnull < 0) return last_error();
          s.temp.push_back(devnull);
        }
        src = devnull;
        break;
      case stdio_plan::kind::inherit: src = i; break;
      case stdio_plan::kind::native: src = static_cast<int>(p.native); break;
      case stdio_plan::kind::pipe: {
        // A socket pair, as libuv does: both directions, and writes to it never raise SIGPIPE
        // in this process (the ports send with MSG_NOSIGNAL).
        int sv[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return last_error();
        p.native = sv[0];
        s.temp.push_back(sv[1]);
        src = sv[1];
        break;
      }
    }
  }
  // dup2(source[i], i) runs in order i = 0..n-1; a source below n other than i itself could
  // be overwritten by an earlier dup2, so move those above n first.
  for (int i = 0; i < n; ++i) {
    int& src = s.source[static_cast<std::size_t>(i)];
    if (src < n && src != i) {
      const int moved = ::fcntl(src, F_DUPFD_CLOEXEC, n);
      if (moved < 0) return last_error();
      s.temp.push_back(moved);
      src = moved;
    }
  }
  return {};
}

void close_parent_ends(spawn_request& req) noexcept {
  for (auto& p : req.stdio) {
    if (p.how == stdio_plan::kind::pipe && p.native >= 0) {
      ::close(static_cast<int>(p.native));
      p.native = -1;
    }
  }
}

std::error_code spawn_with_posix_spawn(const std::string& path, spawn_request& req, const stdio_setup& s,
                                       std::vector<char*>& argv, std::vector<char*>& envp, int& pid_out) {
  posix_spawn_file_actions_t fa;
  if (int rc = ::posix_spawn_file_actions_init(&fa)) return from_errno(rc);
  posix_spawnattr_t attr;
  if (int rc = ::posix_spawnattr_init(&attr)) {
    ::posix_spawn_file_actions_destroy(&fa);
    return from_errno(rc);
  }
  int rc = 0;
  for (std::size_t i = 0; i < s.source.size() && rc == 0; ++i) {
    // dup2(fd, fd) in file actions clears close-on-exec (glibc 2.29+, POSIX 2024).
    rc = ::posix_spawn_file_actions_adddup2(&fa, s.source[i], static_cast<int>(i));
  }
  if (rc == 0 && !req.cwd.empty()) rc = ::posix_spawn_file_actions_addchdir_np(&fa, req.cwd.c_str());
  // The child starts with no blocked signals and every signal at its default (this process
  // may block some, or catch them through eddy::signal).
  sigset_t none;
  sigset_t all;
  sigemptyset(&none);
  sigfillset(&all);
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (req.detached) flags |= POSIX_SPAWN_SETSID;
  if (rc == 0) rc = ::posix_spawnattr_setsigmask(&attr, &none);
  if (rc == 0) rc = ::posix_spawnattr_setsigdefault(&attr, &all);
  if (rc == 0) rc = ::posix_spawnattr_setflags(&attr, flags);
  pid_t pid = 0;
  if (rc == 0) rc = EDDY_FAULT(spawn);  // fault injection: posix_spawn fails with it
  if (rc == 0) rc = ::posix_spawn(&pid, path.c_str(), &fa, &attr, argv.data(), envp.data());
  ::posix_spawnattr_destroy(&attr);
  ::posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return from_errno(rc);
  pid_out = pid;
  return {};
}

// In the forked child: only async-signal-safe calls from here to exec. Reports errno on
// the error pipe and exits if anything fails.
[[noreturn]] void run_child(const char* path, const spawn_request& req, const stdio_setup& s, char** argv,
                            char** envp, int error_fd) {
  for (int sig = 1; sig < NSIG; ++sig) {
    struct sigaction sa {};
    sa.sa_handler = SIG_DFL;
    ::sigaction(sig, &sa, nullptr);  // fails harmlessly for SIGKILL, SIGSTOP and glibc's own
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  auto fail = [&] {
    const int e = errno;
    (void)!::write(error_fd, &e, sizeof e);
    ::_exit(127);
  };
  if (req.detached && ::setsid() < 0) fail();
  for (std::size_t i = 0; i < s.source.size(); ++i) {
    const int target = static_cast<int>(i);
    if (s.source[i] == target) {
      if (::fcntl(target, F_SETFD, 0) < 0) fail();
    } else if (::dup2(s.source[i], target) < 0) {
      fail();
    }
  }
  if (!req.cwd.empty() && ::chdir(req.cwd.c_str()) != 0) fail();
  if (req.gid) {
    ::setgroups(0, nullptr);  // drops supplementary groups where permitted
    if (::setgid(*req.gid) != 0) fail();
  }
  if (req.uid && ::setuid(*req.uid) != 0) fail();
  ::execve(path, argv, envp);
  fail();
  ::_exit(127);
}

std::error_code spawn_with_fork(const std::string& path, spawn_request& req, const stdio_setup& s,
                                std::vector<char*>& argv, std::vector<char*>& envp, int& pid_out) {
  if (int e = EDDY_FAULT(spawn)) return from_errno(e);  // fault injection: as fork() failing
  int errpipe[2];
  if (::pipe2(errpipe, O_CLOEXEC) != 0) return last_error();
  // No signal handler may run in the child before it resets the dispositions.
  sigset_t all;
  sigset_t old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  const pid_t pid = ::fork();
  if (pid == 0) run_child(path.c_str(), req, s, argv.data(), envp.data(), errpipe[1]);
  const int fork_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  close_fd(errpipe[1]);
  if (pid < 0) {
    close_fd(errpipe[0]);
    return from_errno(fork_errno);
  }
  int child_errno = 0;
  ssize_t got = 0;
  do {
    got = ::read(errpipe[0], &child_errno, sizeof child_errno);
  } while (got < 0 && errno == EINTR);
  close_fd(errpipe[0]);
  if (got == static_cast<ssize_t>(sizeof child_errno)) {
    // The exec failed: the child has exited with 127 already (or is about to); collect it.
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    return from_errno(child_errno);
  }
  pid_out = pid;
  return {};
}

}  // namespace

std::error_code spawn(spawn_request& req, child& out) noexcept {
  try {
    std::string path;
    if (auto ec = find_program(req, path)) return ec;
    stdio_setup s;
    if (auto ec = prepare_stdio(req, s)) {
      close_parent_ends(req);
      return ec;
    }
    std::vector<char*> argv = c_strings(req.args);
    std::vector<char*> envp = c_strings(req.env);
    int pid = 0;
    const std::error_code ec = req.uid || req.gid ? spawn_with_fork(path, req, s, argv, envp, pid)
                                                  : spawn_with_posix_spawn(path, req, s, argv, envp, pid);
    if (ec) {
      close_parent_ends(req);
      return ec;
    }
    out = child{};
    out.pid = pid;
    return {};
  } catch (const std::bad_alloc&) {
    close_parent_ends(req);
    return make_error_code(errc::no_memory);
  }
}

int exit_signal() noexcept { return SIGCHLD; }

std::error_code watch(child&, void (*)(void*), void*) noexcept { return {}; }

bool reap(child& c, std::int64_t& exit_status, int& term_signal) noexcept {
  int status = 0;
  pid_t r = 0;
  do {
    r = ::waitpid(c.pid, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == 0) return false;
  exit_status = 0;
  term_signal = 0;
  if (r < 0) return true;  // ECHILD: someone else reaped it (SIGCHLD ignored, or a wait()); nothing to report
  if (WIFEXITED(status)) exit_status = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) term_signal = WTERMSIG(status);
  return true;
}

bool release(child&, bool reaped) noexcept { return !reaped; }

std::error_code kill(child& c, int signum) noexcept { return kill(c.pid, signum); }

std::error_code kill(int pid, int signum) noexcept {
  if (signum < 0 || signum >= NSIG) return make_error_code(errc::invalid_argument);
  if (::kill(pid, signum) != 0) return last_error();
  return {};
}

// ---------------------------------------------------------------- process facts

std::error_code executable_path(std::string& out) {
  std::string buf(256, '\0');
  for (;;) {
    const ssize_t n = ::readlink("/proc/self/exe", buf.data(), buf.size());
    if (n < 0) return last_error();
    if (static_cast<std::size_t>(n) < buf.size()) {
      buf.resize(static_cast<std::size_t>(n));
      out = std::move(buf);
      return {};
    }
    buf.resize(buf.size() * 2);
  }
}

std::error_code cwd(std::string& out) {
  std::string buf(256, '\0');
  for (;;) {
    if (::getcwd(buf.data(), buf.size()) != nullptr) {
      buf.resize(std::strlen(buf.c_str()));
      out = std::move(buf);
      return {};
    }
    if (errno != ERANGE) return last_error();
    buf.resize(buf.size() * 2);
  }
}

std::error_code chdir(std::string_view path) {
  if (::chdir(std::string(path).c_str()) != 0) return last_error();
  return {};
}

int pid() noexcept { return ::getpid(); }
int parent_pid() noexcept { return ::getppid(); }

std::optional<std::string> getenv(std::string_view name) {
  const char* v = ::getenv(std::string(name).c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

std::error_code setenv(std::string_view name, std::string_view value) {
  if (::setenv(std::string(name).c_str(), std::string(value).c_str(), 1) != 0) return last_error();
  return {};
}

std::error_code unsetenv(std::string_view name) {
  if (::unsetenv(std::string(name).c_str()) != 0) return last_error();
  return {};
}

std::vector<std::string> environment() {
  std::vector<std::string> out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) out.emplace_back(*e);
  return out;
}

std::error_code hostname(std::string& out) {
  char buf[HOST_NAME_MAX + 1] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return last_error();
  out = buf;
  return {};
}

bool process_exiting() noexcept { return false; }

unsigned available_parallelism() noexcept {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return static_cast<unsigned>(n);
  }
  const long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<unsigned>(n) : 1;
}

std::uint64_t total_memory() noexcept {
  struct sysinfo si {};
  if (::sysinfo(&si) != 0) return 0;
  return static_cast<std::uint64_t>(si.totalram) * si.mem_unit;
}

std::uint64_t free_memory() noexcept {
  // MemAvailable counts reclaimable caches too, which is what "free" means to a user.
  try {
    std::ifstream in("/proc/meminfo");
    std::string key;
    std::uint64_t kib = 0;
    std::string unit;
    while (in >> key >> kib) {
      std::getline(in, unit);
      if (key == "MemAvailable:") return kib * 1024;
    }
  } catch (...) {
  }
  struct sysinfo si {};
  if (::sysinfo(&si) != 0) return 0;
  return static_cast<std::uint64_t>(si.freeram) * si.mem_unit;
}

std::error_code resident_set_size(std::uint64_t& out) {
  std::FILE* f = std::fopen("/proc/self/statm", "re");
  if (f == nullptr) return last_error();
  unsigned long long size = 0;
  unsigned long long resident = 0;
  const int n = std::fscanf(f, "%llu %llu", &size, &resident);
  std::fclose(f);
  if (n != 2) return make_error_code(errc::unknown);
  out = resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  return {};
}

}  // namespace eddy::contract::process
