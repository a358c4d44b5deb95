# Finds eddy's dependencies. Nothing is downloaded: on Linux they are Debian packages
# (tools/setup.sh installs them), on Windows they come from the vcpkg.json manifest.
#
# Sets EDDY_PRIVATE_DEPS (targets eddy links privately) and EDDY_PRIVATE_INCLUDES.
#
# The mingw-w64 cross build (EDDY_CROSS_HEADERS_FROM_HOST, set by the toolchain file) is the
# exception: Debian ships fmt and GSL only for the host, so the cross build uses them
# header-only through a folder of symlinks (never all of /usr/include, which would pull
# glibc headers into a Windows build).

set(EDDY_PRIVATE_DEPS "")
set(EDDY_PRIVATE_INCLUDES "")
set(EDDY_PRIVATE_DEFINES "")

if(EDDY_CROSS_HEADERS_FROM_HOST)
  set(_eddy_cross_headers "${CMAKE_BINARY_DIR}/cross-include")
  file(MAKE_DIRECTORY "${_eddy_cross_headers}")
  foreach(dir fmt gsl)
    if(NOT EXISTS "${_eddy_cross_headers}/${dir}")
      file(CREATE_LINK "/usr/include/${dir}" "${_eddy_cross_headers}/${dir}" SYMBOLIC)
    endif()
  endforeach()
  list(APPEND EDDY_PRIVATE_INCLUDES "${_eddy_cross_headers}")
  list(APPEND EDDY_PRIVATE_DEFINES FMT_HEADER_ONLY)
else()
  find_package(fmt REQUIRED)
  find_package(Microsoft.GSL REQUIRED)
  list(APPEND EDDY_PRIVATE_DEPS fmt::fmt Microsoft.GSL::GSL)
endif()

# c-ares for dns::resolver (src/dns/dns_channel_ares.cpp). Linux: Debian's libc-ares-dev through
# pkg-config (required). Windows: a c-ares CMake package if one is found (vcpkg), else the
# resolver reports not_supported (src/dns/dns_channel_none.cpp) — the mingw cross build here has none.
set(EDDY_HAVE_CARES OFF)
set(EDDY_CARES_TARGET "")
if(WIN32)
  if(NOT EDDY_CROSS_HEADERS_FROM_HOST)
    find_package(c-ares CONFIG QUIET)
    if(TARGET c-ares::cares)
      set(EDDY_HAVE_CARES ON)
      set(EDDY_CARES_TARGET c-ares::cares)
    endif()
  endif()
else()
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(CARES REQUIRED IMPORTED_TARGET GLOBAL libcares)
  set(EDDY_HAVE_CARES ON)
  set(EDDY_CARES_TARGET PkgConfig::CARES)
endif()
if(EDDY_HAVE_CARES)
  list(APPEND EDDY_PRIVATE_DEPS ${EDDY_CARES_TARGET})
endif()
message(STATUS "eddy: dns::resolver with c-ares: ${EDDY_HAVE_CARES}")
