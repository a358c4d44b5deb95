# What the io_uring and epoll ports share.
list(APPEND EDDY_PORT_SOURCES platform/posix/posix_util.hpp platform/posix/net.cpp platform/net.hpp)
