// Child processes and process facts: the OS-specific half of eddy::process and eddy::os.
// platform/posix/process.cpp (posix_spawn or fork+exec, SIGCHLD, waitpid) and
// platform/win32/process.cpp (CreateProcessW, a job object, the wait thread) implement it.
// The core (src/process.cpp, src/os.cpp) decides everything that is not OS-specific: the
// environment to pass, the handle's lifetime, when to reap.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace eddy::contract::process {

// One descriptor of the child, as the core resolved it.
struct stdio_plan {
  enum class kind : std::uint8_t { ignore, inherit, pipe, native };
  kind how = kind::ignore;
  bool child_reads = false;   // pipe: the child's end is readable (Windows honours these)
  bool child_writes = false;
  // native: the descriptor/HANDLE to give the child (the caller keeps its own).
  // pipe: set by spawn() to the parent's end (non-inheritable, ready for pipe::open; on
  // Windows an overlapped named-pipe HANDLE). The caller owns it from then on.
  std::intptr_t native = -1;
};

struct spawn_request {
  std::string file;
  std::vector<std::string> args;  // never empty: args[0] is the child's argv[0]
  // The child's whole environment as "NAME=value" strings (the core merged it).
  std::vector<std::string> env;
  std::string cwd;  // empty: inherit
  std::vector<stdio_plan> stdio;
  bool detached = false;
  bool hide = false;
  std::optional<std::uint32_t> uid, gid;
};

// A running child. pid on every OS; handle and wait are Windows' process HANDLE and
// registered wait (0 elsewhere); kill_signal: the signal a kill() ended it with (Windows,
// where the OS records no such thing).
struct child {
  int pid = 0;
  std::intptr_t handle = 0;
  std::intptr_t wait = 0;
  int kill_signal = 0;
};

// Starts the child. On failure nothing is left open: no child, no parent pipe ends.
// Errors of the exec itself (no such file, permission denied) are returned here.
std::error_code spawn(spawn_request& req, child& out) noexcept;

// The signal that announces a child's exit (SIGCHLD on POSIX): the core keeps an internal
// interest in it while the loop has children. 0 where exits are announced by watch().
int exit_signal() noexcept;
// Arranges for notify(ctx) to be called, from another thread, once the child has exited
// (Windows: RegisterWaitForSingleObject). No-op where exit_signal() is not 0.
std::error_code watch(child& c, void (*notify)(void* ctx), void* ctx) noexcept;
// Non-blocking: true, with the exit code and terminating signal, if the child has exited
// (it is then reaped: waitpid on POSIX). Loop thread.
bool reap(child& c, std::int64_t& exit_status, int& term_signal) noexcept;
// Releases what the parent holds for a child that was reaped or is being abandoned (stops
// the wait and closes the process handle on Windows; waits for a notify in progress).
// Returns true if the child still needs reaping later (POSIX, not yet reaped).
bool release(child& c, bool reaped) noexcept;

std::error_code kill(child& c, int signum) noexcept;
std::error_code kill(int pid, int signum) noexcept;

// Windows: the command line CreateProcessW receives for args, quoted so that
// CommandLineToArgvW gives args back. Portable string work, so defined by the core
// (src/process.cpp) and unit-tested on every OS.
std::string quote_command_line(const std::vector<std::string>& args);

// Process facts (eddy::os).
std::error_code executable_path(std::string& out);
std::error_code cwd(std::string& out);
std::error_code chdir(std::string_view path);
int pid() noexcept;
int parent_pid() noexcept;
std::optional<std::string> getenv(std::string_view name);
std::error_code setenv(std::string_view name, std::string_view value);
std::error_code unsetenv(std::string_view name);
std::vector<std::string> environment();  // "NAME=value" entries
std::error_code hostname(std::string& out);
unsigned available_parallelism() noexcept;
std::uint64_t total_memory() noexcept;
std::uint64_t free_memory() noexcept;
std::error_code resident_set_size(std::uint64_t& out);

// True while the process is being torn down after its other threads were ended: on Windows,
// the static destructors of a DLL (eddy.dll) run at process exit under the loader lock, after
// ExitProcess stopped every other thread, so a thread cannot be joined then (the join never
// returns). Always false on POSIX, where static destructors run while threads still live.
bool process_exiting() noexcept;

}  // namespace eddy::contract::process
