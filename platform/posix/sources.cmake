# What the io_uring and epoll ports share.
list(APPEND EDDY_PORT_SOURCES platform/posix/posix_util.hpp platform/posix/net.cpp platform/contract/net.hpp platform/contract/sockaddr.hpp)
list(APPEND EDDY_PORT_SOURCES platform/posix/signal_hook.cpp platform/contract/signal.hpp)
list(APPEND EDDY_PORT_SOURCES platform/posix/tty.cpp platform/contract/tty.hpp)
list(APPEND EDDY_PORT_SOURCES platform/posix/resolver.cpp platform/contract/resolver.hpp)
list(APPEND EDDY_PORT_SOURCES platform/posix/process.cpp platform/contract/process.hpp)
list(APPEND EDDY_PORT_SOURCES platform/posix/fs_event.cpp platform/contract/fs_event.hpp)
list(APPEND EDDY_PORT_SOURCES platform/posix/fs.cpp platform/posix/fs_posix.hpp platform/contract/fs.hpp)
list(APPEND EDDY_PORT_SOURCES platform/posix/metrics.cpp platform/contract/metrics.hpp)
