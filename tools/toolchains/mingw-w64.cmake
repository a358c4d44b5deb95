# Cross-compiles eddy for 64-bit Windows with mingw-w64 (Debian's g++-mingw-w64-x86-64-posix)
# and runs the resulting .exe files under Wine (see docs/windows.md).
#   cmake --preset mingw-wine        (or -DCMAKE_TOOLCHAIN_FILE=tools/toolchains/mingw-w64.cmake)
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(_eddy_mingw x86_64-w64-mingw32)
# The -posix compilers, by name: the win32-threads flavour (which may own the unsuffixed
# alternative) has no std::thread / std::mutex.
set(CMAKE_C_COMPILER ${_eddy_mingw}-gcc-posix)
set(CMAKE_CXX_COMPILER ${_eddy_mingw}-g++-posix)
set(CMAKE_RC_COMPILER ${_eddy_mingw}-windres)

# Libraries and headers come from the mingw sysroot only; programs (code generators, tools)
# are the host's.
set(CMAKE_FIND_ROOT_PATH /usr/${_eddy_mingw})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Debian has no mingw builds of fmt, GSL or GoogleTest: use their headers (and gtest's
# sources) from the host (cmake/EddyDependencies.cmake, tests/CMakeLists.txt).
set(EDDY_CROSS_HEADERS_FROM_HOST ON CACHE BOOL "Use host fmt/GSL headers and gtest sources in the cross build")

# Link the GCC runtime (libgcc, libstdc++, winpthread) statically into every .exe and .dll,
# so they run under Wine (or on a bare Windows machine) without the mingw DLLs next to them.
# -static on a DLL link only selects static archives; eddy.dll still exports its API.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "-static")

# CTest (and gtest_discover_tests) run the test executables through Wine.
get_filename_component(_eddy_tools_dir "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
set(CMAKE_CROSSCOMPILING_EMULATOR "${_eddy_tools_dir}/wine-run.sh")
