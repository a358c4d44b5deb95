// eddy::process: the portable half. The OS half (platform/contract/process.hpp) starts the child,
// reaps it and kills it; this file resolves the options (environment, stdio), keeps the
// loop's list of children and decides when to reap: when the exit signal (SIGCHLD) arrived
// through the signal machinery, or when the wait thread announced an exit (Windows).
#include "eddy/process.hpp"

#include <algorithm>
#include <string_view>

#include "eddy/pipe.hpp"
#include "eddy/signal.hpp"
#include "io/io_handle.hpp"
#include "loop/loop_impl.hpp"

namespace eddy {
namespace detail {

class process_impl final : public handle_base {
 public:
  explicit process_impl(loop_impl& loop) noexcept : handle_base(loop, handle_type::process) {}

  // Closing does not kill the child: it is handed to the loop, which reaps it quietly.
  void on_close() noexcept override {
    if (running_) abandon();
  }

  // Stops tracking the running child without waiting for it: the loop reaps it quietly when
  // it exits (POSIX) or simply lets go of it (Windows). Its on_exit will not run.
  void abandon() noexcept {
    running_ = false;
    auto& node = static_cast<list_node<phase_tag>&>(*this);
    if (node.linked()) intrusive_list<handle_base, phase_tag>::unlink_node(node);
    std::int64_t status = 0;
    int sig = 0;
    const bool reaped = contract::process::reap(child_, status, sig);
    if (contract::process::release(child_, reaped)) {
      try {
        loop_.children_.orphans.push_back(child_);
      } catch (...) {
        // Out of memory: the child stays a zombie until this process exits.
      }
    }
    (void)loop_.update_child_watch();
  }

  std::error_code spawn(const process_options& options, process::exit_callback on_exit);

