// eddy::process: child processes (libuv's uv_spawn / uv_process_t, Node's child_process).
//
// spawn() starts a program with its arguments (never through a shell), an environment, a
// working directory and a choice for each of its stdio descriptors; on_exit runs exactly
// once, on the loop thread, when the child has exited. A running child keeps the loop alive
// unless the handle is unref'd. Failing to start the program at all (no such file, not
// executable) is reported by spawn() itself, never as a child that exits with 127.
//
// How the exit is noticed: POSIX: SIGCHLD, through the same process-wide handler as
// eddy::signal (an internal interest: no user handle appears), then waitpid(pid, WNOHANG)
// on the loop thread for this loop's own children only; children eddy did not spawn are
// left alone. Windows: a wait on the process handle on the system's wait thread wakes the
// loop, which then reads the exit code.
//
// Closing a process handle does not kill the child. A child whose handle closed before it
// exited is still reaped quietly by the loop on POSIX (no zombie is left behind while the
// loop runs); its on_exit does not run.
//
// Threads: loop thread only, except eddy::kill(pid, signum), which any thread may call.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "eddy/handle.hpp"

namespace eddy {

class pipe;
class stream;

// What the child's descriptor i is (options.stdio[i]).
struct stdio_option {
  enum class kind {
    ignore,       // the null device (/dev/null, NUL)
    inherit,      // the parent's own descriptor i (only 0..2 on Windows)
    create_pipe,  // a new pipe; the parent's end is opened into `pipe`
    fd,           // an existing descriptor (fd on POSIX, HANDLE on Windows) of this process
    stream,       // the descriptor of an open eddy stream (tcp, pipe, tty)
  };
  kind how = kind::ignore;
  // create_pipe: an unopened eddy::pipe of the same loop. The pipe is opened by spawn()
  // (only if spawn succeeds) and belongs to the caller as any pipe does.
  eddy::pipe* pipe = nullptr;
  // create_pipe: the directions the *child* uses (libuv's UV_READABLE_PIPE /
  // UV_WRITABLE_PIPE). Windows opens the child's end with exactly these rights; POSIX pipes
  // are socket pairs and always carry both.
  bool readable = false;
  bool writable = false;
  // fd: the descriptor; it stays owned by the caller (the child gets its own copy).
  std::intptr_t native = -1;
  // stream: borrowed for the duration of spawn() only.
  eddy::stream* from_stream = nullptr;

  static stdio_option ignored() noexcept { return {}; }
  static stdio_option inherited() noexcept { return {kind::inherit}; }
  static stdio_option new_pipe(eddy::pipe& p, bool child_reads, bool child_writes) noexcept {
    return {kind::create_pipe, &p, child_reads, child_writes};
  }
  static stdio_option descriptor(std::intptr_t native_fd) noexcept {
    return {kind::fd, nullptr, false, false, native_fd};
  }
  static stdio_option of_stream(eddy::stream& s) noexcept {
    return {kind::stream, nullptr, false, false, -1, &s};
  }
};

enum class env_mode {
  inherit,  // the parent's environment as it is at spawn() (options.env is ignored)
  replace,  // exactly options.env
  add,      // the parent's environment with options.env set over it
};

struct process_options {
  // The program: a path, or a name searched in PATH (the child's PATH when env replaces or
  // sets it, else this process's PATH).
  std::string file;
  // The child's argv; args[0] is its name for itself. Empty: {file}. On Windows the
  // arguments are quoted so that CommandLineToArgvW (and the C runtime) give them back as is.
  std::vector<std::string> args;
  env_mode env_how = env_mode::inherit;
  // "NAME=value" entries (UTF-8).
  std::vector<std::string> env;
  // The child's working directory; empty: this process's.
  std::string cwd;
  // The child's descriptors 0..N-1; missing entries for 0..2 are ignore. Windows supports
  // three entries (stdin, stdout, stderr); more that are not ignore give errc::not_supported.
  std::vector<stdio_option> stdio;
  // POSIX: a new session (setsid), so the child outlives its parent's process group and is
  // not in the parent's job control. Windows: CREATE_NEW_PROCESS_GROUP, and the child is not
  // put in the job object that ends the parent's children when the parent goes away.
  bool detached = false;
  // Windows: no console window for the child (ignored elsewhere).
  bool windows_hide = false;
  // POSIX: run the child as this user / group (not_supported on Windows).
  std::optional<std::uint32_t> uid;
  std::optional<std::uint32_t> gid;
};

class EDDY_API process final : public handle {
 public:
  // exit_status: the child's exit code (0 when it was ended by a signal); term_signal: the
  // signal that ended it, or 0. On Windows a child ended by kill(sig) reports sig.
  using exit_callback = std::function<void(std::int64_t exit_status, int term_signal)>;

  explicit process(eddy::loop& owner);

  // Starts the child. On success the handle is active until on_exit has run; on failure
  // nothing was started and on_exit never runs. errc::already_started if a child is running
  // or was started by this handle before (one child per handle, like libuv), errc::closed if
  // the handle is closing. Does not wait for the child (it may block briefly in fork/exec).
  std::error_code spawn(const process_options& options, exit_callback on_exit);
  // Sends signum to the child (0 checks that it is alive). errc::no_such_process once the
  // child has exited (its pid may already belong to someone else), errc::not_started before
  // spawn(). Windows: sigterm, sigkill, sigint and sigquit end the child (TerminateProcess);
  // other numbers give not_supported.
  std::error_code kill(int signum);
  // The child's pid, or 0 before spawn() succeeded.
  [[nodiscard]] int pid() const noexcept;
};

// Sends signum to any process (POSIX kill(2); a negative pid names a process group).
// Windows: as process::kill, except that a child of this loop ended this way reports
// term_signal 0 (only process::kill records the signal). Thread-safe.
EDDY_API std::error_code kill(int pid, int signum);

}  // namespace eddy
