// Child processes on Windows: CreateProcessW with a command line quoted for
// CommandLineToArgvW, a sorted UTF-16 environment block, and stdio on named pipes whose
// parent end is overlapped (for the port) and whose child end is an ordinary synchronous
// handle. A child starts suspended, joins the job object that ends it when this process
// goes away (unless detached), then runs. Its exit is seen on the system's wait thread
// (RegisterWaitForSingleObject), which wakes the loop; the loop then reads the exit code.
#include "platform/win32/win32.hpp"
#include "platform/contract/fault.hpp"
#include <tlhelp32.h>
#include <psapi.h>

#include <algorithm>
#include <atomic>
#include <cwctype>
#include <mutex>
#include <new>

#include "eddy/error.hpp"
#include "eddy/signal.hpp"
#include "platform/win32/utf16.hpp"
#include "platform/contract/process.hpp"

namespace eddy::contract::process {
namespace {

using platform::win32::to_utf8;
using platform::win32::to_wide;

std::error_code last_error() noexcept { return from_win32(::GetLastError()); }

HANDLE handle_of(std::intptr_t h) noexcept { return reinterpret_cast<HANDLE>(h); }

// A NUL-terminated UTF-16 string as UTF-8 (without the NUL).
std::string narrow(const wchar_t* w, int len = -1) {
  std::string out;
  if (to_utf8(w, len, out)) return {};
  if (len < 0 && !out.empty()) out.pop_back();
  return out;
}

// The job every non-detached child joins: closing its last handle (when this process
// exits, however it exits) ends them. Children of children may break away silently, as
// libuv's do, so a child's own detached children survive.
HANDLE children_job() noexcept {
  static HANDLE job = [] {
    HANDLE j = ::CreateJobObjectW(nullptr, nullptr);
    if (j == nullptr) return j;
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION info{};
    info.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE | JOB_OBJECT_LIMIT_BREAKAWAY_OK |
                                            JOB_OBJECT_LIMIT_SILENT_BREAKAWAY_OK |
                                            JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION;
    if (!::SetInformationJobObject(j, JobObjectExtendedLimitInformation, &info, sizeof info)) {
      ::CloseHandle(j);
      return HANDLE{nullptr};
    }
    return j;
  }();
  return job;
}

bool same_name(std::wstring_view a, std::wstring_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](wchar_t x, wchar_t y) {
           return std::towupper(static_cast<wint_t>(x)) == std::towupper(static_cast<wint_t>(y));
         });
}

std::wstring_view wide_name(std::wstring_view entry) noexcept {
  // "=C:=C:\dir" (per-drive directories) has its name after the first character.
  return entry.substr(0, entry.find(L'=', 1));
}

// Windows wants the block sorted by name, case-insensitively, with each name once. Later
// entries win (the core appends the caller's additions last). SYSTEMROOT is added from
// this process when missing: without it many programs (and Winsock) cannot start.
std::error_code environment_block(const std::vector<std::string>& env, std::wstring& block) {
  std::vector<std::wstring> entries;
  entries.reserve(env.size() + 1);
  for (const auto& e : env) {
    std::wstring w;
    if (auto ec = to_wide(e, w)) return ec;
    entries.push_back(std::move(w));
  }
  auto has = [&](std::wstring_view name) {
    return std::any_of(entries.begin(), entries.end(), [&](const std::wstring& e) { return same_name(wide_name(e), name); });
  };
  if (!has(L"SYSTEMROOT")) {
    wchar_t root[MAX_PATH];
    const DWORD n = ::GetEnvironmentVariableW(L"SYSTEMROOT", root, MAX_PATH);
    if (n > 0 && n < MAX_PATH) entries.push_back(std::wstring(L"SYSTEMROOT=") + root);
  }
  auto upper_less = [](const std::wstring& a, const std::wstring& b) {
    const std::wstring_view na = wide_name(a);
    const std::wstring_view nb = wide_name(b);
    return std::lexicographical_compare(na.begin(), na.end(), nb.begin(), nb.end(), [](wchar_t x, wchar_t y) {
      return std::towupper(static_cast<wint_t>(x)) < std::towupper(static_cast<wint_t>(y));
    });
  };
  std::stable_sort(entries.begin(), entries.end(), upper_less);
  block.clear();
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (i + 1 < entries.size() && same_name(wide_name(entries[i]), wide_name(entries[i + 1]))) continue;
    block += entries[i];
    block += L'\0';
  }
  if (block.empty()) block += L'\0';
  block += L'\0';
  return {};
}

