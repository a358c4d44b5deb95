list(APPEND EDDY_PORT_SOURCES platform/iocp/win32.hpp platform/iocp/iocp_port.cpp platform/iocp/iocp_port.hpp
     platform/iocp/net.cpp platform/net.hpp platform/iocp/signal_hook.cpp platform/signal.hpp)
list(APPEND EDDY_PORT_LIBS ws2_32 mswsock winmm)
set(EDDY_PORT_PC_LIBS "-lws2_32 -lmswsock -lwinmm")
# Consoles (eddy::tty, guess_handle): platform/iocp/iocp_console.cpp is the port side.
list(APPEND EDDY_PORT_SOURCES platform/iocp/tty.cpp platform/tty.hpp platform/iocp/iocp_console.cpp
     platform/iocp/iocp_console.hpp)
# Named pipes (eddy::pipe): the marker and instance records shared by net.cpp and iocp_port.cpp.
list(APPEND EDDY_PORT_SOURCES platform/iocp/local_pipe.hpp)
# Name resolution on the thread pool.
list(APPEND EDDY_PORT_SOURCES platform/iocp/resolver.cpp platform/resolver.hpp)
# ipc pipes: the framing that carries sockets (WSADuplicateSocketW) beside the bytes.
list(APPEND EDDY_PORT_SOURCES platform/iocp/ipc_channel.cpp platform/iocp/ipc_channel.hpp)
# Child processes and process facts (eddy::process, eddy::os); UTF-16 helpers shared with net.cpp.
list(APPEND EDDY_PORT_SOURCES platform/iocp/process.cpp platform/process.hpp platform/iocp/utf16.hpp)
list(APPEND EDDY_PORT_LIBS psapi)
string(APPEND EDDY_PORT_PC_LIBS " -lpsapi")
# fs_event: ReadDirectoryChangesW on directory handles read through the port.
list(APPEND EDDY_PORT_SOURCES platform/iocp/fs_event.cpp platform/fs_event.hpp)
# The file system (eddy::fs) on the thread pool; UTF-16 conversions shared with named pipes.
list(APPEND EDDY_PORT_SOURCES platform/iocp/fs.cpp platform/fs.hpp platform/iocp/utf16.hpp)
# Process facts for the metrics export (open handles).
list(APPEND EDDY_PORT_SOURCES platform/iocp/metrics.cpp platform/metrics.hpp)
