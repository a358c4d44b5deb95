// eddy::os: thin wrappers over the OS half (platform/contract/process.hpp).
#include "eddy/os.hpp"

#include "eddy/error.hpp"

#include "platform/contract/process.hpp"

namespace eddy::os {

std::string executable_path(std::error_code& ec) {
  std::string out;
  ec = contract::process::executable_path(out);
  return out;
}

std::string cwd(std::error_code& ec) {
  std::string out;
  ec = contract::process::cwd(out);
  return out;
}

std::error_code chdir(std::string_view path) {
  if (path.empty() || path.find('\0') != std::string_view::npos) return make_error_code(errc::invalid_argument);
  return contract::process::chdir(path);
}

int pid() noexcept { return contract::process::pid(); }
int parent_pid() noexcept { return contract::process::parent_pid(); }

namespace {
bool valid_name(std::string_view name) noexcept {
  return !name.empty() && name.find_first_of(std::string_view("=\0", 2)) == std::string_view::npos;
}
}  // namespace

std::optional<std::string> getenv(std::string_view name) {
  if (!valid_name(name)) return std::nullopt;
  return contract::process::getenv(name);
}

std::error_code setenv(std::string_view name, std::string_view value) {
  if (!valid_name(name) || value.find('\0') != std::string_view::npos) return make_error_code(errc::invalid_argument);
  return contract::process::setenv(name, value);
}

std::error_code unsetenv(std::string_view name) {
  if (!valid_name(name)) return make_error_code(errc::invalid_argument);
  return contract::process::unsetenv(name);
}

std::vector<std::pair<std::string, std::string>> environment() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const std::string& e : contract::process::environment()) {
    // Windows keeps per-drive directories as "=C:=C:\\dir": the name starts after the first char.
    const std::size_t eq = e.find('=', 1);
    if (eq == std::string::npos) continue;
    out.emplace_back(e.substr(0, eq), e.substr(eq + 1));
  }
  return out;
}

std::string hostname(std::error_code& ec) {
  std::string out;
  ec = contract::process::hostname(out);
  return out;
}

unsigned available_parallelism() noexcept {
  const unsigned n = contract::process::available_parallelism();
  return n == 0 ? 1 : n;
}

std::uint64_t total_memory() noexcept { return contract::process::total_memory(); }
std::uint64_t free_memory() noexcept { return contract::process::free_memory(); }

std::uint64_t resident_set_size(std::error_code& ec) {
  std::uint64_t out = 0;
  ec = contract::process::resident_set_size(out);
  return out;
}

}  // namespace eddy::os