bool is_file(const std::wstring& path) noexcept {
  const DWORD attrs = ::GetFileAttributesW(path.c_str());
  return attrs != INVALID_FILE_ATTRIBUTES && (attrs & FILE_ATTRIBUTE_DIRECTORY) == 0;
}

// Finds the program as libuv does: a name with a directory part is tried as given, else in
// the child's working directory and then in each directory of the child's PATH; each
// candidate as is and, if it has no extension, with .com and .exe.
std::error_code find_program(const std::wstring& file, const std::wstring& cwd, const std::wstring& env_block,
                             std::wstring& out) {
  auto try_candidate = [&](const std::wstring& base) {
    const std::size_t slash = base.find_last_of(L"\\/");
    const bool has_ext = base.find(L'.', slash == std::wstring::npos ? 0 : slash) != std::wstring::npos;
    for (const wchar_t* ext : {L"", L".com", L".exe"}) {
      if (*ext != L'\0' && has_ext) break;
      std::wstring candidate = base + ext;
      if (is_file(candidate)) {
        out = std::move(candidate);
        return true;
      }
    }
    return false;
  };
  if (file.find_first_of(L"\\/:") != std::wstring::npos) {
    if (try_candidate(file)) return {};
    return make_error_code(errc::no_such_file);
  }
  std::wstring dirs = cwd.empty() ? std::wstring(L".") : cwd;
  for (const wchar_t* e = env_block.c_str(); *e != L'\0'; e += std::wcslen(e) + 1) {
    std::wstring_view entry(e);
    if (same_name(wide_name(entry), L"PATH")) dirs += L";" + std::wstring(entry.substr(5));
  }
  std::size_t start = 0;
  while (start <= dirs.size()) {
    std::size_t end = dirs.find(L';', start);
    if (end == std::wstring::npos) end = dirs.size();
    std::wstring dir = dirs.substr(start, end - start);
    if (dir.size() >= 2 && dir.front() == L'"' && dir.back() == L'"') dir = dir.substr(1, dir.size() - 2);
    if (!dir.empty()) {
      if (dir.back() != L'\\' && dir.back() != L'/') dir += L'\\';
      if (try_candidate(dir + file)) return {};
    }
    start = end + 1;
  }
  return make_error_code(errc::no_such_file);
}

// The child's three standard handles, all inheritable, and the parent's pipe ends. Whatever
// is still held here when it goes away is closed.
struct stdio_handles {
  HANDLE child[3] = {nullptr, nullptr, nullptr};
  bool owned[3] = {false, false, false};

  ~stdio_handles() {
    for (int i = 0; i < 3; ++i) {
      if (owned[i] && child[i] != nullptr && child[i] != INVALID_HANDLE_VALUE) ::CloseHandle(child[i]);
    }
  }
};

std::error_code inheritable_copy(HANDLE h, HANDLE& out) noexcept {
  if (h == nullptr || h == INVALID_HANDLE_VALUE) {
    out = nullptr;
    return {};
  }
  if (!::DuplicateHandle(::GetCurrentProcess(), h, ::GetCurrentProcess(), &out, 0, TRUE, DUPLICATE_SAME_ACCESS)) {
    return last_error();
  }
  return {};
}

std::atomic<unsigned> g_pipe_serial{0};