  contract::process::child child_;
  bool started_ = false;
  bool running_ = false;
  process::exit_callback cb_;
};

namespace {

process_impl* as_process(handle_base* h) noexcept { return static_cast<process_impl*>(h); }

std::string_view env_name(std::string_view entry) noexcept { return entry.substr(0, entry.find('=')); }

// The child's environment: this process's, options.env, or both (options.env wins).
std::error_code merge_environment(const process_options& options, std::vector<std::string>& out) {
  for (const auto& e : options.env) {
    if (options.env_how != env_mode::inherit && (e.find('=') == std::string::npos || e.front() == '=')) {
      return make_error_code(errc::invalid_argument);
    }
  }
  if (options.env_how != env_mode::replace) out = contract::process::environment();
  if (options.env_how == env_mode::inherit) return {};
  if (options.env_how == env_mode::add) {
    std::erase_if(out, [&](const std::string& have) {
      return std::any_of(options.env.begin(), options.env.end(),
                         [&](const std::string& e) { return env_name(e) == env_name(have); });
    });
  }
  out.insert(out.end(), options.env.begin(), options.env.end());
  return {};
}

std::error_code plan_stdio(loop_impl& loop, const process_options& options, std::vector<contract::process::stdio_plan>& out) {
  out.resize(std::max<std::size_t>(options.stdio.size(), 3));
  for (std::size_t i = 0; i < options.stdio.size(); ++i) {
    const stdio_option& o = options.stdio[i];
    contract::process::stdio_plan& p = out[i];
    switch (o.how) {
      case stdio_option::kind::ignore: p.how = contract::process::stdio_plan::kind::ignore; break;
      case stdio_option::kind::inherit: p.how = contract::process::stdio_plan::kind::inherit; break;
      case stdio_option::kind::create_pipe: {
        if (o.pipe == nullptr || &o.pipe->get_loop().impl() != &loop) return make_error_code(errc::invalid_argument);
        auto* h = handle_base::of(*o.pipe);
        if (h == nullptr || h->closing_) return make_error_code(errc::closed);
        if (static_cast<io_handle*>(h)->has_socket()) return make_error_code(errc::already_connected);
        for (std::size_t j = 0; j < i; ++j) {
          if (options.stdio[j].how == stdio_option::kind::create_pipe && options.stdio[j].pipe == o.pipe) {
            return make_error_code(errc::invalid_argument);  // one pipe can take one end only
          }
        }
        p.how = contract::process::stdio_plan::kind::pipe;
        p.child_reads = o.readable;
        p.child_writes = o.writable;
        break;
      }
      case stdio_option::kind::fd:
        if (o.native == -1) return make_error_code(errc::bad_descriptor);
        p.how = contract::process::stdio_plan::kind::native;
        p.native = o.native;
        break;
      case stdio_option::kind::stream: {
        if (o.from_stream == nullptr) return make_error_code(errc::invalid_argument);
        auto* h = handle_base::of(*o.from_stream);
        if (h == nullptr || h->closing_) return make_error_code(errc::closed);
        auto* io = static_cast<io_handle*>(h);
        if (!io->has_socket()) return make_error_code(errc::bad_descriptor);
        p.how = contract::process::stdio_plan::kind::native;
        p.native = io->io_.native;
        break;
      }
    }
  }
  return {};
}

void notify_exit(void* ctx) noexcept {
  auto* loop = static_cast<loop_impl*>(ctx);
  loop->children_.pending.store(true, std::memory_order_seq_cst);
  if (!loop->wake_pending_.exchange(true, std::memory_order_seq_cst)) loop->wake();
}

}  // namespace

std::error_code process_impl::spawn(const process_options& options, process::exit_callback on_exit) {
  if (closing_) return make_error_code(errc::closed);
  if (started_) return make_error_code(errc::already_started);
  if (options.file.empty() || options.file.find('\0') != std::string::npos) {
    return make_error_code(errc::invalid_argument);
  }
  contract::process::spawn_request req;
  try {
    req.file = options.file;
    req.args = options.args.empty() ? std::vector<std::string>{options.file} : options.args;
    if (auto ec = merge_environment(options, req.env)) return ec;
    req.cwd = options.cwd;
    if (auto ec = plan_stdio(loop_, options, req.stdio)) return ec;
  } catch (const std::bad_alloc&) {
    return make_error_code(errc::no_memory);
  }
  req.detached = options.detached;
  req.hide = options.windows_hide;
  req.uid = options.uid;
  req.gid = options.gid;

  // The exit signal must be hooked before the child can exit.
  if (auto ec = loop_.update_child_watch(true)) return ec;
  contract::process::child c;
  if (auto ec = contract::process::spawn(req, c)) {
    (void)loop_.update_child_watch();
    return ec;
  }
  started_ = running_ = true;

  // Hand the parent's pipe ends to the caller's pipes.
  std::error_code open_error;
  for (std::size_t i = 0; i < req.stdio.size(); ++i) {
    contract::process::stdio_plan& p = req.stdio[i];
    if (p.how != contract::process::stdio_plan::kind::pipe) continue;
    if (!open_error) open_error = options.stdio[i].pipe->open(p.native);
    if (open_error) contract::net::close(p.native);
  }
  if (!open_error) open_error = contract::process::watch(c, &notify_exit, &loop_);
  if (open_error) {
    // The child runs but its caller cannot talk to it: end it and reap it quietly.
    (void)contract::process::kill(c, signals::sigkill);
    child_ = c;
    abandon();
    started_ = false;
    return open_error;
  }
  child_ = c;
  cb_ = std::move(on_exit);
  loop_.children_.running.push_back(*this);
  set_active(true);
  return {};
}

std::error_code loop_impl::update_child_watch(bool spawning) noexcept {
  const int signum = contract::process::exit_signal();
  if (signum == 0) return {};
  return set_internal_signal(signum, spawning || !children_.running.empty() || !children_.orphans.empty());
}

void loop_impl::process_children() {
  if (!children_.pending.exchange(false, std::memory_order_seq_cst)) return;
  std::erase_if(children_.orphans, [](contract::process::child& c) {
    std::int64_t status = 0;
    int sig = 0;
    return contract::process::reap(c, status, sig);
  });
  intrusive_list<handle_base, phase_tag> running;
  children_.running.splice_all(running);
  while (handle_base* h = running.front()) {
    running.erase(*h);
    auto& p = static_cast<process_impl&>(*h);
    std::int64_t status = 0;
    int sig = 0;
    if (!contract::process::reap(p.child_, status, sig)) {
      children_.running.push_back(p);
      continue;
    }
    (void)contract::process::release(p.child_, true);
    p.running_ = false;
    p.set_active(false);
    ++metrics_.events;
    process::exit_callback cb = std::move(p.cb_);
    if (cb) invoke(&p, [&] { cb(status, sig); });
  }
  (void)update_child_watch();
}

}  // namespace detail

process::process(eddy::loop& owner)
    : handle(owner, new detail::process_impl(owner.impl()), handle_type::process) {}

std::error_code process::spawn(const process_options& options, exit_callback on_exit) {
  auto* p = detail::as_process(impl_);
  return p ? p->spawn(options, std::move(on_exit)) : make_error_code(errc::closed);
}

std::error_code process::kill(int signum) {
  auto* p = detail::as_process(impl_);
  if (p == nullptr || !p->started_) return make_error_code(errc::not_started);
  if (!p->running_) return make_error_code(errc::no_such_process);
  return contract::process::kill(p->child_, signum);
}

int process::pid() const noexcept {
  auto* p = detail::as_process(impl_);
  return p != nullptr && p->started_ ? p->child_.pid : 0;
}

std::error_code kill(int pid, int signum) { return contract::process::kill(pid, signum); }

// ---------------------------------------------------------------- command lines

// The quoting CommandLineToArgvW and the C runtime undo: an argument without blanks or
// quotes goes as is; otherwise it is wrapped in quotes, a quote inside becomes \", and
// backslashes are doubled where they precede a quote (the closing one included), since
// only there do they escape anything.
std::string contract::process::quote_command_line(const std::vector<std::string>& args) {
  std::string out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (i != 0) out += ' ';
    if (!a.empty() && a.find_first_of(" \t\n\v\"") == std::string::npos) {
      out += a;
      continue;
    }
    out += '"';
    std::size_t backslashes = 0;
    for (char ch : a) {
      if (ch == '\\') {
        ++backslashes;
        continue;
      }
      if (ch == '"') backslashes = backslashes * 2 + 1;
      out.append(backslashes, '\\');
      backslashes = 0;
      out += ch;
    }
    out.append(backslashes * 2, '\\');
    out += '"';
  }
  return out;
}

}  // namespace eddy
