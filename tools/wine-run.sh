#!/usr/bin/env bash
# CMAKE_CROSSCOMPILING_EMULATOR for the mingw-w64 build: runs a Windows .exe under Wine
# with eddy's quiet, headless environment. Never give it a tty (Wine then wraps every
# character in escape codes); output lines end in CRLF. Start the server first for speed
# (tools/wine-env.sh start): a cold start costs 0.5-2 s per executable.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=wine-env.sh
source "$here/wine-env.sh"
# DLLs built next to the executable are found by Windows' search order. The toolchain links
# the GCC runtime statically; for a build that does not, put the mingw runtime DLLs
# (libstdc++-6, libgcc_s_seh-1, libwinpthread-1) on Wine's search path too.
eddy_mingw_dll_path=""
for d in /usr/lib/gcc/x86_64-w64-mingw32/*-posix /usr/x86_64-w64-mingw32/lib; do
  [[ -d "$d" ]] && eddy_mingw_dll_path+="Z:${d//\//\\};"
done
export WINEPATH="${eddy_mingw_dll_path}${WINEPATH:-}"
# Without address randomisation: wine64 is loaded at a fixed 0x7d000000 and the kernel puts
# its brk heap at a random place up to 1 GiB above; about once in 3000 starts the heap lands
# on the range Wine needs near 0x7ffe0000 and the process dies at start ("failed to map the
# shared user data", exit 1, silent with WINEDEBUG=-all). Children created by CreateProcess
# inherit the setting.
exec setarch "$(uname -m)" --addr-no-randomize wine "$@"