// A named pipe for one stdio descriptor: the parent's end is an overlapped server instance
// (not inheritable), the child's end a synchronous client opened with the directions asked.
std::error_code make_stdio_pipe(const stdio_plan& p, HANDLE& parent_end, HANDLE& child_end) noexcept {
  wchar_t name[96];
  ::swprintf(name, 96, L"\\\\.\\pipe\\eddy-stdio-%lu-%u", ::GetCurrentProcessId(), g_pipe_serial.fetch_add(1));
  parent_end = ::CreateNamedPipeW(name, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE,
                                  PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS, 1,
                                  65536, 65536, 0, nullptr);
  if (parent_end == INVALID_HANDLE_VALUE) {
    parent_end = nullptr;
    return last_error();
  }
  SECURITY_ATTRIBUTES sa{sizeof sa, nullptr, TRUE};
  DWORD access = 0;
  if (p.child_reads) access |= GENERIC_READ | FILE_WRITE_ATTRIBUTES;
  if (p.child_writes) access |= GENERIC_WRITE | FILE_READ_ATTRIBUTES;
  if (access == 0) access = GENERIC_READ | GENERIC_WRITE;
  child_end = ::CreateFileW(name, access, 0, &sa, OPEN_EXISTING, 0, nullptr);
  if (child_end == INVALID_HANDLE_VALUE) {
    const std::error_code ec = last_error();
    ::CloseHandle(parent_end);
    parent_end = child_end = nullptr;
    return ec;
  }
  return {};
}

void close_parent_ends(spawn_request& req) noexcept {
  for (auto& p : req.stdio) {
    if (p.how == stdio_plan::kind::pipe && p.native != -1) {
      ::CloseHandle(handle_of(p.native));
      p.native = -1;
    }
  }
}

std::error_code prepare_stdio(spawn_request& req, stdio_handles& s) noexcept {
  for (std::size_t i = 3; i < req.stdio.size(); ++i) {
    // The C runtime's lpReserved2 trick for more descriptors is not implemented.
    if (req.stdio[i].how != stdio_plan::kind::ignore) return make_error_code(errc::not_supported);
  }
  static const DWORD std_ids[3] = {STD_INPUT_HANDLE, STD_OUTPUT_HANDLE, STD_ERROR_HANDLE};
  for (int i = 0; i < 3; ++i) {
    stdio_plan& p = req.stdio[static_cast<std::size_t>(i)];
    HANDLE& h = s.child[i];
    s.owned[i] = true;
    switch (p.how) {
      case stdio_plan::kind::ignore: {
        SECURITY_ATTRIBUTES sa{sizeof sa, nullptr, TRUE};
        h = ::CreateFileW(L"NUL", GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, &sa, OPEN_EXISTING,
                          0, nullptr);
        if (h == INVALID_HANDLE_VALUE) return last_error();
        break;
      }
      case stdio_plan::kind::inherit:
        if (auto ec = inheritable_copy(::GetStdHandle(std_ids[i]), h)) return ec;
        break;
      case stdio_plan::kind::native:
        if (auto ec = inheritable_copy(handle_of(p.native), h)) return ec;
        break;
      case stdio_plan::kind::pipe: {
        HANDLE parent_end = nullptr;
        if (auto ec = make_stdio_pipe(p, parent_end, h)) return ec;
        p.native = reinterpret_cast<std::intptr_t>(parent_end);
        break;
      }
    }
  }
  return {};
}

// What the wait thread needs to announce an exit.
struct waiter {
  void (*notify)(void*);
  void* ctx;
  HANDLE wait;
};

void CALLBACK on_process_exit(PVOID param, BOOLEAN) {
  auto* w = static_cast<waiter*>(param);
  w->notify(w->ctx);
}

bool ends_process(int signum) noexcept {
  return signum == signals::sigterm || signum == signals::sigkill || signum == signals::sigint ||
         signum == signals::sigquit;
}

