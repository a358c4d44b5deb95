# The IOCP port: the completion port and the I/O kinds it drives (sockets and accept, named
# pipes, ipc pipes, consoles). The Windows services it uses are in platform/win32/.
list(APPEND EDDY_PORT_SOURCES platform/iocp/iocp_port.cpp platform/iocp/iocp_port.hpp platform/iocp/port_state.hpp
     platform/iocp/sockets.cpp platform/iocp/pipes.cpp platform/iocp/ipc.cpp platform/iocp/poll.cpp)
# Consoles (eddy::tty, guess_handle): the port side of console input.
list(APPEND EDDY_PORT_SOURCES platform/iocp/iocp_console.cpp platform/iocp/iocp_console.hpp)
# ipc pipes: the framing that carries sockets (WSADuplicateSocketW) beside the bytes.
list(APPEND EDDY_PORT_SOURCES platform/iocp/ipc_channel.cpp platform/iocp/ipc_channel.hpp)
