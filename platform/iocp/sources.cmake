list(APPEND EDDY_PORT_SOURCES platform/iocp/iocp_port.cpp platform/iocp/iocp_port.hpp platform/iocp/net.cpp
     platform/net.hpp platform/iocp/signal_hook.cpp platform/signal.hpp)
list(APPEND EDDY_PORT_LIBS ws2_32 mswsock winmm)
set(EDDY_PORT_PC_LIBS "-lws2_32 -lmswsock -lwinmm")
list(APPEND EDDY_PORT_SOURCES platform/iocp/resolver.cpp platform/resolver.hpp)