std::error_code kill_handle(HANDLE h, int signum, int* record) noexcept {
  if (signum == 0) {
    return ::WaitForSingleObject(h, 0) == WAIT_TIMEOUT ? std::error_code{} : make_error_code(errc::no_such_process);
  }
  if (!ends_process(signum)) return make_error_code(errc::not_supported);
  // Wine's TerminateProcess succeeds on an exited process: ask first.
  if (::WaitForSingleObject(h, 0) != WAIT_TIMEOUT) return make_error_code(errc::no_such_process);
  if (!::TerminateProcess(h, 1)) {
    const std::error_code ec = last_error();
    if (::WaitForSingleObject(h, 0) != WAIT_TIMEOUT) return make_error_code(errc::no_such_process);
    return ec;
  }
  if (record != nullptr) *record = signum;
  return {};
}

}  // namespace

std::error_code spawn(spawn_request& req, child& out) noexcept {
  if (req.uid || req.gid) return make_error_code(errc::not_supported);
  try {
    std::wstring file;
    std::wstring cwd;
    std::wstring command_line;
    std::wstring env;
    if (auto ec = to_wide(req.file, file)) return ec;
    if (auto ec = to_wide(req.cwd, cwd)) return ec;
    // argv[0] is split by different rules (up to the next quote, no escapes): a quote in it
    // cannot be represented.
    if (req.args[0].find('"') != std::string::npos) return make_error_code(errc::invalid_argument);
    if (auto ec = to_wide(quote_command_line(req.args), command_line)) return ec;
    if (auto ec = environment_block(req.env, env)) return ec;
    std::wstring program;
    if (auto ec = find_program(file, cwd, env, program)) return ec;

    stdio_handles s;
    if (auto ec = prepare_stdio(req, s)) {
      close_parent_ends(req);
      return ec;
    }
    STARTUPINFOW si{};
    si.cb = sizeof si;
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = s.child[0];
    si.hStdOutput = s.child[1];
    si.hStdError = s.child[2];
    DWORD flags = CREATE_UNICODE_ENVIRONMENT | CREATE_SUSPENDED;
    if (req.hide) {
      si.dwFlags |= STARTF_USESHOWWINDOW;
      si.wShowWindow = SW_HIDE;
      if (!req.detached) flags |= CREATE_NO_WINDOW;
    }
    if (req.detached) flags |= DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP;
    PROCESS_INFORMATION pi{};
    if (int e = EDDY_FAULT(spawn)) {  // fault injection: as CreateProcessW failing
      close_parent_ends(req);
      return from_errno(e);
    }
    if (!::CreateProcessW(program.c_str(), command_line.data(), nullptr, nullptr, TRUE, flags, env.data(),
                          cwd.empty() ? nullptr : cwd.c_str(), &si, &pi)) {
      const DWORD e = ::GetLastError();
      close_parent_ends(req);
      // A working directory that does not exist comes back as ERROR_DIRECTORY on Windows.
      if (e == ERROR_DIRECTORY && !cwd.empty()) return make_error_code(errc::no_such_file);
      return from_win32(e);
    }
    if (!req.detached) {
      if (HANDLE job = children_job()) {
        // Fails when this process is in a job that forbids nesting (before Windows 8);
        // the child then simply runs without the guarantee, as with libuv.
        (void)::AssignProcessToJobObject(job, pi.hProcess);
      }
    }
    ::ResumeThread(pi.hThread);
    ::CloseHandle(pi.hThread);
    out = child{};
    out.pid = static_cast<int>(pi.dwProcessId);
    out.handle = reinterpret_cast<std::intptr_t>(pi.hProcess);
    return {};
  } catch (const std::bad_alloc&) {
    close_parent_ends(req);
    return make_error_code(errc::no_memory);
  }
}

int exit_signal() noexcept { return 0; }

