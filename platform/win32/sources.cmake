# The Windows services (the OS services contract, platform/contract/), mirroring platform/posix/.
list(APPEND EDDY_PORT_SOURCES platform/win32/win32.hpp platform/win32/utf16.hpp)
list(APPEND EDDY_PORT_SOURCES platform/win32/net.cpp platform/contract/net.hpp platform/contract/sockaddr.hpp)
# Named pipes (eddy::pipe): the names, and the marker and instance records the IOCP port uses.
list(APPEND EDDY_PORT_SOURCES platform/win32/local_pipe.cpp platform/win32/local_pipe.hpp)
list(APPEND EDDY_PORT_SOURCES platform/win32/signal_hook.cpp platform/contract/signal.hpp)
list(APPEND EDDY_PORT_SOURCES platform/win32/tty.cpp platform/contract/tty.hpp)
# Name resolution on the thread pool.
list(APPEND EDDY_PORT_SOURCES platform/win32/resolver.cpp platform/contract/resolver.hpp)
# Child processes and process facts (eddy::process, eddy::os).
list(APPEND EDDY_PORT_SOURCES platform/win32/process.cpp platform/contract/process.hpp)
# fs_event: ReadDirectoryChangesW on directory handles read through the port.
list(APPEND EDDY_PORT_SOURCES platform/win32/fs_event.cpp platform/contract/fs_event.hpp)
# The file system (eddy::fs) on the thread pool.
list(APPEND EDDY_PORT_SOURCES platform/win32/fs.cpp platform/win32/fs_link.cpp platform/win32/fs_win32.hpp platform/contract/fs.hpp)
# Process facts for the metrics export (open handles).
list(APPEND EDDY_PORT_SOURCES platform/win32/metrics.cpp platform/contract/metrics.hpp)
list(APPEND EDDY_PORT_LIBS ws2_32 mswsock winmm psapi)
set(EDDY_PORT_PC_LIBS "-lws2_32 -lmswsock -lwinmm -lpsapi")
