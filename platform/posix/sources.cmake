# What the io_uring and epoll ports share.
list(APPEND EDDY_PORT_SOURCES platform/posix/posix_util.hpp platform/posix/net.cpp platform/net.hpp platform/sockaddr.hpp)
list(APPEND EDDY_PORT_SOURCES platform/posix/signal_hook.cpp platform/signal.hpp)
list(APPEND EDDY_PORT_SOURCES platform/posix/tty.cpp platform/tty.hpp)
list(APPEND EDDY_PORT_SOURCES platform/posix/resolver.cpp platform/resolver.hpp)
list(APPEND EDDY_PORT_SOURCES platform/posix/process.cpp platform/process.hpp)
list(APPEND EDDY_PORT_SOURCES platform/posix/fs_event.cpp platform/fs_event.hpp)
list(APPEND EDDY_PORT_SOURCES platform/posix/fs.cpp platform/posix/fs_posix.hpp platform/fs.hpp)
list(APPEND EDDY_PORT_SOURCES platform/posix/metrics.cpp platform/metrics.hpp)