std::error_code watch(child& c, void (*notify)(void*), void* ctx) noexcept {
  auto* w = new (std::nothrow) waiter{notify, ctx, nullptr};
  if (w == nullptr) return make_error_code(errc::no_memory);
  if (!::RegisterWaitForSingleObject(&w->wait, handle_of(c.handle), &on_process_exit, w, INFINITE,
                                     WT_EXECUTEONLYONCE)) {
    const std::error_code ec = last_error();
    delete w;
    return ec;
  }
  c.wait = reinterpret_cast<std::intptr_t>(w);
  return {};
}

bool reap(child& c, std::int64_t& exit_status, int& term_signal) noexcept {
  if (c.handle == 0 || ::WaitForSingleObject(handle_of(c.handle), 0) != WAIT_OBJECT_0) return false;
  DWORD code = 0;
  ::GetExitCodeProcess(handle_of(c.handle), &code);
  exit_status = code;
  term_signal = c.kill_signal;
  return true;
}

bool release(child& c, bool) noexcept {
  if (c.wait != 0) {
    auto* w = reinterpret_cast<waiter*>(c.wait);
    ::UnregisterWaitEx(w->wait, INVALID_HANDLE_VALUE);  // waits for a callback in progress
    delete w;
    c.wait = 0;
  }
  if (c.handle != 0) {
    ::CloseHandle(handle_of(c.handle));
    c.handle = 0;
  }
  return false;  // nothing to reap on Windows
}

std::error_code kill(child& c, int signum) noexcept {
  if (c.handle == 0) return make_error_code(errc::no_such_process);
  return kill_handle(handle_of(c.handle), signum, &c.kill_signal);
}

std::error_code kill(int pid, int signum) noexcept {
  if (pid <= 0) return make_error_code(errc::invalid_argument);
  HANDLE h = ::OpenProcess(PROCESS_TERMINATE | PROCESS_QUERY_LIMITED_INFORMATION | SYNCHRONIZE, FALSE,
                           static_cast<DWORD>(pid));
  if (h == nullptr) {
    const DWORD e = ::GetLastError();
    return e == ERROR_INVALID_PARAMETER ? make_error_code(errc::no_such_process) : from_win32(e);
  }
  const std::error_code ec = kill_handle(h, signum, nullptr);
  ::CloseHandle(h);
  return ec;
}

// ---------------------------------------------------------------- process facts

std::error_code executable_path(std::string& out) {
  std::wstring buf(MAX_PATH, L'\0');
  for (;;) {
    const DWORD n = ::GetModuleFileNameW(nullptr, buf.data(), static_cast<DWORD>(buf.size()));
    if (n == 0) return last_error();
    if (n < buf.size()) {
      out = narrow(buf.c_str(), static_cast<int>(n));
      return {};
    }
    buf.resize(buf.size() * 2);
  }
}

std::error_code cwd(std::string& out) {
  const DWORD n = ::GetCurrentDirectoryW(0, nullptr);
  if (n == 0) return last_error();
  std::wstring buf(n, L'\0');
  const DWORD got = ::GetCurrentDirectoryW(n, buf.data());
  if (got == 0 || got >= n) return last_error();
  buf.resize(got);
  // No trailing separator except for a drive's root ("C:\"), as libuv.
  if (buf.size() > 3 && (buf.back() == L'\\' || buf.back() == L'/')) buf.pop_back();
  out = narrow(buf.c_str(), static_cast<int>(buf.size()));
  return {};
}

std::error_code chdir(std::string_view path) {
  std::wstring w;
  if (auto ec = to_wide(path, w)) return ec;
  if (!::SetCurrentDirectoryW(w.c_str())) return last_error();
  return {};
}

int pid() noexcept { return static_cast<int>(::GetCurrentProcessId()); }

int parent_pid() noexcept {
  const DWORD self = ::GetCurrentProcessId();
  HANDLE snap = ::CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
  if (snap == INVALID_HANDLE_VALUE) return 0;
  PROCESSENTRY32W e{};
  e.dwSize = sizeof e;
  int parent = 0;
  for (BOOL ok = ::Process32FirstW(snap, &e); ok; ok = ::Process32NextW(snap, &e)) {
    if (e.th32ProcessID == self) {
      parent = static_cast<int>(e.th32ParentProcessID);
      break;
    }
  }
  ::CloseHandle(snap);
  return parent;
}

