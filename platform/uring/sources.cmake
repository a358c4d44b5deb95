# liburing comes from Debian's liburing-dev through pkg-config (it ships no CMake config).
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBURING REQUIRED IMPORTED_TARGET GLOBAL liburing)
list(APPEND EDDY_PORT_SOURCES platform/uring/uring_port.cpp platform/uring/uring_port.hpp platform/uring/port_state.hpp
     platform/uring/sockets.cpp platform/uring/files.cpp)
list(APPEND EDDY_PORT_LIBS PkgConfig::LIBURING)
set(EDDY_NEEDS_URING ON)
set(EDDY_PC_REQUIRES_PRIVATE "liburing")
