list(APPEND EDDY_PORT_SOURCES platform/epoll/epoll_port.cpp platform/epoll/epoll_port.hpp)
