// eddy::os: facts about this process and machine (libuv's uv_exepath, uv_cwd, uv_os_*,
// uv_available_parallelism, uv_get_*_memory, uv_resident_set_memory; Node's process and os
// modules). Strings are UTF-8 on every platform.
//
// Threads: any thread, except that setenv/unsetenv/chdir change process-wide state: do not
// call them while another thread reads the environment or relies on the working directory
// (the C library gives no protection either). None of these block for long.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "eddy/export.hpp"

namespace eddy::os {

// The running executable's full path.
EDDY_API std::string executable_path(std::error_code& ec);
// The current working directory; chdir changes it.
EDDY_API std::string cwd(std::error_code& ec);
EDDY_API std::error_code chdir(std::string_view path);
EDDY_API int pid() noexcept;
EDDY_API int parent_pid() noexcept;

// The environment variable `name`, or std::nullopt if it is not set.
EDDY_API std::optional<std::string> getenv(std::string_view name);
// invalid_argument for an empty name or one containing '='.
EDDY_API std::error_code setenv(std::string_view name, std::string_view value);
EDDY_API std::error_code unsetenv(std::string_view name);
// The whole environment as (name, value) pairs.
EDDY_API std::vector<std::pair<std::string, std::string>> environment();

EDDY_API std::string hostname(std::error_code& ec);
// How many threads can run at once for this process (CPU affinity honoured); at least 1.
EDDY_API unsigned available_parallelism() noexcept;
// Physical memory of the machine, and how much of it is free, in bytes (0 if unknown).
EDDY_API std::uint64_t total_memory() noexcept;
EDDY_API std::uint64_t free_memory() noexcept;
// This process's resident set size in bytes.
EDDY_API std::uint64_t resident_set_size(std::error_code& ec);

}  // namespace eddy::os