std::optional<std::string> getenv(std::string_view name) {
  std::wstring w;
  if (to_wide(name, w)) return std::nullopt;
  std::wstring buf(256, L'\0');
  for (;;) {
    ::SetLastError(NO_ERROR);
    const DWORD n = ::GetEnvironmentVariableW(w.c_str(), buf.data(), static_cast<DWORD>(buf.size()));
    if (n == 0) {
      if (::GetLastError() == ERROR_ENVVAR_NOT_FOUND) return std::nullopt;
      return std::string();
    }
    if (n < buf.size()) return narrow(buf.c_str(), static_cast<int>(n));
    buf.resize(n);
  }
}

std::error_code setenv(std::string_view name, std::string_view value) {
  std::wstring n;
  std::wstring v;
  if (auto ec = to_wide(name, n)) return ec;
  if (auto ec = to_wide(value, v)) return ec;
  if (!::SetEnvironmentVariableW(n.c_str(), v.c_str())) return last_error();
  return {};
}

std::error_code unsetenv(std::string_view name) {
  std::wstring n;
  if (auto ec = to_wide(name, n)) return ec;
  if (!::SetEnvironmentVariableW(n.c_str(), nullptr) && ::GetLastError() != ERROR_ENVVAR_NOT_FOUND) return last_error();
  return {};
}

std::vector<std::string> environment() {
  std::vector<std::string> out;
  wchar_t* block = ::GetEnvironmentStringsW();
  if (block == nullptr) return out;
  for (const wchar_t* e = block; *e != L'\0'; e += std::wcslen(e) + 1) out.push_back(narrow(e));
  ::FreeEnvironmentStringsW(block);
  return out;
}

std::error_code hostname(std::string& out) {
  wchar_t buf[256];
  DWORD n = 256;
  if (!::GetComputerNameExW(ComputerNameDnsHostname, buf, &n)) return last_error();
  out = narrow(buf, static_cast<int>(n));
  return {};
}

bool process_exiting() noexcept {
  // ntdll's RtlDllShutdownInProgress: true once ExitProcess has begun detaching DLLs.
  using shutdown_fn = BOOLEAN(WINAPI*)();
  static const auto fn = reinterpret_cast<shutdown_fn>(
      reinterpret_cast<void*>(::GetProcAddress(::GetModuleHandleW(L"ntdll.dll"), "RtlDllShutdownInProgress")));
  return fn != nullptr && fn() != 0;
}

unsigned available_parallelism() noexcept {
  DWORD_PTR process_mask = 0;
  DWORD_PTR system_mask = 0;
  if (::GetProcessAffinityMask(::GetCurrentProcess(), &process_mask, &system_mask) && process_mask != 0) {
    unsigned n = 0;
    for (; process_mask != 0; process_mask &= process_mask - 1) ++n;
    return n;
  }
  SYSTEM_INFO si{};
  ::GetSystemInfo(&si);
  return si.dwNumberOfProcessors;
}

std::uint64_t total_memory() noexcept {
  MEMORYSTATUSEX m{};
  m.dwLength = sizeof m;
  return ::GlobalMemoryStatusEx(&m) ? m.ullTotalPhys : 0;
}

std::uint64_t free_memory() noexcept {
  MEMORYSTATUSEX m{};
  m.dwLength = sizeof m;
  return ::GlobalMemoryStatusEx(&m) ? m.ullAvailPhys : 0;
}

std::error_code resident_set_size(std::uint64_t& out) {
  PROCESS_MEMORY_COUNTERS pmc{};
  if (!::GetProcessMemoryInfo(::GetCurrentProcess(), &pmc, sizeof pmc)) return last_error();
  out = pmc.WorkingSetSize;
  return {};
}

}  // namespace eddy::contract::process
