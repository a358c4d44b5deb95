# The IOCP port: the completion port and the I/O kinds it drives (sockets and accept, named
# pipes, ipc pipes, consoles). The Windows services it uses are in platform/win32/.
list(APPEND EDDY_PORT_SOURCES platform/iocp/iocp_port.cpp platform/iocp/iocp_port.hpp)
# Consoles (eddy::tty, guess_handle): the port side of console input.
list(APPEND EDDY_PORT_SOURCES platform/iocp/iocp_console.cpp platform/iocp/iocp_console.hpp)
# Named pipes (eddy::pipe): the marker and instance records shared by win32/net.cpp and the port.
list(APPEND EDDY_PORT_SOURCES platform/iocp/local_pipe.hpp)
# ipc pipes: the framing that carries sockets (WSADuplicateSocketW) beside the bytes.
list(APPEND EDDY_PORT_SOURCES platform/iocp/ipc_channel.cpp platform/iocp/ipc_channel.hpp)
